"""The takeover step and the hooks with real daemons, a real PostgreSQL and the stand-in
scheduler (issue 13). Airflow's `job` table is created here with Airflow 3.3.2's columns
(airflow/jobs/job.py), so the statement runs against the real table shape; the e2e tests in
tests/airflow/ run it against a real Airflow."""

from __future__ import annotations

import json
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port
from tests.support.helpers import http_get

JOB_TABLE = """
CREATE TABLE job (
    id               serial PRIMARY KEY,
    dag_id           varchar(250),
    state            varchar(20),
    job_type         varchar(30),
    start_date       timestamptz,
    end_date         timestamptz,
    latest_heartbeat timestamptz,
    executor_class   varchar(500),
    hostname         varchar(500),
    unixname         varchar(1000)
)"""

# A hook that appends what it was given (its environment and CLOCK_MONOTONIC, which the stand-in
# records use too) as one JSON line, then behaves as HOOK_BEHAVIOUR says.
HOOK = """#!{python}
import json, os, sys, time
rec = {{k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_FAILOVER_")}}
rec["mono"] = time.monotonic()
rec["argv"] = sys.argv[1:]
with open({out!r}, "a") as f:
    f.write(json.dumps(rec) + "\\n")
mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
if mode == "hang":
    time.sleep(3600)
sys.exit(1 if mode == "veto" else 0)
"""


def make_hook(tmp: Path, name: str) -> tuple[Path, Path]:
    out = tmp / f"{name}.jsonl"
    script = tmp / f"{name}.py"
    script.write_text(HOOK.format(python=sys.executable, out=str(out)))
    script.chmod(0o755)
    return script, out


def hook_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def airflow_db(pg: PgServer) -> str:
    name = "airflow_" + uuid.uuid4().hex[:8]
    pg.create_database(name)
    pg.psql(JOB_TABLE, dbname=name)
    return name


def rewrite(cluster: Cluster, name: str, **changes: Any) -> None:
    node = cluster.nodes[name]
    cfg = json.loads(node.config.read_text())
    cfg.update(changes)
    node.config.write_text(json.dumps(cfg, indent=2))


def events(cluster: Cluster, node: str | None = None) -> list[dict[str, Any]]:
    return [e for e in cluster.events() if node is None or e["node_id"] == node]


def jobs(pg: PgServer, db: str) -> dict[int, tuple[str, str, str, bool]]:
    out = pg.psql(
        "SELECT id, hostname, job_type, state, end_date IS NOT NULL FROM job ORDER BY id", dbname=db
    )
    rows: dict[int, tuple[str, str, str, bool]] = {}
    for line in out.splitlines():
        i, host, jt, state, ended = line.split("|")
        rows[int(i)] = (host, jt, state, ended == "t")
    return rows


