"""Airflow without the daemon, for the side-by-side bench (``bench/vs_native.py``): "hosts" that run
Airflow 3's own processes directly, either several schedulers at once (Airflow's active-active HA)
or one host whose processes a supervisor restarts in place (what most users run, systemd style).

A host here is a name and the Airflow processes started for it: each in a session of its own, with
``AIRFLOW_FAILOVER_NODE=<host>`` so that ``localcluster.airflow_hostname.node_hostname`` records
the host's name in Airflow's job and task instance rows (as the daemon-managed ones do), and with
its own log-server and health-check ports. Losing the host SIGKILLs every process of those
sessions (LocalExecutor workers and task runners stay in their scheduler's session); freezing it
SIGSTOPs the same set and returns it for the SIGCONT.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from dataclasses import dataclass, field

from . import faults
from .airflow_pair import Pair
from .airflow_site import Site, airflow_exe, scheduler_leaders
from .ports import free_tcp_port
from .procfs import descendants, session_pids
from .procs import signal_all, spawn, stop_sessions

ROLES = ("scheduler", "dag-processor", "triggerer")


@dataclass
class Host:
    """Airflow processes of one "host". ``supervise`` restarts a process that exits, after
    ``restart_delay_s`` (a systemd unit with ``Restart=always``; the supervisor survives a host
    fault here, so a loss of the single host is a crash of all its processes, restarted in place)."""

    site: Site
    name: str
    roles: tuple[str, ...] = ROLES
    supervise: bool = False
    restart_delay_s: float = 1.0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.roles) - set(ROLES)
        if unknown:
            raise ValueError(f"Host {self.name}: unknown roles {sorted(unknown)}; choose from {ROLES}")
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def env(self, role: str) -> dict[str, str]:
        extra = {"AIRFLOW_FAILOVER_NODE": self.name}
        if role == "scheduler":
            extra["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_tcp_port())
            extra["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] = str(free_tcp_port())
            extra["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"] = "127.0.0.1"
        elif role == "triggerer":
            extra["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_tcp_port())
        return self.site.env(extra)

    def _start(self, role: str) -> None:
        self.procs[role] = spawn(
            [str(airflow_exe()), role],
            self.env(role),
            self.site.logs / f"{self.name}-{role}.log",
            cwd=self.site.root,
        )

    def start(self) -> None:
        with self._lock:
            for role in self.roles:
                if role not in self.procs or self.procs[role].poll() is not None:
                    self._start(role)
        if self.supervise and self._thread is None:
            self._thread = threading.Thread(target=self._supervise, daemon=True, name=f"sup-{self.name}")
            self._thread.start()

    def _supervise(self) -> None:
        while not self._halt.wait(0.1):
            for role in self.roles:
                proc = self.procs.get(role)
                if proc is None or proc.poll() is None:
                    continue
                if self._halt.wait(self.restart_delay_s):
                    return
                with self._lock:
                    if not self._halt.is_set():
                        self._start(role)
                        self.restarts += 1

    def running(self) -> bool:
        return all(r in self.procs and self.procs[r].poll() is None for r in self.roles)

    def pids(self) -> set[int]:
        """Every live process of the host: its Airflow processes' sessions and their children."""
        out: set[int] = set()
        for proc in self.procs.values():
            if proc.poll() is None:
                out |= {proc.pid} | set(session_pids(proc.pid)) | descendants(proc.pid)
        return out

    def lose(self, pids: set[int] | None = None) -> None:
        """Every process of the host (``pids``, found beforehand, or now) SIGKILLed at once; the
        supervisor, if any, restarts them."""
        signal_all(self.pids() if pids is None else pids, signal.SIGKILL)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        stop_sessions(list(self.procs.values()))


def pair_host_pids(pair: Pair, name: str) -> set[int]:
    """Every process of a daemon's "host": the daemon, its guard, the sessions below it and the
    schedulers it started (as ``faults.host_loss`` finds them)."""
    daemon = pair.nodes[name].proc
    if daemon is None or daemon.poll() is not None:
        return set()
    return faults.host_pids(
        pair, name, [pid for pid, node in scheduler_leaders(pair.cluster) if node == name]
    )


def celery_worker(site: Site, queue: str, concurrency: int = 4) -> subprocess.Popen[bytes]:
    """A Celery worker on a "worker host" of its own (never faulted by the bench), consuming only
    ``queue`` so that messages left by an earlier setup on the same broker are not run."""
    return spawn(
        [
            str(airflow_exe()),
            "celery",
            "worker",
            "--concurrency",
            str(concurrency),
            "--queues",
            queue,
            "--celery-hostname",
            f"worker-1-{queue}@%h",
        ],
        site.env({"AIRFLOW_FAILOVER_NODE": "worker-1"}),
        site.logs / "celery-worker.log",
        cwd=site.root,
    )
