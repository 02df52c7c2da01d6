"""Faults on a local cluster's processes and database, shared by the chaos trials
(chaos/faults.py, which adds the network ones), bench/failover.py and the Airflow takeover tests
and bench. Each returns the instant (CLOCK_MONOTONIC) the fault took effect, from which the
callers time the failover."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Protocol

from .procfs import args, descendants, guard_of, proc_stat, session_pids
from .procs import signal_all


class _Daemons(Protocol):
    """What a fault needs of a cluster (DaemonCluster, the Airflow pair)."""

    def signal(self, name: str, sig: int) -> None: ...
    def daemon_proc(self, name: str) -> subprocess.Popen[bytes]: ...


class _Database(Protocol):
    def stop(self, mode: str = "fast") -> None: ...
    def start(self) -> object: ...


def kill9(c: _Daemons, node: str) -> float:
    """kill -9 of the daemon alone: its guard stops the scheduler and releases the lease."""
    t0 = time.monotonic()
    c.signal(node, signal.SIGKILL)
    return t0


def sigterm(c: _Daemons, node: str) -> float:
    """SIGTERM of the daemon: a graceful hand-over."""
    t0 = time.monotonic()
    c.signal(node, signal.SIGTERM)
    return t0


def sigstop(c: _Daemons, node: str) -> float:
    """The daemon alone frozen (its guard and scheduler run on)."""
    t0 = time.monotonic()
    c.signal(node, signal.SIGSTOP)
    return t0


def freeze(pids: list[int]) -> float:
    """Every process of a host stopped at once (SIGSTOP): a host that hangs."""
    return signal_all(pids, signal.SIGSTOP)


def kill9_with_guard(c: _Daemons, node: str) -> float:
    """The daemon and its guard both die (as on a host crash): only the lease expiry helps."""
    proc = c.daemon_proc(node)
    g = guard_of(proc.pid)
    if g is None:
        raise RuntimeError(f"no guard process found for {node}'s daemon (pid {proc.pid})")
    t0 = time.monotonic()
    os.kill(g, signal.SIGKILL)
    c.signal(node, signal.SIGKILL)
    return t0


def host_pids(c: _Daemons, node: str, extra_sessions: list[int] | None = None) -> set[int]:
    """Every process of ``node``'s host: the daemon, its guard (a child in a session of its own)
    and every managed process's session (scheduler, executor workers, task runners, which may have
    left their parent; ``extra_sessions`` names leaders found otherwise)."""
    daemon = c.daemon_proc(node)
    pids = {daemon.pid} | descendants(daemon.pid)
    for pid in list(pids):
        st = proc_stat(pid)
        if st and st[3] == pid:  # a session leader below the daemon: take its whole session
            pids |= set(session_pids(pid))
    for leader in extra_sessions or []:
        pids |= set(session_pids(leader))
    return pids


def host_loss(c: _Daemons, node: str, extra_sessions: list[int] | None = None) -> float:
    """The whole host at once (``host_pids``) SIGKILLed in one sweep; nobody releases the lease.
    Waits for the daemon's exit."""
    daemon = c.daemon_proc(node)
    pids = host_pids(c, node, extra_sessions)
    assert any(args(p)[-1:] == ["guard"] for p in pids), "the guard was not found"
    t0 = signal_all(pids, signal.SIGKILL)
    daemon.wait(timeout=10)
    return t0


def pg_restart(pg: _Database, down_s: float = 2.0) -> float:
    """PostgreSQL stopped (fast: sessions cut), down for ``down_s``, started; returns when it
    is back."""
    pg.stop()
    time.sleep(down_s)
    pg.start()
    return time.monotonic()
