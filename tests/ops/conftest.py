"""Fixtures for the operations tests: real daemons against the session's throwaway PostgreSQL,
with metrics on free TCP ports and systemd's notification socket played by the test."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port
from tests.ops.systemd_notify import NotifySocket
from tests.support.helpers import daemon_built  # noqa: F401  (autouse: the daemon must be built)


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    # Unix socket paths are limited to 108 bytes; pytest's tmp_path can be longer.
    short = Path(f"/tmp/af-notify-{os.getpid()}-{time.monotonic_ns()}.sock")
    s = NotifySocket(short)
    try:
        yield s
    finally:
        s.close()
        short.unlink(missing_ok=True)


@pytest.fixture
def metrics_cluster(pg: PgServer, tmp_path: Path) -> Iterator[Cluster]:
    """Two nodes, heartbeats on, each with /metrics on its own port (cluster.metrics_ports)."""
    ports = {"node-a": free_tcp_port(), "node-b": free_tcp_port()}
    c = Cluster(pg, tmp_path / "cluster", size=2, heartbeats=True, metrics_ports=ports)
    try:
        yield c
    finally:
        c.stop_all()
