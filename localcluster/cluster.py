"""The local cluster: N real airflow-failover daemons sharing one real PostgreSQL, for the tests,
the benchmarks and the demo. One class for every kind: :class:`DaemonCluster` writes each node's
config with the typed builder (daemon_config.py) and starts the daemons through a launcher
(launch.py: local processes on loopback, or network namespaces for the chaos suite). By default
the daemons manage the stand-in scheduler, and the stand-ins' own records prove the guarantees
(standin.py); the Airflow pair (airflow_pair.py) manages real schedulers instead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import standin
from .daemon_config import (
    DaemonConfig,
    Lease,
    Process,
    Supervision,
    daemon_lease_defaults,
    heartbeat_mesh,
    observer,
)
from .launch import Launcher, LocalProcesses
from .pgserver import PgServer
from .procfs import wchan
from .procs import signal_all
from .standin import REPO, STANDIN, Instance

__all__ = ["REPO", "STANDIN", "Cluster", "DaemonCluster", "Instance", "Node", "daemon_binary"]


def daemon_binary() -> Path:
    env = os.environ.get("AIRFLOW_FAILOVER_BIN")
    path = Path(env) if env else REPO / "build" / "airflow-failover"
    if not path.exists():
        raise RuntimeError(f"{path} not built: run scripts/test.sh or cmake --build build")
    return path


@dataclass
class Node:
    name: str
    config: Path
    log: Path
    crash_file: Path
    proc: subprocess.Popen[bytes] | None = None


Workload = Callable[["DaemonCluster", Node], list[Process]]


@dataclass
class DaemonCluster:
    """``size`` daemons (node-a, node-b, ...) of one cluster: each node's config is built by
    :meth:`node_config` (override it, or pass ``workload`` for other managed processes) and
    written once at construction; :meth:`start` runs them through ``launcher``."""

    pg: PgServer
    workdir: Path
    size: int = 3
    # 0: the daemon's defaults, asked from the binary (daemon_lease_defaults): tests run what
    # users run. A test that needs another TTL passes it and says why.
    ttl_ms: int = 0
    renew_ms: int = 0
    # True: no `lease` section, the daemon's own defaults (ttl_ms then only sizes the waits)
    lease_defaults: bool = False
    stop_timeout_ms: int = 3000
    tick_ms: int = 5
    stop_delay_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    heartbeats: bool = False
    priorities: dict[str, int] = field(default_factory=dict)
    name: str = field(default_factory=lambda: "c" + uuid.uuid4().hex[:8])
    nodes: dict[str, Node] = field(default_factory=dict)
    standin_name: str = STANDIN.name  # what live_instances() recognises as a scheduler
    daemon_env: dict[str, str] | None = None  # the daemons' environment (default: ours)
    launcher: Launcher = field(default_factory=LocalProcesses)
    binary: Path | None = None  # None: daemon_binary()
    # True: a `lease` section with ttl_ms only, the other timings derived by the daemon's rule
    lease_ttl_only: bool = False
    fencing: dict[str, Any] | None = None
    metrics_ports: dict[str, int] = field(default_factory=dict)  # node -> /metrics on loopback
    workload: Workload | None = None  # the managed processes; None: the stand-in scheduler
    # Where the CLI reaches the database from this process (None: a node's own conninfo); the
    # chaos suite's is a Unix socket that no fault cuts.
    cli_conninfo: str | None = None
    dbname: str = "postgres"  # the database holding the daemons' schema

    def __post_init__(self) -> None:
        if not self.ttl_ms or not self.renew_ms:
            ttl, renew = daemon_lease_defaults(self.binary or daemon_binary())
            if not self.ttl_ms:
                self.ttl_ms, self.renew_ms = ttl, self.renew_ms or renew
            elif not self.renew_ms:
                self.lease_ttl_only = True  # a TTL alone: the daemon derives the rest
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.standin_log = self.workdir / "standin.jsonl"
        self.lock_file = self.workdir / "scheduler.lock"
        self.key = os.urandom(32).hex().encode()
        self.secret_file = self.workdir / "heartbeat.key"
        self.secret_file.write_bytes(self.key + b"\n")
        self.secret_file.chmod(0o600)
        self.fifo = self.workdir / "start.fifo"
        names = self.node_names()
        self.hb_addrs = self.launcher.heartbeat_addrs(names)
        self.udp_ports = {n: int(a.rsplit(":", 1)[1]) for n, a in self.hb_addrs.items()}
        for name in names:
            node = Node(
                name,
                self.workdir / f"{name}.json",
                self.workdir / f"{name}.log",
                self.workdir / f"crash-{name}",
            )
            self.nodes[name] = node
            self.node_config(node).write(node.config)
        self.observer = None
        if self.cli_conninfo is not None:
            self.observer = observer(self.name, self.cli_conninfo).write(self.workdir / "observer.json")

    def node_names(self) -> list[str]:
        return [f"node-{chr(ord('a') + i)}" for i in range(self.size)]

    # -- the configuration -------------------------------------------------------------------
    def standin_process(self, node: Node) -> Process:
        return Process(
            "scheduler",
            [str(STANDIN)],
            {
                "STANDIN_LOG": str(self.standin_log),
                "STANDIN_TICK_MS": str(self.tick_ms),
                "STANDIN_LOCK": str(self.lock_file),
                "STANDIN_CRASH_FILE": str(node.crash_file),
                "STANDIN_STOP_DELAY_MS": str(self.stop_delay_ms),
            },
            stop_timeout_ms=self.stop_timeout_ms,
        )

    def node_config(self, node: Node) -> DaemonConfig:
        if self.lease_ttl_only:
            lease: Lease | None = Lease(self.ttl_ms)
        else:
            lease = None if self.lease_defaults else Lease(self.ttl_ms, self.renew_ms)
        port = self.metrics_ports.get(node.name)
        return DaemonConfig(
            self.name,
            node.name,
            self.pg.conninfo(),
            self.workload(self, node) if self.workload else [self.standin_process(node)],
            supervision=Supervision(),
            heartbeat=heartbeat_mesh(self.hb_addrs, self.secret_file, node.name) if self.heartbeats else None,
            lease=lease,
            priority=self.priorities.get(node.name),
            fencing=self.fencing,
            metrics_listen=f"127.0.0.1:{port}" if port else None,
            extra=self.extra,
        )

    # -- processes ------------------------------------------------------------------------------
    def daemon_argv(self) -> list[str]:
        return [str(self.binary or daemon_binary())]

    def start(
        self,
        names: Iterable[str] | None = None,
        barrier: bool = False,
        env: dict[str, dict[str, str]] | None = None,
    ) -> float | None:
        """Starts the daemons as close to the same instant as Popen allows. With barrier,
        every daemon first blocks opening a FIFO; opening it for writing releases them all in
        the same instant, which is returned (CLOCK_MONOTONIC). ``env``: variables added to
        some nodes' environment (say libfaketime's)."""
        names = list(names or self.nodes)
        if barrier:
            self.fifo.unlink(missing_ok=True)
            os.mkfifo(self.fifo)
        for name in names:
            node = self.nodes[name]
            argv = [*self.daemon_argv(), "run", "--config", str(node.config)]
            if barrier:
                argv = ["sh", "-c", 'read _ < "$0"; exec "$@"', str(self.fifo), *argv]
            node_env = self.daemon_env
            if env and name in env:
                node_env = {**(self.daemon_env if self.daemon_env is not None else os.environ), **env[name]}
            node.proc = self.launcher.popen(name, argv, node.log, node_env)
        if not barrier:
            return None

        def parked(name: str) -> bool:  # the shell sits in open() of the FIFO
            proc = self.nodes[name].proc
            assert proc is not None
            return wchan(proc.pid) == "wait_for_partner"

        self.wait_for(lambda: all(parked(n) for n in names), 15, "the daemons at the barrier")
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        t0 = time.monotonic()
        os.close(fd)
        return t0

    def signal(self, name: str, sig: int) -> None:
        proc = self.nodes[name].proc
        assert proc is not None, f"{name} not running"
        os.kill(proc.pid, sig)

    def daemon_proc(self, name: str) -> subprocess.Popen[bytes]:
        proc = self.nodes[name].proc
        assert proc is not None, f"{name} not started"
        return proc

    def wait_exit(self, name: str, timeout: float = 15.0) -> int:
        proc = self.nodes[name].proc
        assert proc is not None
        return proc.wait(timeout=timeout)

    def host_pids(self, name: str) -> list[int]:
        return self.launcher.host_pids(name, self.nodes[name].proc)

    def stop_all(self) -> None:
        for name, node in self.nodes.items():  # a frozen host first thaws, so it can stop cleanly
            signal_all(self.host_pids(name), signal.SIGCONT)
            if node.proc and node.proc.poll() is None:
                try:
                    os.kill(node.proc.pid, signal.SIGCONT)
                    node.proc.terminate()
                    node.proc.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    node.proc.kill()
                    node.proc.wait()
        for name in self.nodes:  # guards and stand-ins of daemons that were killed
            self.launcher.reap(name)

    # -- state ----------------------------------------------------------------------------------
    def cli(self, *args: str, node: str = "node-a") -> subprocess.CompletedProcess[str]:
        cfg = self.observer or self.nodes[node if node in self.nodes else next(iter(self.nodes))].config
        return subprocess.run(
            [*self.daemon_argv(), *args, "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=self.daemon_env,
        )

    def status(self) -> dict[str, Any]:
        res = self.cli("status", "--json")
        try:
            return dict(json.loads(res.stdout))
        except json.JSONDecodeError:
            return {"active": None, "term": None, "nodes": [], "error": (res.stdout + res.stderr).strip()}

    def active(self) -> str | None:
        """The node the lease names, or None."""
        act = self.status().get("active")
        return str(act) if act else None

    def roles(self) -> dict[str, str]:
        return {n["node_id"]: n["role"] for n in self.status().get("nodes", [])}

    def events(self) -> list[dict[str, Any]]:
        out = self.pg.psql(
            "SELECT coalesce(json_agg(e ORDER BY id), '[]') FROM airflow_failover.events e "
            f"WHERE cluster = '{self.name}'",
            dbname=self.dbname,
        )
        return list(json.loads(out))

    def events_since(self, first_id: int) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["id"] > first_id]

    def last_event_id(self) -> int:
        ev = self.events()
        return int(ev[-1]["id"]) if ev else 0

    def wait_for(self, pred: Any, timeout: float, what: str, every: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = pred()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.diagnose()}")

    def wait_active(self, timeout: float = 15.0, other_than: str | None = None) -> str:
        def pred() -> str | None:
            live = self.live_instances()
            act = self.active()
            if act and act != other_than and [i.node for i in live] == [act]:
                return act
            return None

        return str(self.wait_for(pred, timeout, f"an active node other than {other_than}"))

    # -- the stand-ins' records -----------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        return standin.records(self.standin_log)

    def instances(self) -> list[Instance]:
        return standin.instances(self.records())

    def live_instances(self) -> list[Instance]:
        return standin.live(self.instances(), self.standin_name)

    def next_start(self, t0: float, other_than: str | None = None) -> float | None:
        """When the first stand-in started after ``t0`` (on a node other than ``other_than``)."""
        for inst in self.instances():
            if inst.start > t0 and inst.node != other_than:
                return inst.start
        return None

    def watch(self, seconds: float) -> int:
        """Lets the cluster run; returns how many samples saw two stand-ins alive at once."""
        bad = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if len(self.live_instances()) > 1:
                bad += 1
            time.sleep(0.05)
        return bad

    # -- the guarantees -------------------------------------------------------------------------
    def assert_no_overlap(self) -> None:
        problems = standin.overlap_problems(self.records())
        assert not problems, "\n".join(problems) + f"\n{self.diagnose()}"

    def assert_terms_grow(self) -> None:
        won = [e["term"] for e in self.events() if e["kind"] == "became_active"]
        problems = standin.term_problems(self.instances(), won)
        assert not problems, problems[0]

    def diagnose(self) -> str:
        parts = []
        for node in self.nodes.values():
            if node.log.exists():
                tail = node.log.read_text(errors="replace").splitlines()[-15:]
                parts.append(f"--- {node.name} log (tail)\n" + "\n".join(tail))
        return "\n".join(parts)


# The name the tests and benches have always used for the stand-in cluster on loopback.
Cluster = DaemonCluster
