"""End-to-end: real Apache Airflow 3 schedulers under two airflow-failover daemons.

One Airflow site (metadata DB on the session's throwaway PostgreSQL, ``airflow db migrate`` once,
LocalExecutor, example DAGs off, AIRFLOW_HOME in a temp dir, DAGs folder holding only
``dags/failover_demo.py``), one shared api-server and one shared dag-processor (what every node
runs in a real deployment; one of each keeps a 2-core machine usable), and per test two daemons
``node-a`` / ``node-b`` whose only managed process is ``airflow scheduler``. Each node's scheduler
records its own Airflow hostname (the node id, via ``localcluster.airflow_hostname.node_hostname``).

    .venv/bin/python -m pytest tests/airflow -q         (build/airflow-failover must be built)
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster.airflow_pair import Pair, running_task
from localcluster.airflow_site import REPO, Site, scheduler_leaders, wait_for
from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer
from localcluster.procfs import args, session_pids

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    daemon_binary()  # fail early and clearly when the daemon is not built
    s = Site(pg, tmp_path_factory.mktemp("airflow-e2e"))
    with s.running():
        yield s


class LeaderMonitor:
    """Samples the live scheduler process-group leaders of a cluster every 100 ms and keeps the
    largest set seen: two at once would be two schedulers."""

    def __init__(self, cluster: str) -> None:
        self.cluster = cluster
        self.worst: list[tuple[int, str]] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            seen = scheduler_leaders(self.cluster)
            self.samples += 1
            if len(seen) > len(self.worst):
                self.worst = seen
            self._stop.wait(0.1)

    def __enter__(self) -> LeaderMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def pair_factory(site: Site) -> Iterator[Any]:
    made: list[Pair] = []

    def make(**kw: Any) -> Pair:
        p = Pair(site, **kw)
        made.append(p)
        return p

    try:
        yield make
    finally:
        leftovers = [p.stop() for p in made]
        assert leftovers == [[]] * len(made), f"schedulers outlived their daemons: {leftovers}"


def wait_active_scheduler(pair: Pair, timeout: float = 120) -> tuple[str, dict[str, Any]]:
    active = str(wait_for(pair.active, 30, "a daemon to win the lease", diagnose=pair.diagnose))
    job = pair.wait_scheduler_job(active, None, timeout)
    return active, job


# Observations of the kill -9 test that a separate (xfail) test judges.
KILL9_OBSERVED: dict[str, Any] = {}


def test_kill9_of_active_daemon_mid_task_moves_scheduler_and_run_succeeds(
    site: Site, pair_factory: Any
) -> None:
    pair = pair_factory()
    pair.start()
    with LeaderMonitor(pair.cluster) as monitor:
        first, _ = wait_active_scheduler(pair)
        other = next(n for n in pair.names if n != first)

        run_id = f"e2e-kill9-{uuid.uuid4().hex[:6]}"
        site.trigger(run_id)

        # Kill while the body of a task (not the first) of the run is running on the active node:
        # Airflow marks a task instance running before its body starts, so wait for the body's
        # own start record.
        victim = wait_for(
            lambda: running_task(site, run_id),
            180,
            f"the body of a task of {run_id} (after step_1) running",
            diagnose=pair.diagnose,
        )
        assert victim["hostname"] == first, f"task ran on {victim['hostname']}, active is {first}"
        dead = pair.nodes[first].proc
        assert dead is not None
        t_kill = site.db_now()
        pair.kill9(first)

        # The guard kills the scheduler's process group, waits until it is gone and releases the
        # lease: whatever of the dead daemon's session (but the guard) lives once the other node
        # holds the lease has escaped that kill.
        wait_for(
            lambda: pair.active() == other,
            30,
            f"{other} to take the lease",
            every=0.02,
            diagnose=pair.diagnose,
        )
        KILL9_OBSERVED["survivors"] = [
            (p, " ".join(args(p))) for p in session_pids(dead.pid) if not args(p)[-1:] == ["guard"]
        ]
        new_job = pair.wait_scheduler_job(other, t_kill, 120)
        takeover_s = (new_job["start_date"] - t_kill).total_seconds()
        assert pair.active() == other, pair.diagnose()

        state = wait_for(
            lambda: (site.dag_run_state(run_id) in ("success", "failed")) and site.dag_run_state(run_id),
            300,
            f"dag run {run_id} to finish",
            every=1,
            diagnose=pair.diagnose,
        )
    tis = site.task_instances(run_id)
    report = "\n".join(map(str, tis)) + "\n" + pair.diagnose()
    assert state == "success", f"dag run {run_id} ended {state}\n{report}"

    # Every task ended success; the run's tries never overlapped (the tasks are sequential, so
    # no two tries of any task, let alone of the same one, may share an instant).
    current = [t for t in tis if t["source"] == "current"]
    assert sorted(t["task_id"] for t in current) == [f"step_{i}" for i in range(1, 7)], report
    assert all(t["state"] == "success" for t in current), report
    tries = sorted((t for t in tis if t["start_date"] is not None), key=lambda t: t["start_date"])
    for a, b in zip(tries, tries[1:], strict=False):
        assert a["end_date"] is not None and b["start_date"] >= a["end_date"], (
            f"{b['task_id']} try {b['try_number']} started before {a['task_id']} try {a['try_number']} "
            f"ended\n{report}"
        )
    same = [(t["task_id"], t["try_number"]) for t in tis]
    assert len(same) == len(set(same)), f"a (task, try) recorded twice: {same}"

    # The tasks' own records: the run-wide flock was never found taken, starts/ends interleave.
    recs = [r for r in site.demo_records() if r["run_id"] == run_id]
    assert not [r for r in recs if r["ev"] == "overlap"], f"two task bodies alive at once: {recs}"
    bodies: dict[tuple[str, int, int], dict[str, float]] = {}
    for r in recs:
        bodies.setdefault((r["task_id"], r["try"], r["pid"]), {})[r["ev"]] = r["t"]
    spans = sorted((v["start"], v.get("end", v["start"]), k) for k, v in bodies.items())
    for (_s1, e1, k1), (s2, _e2, k2) in zip(spans, spans[1:], strict=False):
        assert s2 >= e1, f"{k2} started at {s2} before {k1} ended at {e1}"

    # The task that was running at the kill finished on the other node.
    victim_tries = [t for t in tis if t["task_id"] == victim["task_id"]]
    assert victim_tries[-1]["state"] == "success", report
    assert {t["hostname"] for t in tis} == {first, other}, report

    # Airflow's job table knows the scheduler jobs of both hosts.
    hosts = {j["hostname"] for j in site.scheduler_jobs()}
    assert {first, other} <= hosts, f"SchedulerJob hostnames: {hosts}"

    # Never two schedulers: the sampled process-group leaders of this cluster.
    assert len(monitor.worst) <= 1, f"two schedulers alive at once: {monitor.worst}"
    assert monitor.samples > 50
    print(
        f"\nkill -9 {first} -> {other}'s SchedulerJob row after {takeover_s:.2f} s; run {run_id} "
        f"{state}; tries: {[(t['task_id'], t['try_number'], t['hostname']) for t in tis]}"
    )


def test_kill9_leaves_no_task_body_of_the_dead_node_running() -> None:
    """Airflow 3 task runners setpgid() into process groups of their own; the daemon and its
    guard kill the scheduler's whole session, so none of them outlives a kill -9."""
    if "survivors" not in KILL9_OBSERVED:
        pytest.skip("the kill -9 test did not get that far")
    survivors = KILL9_OBSERVED["survivors"]
    assert survivors == [], f"alive after the new scheduler started: {survivors}"


