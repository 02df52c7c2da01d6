"""A local airflow-failover cluster for tests, benchmarks and the demo: N real daemons on
loopback sharing one real PostgreSQL, each managing the stand-in scheduler, plus the checkers
that prove the guarantees from the stand-ins' own records."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .pgserver import PgServer
from .ports import free_udp_port
from .procfs import alive, cmdline
from .procs import spawn

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "scripts" / "standin-scheduler"


def daemon_binary() -> Path:
    env = os.environ.get("AIRFLOW_FAILOVER_BIN")
    path = Path(env) if env else REPO / "build" / "airflow-failover"
    if not path.exists():
        raise RuntimeError(f"{path} not built: run scripts/test.sh or cmake --build build")
    return path


@dataclass
class Instance:
    """One life of a stand-in scheduler, from its records."""

    node: str
    term: int
    pid: int
    start: float
    end: float
    stopped_cleanly: bool = False


@dataclass
class Node:
    name: str
    config: Path
    log: Path
    crash_file: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class Cluster:
    pg: PgServer
    workdir: Path
    size: int = 3
    # The daemon's defaults (af/core/election_config.hpp): tests run what users run. A test
    # that needs another TTL passes it and says why.
    ttl_ms: int = 1300
    renew_ms: int = 216
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

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.standin_log = self.workdir / "standin.jsonl"
        self.lock_file = self.workdir / "scheduler.lock"
        self.key = os.urandom(32).hex().encode()
        self.secret_file = self.workdir / "heartbeat.key"
        self.secret_file.write_bytes(self.key + b"\n")
        self.secret_file.chmod(0o600)
        self.udp_ports = {f"node-{chr(ord('a') + i)}": free_udp_port() for i in range(self.size)}
        for i in range(self.size):
            name = f"node-{chr(ord('a') + i)}"
            cfg = self.workdir / f"{name}.json"
            node = Node(name, cfg, self.workdir / f"{name}.log", self.workdir / f"crash-{name}")
            cfg.write_text(json.dumps(self.config_for(node), indent=2))
            self.nodes[name] = node

    def config_for(self, node: Node) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "cluster": self.name,
            "node_id": node.name,
            "database": {"conninfo": self.pg.conninfo()},
            "processes": [
                {
                    "name": "scheduler",
                    "command": [str(STANDIN)],
                    "env": {
                        "STANDIN_LOG": str(self.standin_log),
                        "STANDIN_TICK_MS": str(self.tick_ms),
                        "STANDIN_LOCK": str(self.lock_file),
                        "STANDIN_CRASH_FILE": str(node.crash_file),
                        "STANDIN_STOP_DELAY_MS": str(self.stop_delay_ms),
                    },
                    "stop_timeout_ms": self.stop_timeout_ms,
                }
            ],
            "supervision": {
                "restart_backoff_initial_ms": 200,
                "crash_loop_limit": 3,
                "crash_loop_window_ms": 30000,
            },
            "log": {"level": "info"},
        }
        if self.heartbeats:
            cfg["heartbeat"] = {
                "listen": f"127.0.0.1:{self.udp_ports[node.name]}",
                "peers": {n: f"127.0.0.1:{p}" for n, p in self.udp_ports.items() if n != node.name},
                "interval_ms": 200,
                "secret_file": str(self.secret_file),
            }
        if not self.lease_defaults:
            cfg["lease"] = {"ttl_ms": self.ttl_ms, "renew_interval_ms": self.renew_ms}
        if node.name in self.priorities:
            cfg["priority"] = self.priorities[node.name]
        cfg.update(self.extra)
        return cfg

    # -- processes ------------------------------------------------------------------------------
    def start(self, names: list[str] | None = None) -> None:
        """Starts the daemons as close to the same instant as Popen allows."""
        for name in names or list(self.nodes):
            node = self.nodes[name]
            node.proc = spawn(
                [str(daemon_binary()), "run", "--config", str(node.config)],
                self.daemon_env,
                node.log,
            )

    def signal(self, name: str, sig: int) -> None:
        proc = self.nodes[name].proc
        assert proc is not None, f"{name} not running"
        os.kill(proc.pid, sig)

    def wait_exit(self, name: str, timeout: float = 15.0) -> int:
        proc = self.nodes[name].proc
        assert proc is not None
        return proc.wait(timeout=timeout)

    def stop_all(self) -> None:
        for node in self.nodes.values():
            if node.proc and node.proc.poll() is None:
                try:
                    os.kill(node.proc.pid, signal.SIGCONT)
                    node.proc.terminate()
                    node.proc.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    node.proc.kill()
                    node.proc.wait()

    # -- state ----------------------------------------------------------------------------------
    def cli(self, *args: str, node: str = "node-a") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(daemon_binary()), *args, "--config", str(self.nodes[node].config)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def status(self) -> dict[str, Any]:
        res = self.cli("status", "--json")
        status: dict[str, Any] = json.loads(res.stdout)
        return status

    def active(self) -> str | None:
        """The node running a scheduler per the stand-in records and the lease, or None."""
        return self.status().get("active")

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

    def records(self) -> list[dict[str, Any]]:
        if not self.standin_log.exists():
            return []
        out = []
        # The stand-ins append while we read: the last line may be half written (no newline
        # yet). Only complete lines count; it is read whole next time.
        for line in self.standin_log.read_text().split("\n")[:-1]:
            if line.strip():
                out.append(json.loads(line))
        return out

    def instances(self) -> list[Instance]:
        lives: dict[tuple[str, int, int], Instance] = {}
        for r in self.records():
            key = (r["node"], r["term"], r["pid"])
            inst = lives.get(key)
            if inst is None:
                inst = lives[key] = Instance(r["node"], r["term"], r["pid"], r["mono"], r["mono"])
            inst.end = max(inst.end, r["mono"])
            if r["ev"] == "stop":
                inst.stopped_cleanly = True
        return sorted(lives.values(), key=lambda i: i.start)

    def live_instances(self) -> list[Instance]:
        live = []
        for inst in self.instances():
            # pid reuse guard: the process must still be a stand-in
            is_standin = any(self.standin_name.encode() in a for a in cmdline(inst.pid))
            if is_standin and alive(inst.pid):
                live.append(inst)
        return live

    def events(self) -> list[dict[str, Any]]:
        out = self.pg.psql(
            "SELECT coalesce(json_agg(e ORDER BY id), '[]') FROM airflow_failover.events e "
            f"WHERE cluster = '{self.name}'"
        )
        return list(json.loads(out))

    # -- the guarantees -------------------------------------------------------------------------
    def assert_no_overlap(self) -> None:
        """Never two schedulers alive at once: exact through the lock file, and double-checked
        from the records (each life ends at its last record, so a gap shorter than a tick could
        hide from this second check, not from the first)."""
        overlaps = [r for r in self.records() if r["ev"] == "overlap"]
        assert not overlaps, f"two schedulers alive at once: {overlaps}\n{self.diagnose()}"
        lives = self.instances()
        for a, b in itertools.pairwise(lives):
            assert b.start > a.end, (
                f"{b.node} (term {b.term}) started at {b.start:.3f} before {a.node} (term "
                f"{a.term}) ended at {a.end:.3f}\n{self.diagnose()}"
            )

    def assert_terms_grow(self) -> None:
        lives = self.instances()
        terms = [i.term for i in lives]
        for a, b in itertools.pairwise(lives):
            assert b.term >= a.term, f"term went back: {terms}"
            if b.node != a.node:
                assert b.term > a.term, f"a new node ran under an old term: {terms}"
        won = [e["term"] for e in self.events() if e["kind"] == "became_active"]
        assert won == sorted(won) and len(won) == len(set(won)), f"terms won: {won}"

    def diagnose(self) -> str:
        parts = []
        for node in self.nodes.values():
            if node.log.exists():
                tail = node.log.read_text(errors="replace").splitlines()[-15:]
                parts.append(f"--- {node.name} log (tail)\n" + "\n".join(tail))
        return "\n".join(parts)
