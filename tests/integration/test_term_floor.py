"""Terms never repeat, even when the lease row goes back to an older term (restored from a
backup, or an asynchronous replica promoted): the next term is above every term seen before,
both for running daemons (which remember what they saw) and for restarted ones (which read the
floor from the database's record)."""

from __future__ import annotations

import signal

from localcluster.cluster import Cluster


def restore_lease_to_term_1(cluster: Cluster) -> None:
    cluster.pg.psql(
        "BEGIN; TRUNCATE airflow_failover.lease;"
        " INSERT INTO airflow_failover.lease (cluster, holder, term, expires_at)"
        f" VALUES ('{cluster.name}', NULL, 1, clock_timestamp()); COMMIT"
    )


def won_terms(cluster: Cluster) -> list[int]:
    return [int(e["term"]) for e in cluster.events() if e["kind"] == "became_active"]


def test_running_daemons_never_reuse_a_term_after_the_row_went_back(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    cluster.signal(first, signal.SIGKILL)
    cluster.wait_active(other_than=first)
    seen = max(won_terms(cluster))
    assert seen >= 2
    restore_lease_to_term_1(cluster)
    # The holder's renewal no longer matches the row: it fences itself, and whoever wins next
    # starts above everything seen, not at 2.
    cluster.wait_for(lambda: max(won_terms(cluster)) > seen, 15, "a new term after the restore")
    terms = won_terms(cluster)
    assert terms == sorted(terms) and len(terms) == len(set(terms)), terms
    assert terms[-1] > seen
    cluster.assert_no_overlap()


def test_restarted_daemons_take_the_floor_from_the_database(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    cluster.signal(first, signal.SIGTERM)
    cluster.wait_exit(first)
    cluster.wait_active(other_than=first)
    seen = max(won_terms(cluster))
    cluster.stop_all()
    restore_lease_to_term_1(cluster)
    cluster.start()
    cluster.wait_for(lambda: max(won_terms(cluster)) > seen, 15, "a term after the restart")
    terms = won_terms(cluster)
    assert terms == sorted(terms) and len(terms) == len(set(terms)), terms
    cluster.assert_no_overlap()
