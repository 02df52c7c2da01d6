"""The demo's terminal view and its clock: progress lines, the status screen, the stop signal."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .cluster import daemon_binary

REPO = Path(__file__).resolve().parents[1]


class Stopped(Exception):
    """Ctrl-C, SIGTERM or the end of --duration: tear down and report."""


class Progress:
    """``==> [ 12.3s] what`` lines: the demo's start-up takes minutes on 2 cores, so every step
    says what it waits for."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, what: str) -> None:
        print(f"==> [{time.monotonic() - self.t0:6.1f}s] {what}", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def sleep_until(deadline: float | None, seconds: float) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise Stopped("duration")
    time.sleep(seconds if deadline is None else max(0.0, min(seconds, deadline - time.monotonic())))
    if deadline is not None and time.monotonic() >= deadline:
        raise Stopped("duration")


def daemon_status(config: Path) -> tuple[str, dict[str, Any]]:
    """`airflow-failover status` as text (for the view) and JSON (for the demo's own logic)."""
    text = subprocess.run(
        [str(daemon_binary()), "status", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    js = subprocess.run(
        [str(daemon_binary()), "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    try:
        parsed = dict(json.loads(js.stdout))
    except json.JSONDecodeError:
        parsed = {}
    return (text.stdout or text.stderr).rstrip(), parsed


def render(lines: list[str], plain: bool) -> None:
    if not plain:
        sys.stdout.write("\x1b[H\x1b[2J")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def kill_lines(procs: dict[str, subprocess.Popen[bytes] | None]) -> list[str]:
    out = ["try it, in another terminal:"]
    for name, proc in procs.items():
        if proc is not None and proc.poll() is None:
            out.append(f"  kill -9 {proc.pid}    # {name}'s daemon")
    return out


def event_lines(events: list[dict[str, Any]]) -> list[str]:
    return ["latest events:"] + [
        f"  {str(e['at'])[11:23]}  {e['node_id']:<8} term {e['term']:<3} {e['kind']}: {e['detail']}"
        for e in events[-8:]
    ]