def _health_supported(pair: Pair) -> str | None:
    res = pair.cli("check-config")
    if res.returncode == 0:
        return None
    return (res.stdout + res.stderr).strip()


def test_frozen_scheduler_is_caught_by_airflow_db_health_check(site: Site, pair_factory: Any) -> None:
    pair = pair_factory(health=True, health_overrides={"start_period_ms": 20000})
    refused = _health_supported(pair)
    if refused and "health" in refused and "unknown key" in refused:
        pytest.skip(f"this daemon build has no processes[].health yet: {refused}")
    assert refused is None, f"check-config refused the test config: {refused}"

    pair.start()
    with LeaderMonitor(pair.cluster) as monitor:
        first, job = wait_active_scheduler(pair)
        leaders = wait_for(lambda: scheduler_leaders(pair.cluster), 10, "the scheduler process")
        assert [n for _, n in leaders] == [first], leaders
        frozen = leaders[0][0]
        proc = next(p for p in pair.status()["nodes"] if p["node_id"] == first)["processes"][0]
        assert proc["pid"] == frozen, (proc, leaders)

        t_stop = site.db_now()
        os.kill(frozen, signal.SIGSTOP)  # the Airflow scheduler only, not its daemon
        try:

            def health_failed() -> list[dict[str, Any]]:
                return [e for e in pair.events() if e["kind"] == "health_failed"]

            failed = wait_for(health_failed, 150, "a health_failed event", every=0.5, diagnose=pair.diagnose)

            def one_live_scheduler() -> tuple[int, str] | None:
                leaders = scheduler_leaders(pair.cluster)
                if len(leaders) != 1 or leaders[0][0] == frozen:
                    return None
                fresh = [j for j in site.live_scheduler_jobs(max_age_s=15) if j["start_date"] > t_stop]
                return leaders[0] if len(fresh) == 1 and fresh[0]["hostname"] == leaders[0][1] else None

            survivor = wait_for(
                one_live_scheduler,
                150,
                "exactly one live scheduler (new process, fresh SchedulerJob row)",
                every=0.5,
                diagnose=pair.diagnose,
            )
        finally:
            try:
                os.kill(frozen, signal.SIGCONT)
            except ProcessLookupError:
                pass
        assert (
            not os.path.exists(f"/proc/{frozen}")
            or b"scheduler" not in Path(f"/proc/{frozen}/cmdline").read_bytes()
        ), "the frozen scheduler still exists"
        time.sleep(3)
        assert scheduler_leaders(pair.cluster) == [survivor], pair.diagnose()
    kinds = [(e["node_id"], e["kind"]) for e in pair.events()]
    assert (first, "health_failed") in kinds, kinds
    after = kinds[kinds.index((first, "health_failed")) + 1 :]
    assert any(k in ("restart_scheduled", "crash_loop", "became_active") for _, k in after), kinds
    assert len(monitor.worst) <= 1, f"two schedulers alive at once: {monitor.worst}"
    print(
        f"\nSIGSTOP of {first}'s scheduler (pid {frozen}): {failed[0]['detail']!r}; now {survivor}; "
        f"events {kinds}"
    )


