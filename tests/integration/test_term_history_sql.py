"""The schema's term_history() (issue 26: the rule `history`, the dashboard's takeovers and the
demo's failovers read the lease's terms by, stated once). Event rows written straight into the
events table, as the daemon and its guard write them, with a cluster name per case and times
given in milliseconds from one instant."""

from __future__ import annotations

import os
from typing import Any

import psycopg2
import psycopg2.extensions

S = "airflow_failover"
T0 = "'2026-01-05 09:00:00+00'::timestamptz"
Ev = tuple[str, int, int, str] | tuple[str, int, int, str, str]


def terms(
    conn: psycopg2.extensions.connection, case: str, events: list[Ev], limit: int = 100
) -> list[dict[str, Any]]:
    """Writes `events` (node, ms, term, kind[, detail]) in this order, returns term_history()."""
    cluster = f"history-{case}-{os.getpid()}"
    with conn.cursor() as cur:
        for node, ms, term, kind, *detail in events:
            cur.execute(
                f"INSERT INTO {S}.events (cluster, node_id, at, term, kind, detail)"
                f" VALUES (%s, %s, {T0} + %s * interval '1 ms', %s, %s, %s)",
                (cluster, node, ms, term, kind, detail[0] if detail else ""),
            )
        cur.execute(
            f"SELECT term, holder, extract(epoch FROM started_at - {T0}) * 1000 AS start_ms,"
            f" extract(epoch FROM ended_at - {T0}) * 1000 AS end_ms, ended, detail, gap_ms,"
            f" gap_is_upper_bound, gap_from_kind, previous_holder FROM {S}.term_history(%s, %s)",
            (cluster, limit),
        )
        assert cur.description is not None
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_no_events_no_terms(db: psycopg2.extensions.connection) -> None:
    assert terms(db, "none", []) == []


def test_current_term_is_active_without_end(db: psycopg2.extensions.connection) -> None:
    (t,) = terms(db, "active", [("a", 0, 1, "became_active"), ("a", 5, 1, "process_started")])
    assert (t["ended"], t["end_ms"], t["gap_ms"], t["previous_holder"]) == ("active", None, None, None)


def test_guard_release_reads_daemon_died_with_exact_gap(db: psycopg2.extensions.connection) -> None:
    h = terms(db, "died", [
        ("a", 0, 1, "became_active"),
        ("a", 10, 1, "process_started"),
        ("a", 9000, 1, "daemon_died", "the guard killed its processes and releases term 1"),
        ("b", 9042, 2, "became_active"),
    ])  # fmt: skip
    assert [t["ended"] for t in h] == ["daemon died", "active"]
    assert h[0]["end_ms"] == 9000 and h[0]["gap_ms"] == 42.0 and not h[0]["gap_is_upper_bound"]
    assert h[0]["gap_from_kind"] == "daemon_died"
    assert (h[1]["holder"], h[1]["previous_holder"]) == ("b", "a")


def test_switchover_wins_over_the_release_that_follows_it(db: psycopg2.extensions.connection) -> None:
    h = terms(db, "switchover", [
        ("a", 0, 3, "became_active"),
        ("a", 100, 3, "switchover", "to b"),
        ("a", 160, 3, "process_stopped"),
        ("a", 170, 3, "released"),
        ("b", 200, 4, "became_active"),
    ])  # fmt: skip
    # the term ends at the release, not at the request
    assert (h[0]["ended"], h[0]["detail"], h[0]["end_ms"], h[0]["gap_ms"]) == (
        "switchover",
        "to b",
        170,
        30.0,
    )
    assert h[0]["gap_from_kind"] == "released"


def test_sigterm_shutdown_reads_released(db: psycopg2.extensions.connection) -> None:
    h = terms(db, "sigterm", [("a", 0, 1, "became_active"), ("a", 50, 1, "shutdown"),
                              ("a", 60, 1, "released"), ("b", 70, 2, "became_active")])  # fmt: skip
    assert (h[0]["ended"], h[0]["gap_ms"]) == ("released", 10.0)


