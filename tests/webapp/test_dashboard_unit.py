"""The dashboard's systemd unit: verifies, is well confined, and its ExecStart (gunicorn with the
webapp.wsgi factory) really serves the dashboard with the least-privilege role and a password
from a file."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port
from tests.support.helpers import REPO
from tests.webapp.dashboard_harness import TEST_PASSWORD, grant_for_cluster

UNIT = REPO / "config" / "airflow-failover-dashboard.service"
GUNICORN = Path(sys.executable).parent / "gunicorn"


def local_unit(tmp: Path) -> Path:
    path = tmp / "airflow-failover-dashboard.service"
    path.write_text(UNIT.read_text().replace("/opt/airflow-failover/.venv/bin/gunicorn", str(GUNICORN)))
    return path


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze missing")
def test_unit_verifies_and_is_confined(tmp_path: Path) -> None:
    path = local_unit(tmp_path)
    res = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    res = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", res.stdout)
    assert m and float(m.group(1)) <= 2.0, res.stdout[-300:]
    text = UNIT.read_text()
    assert "LoadCredential=password:" in text and "AF_DASHBOARD_PASSWORD=" not in text


def test_exec_start_serves_the_dashboard(
    pg: PgServer, dashboard_role: str, shared_cluster: Cluster, tmp_path: Path
) -> None:
    if not GUNICORN.exists():
        pytest.skip(f"{GUNICORN} missing: pip install -r requirements/python.txt")
    text = UNIT.read_text().replace("\\\n", " ")
    exec_start = next(ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("ExecStart="))
    argv = shlex.split(exec_start)
    port = free_tcp_port()
    argv[0] = str(GUNICORN)
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"
    grant_for_cluster(pg, dashboard_role, shared_cluster.name)
    pw = tmp_path / "password"
    pw.write_text(TEST_PASSWORD + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AF_DASHBOARD_")}
    env.update(
        AF_DASHBOARD_CONNINFO=pg.conninfo(user=dashboard_role),
        AF_DASHBOARD_CLUSTER=shared_cluster.name,
        AF_DASHBOARD_PASSWORD_FILE=str(pw),
    )
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200 and b"airflow-failover" in r.read()
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not serve the dashboard"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