def test_demo_dag_imports_with_the_venv_airflow(site: Site) -> None:
    """The DAG file parses (the dag-processor serialized it) with six sequential steps."""
    res = site.airflow("tasks", "list", "failover_demo")
    assert [line for line in res.stdout.split() if line.startswith("step_")] == [
        f"step_{i}" for i in range(1, 7)
    ]


EXAMPLE_CONFIGS = sorted((REPO / "config" / "airflow").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=[p.name for p in EXAMPLE_CONFIGS])
def test_example_config_passes_check_config(path: Path) -> None:
    """The examples name another host's paths (/opt/airflow/venv, /etc/airflow-failover): their
    syntax and values pass; the host checks fail only on those paths, each by its key."""

    def check(*extra: str) -> tuple[int, str]:
        res = subprocess.run(
            [str(daemon_binary()), "check-config", "--config", str(path), *extra],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return res.returncode, (res.stdout + res.stderr).strip()

    code, out = check("--syntax-only")
    assert code == 0, out
    assert "config OK" in out
    code, out = check()
    problems = [line for line in out.splitlines() if "config error:" in line]
    host_only = ("/opt/airflow/", "/etc/airflow-failover/", "/run/airflow-failover/")
    for line in problems:
        assert any(h in line for h in host_only), f"not a host-specific problem: {line}"
        assert "processes[" in line or "heartbeat.secret_file" in line or "hooks." in line, line
    assert (code == 0) == (not problems), out
