"""A throwaway etcd and two Patroni-managed PostgreSQL nodes on loopback (own ports, own
directories), for bench/patroni.py (issue 21). Debian's `patroni` and `etcd-server` packages.

The object duck-types PgServer where localcluster.cluster.Cluster uses one: conninfo() lists
both PostgreSQL nodes with target_session_attrs=read-write (docs/operations.md, "PostgreSQL
managed by Patroni"), psql() runs on the current primary.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from localcluster.pgserver import _pg_bindir
from localcluster.ports import free_tcp_port
from localcluster.procfs import alive, descendants


def why_unavailable() -> str | None:
    for exe in ("patroni", "patronictl", "etcd"):
        if not shutil.which(exe):
            return f"`{exe}` is not installed (Debian: patroni, etcd-server; scripts/lib/deps.sh)"
    return None


class PatroniNode:
    def __init__(self, root: Path, name: str, etcd: str, scope: str) -> None:
        self.name = name
        self.dir = root / name
        self.dir.mkdir()
        self.pg_port = free_tcp_port()
        self.api_port = free_tcp_port()
        self.config = self.dir / "patroni.yml"
        self.log = self.dir / "patroni.log"
        self.proc: subprocess.Popen[bytes] | None = None
        bindir = _pg_bindir()
        # JSON is YAML: no YAML writer needed
        cfg = {
            "scope": scope,
            "name": name,
            "log": {"level": "INFO"},
            "restapi": {
                "listen": f"127.0.0.1:{self.api_port}",
                "connect_address": f"127.0.0.1:{self.api_port}",
            },
            "etcd3": {"hosts": [etcd]},
            "bootstrap": {
                "dcs": {
                    "ttl": 10,
                    "loop_wait": 1,
                    "retry_timeout": 4,
                    "maximum_lag_on_failover": 1048576,
                    "postgresql": {"use_pg_rewind": False, "use_slots": True},
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
                "pg_hba": [
                    "local all all trust",
                    "local replication all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication all 127.0.0.1/32 trust",
                ],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{self.pg_port}",
                "connect_address": f"127.0.0.1:{self.pg_port}",
                "data_dir": str(self.dir / "data"),
                "bin_dir": str(bindir),
                "pgpass": str(self.dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "bench"},
                    "replication": {"username": "postgres", "password": "bench"},
                },
                "parameters": {
                    "unix_socket_directories": str(self.dir),
                    "max_connections": 200,
                    "fsync": "off",
                },
            },
        }
        self.config.write_text(json.dumps(cfg, indent=1))

    def start(self, as_user: list[str]) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*as_user, "patroni", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def role(self) -> str | None:
        """ "primary", "replica" or None (not answering), from Patroni's REST API."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/patroni", timeout=2) as r:
                data = json.loads(r.read())
        except (OSError, ValueError):
            return None
        role = data.get("role")
        if data.get("state") != "running":
            return None
        return "primary" if role in ("master", "primary") else str(role)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.dir / "data" / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def kill9(self) -> None:
        """kill -9 of Patroni and of PostgreSQL (postmaster and children) together."""
        roots = []
        if self.proc and self.proc.poll() is None:
            roots.append(self.proc.pid)  # runuser, and Patroni below it
        pm = self.postmaster_pid()
        if pm:
            roots.append(pm)
        pids = [*roots, *{d for r in roots for d in descendants(r)}]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.02)


class PatroniCluster:
    """etcd + two Patroni nodes. start() returns once one is primary and the other streams."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="af-patroni-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL (and so Patroni) refuses to run as root
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        os.chmod(self.root, 0o755)
        self.etcd_port = free_tcp_port()
        self.etcd_peer = free_tcp_port()
        self.scope = f"af-bench-{os.getpid()}"
        self.etcd: subprocess.Popen[bytes] | None = None
        self.nodes: list[PatroniNode] = []
        self.bindir = _pg_bindir()

    def start(self, timeout: float = 120) -> PatroniCluster:
        etcd_dir = self.root / "etcd"
        etcd_dir.mkdir()
        with open(self.root / "etcd.log", "ab") as log:
            self.etcd = subprocess.Popen(
                [
                    "etcd",
                    "--name",
                    "e0",
                    "--data-dir",
                    str(etcd_dir),
                    "--listen-client-urls",
                    f"http://127.0.0.1:{self.etcd_port}",
                    "--advertise-client-urls",
                    f"http://127.0.0.1:{self.etcd_port}",
                    "--listen-peer-urls",
                    f"http://127.0.0.1:{self.etcd_peer}",
                    "--initial-advertise-peer-urls",
                    f"http://127.0.0.1:{self.etcd_peer}",
                    "--initial-cluster",
                    f"e0=http://127.0.0.1:{self.etcd_peer}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for name in ("pg0", "pg1"):
            node = PatroniNode(self.root, name, f"127.0.0.1:{self.etcd_port}", self.scope)
            if self.as_user:
                pw = pwd.getpwnam("postgres")
                for p in (node.dir, node.config):
                    os.chown(p, pw.pw_uid, pw.pw_gid)
            self.nodes.append(node)
        self.nodes[0].start(self.as_user)
        self.wait_for(lambda: self.nodes[0].role() == "primary", timeout, "pg0 primary")
        self.nodes[1].start(self.as_user)
        self.wait_for(lambda: self.nodes[1].role() == "replica", timeout, "pg1 replica")
        self.wait_streaming(timeout)
        return self

    @staticmethod
    def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {what}")

    def primary(self) -> PatroniNode | None:
        for n in self.nodes:
            if n.role() == "primary":
                return n
        return None

    def wait_streaming(self, timeout: float = 120) -> None:
        def ok() -> bool:
            p = self.primary()
            if p is None:
                return False
            try:
                return (
                    self._psql(p, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1"
                )
            except RuntimeError:
                return False

        self.wait_for(ok, timeout, "a primary with a streaming replica")

    # -- the PgServer face -----------------------------------------------------------------------
    def conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        hosts = ",".join("127.0.0.1" for _ in self.nodes)
        ports = ",".join(str(n.pg_port) for n in self.nodes)
        return f"host={hosts} port={ports} dbname={dbname} user={user} target_session_attrs=read-write"

    def _psql(self, node: PatroniNode, sql: str) -> str:
        res = subprocess.run(
            [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
            + ["-h", str(node.dir), "-p", str(node.pg_port), "-U", "postgres", "-d", "postgres", "-c", sql],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if res.returncode != 0:
            raise RuntimeError(f"psql failed: {res.stderr.strip()}")
        return res.stdout.strip()

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        p = self.primary()
        if p is None:
            raise RuntimeError("no Patroni primary")
        return self._psql(p, sql)

    def patronictl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_user, "patronictl", "-c", str(self.nodes[0].config), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def restart_node(self, node: PatroniNode) -> None:
        """A node killed by a fault rejoins (as a replica; without pg_rewind it may need a new
        base backup, which Patroni takes when its data directory is removed)."""
        shutil.rmtree(node.dir / "data", ignore_errors=True)
        node.start(self.as_user)

    def destroy(self) -> None:
        for n in self.nodes:
            n.kill9()
        if self.etcd and self.etcd.poll() is None:
            self.etcd.kill()
            self.etcd.wait()
        shutil.rmtree(self.root, ignore_errors=True)
