"""The dashboard tests' helpers: the test login, the commands table as the tests read it, the
dashboard role's grant for a cluster, and a running ``python -m webapp`` process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import psycopg2

from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer
from tests.support.helpers import sql_rows

TEST_USER = "tester"
TEST_PASSWORD = "correct horse battery staple"


def commands(pg: PgServer, cluster: str) -> list[dict[str, Any]]:
    rows = sql_rows(
        pg,
        "SELECT id, kind, target, requested_by, taken_by, taken_at, done_at, result"
        " FROM airflow_failover.commands WHERE cluster = %s ORDER BY id",
        cluster,
    )
    keys = ("id", "kind", "target", "requested_by", "taken_by", "taken_at", "done_at", "result")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def grant_for_cluster(pg: PgServer, role: str, cluster: str) -> None:
    """(Re)grants the dashboard role as the docs do: `python -m webapp grant-role` makes the
    role, `airflow-failover init-db --dashboard-role` grants the daemons' schema for `cluster`
    (its terminate policy naming it)."""
    from webapp.roles import grant_dashboard_role

    conn = psycopg2.connect(pg.conninfo())
    try:
        grant_dashboard_role(conn, role)
    finally:
        conn.close()
    cfg = Path(pg.root) / f"init-db-{cluster}.json"
    cfg.write_text(json.dumps({
        "cluster": cluster, "node_id": "init", "database": {"conninfo": pg.conninfo()},
        "processes": [{"name": "x", "command": ["true"]}],
    }))  # fmt: skip
    res = subprocess.run(
        [str(daemon_binary()), "init-db", "--config", str(cfg), "--dashboard-role", role],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr


class Dashboard:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
