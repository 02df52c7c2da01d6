"""Attack tests for the dashboard (issue 14): event details that carry markup, and a dashboard
started with a role that could rewrite the lease."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer
from tests.support.helpers import REPO
from webapp.db import Event
from webapp.figures import timeline_figure

MARKUP = '<img src=x onerror="alert(document.cookie)"><b>x</b>'


def test_event_details_are_escaped_in_hover_text() -> None:
    """Attack: an event detail (a process name, an error message from the database) holding
    HTML. Plotly renders hover text as HTML, so it must arrive escaped."""
    at = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
    events = [Event(1, "node-a", at, 1, "process_exited", MARKUP),
              Event(2, '<i>node</i>', at, 1, "<script>k</script>", "d")]  # fmt: skip
    fig = timeline_figure(events, [])
    texts = [t for trace in fig.data for t in (trace.hovertext or [])]
    joined = "\n".join(texts)
    assert "<img" not in joined and "<script>" not in joined and "<i>node" not in joined
    assert "&lt;img src=x onerror=&quot;alert(document.cookie)&quot;&gt;" in joined
    assert "&lt;script&gt;k&lt;/script&gt;" in joined
    assert "<b>" in joined  # the dashboard's own markup still works


def serve(conninfo: str, cluster: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AF_DASHBOARD_")}
    try:
        return subprocess.run(
            [sys.executable, "-m", "webapp", "--conninfo", conninfo, "--cluster", cluster, "--port", "0"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"the dashboard started and served: {e.stdout!r}") from None


def test_dashboard_refuses_a_superuser(pg: PgServer) -> None:
    res = serve(pg.conninfo(), "c")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "refusing to start" in res.stderr and "superuser" in res.stderr


def test_dashboard_refuses_the_schema_owners_role(pg: PgServer, tmp_path: Path) -> None:
    """Attack: the dashboard started with the daemons' own role (the schema's owner)."""
    db = pg.create_database("dash_owner")
    pg.psql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'af_owner')"
        " THEN CREATE ROLE af_owner LOGIN; END IF; END $$"
    )
    cfg = tmp_path / "init.json"
    cfg.write_text(
        json.dumps(
            {
                "cluster": "c",
                "node_id": "n",
                "database": {"conninfo": pg.conninfo(db)},
                "processes": [{"name": "p", "command": ["true"]}],
            }
        )
    )
    res = subprocess.run(
        [str(daemon_binary()), "init-db", "--config", str(cfg), "--daemon-role", "af_owner"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    res = serve(pg.conninfo(db, user="af_owner"), "c")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "owns the daemons' schema airflow_failover" in res.stderr


@pytest.mark.parametrize("role", ["af_dashboard"])
def test_dashboard_starts_with_its_own_role(pg: PgServer, dashboard_role: str, role: str) -> None:
    """The check lets the least-privilege role through (it serves until stopped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AF_DASHBOARD_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "webapp",
            "--conninfo",
            pg.conninfo(user=role),
            "--cluster",
            "c",
            "--port",
            "0",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=8)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert "dashboard for cluster c" in out, err
