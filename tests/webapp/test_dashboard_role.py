"""The dashboard's database role reads the state tables and may only insert commands."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import pytest
from conftest import commands, sql_rows
from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer

from webapp.db import Pool, Queries


@pytest.fixture
def as_role(
    pg: PgServer, dashboard_role: str
) -> Iterator[psycopg2.extensions.connection]:
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


def test_role_reads_state_and_inserts_commands(
    pg: PgServer, as_role: psycopg2.extensions.connection
) -> None:
    for table in ("lease", "nodes", "events"):
        run(as_role, f"SELECT count(*) FROM airflow_failover.{table}")
    run(as_role, "INSERT INTO airflow_failover.commands (cluster, kind, target, requested_by)"
                 " VALUES ('role-test', 'switchover', NULL, 'dashboard:test')")  # fmt: skip
    (row,) = commands(pg, "role-test")
    assert (row["kind"], row["requested_by"], row["taken_by"]) == (
        "switchover", "dashboard:test", None,
    )  # fmt: skip


def test_queries_work_as_the_role(
    pg: PgServer, dashboard_role: str, cluster: Cluster
) -> None:
    """The whole dashboard works with the least privilege: panel, events, terminate."""
    pool = Pool(pg.conninfo(user=dashboard_role), size=1)
    try:
        q = Queries(pool, "airflow_failover", cluster.name)
        panel = q.panel(3000)
        assert panel["active"] == cluster.active()
        assert q.events()
        assert q.tickers() == []  # no prices table in this database
        assert not q.request_terminate("dashboard:t", "node-x", panel["term"])
        assert not q.request_terminate(
            "dashboard:t", panel["active"], panel["term"] - 1
        )
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
        with conn, conn.cursor() as cur:
            cur.execute("CREATE SCHEMA airflow_failover")
            for t in ("lease", "nodes", "events"):
                cur.execute(f"CREATE TABLE airflow_failover.{t} (x int)")
            cur.execute("CREATE TABLE airflow_failover.commands (id bigserial, cluster text,"
                        " kind text, target text, requested_by text, taken_by text)")  # fmt: skip
        grant_dashboard_role(conn, dashboard_role, "airflow_failover")
        grant_dashboard_role(conn, dashboard_role, "airflow_failover")  # idempotent
    finally:
        conn.close()
    role_conn = psycopg2.connect(pg.conninfo(db, user=dashboard_role))
    try:
        assert run(role_conn, "SELECT count(*) FROM xetra_daily_price") == [(0,)]
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(role_conn, "DELETE FROM xetra_daily_price")
    finally:
        role_conn.close()
    assert sql_rows(
        pg, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", dashboard_role
    ) == [(False,)]