def test_kill9_takeover_closes_out_the_dead_nodes_running_jobs_before_the_new_start(
    pg: PgServer, tmp_path: Path
) -> None:
    db = airflow_db(pg)
    c = Cluster(pg, tmp_path / "cluster", size=2)
    # The stand-in's command names no Airflow subcommand, so the default would be SchedulerJob
    # only: list all three to check each is closed out.
    airflow = {
        "conninfo": pg.conninfo(db),
        "hostnames": {"node-a": "host-a.example", "node-b": "host-b.example"},
        "takeover": {"job_types": ["SchedulerJob", "DagProcessorJob", "TriggererJob"]},
    }
    for n in c.nodes:
        rewrite(c, n, airflow=airflow)
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        # What node-a's Airflow left behind, and rows that must not be touched.
        pg.psql(
            """INSERT INTO job (state, job_type, hostname, start_date, latest_heartbeat) VALUES
            ('running', 'SchedulerJob',    'host-a.example', now(), now()),
            ('running', 'DagProcessorJob', 'host-a.example', now(), now()),
            ('running', 'TriggererJob',    'host-a.example', now(), now()),
            ('success', 'SchedulerJob',    'host-a.example', now(), now()),
            ('running', 'SchedulerJob',    'host-c.example', now(), now()),
            ('running', 'SchedulerJob',    'host-a.example.other', now(), now())""",
            dbname=db,
        )
        c.start(["node-b"])
        c.wait_for(
            lambda: any(e["kind"] == "became_active" for e in events(c, "node-a")),
            10,
            "node-a's became_active event",
        )
        c.signal("node-a", signal.SIGKILL)
        assert c.wait_active(other_than="node-a") == "node-b"
        rows = jobs(pg, db)
        assert rows[1] == ("host-a.example", "SchedulerJob", "failed", True)
        assert rows[2] == ("host-a.example", "DagProcessorJob", "failed", True)
        assert rows[3] == ("host-a.example", "TriggererJob", "failed", True)
        assert rows[4][2] == "success", "a finished job was touched"
        assert rows[5][2] == "running", "another host's job was closed"
        assert rows[6][2] == "running", "the hostname must match exactly"
        ev = events(c, "node-b")
        kinds = [e["kind"] for e in ev]
        assert "takeover" in kinds, kinds
        take = next(e for e in ev if e["kind"] == "takeover")
        assert "SchedulerJob 1" in take["detail"] and "node-a" in take["detail"], take
        # Recorded in this order by one thread: won, took over, then started.
        won_i = kinds.index("became_active")
        assert won_i < kinds.index("takeover") < kinds.index("process_started"), kinds
        assert take["term"] == next(e for e in ev if e["kind"] == "became_active")["term"]
        c.assert_no_overlap()
    finally:
        c.stop_all()


def test_a_failing_takeover_is_recorded_and_the_scheduler_starts_anyway(pg: PgServer, tmp_path: Path) -> None:
    db = "nojob_" + uuid.uuid4().hex[:8]
    pg.create_database(db)  # no job table: the UPDATE fails
    c = Cluster(pg, tmp_path / "cluster", size=2)
    airflow = {"conninfo": pg.conninfo(db), "hostnames": {"node-a": "host-a", "node-b": "host-b"}}
    for n in c.nodes:
        rewrite(c, n, airflow=airflow)
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        c.start(["node-b"])
        time.sleep(0.5)
        c.signal("node-a", signal.SIGKILL)
        assert c.wait_active(other_than="node-a") == "node-b"
        failed = [e for e in events(c, "node-b") if e["kind"] == "takeover_failed"]
        assert failed and 'relation "job" does not exist' in failed[0]["detail"], failed
    finally:
        c.stop_all()


