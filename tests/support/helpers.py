"""Helpers shared by the pytest suites: the repository's root, the "daemon is built" check,
a superuser SQL read, an HTTP GET that returns error answers instead of raising, and `settle`
(run a cluster a while, checking that at most one scheduler lives).

Free ports come from ``localcluster.ports`` (the harness and the benches need them too)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def daemon_built() -> Path:
    """Autouse in the suites that run the daemon (their conftest imports it): fails the session
    at once, naming the path, when the binary is missing, instead of once per test."""
    return daemon_binary()


def sql_rows(pg: PgServer, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a query as the superuser (the tests' own view of the database)."""
    conn = psycopg2.connect(pg.conninfo())
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, params)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def http_get(port: int, path: str, timeout: float = 3.0) -> tuple[int, str]:
    """(status, body) of GET http://127.0.0.1:port/path; errors with a body count as answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def settle(cluster: Cluster, seconds: float) -> None:
    """Let the cluster run, checking all along that at most one scheduler lives."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        live = cluster.live_instances()
        assert len(live) <= 1, f"two schedulers alive: {live}"
        time.sleep(0.05)
