"""Issue 13, warm standby, end to end with Airflow 3.3.2 at its DEFAULT scheduler settings.

Two daemons manage `python -m airflow_failover_warm scheduler` with processes[].warm, database
fencing on (each node's scheduler logs in as its own role) and the takeover step. The standby's
warm scheduler has done its imports and waits for go: it has no SchedulerJob row and never logs in
to the database (its role is fenced, NOLOGIN, so any attempt would also fail, and with
log_connections on the server would log it). After a kill -9 of the active daemon mid-task the
standby sends go to its warm scheduler: its job row appears, the task runs again on it, no tries
overlap."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.airflow_pair import TakeoverPair, overlapping_tries, running_task
from localcluster.airflow_site import (
    Site,
    install_migrated_template,
    migrated_dump,
    scheduler_leaders,
    wait_for,
)
from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer

pytestmark = pytest.mark.slow

RERUN_WITHIN_S = 30.0
ROLES = {"node-a": "warm_sched_a", "node-b": "warm_sched_b"}


@pytest.fixture(scope="module")
def site(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    daemon_binary()
    # The session server's migrated Airflow schema, so this site needs no migration of its own.
    dump = migrated_dump(pg, tmp_path_factory.mktemp("airflow-schema"))
    # A server of its own: log_connections is switched on for the whole server.
    with PgServer() as own:
        install_migrated_template(own, dump)
        own.psql("ALTER SYSTEM SET log_connections = on")
        own.psql("SELECT pg_reload_conf()")
        for role in ROLES.values():
            own.psql(f"CREATE ROLE {role} LOGIN")
            own.psql(f"GRANT pg_read_all_data, pg_write_all_data TO {role}")
        s = Site(
            own,
            tmp_path_factory.mktemp("airflow-warm"),
            dbname="airflow_warm",
            task_seconds=10.0,
            orphan_threshold_s=None,
            orphan_check_s=None,
        )
        env = s.env()
        assert "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL" not in env
        assert "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD" not in env
        with s.running():
            yield s


def sessions_of(site: Site, role: str) -> int:
    return int(site.query("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", (role,))[0][0])


def server_log_mentions(pg: PgServer, role: str) -> list[str]:
    text = Path(pg.logfile).read_text(errors="replace")
    return [line for line in text.splitlines() if f"user={role}" in line or f'"{role}"' in line]


def test_warm_standby_does_nothing_before_go_then_takes_over_after_kill9(site: Site) -> None:
    pair = TakeoverPair(site, warm=True, db_roles=ROLES)
    try:
        pair.start(["node-a"])
        wait_for(lambda: pair.active() == "node-a", 60, "node-a active", diagnose=pair.diagnose)
        pair.wait_scheduler_job("node-a", None, 120)
        pair.start(["node-b"])
        # node-b is a fenced standby: its role may not log in; its warm scheduler gets ready.
        wait_for(
            lambda: any(e["node_id"] == "node-b" and e["kind"] == "warm_ready" for e in pair.events()),
            120,
            "node-b's warm scheduler ready",
            diagnose=pair.diagnose,
        )
        assert (
            site.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (ROLES["node-b"],))[0][0]
            is False
        )
        run_id = f"warm-kill9-{uuid.uuid4().hex[:6]}"
        site.trigger(run_id)
        victim = wait_for(
            lambda: running_task(site, run_id),
            180,
            f"a task body of {run_id} running",
            diagnose=pair.diagnose,
        )
        assert victim["hostname"] == "node-a"
        # Watch the warm standby for a while: no job row, no session, no login attempt, and it is
        # no scheduler (its process title says it waits).
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end:
            assert sessions_of(site, ROLES["node-b"]) == 0, pair.diagnose()
            assert [n for _, n in scheduler_leaders(pair.cluster)] == ["node-a"], pair.diagnose()
            time.sleep(0.2)
        assert not [j for j in site.scheduler_jobs() if j["hostname"] == "node-b"]
        assert server_log_mentions(site.pg, ROLES["node-b"]) == [], "the warm standby logged in"
        assert server_log_mentions(site.pg, ROLES["node-a"]), "log_connections is not on"

        t_kill = site.db_now()
        pair.kill9("node-a")
        job = pair.wait_scheduler_job("node-b", t_kill, 60)
        started = [e for e in pair.events() if e["node_id"] == "node-b" and e["kind"] == "process_started"]
        assert started and "warm standby: sent go" in started[-1]["detail"], started
        state = wait_for(
            lambda: site.dag_run_state(run_id) in ("success", "failed") and site.dag_run_state(run_id),
            240,
            f"dag run {run_id} to finish",
            every=1,
            diagnose=pair.diagnose,
        )
        tis = site.task_instances(run_id)
        report = "\n".join(map(str, tis)) + "\n" + pair.diagnose()
        assert state == "success", report
        assert overlapping_tries(tis) == [], report
        rerun = [
            t["start_date"]
            for t in tis
            if t["task_id"] == victim["task_id"] and t["hostname"] == "node-b" and t["start_date"] is not None
        ]
        assert rerun, report
        rerun_s = (min(rerun) - t_kill).total_seconds()
        assert rerun_s <= RERUN_WITHIN_S, report
        # After go it logs in as node-b's role: the warm process became the scheduler.
        assert server_log_mentions(site.pg, ROLES["node-b"])
        # The term sent with go reached the task bodies the warm scheduler ran.
        term_b = started[-1]["term"]
        b_recs = [r for r in site.demo_records() if r["run_id"] == run_id and r["node"] == "node-b"]
        assert b_recs and {r["term"] for r in b_recs} == {str(term_b)}, (term_b, b_recs)
        job_s = (job["start_date"] - t_kill).total_seconds()
        print(
            f"\nwarm standby, kill -9 mid-task: SchedulerJob of node-b at {job_s:.2f} s, "
            f"{victim['task_id']} ran again at {rerun_s:.2f} s"
        )
    finally:
        assert pair.stop() == []