def test_role_change_hooks_run_in_order_and_a_hanging_one_delays_nothing(
    pg: PgServer, tmp_path: Path
) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=2)
    hooks_dir = tmp_path / "hooks"
    hooks_dir.mkdir()
    script_a, out_a = make_hook(hooks_dir, "node-a")
    script_b, out_b = make_hook(hooks_dir, "node-b")
    port_b = free_tcp_port()
    rewrite(c, "node-a", hooks={"on_role_change": {"command": [str(script_a), "ok"]}})
    # node-b's hook hangs every time; its timeout is long against a failover.
    rewrite(
        c,
        "node-b",
        hooks={"on_role_change": {"command": [str(script_b), "hang"], "timeout_ms": 3000}},
        metrics={"listen": f"127.0.0.1:{port_b}"},
    )
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        c.start(["node-b"])
        c.wait_for(lambda: hook_records(out_a), 10, "node-a's promote hook")
        time.sleep(0.5)
        kill_at = time.monotonic()
        c.signal("node-a", signal.SIGTERM)
        assert c.wait_exit("node-a") == 0
        assert c.wait_active(other_than="node-a") == "node-b"
        b_start = next(i for i in c.instances() if i.node == "node-b").start
        # node-a: promote in term 1, then demote to stopped in term 1 on the graceful stop.
        recs_a = c.wait_for(
            lambda: len(hook_records(out_a)) >= 2 and hook_records(out_a), 10, "node-a's demote hook"
        )
        assert [
            (r["AIRFLOW_FAILOVER_ACTION"], r["AIRFLOW_FAILOVER_ROLE"], r["AIRFLOW_FAILOVER_TERM"])
            for r in recs_a
        ] == [("promote", "active", "1"), ("demote", "stopped", "1")], recs_a
        for r in recs_a:
            assert r["AIRFLOW_FAILOVER_CLUSTER"] == c.name
            assert r["AIRFLOW_FAILOVER_NODE"] == "node-a"
            assert r["AIRFLOW_FAILOVER_HOOK"] == "on_role_change"
        assert recs_a[0]["AIRFLOW_FAILOVER_PREVIOUS_HOLDER"] == ""
        a_start = next(i for i in c.instances() if i.node == "node-a").start
        assert recs_a[0]["mono"] >= a_start - 1.0  # sanity of the shared clock
        recs_b = c.wait_for(lambda: hook_records(out_b), 10, "node-b's promote hook")
        assert recs_b[0]["AIRFLOW_FAILOVER_ACTION"] == "promote"
        assert recs_b[0]["AIRFLOW_FAILOVER_TERM"] == "2"
        assert recs_b[0]["AIRFLOW_FAILOVER_PREVIOUS_HOLDER"] == "node-a"
        # The hang did not hold up the start: node-b's scheduler ran well inside the hook's
        # 3 s timeout after the hand-over began.
        assert b_start - kill_at < 2.0, f"node-b started {b_start - kill_at:.2f} s after SIGTERM"
        # The hang is cut at its timeout, logged as an event and counted.
        c.wait_for(
            lambda: any(e["kind"] == "hook_timeout" for e in events(c, "node-b")),
            15,
            "node-b's hook_timeout event",
        )
        status, text = http_get(port_b, "/metrics", timeout=5)
        assert status == 200, text
        labels = f'cluster="{c.name}",hook="on_role_change",outcome="timeout"'
        runs = f"airflow_failover_hook_runs_total{{{labels}}} 1"
        assert runs in text, [ln for ln in text.splitlines() if "hook" in ln]
        assert c.active() == "node-b"
    finally:
        c.stop_all()


def test_a_node_that_always_vetoes_leaves_the_lease_to_the_others(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=2, priorities={"node-a": 200})
    hooks_dir = tmp_path / "hooks"
    hooks_dir.mkdir()
    script, out = make_hook(hooks_dir, "veto")
    rewrite(c, "node-a", hooks={"pre_promote": {"command": [str(script), "veto"], "timeout_ms": 2000}})
    try:
        # Alone, the vetoing node never starts a scheduler, and keeps asking (once per cooldown,
        # 2 x ttl) in case the reason for the veto went away.
        c.start(["node-a"])
        c.wait_for(lambda: len(hook_records(out)) >= 2, 20, "a second pre_promote run")
        assert c.instances() == [], "a vetoed node started its scheduler"
        recs = hook_records(out)
        gap = recs[1]["mono"] - recs[0]["mono"]
        cooldown = 2 * c.ttl_ms / 1000
        assert gap >= cooldown - 0.2, f"retried after {gap:.2f} s, before the {cooldown:.1f} s cooldown"
        assert recs[0]["AIRFLOW_FAILOVER_HOOK"] == "pre_promote"
        assert recs[0]["AIRFLOW_FAILOVER_ROLE"] == "active"
        # A second node comes: it takes the lease (at once or at node-a's next veto) and keeps
        # it; node-a holds it only for its hook's runs meanwhile.
        c.start(["node-b"])
        assert c.wait_active(timeout=20) == "node-b"
        start = time.monotonic()
        while time.monotonic() - start < 8:
            assert [i.node for i in c.live_instances()] in ([], ["node-b"])
            time.sleep(0.1)
        assert c.active() == "node-b"
        vetoes = [e for e in events(c, "node-a") if e["kind"] == "promotion_vetoed"]
        assert vetoes and "exited with status 1" in vetoes[0]["detail"], vetoes
        c.assert_no_overlap()
    finally:
        c.stop_all()
