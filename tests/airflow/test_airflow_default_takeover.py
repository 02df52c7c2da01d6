"""Issue 20's done-when, end to end: a config whose ONLY process is `airflow scheduler`, with NO
`airflow` section and NO `lease` section (ttl_ms 1300), Airflow 3.3.2 at its defaults (its own
`hostname_callable`, orphan check every 300 s, 30 s threshold). Each daemon runs on a "host" of
its own (UTS and mount namespaces) whose canonical name differs from gethostname(), as on EC2:
`node-a` resolves to `node-a.ec2.internal`. A kill -9 of the active daemon mid-task: the winner
finds the dead node's Airflow hostname in its node row, closes out its SchedulerJob, and the
interrupted task's new try starts within seconds instead of ~300 s.

On the code before issue 20 the takeover step does not run without an `airflow` section (and
the node row has no airflow_hostname): the new try waits for Airflow's orphan check, and this
test fails at its bound."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from localcluster.airflow_faults import overlapping_tries, running_task
from localcluster.airflow_site import Pair, Site, wait_for
from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer

pytestmark = pytest.mark.slow

DOMAIN = "ec2.internal"
TASK_SECONDS = 20.0
# Generous against a loaded 2-core box; the figure is printed (the goal is 10 s, bench/ for
# timing). Without the takeover the new try comes after Airflow's orphan check: ~300 s.
RERUN_BOUND_S = 60.0


@pytest.fixture(scope="module")
def site(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for the per-node UTS and mount namespaces")
    daemon_binary()
    s = Site(
        pg,
        tmp_path_factory.mktemp("airflow-default-takeover"),
        dbname="airflow_default_takeover",
        task_seconds=TASK_SECONDS,
        orphan_threshold_s=None,  # Airflow's defaults: 30 s threshold, 300 s check interval
        orphan_check_s=None,
    )
    with s.running():
        yield s


def test_kill9_mid_task_without_an_airflow_section_reruns_the_task_at_once(site: Site) -> None:
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
        rerun_s = (rerun["start_date"] - t_kill).total_seconds()
        job_s = (job["start_date"] - t_kill).total_seconds()
        print(
            f"\nkill -9 mid-task, no airflow section, ttl 1300 (default), Airflow defaults: "
            f"new SchedulerJob at {job_s:.2f} s, {victim['task_id']} try {rerun['try_number']} "
            f"started {rerun_s:.2f} s after the kill; {ev['detail']}"
        )
        assert rerun["hostname"] == f"node-b.{DOMAIN}", rerun
        assert rerun_s < RERUN_BOUND_S
        state = wait_for(
            lambda: site.dag_run_state(run_id) in ("success", "failed") and site.dag_run_state(run_id),
            240,
            f"dag run {run_id} to finish",
            every=1,
            diagnose=pair.diagnose,
        )
        tis = site.task_instances(run_id)
        assert state == "success", tis
        assert overlapping_tries(tis) == [], tis
    finally:
        assert pair.stop() == []
