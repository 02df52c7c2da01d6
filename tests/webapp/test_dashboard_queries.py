"""The dashboard's queries against a real PostgreSQL with state written by real daemons."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import date

import psycopg2
import pytest

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.support.helpers import sql_rows
from webapp import model
from webapp.db import Pool, Queries


@pytest.fixture
def queries(pg: PgServer, shared_cluster: Cluster) -> Iterator[Queries]:
    pool = Pool(pg.conninfo(), size=1)
    try:
        yield Queries(pool, "airflow_failover", shared_cluster.name)
    finally:
        pool.close()


def test_panel_matches_status_json(queries: Queries, shared_cluster: Cluster) -> None:
    status = shared_cluster.status()
    panel = queries.panel()
    assert panel["active"] == status["active"] is not None
    assert panel["term"] == status["term"]
    assert 0 < panel["lease_remaining_ms"] <= shared_cluster.ttl_ms
    assert panel["lease_ttl_ms"] == shared_cluster.ttl_ms
    ours = {n["node_id"]: n for n in panel["nodes"]}
    theirs = {n["node_id"]: n for n in status["nodes"]}
    assert list(ours) == sorted(theirs)
    for name, n in theirs.items():
        mine = ours[name]
        for key in (
            "role",
            "state",
            "term",
            "processes",
            "hostname",
            "version",
            "stale",
        ):
            assert mine[key] == n[key], (name, key)
        assert abs(mine["last_seen_age_ms"] - n["last_seen_age_ms"]) < 2000
        assert mine["peers"] == {} or isinstance(mine["peers"], dict)
    active = ours[panel["active"]]
    assert model.node_health(active).label == "healthy"
    assert model.process_pids(active).startswith("scheduler=")
    assert panel["event_marker"][0] is not None


def test_event_marker_changes_for_a_row_that_commits_out_of_time_order(
    pg: PgServer, queries: Queries
) -> None:
    """The timeline is re-read when the marker changes. A row stamped before the newest one but
    committed after it (a longer transaction) must change the marker too."""
    mine = Queries(queries.pool, "airflow_failover", "marker-order")
    insert = (
        "INSERT INTO airflow_failover.events (cluster, node_id, term, kind, at)"
        " SELECT 'marker-order', %s, %s, %s,"
        " coalesce(max(at) - interval '5 ms', clock_timestamp())"
        " FROM airflow_failover.events WHERE cluster = 'marker-order'"
    )
    sql_rows(pg, insert, "node-a", 1, "released")
    before = mine.panel()["event_marker"]
    # Stamped 5 ms before the row already read, as a longer transaction's row would be.
    sql_rows(pg, insert, "node-b", 2, "became_active")
    after = mine.panel()["event_marker"]
    assert after != before
    assert [e.kind for e in mine.events()] == ["became_active", "released"]


def test_panel_reuses_one_pooled_connection(pg: PgServer, queries: Queries) -> None:
    for _ in range(5):
        queries.panel()
    assert queries.pool.open_connections == 1
    conns = sql_rows(
        pg,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
        "airflow-failover-dashboard",
    )
    assert conns[0][0] == 1


def test_unknown_cluster_reads_as_empty(queries: Queries) -> None:
    other = Queries(queries.pool, "airflow_failover", "no-such-cluster")
    panel = other.panel()
    assert panel["active"] is None and panel["term"] == 0 and panel["nodes"] == []
    assert panel["lease_remaining_ms"] == 0 and panel["event_marker"] == [None, 0]
    assert other.events() == []


def test_never_taken_lease_is_no_active(pg: PgServer, queries: Queries) -> None:
    sql_rows(pg, "INSERT INTO airflow_failover.lease (cluster) VALUES ('fresh-lease')")
    panel = Queries(queries.pool, "airflow_failover", "fresh-lease").panel()
    assert panel["active"] is None and panel["lease_remaining_ms"] == 0


def test_timeline_measures_a_real_hand_over(pg: PgServer, cluster: Cluster) -> None:
    first = cluster.wait_active()
    cluster.signal(first, signal.SIGTERM)
    second = cluster.wait_active(other_than=first)
    pool = Pool(pg.conninfo(), size=1)
    try:
        q = Queries(pool, "airflow_failover", cluster.name)
        events = q.events()
        terms = q.terms()
    finally:
        pool.close()
    assert [e.id for e in events] == sorted(e.id for e in events)
    tk = model.takeovers(terms)
    assert [t.node for t in tk][-2:] == [first, second]
    last = tk[-1]
    assert last.previous_node == first and last.term > last.previous_term  # type: ignore[operator]
    # SIGTERM: the old holder shuts down and releases; the gap runs from its release.
    assert last.gap_ms is not None and 0 <= last.gap_ms < 3000, last
    assert last.previous_last_kind == "released" and last.why.startswith(f"{first}: released"), last
    released = [e for e in events if e.node_id == first and e.kind == "released"][-1]
    became = [e for e in events if e.node_id == second and e.kind == "became_active"][-1]
    expected = max(0.0, (became.at - released.at).total_seconds() * 1000)
    assert abs(last.gap_ms - expected) < 0.01, (last, expected)


# -- prices ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prices_db(pg: PgServer) -> str:
    pg.create_database("dash_prices")
    return pg.conninfo("dash_prices")


def test_prices_absent_then_loaded(prices_db: str) -> None:
    from pipeline.xetra.load import ensure_table, load_day

    pool = Pool(prices_db, size=1)
    q = Queries(pool, "airflow_failover", "any")
    try:
        assert q.prices_available() is False
        assert q.tickers() == [] and q.prices("DE0007164600") == []
        conn = psycopg2.connect(prices_db)
        try:
            ensure_table(conn)
            assert q.tickers() == []  # empty table
            d1, d2 = date(2026, 3, 2), date(2026, 3, 3)
            load_day(conn, d1, [
                (d1, "DE0007164600", "SAP", 180.5, 180.2, 1000, 20, 50),
                (d1, "DE000BASF111", "BAS", 45.0, None, 10, 1, 1),
            ])  # fmt: skip
            tickers = q.tickers()
            assert [(t.mnemonic, t.days) for t in tickers] == [("BAS", 1), ("SAP", 1)]
            pairs = [(t.isin, t.mnemonic) for t in tickers]
            assert model.choose_ticker(pairs, None) == "DE0007164600"
            load_day(conn, d2, [(d2, "DE0007164600", "SAP", 182.0, 181.7, 900, 18, 48)])
            rows = q.prices("DE0007164600")
            assert [(r.trade_date, r.mean_end_price, r.vwap) for r in rows] == [
                (d1, 180.5, 180.2), (d2, 182.0, 181.7),
            ]  # fmt: skip
            assert max(t.last_day for t in q.tickers()) == d2
            assert q.prices("DE000BASF111")[0].vwap is None
        finally:
            conn.close()
    finally:
        pool.close()
