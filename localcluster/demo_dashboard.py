"""The demo's web dashboard: its own least-privilege database role and a random login."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from .cluster import daemon_binary
from .demo_view import REPO
from .pgserver import PgServer
from .procs import spawn, stop


class Dashboard:
    """The web dashboard beside the cluster, logged in to the database as its least-privilege
    role, with a random login shown in the view (or AF_DASHBOARD_USER / _PASSWORD / _PORT)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.note = ""

    def start(self, pg: PgServer, dbname: str, cluster: str, prices_ddl: str | None = None) -> None:
        import importlib.util

        if importlib.util.find_spec("dash") is None:
            self.note = "dashboard: not started (no dash in this Python; run scripts/demo.sh)"
            return
        if prices_ddl:  # the role may read the prices table only if it exists when granted
            pg.psql(prices_ddl, dbname=dbname)
        # Its own least-privilege role (with the prices table), allowed by the daemons' init-db
        # to read this cluster and send terminate to it only.
        webapp = [sys.executable, "-m", "webapp"]
        grant = ["grant-role", "--conninfo", pg.conninfo(dbname)]
        subprocess.run(webapp + grant, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        admin = self.workdir / "init-db-dashboard.json"
        admin.write_text(json.dumps({
            "cluster": cluster, "node_id": "init", "database": {"conninfo": pg.conninfo(dbname)},
            "processes": [{"name": "x", "command": ["true"]}],
        }))  # fmt: skip
        init_db = [str(daemon_binary()), "init-db", "--config", str(admin)]
        subprocess.run([*init_db, "--dashboard-role", "af_dashboard"], check=True, stdout=subprocess.DEVNULL)
        user = os.environ.get("AF_DASHBOARD_USER") or "admin"
        password = secrets.token_urlsafe(9)
        password_file = self.workdir / "dashboard.password"
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        port = os.environ.get("AF_DASHBOARD_PORT") or "8050"
        log = self.workdir / "dashboard.log"
        serve = [
            "--conninfo",
            pg.conninfo(dbname, user="af_dashboard"),
            "--cluster",
            cluster,
            "--user",
            user,
            "--password-file",
            str(password_file),
            "--port",
            port,
        ]
        self.proc = spawn(webapp + serve, dict(os.environ), log, cwd=REPO)
        self.note = f"dashboard: http://127.0.0.1:{port}/  (log in as {user} / {password}; log {log})"

    def lines(self) -> list[str]:
        if self.proc is not None and self.proc.poll() is not None:
            return [
                f"dashboard: exited with {self.proc.returncode}"
                f" (port taken? see {self.workdir}/dashboard.log)"
            ]
        return [self.note] if self.note else []

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
