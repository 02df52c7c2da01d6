"""systemd's side of Type=notify, played by the tests: the NOTIFY_SOCKET the daemon writes to,
and a start with the environment systemd gives such a service."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path


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
