"""The documented `command` health check, `airflow jobs check --job-type SchedulerJob --local`
(docs/airflow.md), against a real Airflow scheduler under the daemon (issue 22, item 4).

AIRFLOW_HOME, the metadata database's connection and the hostname callable are in the
scheduler's `env` in the node config only, never in the daemon's own environment, as on a host
where the daemon runs under systemd. The check used to run with the daemon's allowlisted
environment: Airflow then looked at ~/airflow with its default SQLite database, found no
scheduler and failed every time, so the health check killed a healthy scheduler again and again.
Now it runs with the process's context and passes.

    .venv/bin/python -m pytest tests/airflow/test_airflow_command_health.py -q
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from localcluster.airflow_pair import Pair
from localcluster.airflow_site import Site, airflow_exe, wait_for
from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer
from localcluster.procs import spawn

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    daemon_binary()
    # Only the metadata database and a scheduler: no api-server, no DAG run is needed.
    s = Site(pg, tmp_path_factory.mktemp("airflow-health"), dbname="airflow_health")
    try:
        s.migrate()
        yield s
    finally:
        s.stop()


def scheduler_health(pair: Pair) -> dict[str, Any]:
    for n in pair.status().get("nodes", []):
        for p in n.get("processes") or []:
            if p.get("name") == "scheduler" and p.get("health"):
                return dict(p["health"])
    return {}


def test_airflow_jobs_check_runs_in_the_schedulers_context(site: Site) -> None:
    pair = Pair(site, names=("node-a",))
    node = pair.nodes["node-a"]
    cfg = json.loads(node.config.read_text())
    cfg["processes"][0]["health"] = {
        "type": "command",
        "command": [str(airflow_exe()), "jobs", "check", "--job-type", "SchedulerJob", "--local"],
        # A Python start-up with Airflow's imports takes seconds on a loaded machine.
        "interval_ms": 20000,
        "timeout_ms": 19000,
        "failure_threshold": 2,
        "start_period_ms": 120000,
    }
    node.config.write_text(json.dumps(cfg))
    # The daemon's own environment has no Airflow setting at all.
    daemon_env = {k: v for k, v in site.env().items() if not k.startswith("AIRFLOW")}
    assert "AIRFLOW_HOME" in cfg["processes"][0]["env"]
    node.proc = spawn(
        [str(daemon_binary()), "run", "--config", str(node.config)], daemon_env, node.log, cwd=site.root
    )
    try:
        wait_for(lambda: pair.active() == "node-a", 60, "node-a active", diagnose=pair.diagnose)
        pair.wait_scheduler_job("node-a", None, 180)

        def verdict() -> dict[str, Any] | None:
            h = scheduler_health(pair)
            last = str(h.get("last", ""))
            return h if "exited with status 0" in last else None

        h = wait_for(verdict, 150, "a passing `airflow jobs check`", every=1.0, diagnose=pair.diagnose)
        assert h["type"] == "command", h
        failed = [e for e in pair.events() if e["kind"] == "health_failed"]
        assert not failed, failed
    finally:
        pair.stop()
