"""Issue 13 end to end, with Airflow 3.3.2 at its DEFAULT scheduler settings (no lowered orphan
check interval or health-check threshold): a kill -9 of the active daemon, and the loss of the
whole active host, in the middle of a task. With the takeover step the other node closes out
the dead node's jobs before it starts its scheduler, whose start-up adoption then resets the
interrupted task at once instead of `orphaned_tasks_check_interval` (300 s) later.

The kill -9 test also checks the role-change hooks with a real Airflow: called in order with the
right arguments, and the survivor's hanging promote hook (killed at its 30 s timeout) delays
neither the takeover nor the new scheduler.

Issue 20: the same kill -9 with no `airflow` section at all, on two "hosts" whose canonical names
differ from their short names (the takeover on by default, hostnames from the node rows)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from localcluster.airflow_pair import Pair, TakeoverPair, overlapping_tries, running_task
from localcluster.airflow_site import Site, wait_for
from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer

pytestmark = pytest.mark.slow

RERUN_WITHIN_S = 30.0
TASK_SECONDS = 10.0
DOMAIN = "ec2.internal"
# Generous against a loaded 2-core box; the figure is printed (the goal is 10 s; timing belongs
# in bench/). Without the takeover the new try comes after Airflow's orphan check: ~300 s.
RERUN_BOUND_S = 60.0

# Appends what it was given; a promote after the first term hangs (the daemon kills it).
HOOK = """#!{python}
import json, os, sys, time
rec = {{k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_FAILOVER_")}}
rec["wall"] = time.time()
with open({out!r}, "a") as f:
    f.write(json.dumps(rec) + "\\n")
if rec.get("AIRFLOW_FAILOVER_ACTION") == "promote" and rec.get("AIRFLOW_FAILOVER_TERM") != "1":
    time.sleep(3600)
"""


@pytest.fixture(scope="module")
def site(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    daemon_binary()
    s = Site(
        pg,
        tmp_path_factory.mktemp("airflow-takeover"),
        dbname="airflow_takeover",
        task_seconds=TASK_SECONDS,
        orphan_threshold_s=None,  # Airflow's defaults: 30 s threshold, 300 s check interval
        orphan_check_s=None,
    )
    env = s.env()
    assert "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL" not in env
    assert "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD" not in env
    with s.running():
        yield s


def make_pair(site: Site, hooks: dict[str, Any] | None = None) -> TakeoverPair:
    return TakeoverPair(site, hooks=hooks)


def check_run(
    site: Site, pair: Pair, run_id: str, victim: dict[str, Any], t_fault: datetime, first: str, other: str
) -> float:
    """The run succeeds, no tries overlap, the victim ran again on `other` within the bound;
    returns the seconds from the fault to that new try's start."""
    state = wait_for(
        lambda: site.dag_run_state(run_id) in ("success", "failed") and site.dag_run_state(run_id),
        240,
        f"dag run {run_id} to finish",
        every=1,
        diagnose=pair.diagnose,
    )
    tis = site.task_instances(run_id)
    report = "\n".join(map(str, tis)) + "\n" + pair.diagnose()
    assert state == "success", f"dag run {run_id} ended {state}\n{report}"
    assert overlapping_tries(tis) == [], f"tries overlapped\n{report}"
    recs = [r for r in site.demo_records() if r["run_id"] == run_id]
    assert not [r for r in recs if r["ev"] == "overlap"], f"two task bodies at once: {recs}"
    rerun = [
        t
        for t in tis
        if t["task_id"] == victim["task_id"] and t["hostname"] == other and t["start_date"] is not None
    ]
    assert rerun, f"{victim['task_id']} never ran on {other}\n{report}"
    rerun_s = (min(t["start_date"] for t in rerun) - t_fault).total_seconds()
    assert rerun_s <= RERUN_WITHIN_S, (
        f"{victim['task_id']} ran again on {other} only {rerun_s:.1f} s after the fault\n{report}"
    )
    return float(rerun_s)


def takeover_event(pair: Pair, node: str) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: next(
                (
                    e
                    for e in pair.events()
                    if e["node_id"] == node and e["kind"] in ("takeover", "takeover_failed")
                ),
                None,
            ),
            30,
            f"{node}'s takeover event",
            diagnose=pair.diagnose,
        )
    )


