"""The chaos suite's launcher: each node's daemon on a host of its own, a network namespace
(netns.py) with its own address, so faults can cut, drop and delay its traffic."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .netns import HB_PORT, NODE_IPS, Net, kill_namespace_processes, netns_pids


@dataclass
class NetnsHosts:
    net: Net

    def heartbeat_addrs(self, names: list[str]) -> dict[str, str]:
        return {n: f"{NODE_IPS[n]}:{HB_PORT}" for n in names}

    def popen(
        self, name: str, argv: list[str], log: Path, env: dict[str, str] | None
    ) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                self.net.cmd(name, *argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )

    def host_pids(self, name: str, proc: subprocess.Popen[bytes] | None) -> list[int]:
        return netns_pids(self.net.hosts[name])

    def reap(self, name: str) -> None:
        kill_namespace_processes(self.net.hosts[name], grace=3)
