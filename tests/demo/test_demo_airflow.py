"""The README's main job, driven as a user would: `python -m localcluster.demo` (what
scripts/demo.sh runs once the machine is set up) with real Airflow schedulers under the daemons,
the Xetra DAG backfilling sample days, and a kill -9 of the active daemon from outside while a
task runs. Everything is read from the demo's own output and summary, and from /proc.

Each test runs the demo until its backfill has finished, at most four minutes (LocalExecutor, then
CeleryExecutor + RabbitMQ).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from localcluster.airflow_site import migrated_dump
from localcluster.cluster import REPO
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port

pytestmark = pytest.mark.slow

DURATION_S = 240
ACTIVE_RE = re.compile(r"^cluster demo: active (node-[a-z]),")
KILL_RE = re.compile(r"^\s+kill -9 (\d+)\s+# (node-[a-z])'s daemon$")
RUNNING_RE = re.compile(r"^running tasks: (.+)$")


@pytest.fixture(scope="module", autouse=True)
def migrated_schema(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The session server's migrated Airflow schema, for each demo's own server: the demo copies
    it (AF_DEMO_AIRFLOW_SCHEMA) instead of running `airflow db migrate` (20 s and more on 2 cores)."""
    os.environ["AF_DEMO_AIRFLOW_SCHEMA"] = str(migrated_dump(pg, tmp_path_factory.mktemp("airflow-schema")))
    try:
        yield
    finally:
        del os.environ["AF_DEMO_AIRFLOW_SCHEMA"]


class DemoRun:
    """The demo as a subprocess, its output read line by line into the latest view."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.tmp = tmp
        self.summary_file = tmp / "summary.json"
        env = dict(os.environ, AF_DEMO_DIR=str(tmp), AF_DASHBOARD_PORT=str(free_tcp_port()))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "localcluster.demo",
                "--plain",
                "--duration",
                str(DURATION_S),
                "--until-done",
                "--summary",
                str(self.summary_file),
                *args,
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.active: str | None = None
        self.daemons: dict[str, int] = {}
        self.running = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if m := ACTIVE_RE.match(line):
                self.active = m.group(1)
            elif m := KILL_RE.match(line):
                self.daemons[m.group(2)] = int(m.group(1))
            elif m := RUNNING_RE.match(line):
                self.running = m.group(1)

    def wait_for(self, pred: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if pred():
                return
            time.sleep(0.5)
        pytest.fail(f"waited {timeout:.0f}s for {what}; demo output:\n" + "\n".join(self.lines[-60:]))

    def finish(self) -> dict[str, Any]:
        try:
            self.proc.wait(timeout=DURATION_S + 240)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=120)
            pytest.fail("the demo outlived --duration by 4 minutes:\n" + "\n".join(self.lines[-40:]))
        self._reader.join(timeout=10)
        out = "\n".join(self.lines)
        assert self.proc.returncode == 0, out[-4000:]
        assert out.rstrip().endswith("==> done"), out[-2000:]
        return dict(json.loads(self.summary_file.read_text()))


def leftover_processes(tmp: Path) -> list[str]:
    """Processes whose environment names the demo's directory: every process the demo started
    inherits AF_DEMO_DIR, including those that left its session."""
    mark = str(tmp).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes():
                found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue
    return found


def kill_active_mid_task(run: DemoRun, task: str) -> str:
    """kill -9 of the active daemon, as printed in the view, while `task` runs."""
    run.wait_for(
        lambda: run.active and task in run.running and run.active in run.daemons,
        200,
        f"a running {task} task under an active node",
    )
    victim = run.active
    assert victim is not None
    os.kill(run.daemons[victim], signal.SIGKILL)
    return victim


def check_common(summary: dict[str, Any], victim: str) -> dict[str, Any]:
    assert summary["airflow_version"].startswith("3."), summary
    failovers = summary["failovers"]
    assert failovers and failovers[0]["from"] == victim, failovers
    first: dict[str, Any] = failovers[0]
    assert first["to"] != victim and first["term"] >= 2
    at = datetime.fromisoformat(first["at"])
    new_jobs = [
        j
        for j in summary["scheduler_jobs"]
        if j["hostname"] == first["to"] and datetime.fromisoformat(j["start_date"]) > at
    ]
    assert new_jobs, f"no SchedulerJob of {first['to']} after the failover: {summary['scheduler_jobs']}"
    runs = summary["dag_runs"]
    assert runs["success"] >= 1 and runs["success_after_failover"] >= 1, runs
    assert runs["failed"] == 0, runs
    assert summary["price_rows"] > 0
    assert summary["tries_watched"] > 0, "the overlap watcher saw no running try: it proved nothing"
    assert summary["task_overlaps"] == 0, summary["task_overlap_details"]
    return first


def run_with_kill9(tmp_path: Path, *args: str) -> dict[str, Any]:
    """The demo with a kill -9 of its active daemon while a transform runs; the summary after
    the checks every variant shares, with no process left behind."""
    run = DemoRun(tmp_path, *args)
    try:
        victim = kill_active_mid_task(run, "transform")
        summary = run.finish()
    finally:
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGINT)
            run.proc.wait(timeout=120)
    check_common(summary, victim)
    assert not leftover_processes(tmp_path), leftover_processes(tmp_path)
    return summary


def test_default_demo_survives_kill9_of_active_daemon(tmp_path: Path) -> None:
    summary = run_with_kill9(tmp_path)
    assert summary["executor"] == "LocalExecutor" and summary["nodes"] == [
        "node-a",
        "node-b",
    ]


def test_celery_demo_task_on_worker_survives_scheduler_failover(tmp_path: Path) -> None:
    summary = run_with_kill9(tmp_path, "--executor", "celery")
    assert summary["executor"] == "CeleryExecutor"
    across = summary["tasks_across_failovers"][0]
    on_worker = [t for t in across if t["hostname"] == "worker-1"]
    assert on_worker, f"no task was running on the worker at the failover: {across}"
    for t in on_worker:
        # Left alone by the failover and adopted by the new scheduler: its one try ran to its
        # own end (a weekend day's ingest skips), never killed and never run again.
        assert (t["try_number"], t["final_try_number"]) == (1, 1), t
        assert t["final_state"] in ("success", "skipped"), t
    assert any(t["task_id"] == "transform" and t["final_state"] == "success" for t in on_worker), across