def test_kill9_mid_task_reruns_on_the_other_node_within_30s_at_airflow_defaults(
    site: Site, tmp_path: Path
) -> None:
    hook_out = tmp_path / "hooks.jsonl"
    script = tmp_path / "hook.py"
    script.write_text(HOOK.format(python=sys.executable, out=str(hook_out)))
    script.chmod(0o755)
    pair = make_pair(site, {"on_role_change": {"command": [str(script)], "timeout_ms": 30000}})
    try:
        pair.start(["node-a"])
        wait_for(lambda: pair.active() == "node-a", 30, "node-a active", diagnose=pair.diagnose)
        pair.wait_scheduler_job("node-a", None, 120)
        pair.start(["node-b"])
        run_id = f"takeover-kill9-{uuid.uuid4().hex[:6]}"
        site.trigger(run_id)
        victim = wait_for(
            lambda: running_task(site, run_id),
            180,
            f"a task body of {run_id} running",
            diagnose=pair.diagnose,
        )
        assert victim["hostname"] == "node-a"
        t_kill = site.db_now()
        pair.kill9("node-a")
        job = pair.wait_scheduler_job("node-b", t_kill, 60)
        ev = takeover_event(pair, "node-b")
        assert ev["kind"] == "takeover", ev
        assert "SchedulerJob" in ev["detail"] and "node-a" in ev["detail"], ev
        rerun_s = check_run(site, pair, run_id, victim, t_kill, "node-a", "node-b")
        # The dead scheduler's job was closed by the takeover, not by Airflow's orphan check.
        old = [j for j in site.scheduler_jobs() if j["hostname"] == "node-a"]
        assert old and all(j["state"] == "failed" for j in old), old
        # Hooks, in order, with their arguments: node-a promote (term 1); node-b promote
        # (term 2, previous holder node-a), which hangs: the new scheduler and the task's rerun
        # came long before its 30 s timeout.
        recs = [json.loads(x) for x in hook_out.read_text().splitlines()]
        seq = [
            (
                r["AIRFLOW_FAILOVER_NODE"],
                r["AIRFLOW_FAILOVER_ACTION"],
                r["AIRFLOW_FAILOVER_ROLE"],
                r["AIRFLOW_FAILOVER_TERM"],
                r["AIRFLOW_FAILOVER_PREVIOUS_HOLDER"],
            )
            for r in recs
        ]
        assert seq[:2] == [
            ("node-a", "promote", "active", "1", ""),
            ("node-b", "promote", "active", "2", "node-a"),
        ], seq
        assert all(r["AIRFLOW_FAILOVER_CLUSTER"] == pair.cluster for r in recs)
        job_s = (job["start_date"] - t_kill).total_seconds()
        assert job_s < 30, f"new SchedulerJob {job_s:.1f} s after the kill: held up by the hook?"
        print(
            f"\nkill -9 mid-task: SchedulerJob of node-b at {job_s:.2f} s, "
            f"{victim['task_id']} ran again at {rerun_s:.2f} s; {ev['detail']}"
        )
    finally:
        assert pair.stop() == []


def test_host_loss_mid_task_reruns_on_the_other_node_within_30s_at_airflow_defaults(site: Site) -> None:
    pair = make_pair(site)
    try:
        pair.start(["node-a"])
        wait_for(lambda: pair.active() == "node-a", 30, "node-a active", diagnose=pair.diagnose)
        pair.wait_scheduler_job("node-a", None, 120)
        pair.start(["node-b"])
        run_id = f"takeover-host-{uuid.uuid4().hex[:6]}"
        site.trigger(run_id)
        victim = wait_for(
            lambda: running_task(site, run_id),
            180,
            f"a task body of {run_id} running",
            diagnose=pair.diagnose,
        )
        t_loss = site.db_now()
        pair.lose_host("node-a")
        job = pair.wait_scheduler_job("node-b", t_loss, 60)
        ev = takeover_event(pair, "node-b")
        assert ev["kind"] == "takeover" and "node-a" in ev["detail"], ev
        rerun_s = check_run(site, pair, run_id, victim, t_loss, "node-a", "node-b")
        job_s = (job["start_date"] - t_loss).total_seconds()
        print(
            f"\nhost loss mid-task: SchedulerJob of node-b at {job_s:.2f} s, "
            f"{victim['task_id']} ran again at {rerun_s:.2f} s; {ev['detail']}"
        )
    finally:
        assert pair.stop() == []


