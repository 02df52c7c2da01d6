"""The schema is the contract (issue 26): the rules `status`, the dashboard and the demo read
the cluster by live once, in the daemon's migrations (cluster_status, pause_state,
request_command). These cases try to break each rule on rows written straight into the tables,
with a cluster name of their own, on the database clock."""

from __future__ import annotations

import os
from typing import Any

import psycopg2
import psycopg2.extensions

S = "airflow_failover"


def run(conn: psycopg2.extensions.connection, stmt: str, *params: Any) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(stmt, params)
        return list(cur.fetchall()) if cur.description else []


def name(case: str) -> str:
    return f"status-{case}-{os.getpid()}"


def lease(conn: psycopg2.extensions.connection, cluster: str, holder: str, term: int, left_ms: int) -> None:
    """A lease of 3000 ms renewed (3000 - left_ms) ms ago; left_ms < 0: expired."""
    run(conn, f"INSERT INTO {S}.lease (cluster, holder, term, expires_at, renewed_at)"
        " VALUES (%s, %s, %s, clock_timestamp() + %s * interval '1 ms',"
        " clock_timestamp() + (%s - 3000) * interval '1 ms')",
        cluster, holder, term, left_ms, left_ms)  # fmt: skip


def node(conn: psycopg2.extensions.connection, cluster: str, node_id: str, role: str,
         age_ms: int, stale_after_ms: int | None) -> None:  # fmt: skip
    run(conn, f"INSERT INTO {S}.nodes (cluster, node_id, role, last_seen, stale_after_ms)"
        " VALUES (%s, %s, %s, clock_timestamp() - %s * interval '1 ms', %s)",
        cluster, node_id, role, age_ms, stale_after_ms)  # fmt: skip


def status(conn: psycopg2.extensions.connection, cluster: str) -> dict[str, Any]:
    ((value,),) = run(conn, f"SELECT {S}.cluster_status(%s)", cluster)
    return dict(value)


def verdicts(st: dict[str, Any]) -> dict[str, str | None]:
    return {n["node_id"]: n["stale_why"] for n in st["nodes"] if n["stale"] == (n["stale_why"] is not None)}


def test_a_dead_holders_row_is_stale_so_only_one_reads_active(db: psycopg2.extensions.connection) -> None:
    c = name("dead")
    lease(db, c, "node-b", 7, 2000)
    node(db, c, "node-a", "active", 9000, 3000)  # killed -9 in term 6: its row says active
    node(db, c, "node-b", "active", 100, 3000)
    node(db, c, "node-c", "standby", 200, 3000)
    st = status(db, c)
    assert (st["active"], st["term"], st["lease_ttl_ms"]) == ("node-b", 7, 3000)
    assert 0 < st["lease_remaining_ms"] <= 2000
    assert verdicts(st) == {"node-a": "not heard from", "node-b": None, "node-c": None}


def test_a_fresh_row_claiming_active_without_the_lease_is_stale(db: psycopg2.extensions.connection) -> None:
    c = name("claims")
    lease(db, c, "node-a", 3, -50)  # expired 50 ms ago: nobody is active
    node(db, c, "node-a", "active", 100, 3000)
    st = status(db, c)
    assert (st["active"], st["holder"], st["lease_remaining_ms"]) == (None, "node-a", 0)
    assert verdicts(st) == {"node-a": "claims active without a valid lease"}


def test_each_row_is_judged_by_its_own_threshold(db: psycopg2.extensions.connection) -> None:
    """The threshold comes from the daemon that wrote the row (3 status intervals, at least a
    TTL), not from whoever reads: two rows of the same age, two verdicts."""
    c = name("own")
    lease(db, c, "node-a", 1, 2000)
    node(db, c, "node-a", "active", 100, 3000)
    node(db, c, "node-b", "standby", 5000, 3000)
    node(db, c, "node-c", "standby", 5000, 10000)
    node(db, c, "node-d", "standby", 2500, 3000)  # half a second inside its threshold
    assert verdicts(status(db, c)) == {
        "node-a": None, "node-b": "not heard from", "node-c": None, "node-d": None,
    }  # fmt: skip


def test_a_row_from_before_the_threshold_column_is_judged_by_the_lease_ttl(
    db: psycopg2.extensions.connection,
) -> None:
    c = name("old-row")
    lease(db, c, "node-a", 1, 2000)  # TTL 3000
    node(db, c, "node-a", "active", 100, None)
    node(db, c, "node-b", "standby", 3500, None)
    node(db, c, "node-c", "standby", 2500, None)
    assert verdicts(status(db, c)) == {"node-a": None, "node-b": "not heard from", "node-c": None}


def test_a_cluster_without_a_lease_row(db: psycopg2.extensions.connection) -> None:
    st = status(db, name("empty"))
    assert (st["active"], st["holder"], st["term"], st["lease_remaining_ms"], st["nodes"]) == (
        None, None, 0, 0, [],
    )  # fmt: skip


def test_request_command_is_written_only_for_the_live_holder_and_term(
    db: psycopg2.extensions.connection,
) -> None:
    c = name("request")
    lease(db, c, "node-a", 4, 2000)
    req = f"SELECT {S}.request_command(%s, 'terminate', NULL, 'test', %s, %s)"
    assert run(db, req, c, "node-a", 3) == [(None,)]  # the term the requester saw is over
    assert run(db, req, c, "node-b", 4) == [(None,)]  # somebody else holds it
    ((cid,),) = run(db, req, c, "node-a", 4)
    assert cid is not None
    rows = run(db, f"SELECT id, for_holder, for_term FROM {S}.commands WHERE cluster = %s", c)
    assert rows == [(cid, "node-a", 4)]
    # Without a holder, the insert trigger binds it to the live lease.
    ((other,),) = run(db, f"SELECT {S}.request_command(%s, 'switchover', NULL, 'test', NULL, NULL)", c)
    assert run(db, f"SELECT for_holder, for_term FROM {S}.commands WHERE id = %s", other) == [("node-a", 4)]
    run(db, f"UPDATE {S}.lease SET expires_at = clock_timestamp() - interval '1 ms' WHERE cluster = %s", c)
    assert run(db, req, c, "node-a", 4) == [(None,)]  # expired: not written


def test_pause_state_shows_only_a_live_pause(db: psycopg2.extensions.connection) -> None:
    c = name("pause")
    run(db, f"INSERT INTO {S}.pause (cluster, paused_by, expires_at)"
        " VALUES (%s, 'op', clock_timestamp() - interval '1 ms')", c)  # fmt: skip
    assert run(db, f"SELECT * FROM {S}.pause_state(%s)", c) == []
    run(db, f"UPDATE {S}.pause SET expires_at = clock_timestamp() + interval '1 min' WHERE cluster = %s", c)
    ((by, left),) = run(db, f"SELECT paused_by, remaining_ms FROM {S}.pause_state(%s)", c)
    assert by == "op" and 55000 < left <= 60000
    run(db, f"UPDATE {S}.pause SET expires_at = NULL WHERE cluster = %s", c)
    assert run(db, f"SELECT paused_by, remaining_ms FROM {S}.pause_state(%s)", c) == [("op", None)]