def test_gap_counts_from_the_release_not_the_step_down_recorded_after_it(
    db: psycopg2.extensions.connection,
) -> None:
    # The daemon records "released" and then "stepped_down" in one step; under load the second
    # row can land a millisecond or more later, after the next node already won.
    h = terms(db, "late-stepdown", [("a", 0, 1, "became_active"), ("a", 50, 1, "shutdown"),
                                    ("a", 60, 1, "released"), ("b", 62, 2, "became_active"),
                                    ("a", 63, 1, "stepped_down")])  # fmt: skip
    assert (h[0]["ended"], h[0]["end_ms"], h[0]["gap_ms"]) == ("released", 60, 2.0)


def test_lost_lease_ends_at_the_step_down(db: psycopg2.extensions.connection) -> None:
    h = terms(db, "lost", [("a", 0, 1, "became_active"), ("a", 40, 1, "lease_lost"),
                           ("a", 41, 1, "stepped_down"), ("b", 70, 2, "became_active")])  # fmt: skip
    assert (h[0]["ended"], h[0]["end_ms"], h[0]["gap_ms"]) == ("lease lost", 41, 29.0)


def test_terminate_and_crash_loop_are_named(db: psycopg2.extensions.connection) -> None:
    h = terms(db, "named", [
        ("a", 0, 1, "became_active"),
        ("a", 10, 1, "terminate_requested", "by admin"),
        ("a", 20, 1, "released"),
        ("b", 30, 2, "became_active"),
        ("b", 40, 2, "crash_loop", "scheduler crashed 3 times"),
        ("b", 50, 2, "released"),
        ("a", 60, 3, "became_active"),
    ])  # fmt: skip
    assert [(t["ended"], t["detail"]) for t in h] == [
        ("terminate", "by admin"), ("crash loop", "scheduler crashed 3 times"), ("active", "")]  # fmt: skip


def test_a_request_recorded_after_the_next_term_began_still_names_the_end(
    db: psycopg2.extensions.connection,
) -> None:
    # The dashboard's terminate (and a switchover) is noted in the step that hands over, but the
    # old holder's rows can land after the winner's first row: the request still ends the term.
    h = terms(db, "late", [
        ("a", 0, 1, "became_active"),
        ("b", 20, 2, "became_active"),
        ("a", 21, 1, "terminate_requested", "by dashboard:admin"),
        ("a", 22, 1, "released"),
        ("a", 23, 1, "fenced", "woke up late"),
    ])  # fmt: skip
    assert [(t["ended"], t["detail"]) for t in h] == [("terminate", "by dashboard:admin"), ("active", "")]


def test_no_recorded_end_is_expired_with_an_upper_bound_gap(db: psycopg2.extensions.connection) -> None:
    # Host lost: the holder wrote nothing at its end; its late records after the next term
    # began (it woke up and found itself fenced) do not count as an end of its term.
    h = terms(db, "expired", [
        ("a", 0, 1, "became_active"),
        ("a", 500, 1, "process_started"),
        ("b", 3500, 2, "became_active"),
        ("a", 9000, 1, "fenced", "woke up past its deadline"),
    ])  # fmt: skip
    assert (h[0]["ended"], h[0]["end_ms"], h[0]["gap_is_upper_bound"]) == ("expired", None, True)
    assert (h[0]["gap_ms"], h[0]["gap_from_kind"]) == (3000.0, "process_started")


def test_other_nodes_events_do_not_end_the_term(db: psycopg2.extensions.connection) -> None:
    h = terms(
        db, "others", [("a", 0, 1, "became_active"), ("b", 10, 0, "shutdown"), ("b", 11, 0, "released")]
    )
    assert [t["ended"] for t in h] == ["active"]


def test_limit_keeps_the_last_terms_with_their_ends(db: psycopg2.extensions.connection) -> None:
    events: list[Ev] = [
        ("a", 0, 1, "became_active"), ("a", 10, 1, "released"),
        ("b", 20, 2, "became_active"), ("b", 30, 2, "switchover", "to a"), ("b", 35, 2, "released"),
        ("a", 40, 3, "became_active"),
    ]  # fmt: skip
    h = terms(db, "limit", events, limit=2)
    assert [(t["term"], t["ended"], t["previous_holder"]) for t in h] == [
        (2, "switchover", None),
        (3, "active", "b"),
    ]