def test_kill9_mid_task_without_an_airflow_section_reruns_the_task_at_once(site: Site) -> None:
    """Issue 20's done-when: the config's ONLY process is `airflow scheduler`, with NO `airflow`
    section and NO `lease` section (ttl_ms 1300), Airflow at its defaults, its own
    `hostname_callable` included. Each daemon runs on a "host" of its own (UTS and mount
    namespaces) whose canonical name differs from gethostname(), as on EC2: `node-a` resolves to
    `node-a.ec2.internal`. The winner finds the dead node's Airflow hostname in its node row. On
    the code before issue 20 the step does not run without an `airflow` section: the new try
    waits for Airflow's orphan check (~300 s) and this fails at its bound."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for the per-node UTS and mount namespaces")
    pair = Pair(site, own_hosts=DOMAIN)
    for node in pair.nodes.values():
        cfg = json.loads(node.config.read_text())
        assert [p["command"][1:] for p in cfg["processes"]] == [["scheduler"]]
        assert "airflow" not in cfg and "lease" not in cfg, cfg
        assert "AIRFLOW__CORE__HOSTNAME_CALLABLE" not in cfg["processes"][0]["env"]
    try:
        pair.start(["node-a"])
        wait_for(lambda: pair.active() == "node-a", 30, "node-a active", diagnose=pair.diagnose)
        pair.wait_scheduler_job("node-a", None, 120)
        pair.start(["node-b"])
        wait_for(
            lambda: any(n["node_id"] == "node-b" for n in pair.status().get("nodes", [])),
            30,
            "node-b's row",
        )
        run_id = f"default-takeover-{uuid.uuid4().hex[:6]}"
        site.trigger(run_id)
        victim = wait_for(
            lambda: running_task(site, run_id),
            180,
            f"a task body of {run_id} running",
            diagnose=pair.diagnose,
        )
        assert victim["hostname"] == f"node-a.{DOMAIN}", victim
        t_kill = site.db_now()
        pair.kill9("node-a")
        job = pair.wait_scheduler_job("node-b", t_kill, 60)

        def new_try() -> dict[str, object] | None:
            for t in site.task_instances(run_id):
                # The reset row keeps the old try's start_date while queued: the new try has
                # started once its row says so (a start after the kill, on the new host).
                if (
                    t["task_id"] == victim["task_id"]
                    and t["try_number"] > victim["try_number"]
                    and t["start_date"] is not None
                    and t["start_date"] > t_kill
                    and t["state"] in ("running", "success")
                ):
                    return t
            return None

        rerun = wait_for(
            new_try, RERUN_BOUND_S, f"a new try of {victim['task_id']}", every=0.2, diagnose=pair.diagnose
        )
        ev = wait_for(
            lambda: next(
                (
                    e
                    for e in pair.events()
                    if e["node_id"] == "node-b" and e["kind"] in ("takeover", "takeover_failed")
                ),
                None,
            ),
            30,
            "node-b's takeover event",
            diagnose=pair.diagnose,
        )
        assert ev["kind"] == "takeover", ev
        assert "SchedulerJob" in ev["detail"] and f"node-a.{DOMAIN}" in ev["detail"], ev
        rerun_s = (rerun["start_date"] - t_kill).total_seconds()
        job_s = (job["start_date"] - t_kill).total_seconds()
        print(
            f"\nkill -9 mid-task, no airflow section, ttl 1300 (default), Airflow defaults: "
            f"new SchedulerJob at {job_s:.2f} s, {victim['task_id']} try {rerun['try_number']} "
            f"started {rerun_s:.2f} s after the kill; {ev['detail']}"
        )
        assert rerun["hostname"] == f"node-b.{DOMAIN}", rerun
        assert rerun_s < RERUN_BOUND_S
        # The new try runs to its end, and no two tries of the run overlapped.
        done = wait_for(
            lambda: next(
                (
                    t
                    for t in site.task_instances(run_id)
                    if t["task_id"] == victim["task_id"]
                    and t["try_number"] == rerun["try_number"]
                    and t["state"] == "success"
                ),
                None,
            ),
            120,
            f"{victim['task_id']} try {rerun['try_number']} to succeed",
            diagnose=pair.diagnose,
        )
        assert done["hostname"] == f"node-b.{DOMAIN}", done
        assert overlapping_tries(site.task_instances(run_id)) == []
        # Each daemon recorded the name Airflow records, by Airflow's rule (not gethostname()).
        wait_for(
            lambda: (
                len(site.query("SELECT 1 FROM airflow_failover.nodes WHERE cluster = %s", (pair.cluster,)))
                == 2
            ),
            30,
            "node-b's row",
        )
        rows = dict(
            site.query(
                "SELECT node_id, airflow_hostname FROM airflow_failover.nodes WHERE cluster = %s",
                (pair.cluster,),
            )
        )
        assert rows == {"node-a": f"node-a.{DOMAIN}", "node-b": f"node-b.{DOMAIN}"}, rows
    finally:
        assert pair.stop() == []
