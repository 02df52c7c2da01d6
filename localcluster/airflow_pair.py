"""Daemons managing real Airflow schedulers on a local Airflow site (airflow_site.py): the local
cluster (cluster.py) with Airflow's processes for workload, for the end-to-end tests, the demo and
bench/airflow_failover.py."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import faults
from .airflow_site import Site, airflow_exe, scheduler_leaders, tail, venv_bin, wait_for
from .cluster import DaemonCluster, Node
from .daemon_config import DaemonConfig, Process, Supervision, heartbeat_mesh
from .launch import LocalProcesses
from .ports import free_tcp_port
from .procs import kill_session, own_host_argv

DaemonNode = Node


class Pair(DaemonCluster):
    """Airflow-failover daemons (two by default), each managing a real ``airflow scheduler``.

    Options: ``health`` (an airflow-db health check, with ``health_overrides``); ``singletons``
    (Airflow 3's dag-processor and triggerer under the daemon too, each node with the site's whole
    Airflow environment in its config, as on a real host); ``own_hosts`` (each daemon, and so its
    Airflow, on a "host" of its own: a UTS namespace whose hostname is the node id and a mount
    namespace whose /etc/hosts names it <node>.<own_hosts> first, so the canonical name differs
    from gethostname() as on EC2; Airflow then keeps its default hostname_callable); ``takeover``
    (the ``airflow`` section, issue 13: True on, False off, None no section), ``hooks``, ``warm``
    (docs/warm-standby.md: the scheduler runs through the launcher, pre-started on the standby),
    ``db_roles`` (database fencing: node -> the PostgreSQL role its scheduler logs in as; the
    winner of a term revokes LOGIN from the others) and ``job_types`` (to close out; None: the
    daemon's default, those of the processes it manages; the tests' site shares one
    dag-processor between both "hosts", so only schedulers move).
    """

    def __init__(
        self,
        site: Site,
        *,
        health: bool = False,
        stop_timeout_ms: int = 15000,
        health_overrides: dict[str, Any] | None = None,
        names: tuple[str, ...] = ("node-a", "node-b"),
        cluster: str | None = None,
        singletons: bool = False,
        heartbeats: bool = False,
        own_hosts: str | None = None,
        takeover: bool | None = None,
        hooks: dict[str, Any] | None = None,
        warm: bool = False,
        db_roles: dict[str, str] | None = None,
        job_types: list[str] | None = None,
    ) -> None:
        self.site = site
        self.health = health
        self.health_overrides = health_overrides or {}
        self.names = names
        self.singletons = singletons
        self.own_hosts = own_hosts
        self.takeover = takeover
        self.hooks = hooks
        self.warm = warm
        self.db_roles = db_roles
        self.job_types = job_types
        name = cluster or "af" + uuid.uuid4().hex[:8]
        super().__init__(
            site.pg,
            site.root / name,
            size=len(names),
            stop_timeout_ms=stop_timeout_ms,
            heartbeats=heartbeats,
            name=name,
            daemon_env=site.env(),
            launcher=LocalProcesses(cwd=site.root, prefix=self.host_prefix if own_hosts else None),
            dbname=site.dbname,
        )

    @property
    def cluster(self) -> str:
        return self.name

    def node_names(self) -> list[str]:
        return list(self.names)

    # -- the configuration -------------------------------------------------------------------------
    def airflow_env(self, allow: tuple[str, ...], own: bool = True) -> dict[str, str]:
        """The site's environment for a managed process: the daemon hands one only an allowlisted
        environment, so Airflow's settings go into the config, as on a real host (never the
        daemon's PG* variables; with ``own`` False, nor its AIRFLOW_FAILOVER_* ones, which it
        passes itself)."""
        return {
            k: v
            for k, v in self.site.env().items()
            if k.startswith(allow)
            and (own or not k.startswith("AIRFLOW_FAILOVER_"))
            and not (self.own_hosts and k == "AIRFLOW__CORE__HOSTNAME_CALLABLE")
        }

    def processes(self, name: str) -> list[Process]:
        scheduler = Process(
            "scheduler",
            [str(airflow_exe()), "scheduler"],
            {
                **self.airflow_env(("AIRFLOW", "FAILOVER_DEMO_", "PYTHONPATH")),
                # Distinct per "host" on this one machine.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_tcp_port()),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_tcp_port()),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            },
            stop_timeout_ms=self.stop_timeout_ms,
        )
        procs = [scheduler]
        if self.singletons:
            af_env = self.airflow_env(("AIRFLOW", "XETRA", "AWS_", "PYTHONPATH"), own=False)
            scheduler.env = {**af_env, **scheduler.env}
            procs += [
                Process(
                    "dag-processor", [str(airflow_exe()), "dag-processor"], af_env, stop_timeout_ms=10000
                ),
                Process(
                    "triggerer",
                    [str(airflow_exe()), "triggerer"],
                    {**af_env, "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_tcp_port())},
                    stop_timeout_ms=10000,
                ),
            ]
        if self.health:
            scheduler.health = {
                "type": "airflow-db",
                "interval_ms": 2000,
                "timeout_ms": 1500,
                "failure_threshold": 3,
                "start_period_ms": 60000,
                "conninfo": self.site.conninfo,
                "job_type": "SchedulerJob",
                **({} if self.own_hosts else {"hostname": name}),
                "max_age_ms": 15000,
                **self.health_overrides,
            }
        if self.warm:
            for proc in procs:
                proc.command = [str(venv_bin() / "python"), "-m", "airflow_failover_warm", proc.command[-1]]
                proc.warm = {"max_age_s": 3600}
        if self.db_roles:
            url = self.site.pg.url(self.site.dbname, user=self.db_roles[name], driver="postgresql+psycopg2")
            for proc in procs:
                proc.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url
        return procs

    def node_config(self, node: Node) -> DaemonConfig:
        airflow: dict[str, Any] | None = None
        if self.takeover:
            airflow = {
                "conninfo": self.site.conninfo,
                # The harness's [core] hostname_callable records the node id as the hostname.
                "hostnames": {n: n for n in self.names},
                "takeover": {"job_types": self.job_types} if self.job_types else {},
            }
        elif self.takeover is False:
            # The step is on by default for an Airflow scheduler: off says "today's behaviour".
            airflow = {"takeover": {"enabled": False}}
        # No lease section: the daemon's defaults (ttl_ms 1300), as the README promises them.
        return DaemonConfig(
            self.name,
            node.name,
            self.site.conninfo,
            self.processes(node.name),
            supervision=Supervision(500, 3, 120000),
            heartbeat=heartbeat_mesh(self.hb_addrs, self.secret_file, node.name) if self.heartbeats else None,
            fencing={"database_roles": self.db_roles} if self.db_roles else None,
            airflow=airflow,
            hooks=self.hooks or None,
        )

    def airflow_hostname(self, name: str) -> str:
        """The hostname Airflow records for node ``name``'s jobs."""
        return f"{name}.{self.own_hosts}" if self.own_hosts else name

    def host_prefix(self, name: str) -> list[str]:
        """The command prefix that puts a process on node ``name``'s own "host" (own_hosts)."""
        hosts = self.workdir / f"{name}.hosts"
        if not hosts.exists():
            hosts.write_text(
                Path("/etc/hosts").read_text() + f"\n127.0.1.1 {self.airflow_hostname(name)} {name}\n"
            )
        return own_host_argv(name, hosts)

    # -- processes ---------------------------------------------------------------------------------
    def lose_host(self, name: str) -> float:
        """The whole of node ``name``'s host lost at once (faults.host_loss), its schedulers'
        sessions included even where a task runner left the daemon's tree."""
        leaders = [pid for pid, node in scheduler_leaders(self.name) if node == name]
        return faults.host_loss(self, name, leaders)

    def kill9(self, name: str) -> None:
        proc = self.nodes[name].proc
        assert proc is not None and proc.poll() is None, f"daemon {name} not running"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> list[tuple[int, str]]:
        """SIGTERM the daemons (graceful scheduler stop), then SIGKILL whatever is left of each
        daemon's session: guard, schedulers, executor workers, orphaned task runners. Returns the
        schedulers that were still alive after their daemons had exited (should be none)."""
        for node in self.nodes.values():
            if node.proc and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes.values():
            if node.proc is None:
                continue
            try:
                node.proc.wait(timeout=self.stop_timeout_ms / 1000 + 15)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait(timeout=10)
        leftover = scheduler_leaders(self.name)
        for node in self.nodes.values():
            if node.proc is not None:
                kill_session(node.proc.pid)
        for pid, _node in leftover:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return leftover

    # -- state -------------------------------------------------------------------------------------
    def cli(self, *args: str, node: str | None = None) -> subprocess.CompletedProcess[str]:
        return super().cli(*args, node=node or self.names[0])

    def diagnose(self) -> str:
        parts = [tail(n.log, 30) for n in self.nodes.values()]
        try:
            parts.append("--- status\n" + str(self.status()))
            parts.append(
                "--- events\n"
                + "\n".join(
                    f"{e.get('at', '')} {e.get('node_id', '')} {e.get('kind')} {e.get('detail', '')}"
                    for e in self.events()[-30:]
                )
            )
        except Exception as e:  # noqa: BLE001 - diagnosis must not raise
            parts.append(f"--- status/events: {e}")
        parts.append(f"--- scheduler process-group leaders: {scheduler_leaders(self.name)}")
        parts.append(self.site.diagnose())
        return "\n".join(parts)

    def wait_scheduler_job(self, node: str, after: Any, timeout: float) -> dict[str, Any]:
        """A running SchedulerJob row of ``node`` that started after ``after`` (DB time)."""

        def pred() -> dict[str, Any] | None:
            for j in self.site.scheduler_jobs():
                if (
                    j["hostname"] == self.airflow_hostname(node)
                    and j["state"] == "running"
                    and (after is None or j["start_date"] > after)
                ):
                    return j
            return None

        return dict(
            wait_for(
                pred,
                timeout,
                f"a new running SchedulerJob of {node} (started after {after})",
                every=0.1,
                diagnose=self.diagnose,
            )
        )


class TakeoverPair(Pair):
    """A Pair whose daemons have the ``airflow`` section (the takeover step) unless
    ``takeover`` is False, closing out SchedulerJobs only unless ``job_types`` says otherwise
    (None: the daemon's default)."""

    def __init__(
        self,
        site: Site,
        *,
        takeover: bool = True,
        job_types: Sequence[str] | None = ("SchedulerJob",),
        **kw: Any,
    ) -> None:
        super().__init__(site, takeover=takeover, job_types=list(job_types) if job_types else None, **kw)


# -- observations of a run ----------------------------------------------------------------------
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


def overlapping_tries(tis: list[dict[str, Any]]) -> list[tuple[str, int, str, int]]:
    """Pairs of tries of a run of sequential tasks that shared an instant."""
    tries = sorted((t for t in tis if t["start_date"] is not None), key=lambda t: t["start_date"])
    out = []
    for i, a in enumerate(tries):
        for b in tries[i + 1 :]:
            if a["end_date"] is None or b["start_date"] < a["end_date"]:
                out.append((a["task_id"], a["try_number"], b["task_id"], b["try_number"]))
    return out
