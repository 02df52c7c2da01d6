"""Fixtures for the dashboard tests: real daemons on a real PostgreSQL, the dashboard as a
subprocess (``python -m webapp``), and headless Debian chromium driven by selenium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port
from tests.support.helpers import REPO, daemon_built  # noqa: F401  (autouse: the daemon must be built)
from tests.webapp.dashboard_harness import TEST_PASSWORD, TEST_USER, Dashboard, grant_for_cluster

ARTIFACTS = REPO / "build" / "artifacts" / "dashboard"


def start_cluster(pg: PgServer, workdir: Path) -> Cluster:
    c = Cluster(pg, workdir)
    c.start()
    try:
        c.wait_active(timeout=20)
    except BaseException:
        c.stop_all()
        raise
    return c


@pytest.fixture
def cluster(pg: PgServer, tmp_path: Path) -> Iterator[Cluster]:
    """A fresh three-node cluster with an active node (for tests that change it)."""
    c = start_cluster(pg, tmp_path / "cluster")
    try:
        yield c
    finally:
        c.stop_all()


@pytest.fixture(scope="module")
def shared_cluster(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One running cluster for a module's read-only tests."""
    c = start_cluster(pg, tmp_path_factory.mktemp("cluster"))
    try:
        yield c
    finally:
        c.stop_all()


@pytest.fixture(scope="session")
def dashboard_role(pg: PgServer) -> str:
    """The least-privilege role from webapp/sql/dashboard_role.sql, on the daemons' schema.
    Needs the schema: applies the migrations through `airflow-failover init-db` first."""

    cfg = Path(pg.root) / "init-db.json"
    cfg.write_text(
        json.dumps(
            {
                "cluster": "init",
                "node_id": "init",
                "database": {"conninfo": pg.conninfo()},
                "processes": [{"name": "x", "command": ["true"]}],
            }
        )
    )
    res = subprocess.run(
        [str(daemon_binary()), "init-db", "--config", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    grant_for_cluster(pg, "af_dashboard", "role-test")
    return "af_dashboard"


@pytest.fixture
def start_dashboard(pg: PgServer, tmp_path: Path) -> Iterator[Callable[..., Dashboard]]:
    """Starts `python -m webapp` against a cluster (granting the dashboard role terminate
    for that cluster); stopped at the end of the test."""
    started: list[Dashboard] = []

    def start(conninfo: str, cluster: str, *extra: str, password: bool = True) -> Dashboard:
        port = free_tcp_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AF_DASHBOARD_")}
        if "user=af_dashboard" in conninfo:
            grant_for_cluster(pg, "af_dashboard", cluster)
        if password:
            pw = tmp_path / f"password-{port}"
            pw.write_text(TEST_PASSWORD + "\n")
            pw.chmod(0o600)
            extra = (*extra, "--password-file", str(pw), "--user", TEST_USER)
        log = tmp_path / f"dashboard-{port}.log"
        with open(log, "wb") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "webapp", "--conninfo", conninfo, "--cluster", cluster,
                 "--port", str(port), *extra],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        d = Dashboard(proc, f"http://127.0.0.1:{port}/", log)
        started.append(d)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"dashboard exited {proc.returncode}:\n{d.output()}")
            try:
                with urllib.request.urlopen(d.url, timeout=2) as r:
                    if r.status == 200:
                        return d
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        raise AssertionError(f"dashboard did not answer on {d.url}:\n{d.output()}")

    yield start
    for d in started:
        d.stop()


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (Path(browser).exists() and Path(driver).exists()):
        pytest.skip("Debian chromium + chromium-driver not installed (scripts/lib/deps.sh)")
    return browser, driver


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """Headless Debian chromium through chromedriver, with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = _chromium()
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,1400",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):  # fmt: skip
        opts.add_argument(flag)
    drv = webdriver.Chrome(
        service=Service(executable_path=driver, log_output=str(tmp_path / "chromedriver.log")),
        options=opts,
    )
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
