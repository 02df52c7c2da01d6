"""Fixtures for the operations tests: real daemons against the session's throwaway PostgreSQL,
with metrics on free TCP ports and systemd's notification socket played by the test."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 3.0) -> tuple[int, str]:
    """(status, body) of GET http://127.0.0.1:port/path; errors with a body count as answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class NotifySocket:
    """The daemon's NOTIFY_SOCKET: a unix datagram socket the test reads, as systemd does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[tuple[float, dict[str, str]]] = []
        self.pending: list[tuple[float, dict[str, str]]] = []

    def _recv(self, seconds: float) -> list[tuple[float, dict[str, str]]]:
        got = []
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                break
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            got.append((time.monotonic(), fields))
        self.messages += got
        self.pending += got
        return got

    def drain(self, seconds: float) -> list[tuple[float, dict[str, str]]]:
        """Everything not yet consumed plus what arrives within `seconds`; consumes it all."""
        self._recv(seconds)
        out, self.pending = self.pending, []
        return out

    def wait_for(self, key: str, timeout: float, value: str | None = None) -> dict[str, str]:
        """Consumes messages up to and including the first with key (=value)."""
        end = time.monotonic() + timeout
        while True:
            for i, (_, f) in enumerate(self.pending):
                if key in f and (value is None or f[key] == value):
                    self.pending = self.pending[i + 1 :]
                    return f
            self.pending = []
            if time.monotonic() >= end:
                break
            self._recv(min(0.2, max(0.01, end - time.monotonic())))
        raise AssertionError(f"no {key}={value or '*'} within {timeout}s; got {self.messages}")

    def close(self) -> None:
        self.sock.close()


def start_under_systemd_env(
    binary: Path, config: Path, notify: Path, log: Path, watchdog_usec: int | None
) -> subprocess.Popen[bytes]:
    """Starts `run` with the environment systemd gives a Type=notify service with WatchdogSec=:
    NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the daemon's own pid: exec keeps it)."""
    env = dict(os.environ, NOTIFY_SOCKET=str(notify))
    script = 'exec "$0" run --config "$1"'
    if watchdog_usec is not None:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
        script = "export WATCHDOG_PID=$$; " + script
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["/bin/sh", "-c", script, str(binary), str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="session", autouse=True)
def _built() -> None:
    daemon_binary()


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

    class MetricsCluster(Cluster):
        def config_for(self, node):  # type: ignore[no-untyped-def]
            cfg = super().config_for(node)
            cfg["metrics"] = {"listen": f"127.0.0.1:{ports[node.name]}"}
            return cfg

    c = MetricsCluster(pg, tmp_path / "cluster", size=2, heartbeats=True)
    c.metrics_ports = ports  # type: ignore[attr-defined]
    try:
        yield c
    finally:
        c.stop_all()
