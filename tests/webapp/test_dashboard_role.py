"""The dashboard's database role reads the state tables and may only insert commands."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import pytest

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.support.helpers import sql_rows
from tests.webapp.dashboard_harness import commands, grant_for_cluster
from webapp.db import Pool, Queries


@pytest.fixture
def as_role(pg: PgServer, dashboard_role: str) -> Iterator[psycopg2.extensions.connection]:
    grant_for_cluster(pg, dashboard_role, "role-test")
    conn = psycopg2.connect(pg.conninfo(user=dashboard_role))
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def run(conn: psycopg2.extensions.connection, stmt: str) -> list[tuple[object, ...]]:
    with conn.cursor() as cur:
        cur.execute(stmt)
        return list(cur.fetchall()) if cur.description else []


@pytest.mark.parametrize("stmt", [
    "UPDATE airflow_failover.commands SET result = 'x'",
    "DELETE FROM airflow_failover.commands",
    "SELECT * FROM airflow_failover.commands",
    ("INSERT INTO airflow_failover.commands (cluster, kind, requested_by, taken_by)"
    " VALUES ('c', 'terminate', 'me', 'node-a')"),
    "UPDATE airflow_failover.lease SET holder = 'me'",
    "DELETE FROM airflow_failover.lease",
    "INSERT INTO airflow_failover.lease (cluster) VALUES ('mine')",
    "UPDATE airflow_failover.nodes SET role = 'active'",
    "DELETE FROM airflow_failover.nodes",
    "INSERT INTO airflow_failover.events (cluster, node_id, kind) VALUES ('c', 'n', 'forged')",
    "DELETE FROM airflow_failover.events",
    "TRUNCATE airflow_failover.commands",
    "SELECT * FROM airflow_failover.schema_migrations",
    "CREATE TABLE airflow_failover.mine (x int)",
])  # fmt: skip
def test_role_cannot(as_role: psycopg2.extensions.connection, stmt: str) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        run(as_role, stmt)


def test_role_reads_state_and_inserts_commands(pg: PgServer, as_role: psycopg2.extensions.connection) -> None:
    for table in ("lease", "nodes", "events"):
        run(as_role, f"SELECT count(*) FROM airflow_failover.{table}")
    run(as_role, "INSERT INTO airflow_failover.commands (cluster, kind, target, requested_by)"
                 " VALUES ('role-test', 'terminate', NULL, 'dashboard:test')")  # fmt: skip
    (row,) = commands(pg, "role-test")
    assert (row["kind"], row["requested_by"], row["taken_by"]) == (
        "terminate", "dashboard:test", None,
    )  # fmt: skip


@pytest.mark.parametrize(("cluster", "kind"), [
    ("role-test", "switchover"),   # only terminate
    ("other-cluster", "terminate"),  # only its own cluster
])  # fmt: skip
def test_role_inserts_only_terminate_for_its_cluster(
    as_role: psycopg2.extensions.connection, cluster: str, kind: str
) -> None:
    """Attack: the dashboard's credentials used to switch over, or to hit another cluster."""
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="row-level security"):
        run(as_role, "INSERT INTO airflow_failover.commands (cluster, kind, requested_by)"
                     f" VALUES ('{cluster}', '{kind}', 'dashboard:test')")  # fmt: skip


def test_queries_work_as_the_role(pg: PgServer, dashboard_role: str, cluster: Cluster) -> None:
    """The whole dashboard works with the least privilege: panel, events, terms, terminate."""
    grant_for_cluster(pg, dashboard_role, cluster.name)
    pool = Pool(pg.conninfo(user=dashboard_role), size=1)
    try:
        q = Queries(pool, "airflow_failover", cluster.name)
        panel = q.panel()
        assert panel["active"] == cluster.active()
        assert q.events()
        assert [t.holder for t in q.terms()][-1:] == [panel["active"]]
        assert q.tickers() == []  # no prices table in this database
        assert not q.request_terminate("dashboard:t", "node-x", panel["term"])
        assert not q.request_terminate("dashboard:t", panel["active"], panel["term"] - 1)
        assert commands(pg, cluster.name) == []
        assert q.request_terminate("dashboard:t", panel["active"], panel["term"])
        (row,) = commands(pg, cluster.name)
        assert (row["kind"], row["target"], row["requested_by"]) == (
            "terminate", None, "dashboard:t",
        )  # fmt: skip
    finally:
        pool.close()


def test_prices_table_granted_when_present(pg: PgServer, dashboard_role: str) -> None:
    from pipeline.xetra.load import ensure_table
    from webapp.roles import grant_dashboard_role

    db = pg.create_database("dash_role_prices")
    conn = psycopg2.connect(pg.conninfo(db))
    try:
        ensure_table(conn)
        grant_dashboard_role(conn, dashboard_role)
        grant_dashboard_role(conn, dashboard_role)  # idempotent
    finally:
        conn.close()
    role_conn = psycopg2.connect(pg.conninfo(db, user=dashboard_role))
    try:
        assert run(role_conn, "SELECT count(*) FROM xetra_daily_price") == [(0,)]
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(role_conn, "DELETE FROM xetra_daily_price")
    finally:
        role_conn.close()
    assert sql_rows(pg, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", dashboard_role) == [(False,)]


def test_role_reads_only_its_clusters_pause_and_cannot_write_it(
    pg: PgServer, dashboard_role: str, cluster: Cluster
) -> None:
    """Maintenance mode: the dashboard shows the pause (SELECT through a row-level security
    policy for its cluster) and cannot set, change or end one."""
    assert cluster.cli("pause", "--reason", "role test").returncode == 0
    pg.psql("INSERT INTO airflow_failover.pause (cluster, paused_by) VALUES ('other', 'x')")
    grant_for_cluster(pg, dashboard_role, cluster.name)
    conn = psycopg2.connect(pg.conninfo(user=dashboard_role))
    conn.autocommit = True
    pool = Pool(pg.conninfo(user=dashboard_role), size=1)
    try:
        rows = run(conn, "SELECT cluster, reason FROM airflow_failover.pause")
        assert rows == [(cluster.name, "role test")]
        pause = Queries(pool, "airflow_failover", cluster.name).pause()
        assert pause is not None and pause["reason"] == "role test"
        for stmt in (
            "UPDATE airflow_failover.pause SET reason = 'x'",
            "DELETE FROM airflow_failover.pause",
            "INSERT INTO airflow_failover.pause (cluster, paused_by) VALUES ('mine', 'me')",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                run(conn, stmt)
    finally:
        conn.close()
        pool.close()
        pg.psql("DELETE FROM airflow_failover.pause WHERE cluster = 'other'")
