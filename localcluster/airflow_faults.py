"""Faults and observations shared by the takeover e2e tests and bench/airflow_failover.py: the
loss of a whole scheduler host, a task body running mid-run, and the takeover-capable Pair."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .airflow_site import Pair, Site, cmdline, scheduler_leaders, session_pids, venv_bin
from .procfs import proc_stat


@dataclass
class TakeoverPair(Pair):
    """A Pair whose daemons have the ``airflow`` section (the takeover step, issue 13) unless
    ``takeover`` is False, plus optional ``hooks``."""

    takeover: bool = True
    hooks: dict[str, Any] | None = None
    # Warm standby (docs/warm-standby.md): the scheduler runs through the launcher
    # (python -m airflow_failover_warm scheduler), pre-started on the standby.
    warm: bool = False
    # Database fencing: node -> the PostgreSQL role its scheduler logs in as (non-superuser,
    # allowed to read and write all data); the winner of a term revokes LOGIN from the others.
    db_roles: dict[str, str] | None = None
    # Job types to close out; None: the daemon's default (those of the processes it manages).
    # The tests' site shares one dag-processor between both "hosts": only schedulers move.
    job_types: list[str] | None = field(default_factory=lambda: ["SchedulerJob"])

    def config_for(self, name: str) -> dict[str, Any]:
        cfg = super().config_for(name)
        if self.takeover:
            cfg["airflow"] = {
                "conninfo": self.site.conninfo,
                # The harness's [core] hostname_callable records the node id as the hostname.
                "hostnames": {n: n for n in self.names},
                "takeover": {"job_types": self.job_types} if self.job_types else {},
            }
        else:
            # The step is on by default for an Airflow scheduler: off says "today's behaviour".
            cfg["airflow"] = {"takeover": {"enabled": False}}
        if self.hooks:
            cfg["hooks"] = self.hooks
        if self.warm:
            for proc in cfg["processes"]:
                sub = proc["command"][-1]
                proc["command"] = [str(venv_bin() / "python"), "-m", "airflow_failover_warm", sub]
                proc["warm"] = {"max_age_s": 3600}
        if self.db_roles:
            cfg["fencing"] = {"database_roles": self.db_roles}
            url = self.site.pg.url(self.site.dbname, user=self.db_roles[name], driver="postgresql+psycopg2")
            for proc in cfg["processes"]:
                proc["env"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url
        return cfg


def running_task(site: Site, run_id: str) -> dict[str, Any] | None:
    """A task of the run after step_1 whose body (not just its row) runs and has not ended."""
    recs = [r for r in site.demo_records() if r["run_id"] == run_id]
    ended = {(r["task_id"], r["try"]) for r in recs if r["ev"] == "end"}
    for ti in site.task_instances(run_id):
        key = (ti["task_id"], ti["try_number"])
        started = any((r["task_id"], r["try"]) == key and r["ev"] == "start" for r in recs)
        if (
            ti["source"] == "current"
            and ti["state"] == "running"
            and ti["task_id"] != "step_1"
            and started
            and key not in ended
        ):
            return ti
    return None


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (by parent pid), not ``root`` itself."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st and st[0] not in ("Z", "X"):
                children.setdefault(st[1], []).append(int(entry.name))
    out: set[int] = set()
    todo = [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def host_loss(pair: Pair, name: str) -> None:
    """The whole host at once: the daemon, its guard (a child in a session of its own) and every
    managed process's session (scheduler, executor workers, task runners, which may have left
    their parent) SIGKILLed in one sweep; nobody releases the lease."""
    daemon = pair.nodes[name].proc
    assert daemon is not None
    pids = {daemon.pid} | descendants(daemon.pid)
    for pid in list(pids):
        st = proc_stat(pid)
        if st and st[3] == pid:  # a session leader below the daemon: take its whole session
            pids |= set(session_pids(pid))
    for leader, node in scheduler_leaders(pair.cluster):
        if node == name:
            pids |= set(session_pids(leader))
    assert any(cmdline(p)[-1:] == ["guard"] for p in pids), "the guard was not found"
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    daemon.wait(timeout=10)


def overlapping_tries(tis: list[dict[str, Any]]) -> list[tuple[str, int, str, int]]:
    """Pairs of tries of a run of sequential tasks that shared an instant."""
    tries = sorted((t for t in tis if t["start_date"] is not None), key=lambda t: t["start_date"])
    out = []
    for i, a in enumerate(tries):
        for b in tries[i + 1 :]:
            if a["end_date"] is None or b["start_date"] < a["end_date"]:
                out.append((a["task_id"], a["try_number"], b["task_id"], b["try_number"]))
    return out
