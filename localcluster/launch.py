"""Where a cluster's daemons run: a launcher puts a daemon on its "host" and knows that host's
addresses and processes. :class:`LocalProcesses` runs them as plain processes on loopback (or,
with a prefix, in namespaces of their own, say UTS + mount for an own hostname);
``localcluster.chaos.launch.NetnsHosts`` runs each in a network namespace of its own."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .ports import free_udp_port
from .procfs import descendants
from .procs import spawn


class Launcher(Protocol):
    def heartbeat_addrs(self, names: list[str]) -> dict[str, str]:
        """host:port each node's heartbeat socket listens on (and its peers send to)."""
        ...

    def popen(
        self, name: str, argv: list[str], log: Path, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        """Starts ``argv`` on node ``name``'s host, output appended to ``log``; ``env`` None
        inherits ours."""
        ...

    def host_pids(self, name: str, proc: subprocess.Popen[bytes] | None) -> list[int]:
        """Every process of node ``name``'s host: its daemon ``proc`` and what that started."""
        ...

    def reap(self, name: str) -> None:
        """Ends what a stopped or killed daemon left behind on its host (a guard, a stand-in)."""
        ...


@dataclass
class LocalProcesses:
    """Daemons as processes of this machine, each in a session of its own, on loopback."""

    cwd: Path | None = None
    # a command prefix per node (procs.own_host_argv: a hostname and /etc/hosts of its own)
    prefix: Callable[[str], list[str]] | None = None

    def heartbeat_addrs(self, names: list[str]) -> dict[str, str]:
        return {n: f"127.0.0.1:{free_udp_port()}" for n in names}

    def popen(
        self, name: str, argv: list[str], log: Path, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        return spawn([*(self.prefix(name) if self.prefix else []), *argv], env, log, cwd=self.cwd)

    def host_pids(self, name: str, proc: subprocess.Popen[bytes] | None) -> list[int]:
        if proc is None or proc.poll() is not None:
            return []
        return [proc.pid, *sorted(descendants(proc.pid))]

    def reap(self, name: str) -> None:
        # Loopback "hosts" share this machine: what a daemon leaves is its own session's to end
        # (DaemonCluster.stop_all, the Airflow pair's stop); nothing is ours to sweep here.
        return None
