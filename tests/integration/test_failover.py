"""Three real daemons, one real PostgreSQL, the stand-in scheduler: each fault of issue 2, then
the invariants (never two schedulers, terms only grow, the cluster converges to one active)."""

from __future__ import annotations

import signal
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.support.helpers import settle


def test_all_start_at_once(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    settle(cluster, 3)
    assert cluster.active() == first
    status = cluster.status()
    assert {n["node_id"] for n in status["nodes"]} == set(cluster.nodes)
    assert status["term"] == 1
    roles = {n["node_id"]: n["role"] for n in status["nodes"]}
    assert roles[first] == "active"
    assert sorted(r for n, r in roles.items() if n != first) == ["standby", "standby"]
    cluster.assert_no_overlap()
    cluster.assert_terms_grow()


def test_kill9_of_active_daemon_fails_over(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    settle(cluster, 1)
    old = cluster.live_instances()[0]
    cluster.signal(first, signal.SIGKILL)
    second = cluster.wait_active(other_than=first)
    assert second != first
    settle(cluster, 2)
    cluster.assert_no_overlap()
    cluster.assert_terms_grow()
    assert all(i.pid != old.pid for i in cluster.live_instances()), "old scheduler survived"
    status = cluster.status()
    assert status["term"] > old.term
    # The guard ended the dead daemon's term on the record, and status shows one active node.
    died = [e for e in cluster.events() if e["node_id"] == first and e["kind"] == "daemon_died"]
    assert died and "the guard killed its processes" in died[0]["detail"], cluster.events()
    roles = {n["node_id"]: n["role"] for n in status["nodes"]}
    assert roles[second] == "active" and roles[first] in ("down", "stale"), roles
    assert list(roles.values()).count("active") == 1, roles


def test_sigterm_of_active_hands_over(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    settle(cluster, 1)
    cluster.signal(first, signal.SIGTERM)
    assert cluster.wait_exit(first) == 0
    second = cluster.wait_active(other_than=first)
    cluster.assert_no_overlap()
    cluster.assert_terms_grow()
    kinds = [(e["node_id"], e["kind"]) for e in cluster.events()]
    assert (first, "released") in kinds
    assert (second, "became_active") in kinds
    old = [i for i in cluster.instances() if i.node == first]
    assert old and old[-1].stopped_cleanly, "the old scheduler was not stopped gracefully"


def test_scheduler_crash_once_restarts_in_place(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    term = cluster.status()["term"]
    crash = cluster.nodes[first].crash_file
    crash.touch()
    cluster.wait_for(lambda: any(r["ev"] == "crash" for r in cluster.records()), 10, "a crash")
    crash.unlink()
    cluster.wait_for(
        lambda: (
            len([i for i in cluster.live_instances() if i.node == first]) == 1
            and len([i for i in cluster.instances() if i.node == first]) >= 2
        ),
        10,
        "a restart",
    )
    assert cluster.active() == first
    assert cluster.status()["term"] == term, "a restart in place keeps the term"
    kinds = [e["kind"] for e in cluster.events() if e["node_id"] == first]
    assert "process_exited" in kinds and "restart_scheduled" in kinds
    settle(cluster, 1)
    cluster.assert_no_overlap()


def test_scheduler_crash_loop_hands_over(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    cluster.nodes[first].crash_file.touch()  # stays: every start crashes
    second = cluster.wait_active(timeout=30, other_than=first)
    kinds = [e["kind"] for e in cluster.events() if e["node_id"] == first]
    assert "crash_loop" in kinds
    settle(cluster, 2)
    assert cluster.active() == second
    cluster.assert_no_overlap()
    cluster.assert_terms_grow()


def test_sigstop_beyond_ttl_then_sigcont(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    settle(cluster, 1)
    cluster.signal(first, signal.SIGSTOP)
    try:
        # The guard kills the frozen daemon's scheduler at the deadline; a standby takes over
        # once the lease expires on the database clock.
        second = cluster.wait_active(other_than=first)
        settle(cluster, 2 * cluster.ttl_ms / 1000)
    finally:
        cluster.signal(first, signal.SIGCONT)
    settle(cluster, 2)
    assert cluster.active() == second
    roles = {n["node_id"]: n["role"] for n in cluster.status()["nodes"]}
    assert roles[first] == "standby"
    cluster.assert_no_overlap()
    cluster.assert_terms_grow()


def test_postgres_stopped_and_started(tmp_path: Path) -> None:
    with PgServer() as own_pg:
        cluster = Cluster(own_pg, tmp_path / "cluster")
        try:
            cluster.start()
            cluster.wait_active()
            settle(cluster, 1)
            own_pg.stop()
            # Nobody can renew: the active must fence itself; nobody else can win.
            cluster.wait_for(lambda: not cluster.live_instances(), 10, "the scheduler fenced")
            settle(cluster, 2)
            own_pg.start()
            cluster.wait_active(timeout=30)
            settle(cluster, 2)
            cluster.assert_no_overlap()
            cluster.assert_terms_grow()
            kinds = {e["kind"] for e in cluster.events()}
            assert "fenced" in kinds or "renew_failing" in kinds
        finally:
            cluster.stop_all()
