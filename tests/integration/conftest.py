"""Fixtures for the daemon's integration tests: real daemons, a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from tests.support.helpers import daemon_built  # noqa: F401  (autouse: the daemon must be built)


@pytest.fixture
def cluster(pg: PgServer, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(pg, tmp_path / "cluster")
    try:
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def hb_cluster(pg: PgServer, tmp_path: Path) -> Iterator[Cluster]:
    """A cluster of the default size with heartbeats on, none started."""
    c = Cluster(pg, tmp_path / "cluster", heartbeats=True)
    try:
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def two(pg: PgServer, tmp_path: Path) -> Iterator[Cluster]:
    """node-a active, node-b reporting standby (pause and scheduled-switchover tests)."""
    c = Cluster(pg, tmp_path / "cluster", size=2)
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        c.start(["node-b"])
        c.wait_for(
            lambda: {n["node_id"]: n["role"] for n in c.status()["nodes"]}.get("node-b") == "standby",
            10,
            "node-b to report standby",
        )
        yield c
    finally:
        c.stop_all()


@pytest.fixture(scope="module")
def db(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[psycopg2.extensions.connection]:
    """A connection (autocommit) to a database whose schema `init-db` made: for cases that write
    rows straight into the tables, each with a cluster name of its own."""
    cfg = tmp_path_factory.mktemp("schema") / "init-db.json"
    cfg.write_text(json.dumps({
        "cluster": "init", "node_id": "init", "database": {"conninfo": pg.conninfo()},
        "processes": [{"name": "x", "command": ["true"]}],
    }))  # fmt: skip
    res = subprocess.run([str(daemon_binary()), "init-db", "--config", str(cfg)],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    conn = psycopg2.connect(pg.conninfo())
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()
