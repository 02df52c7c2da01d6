"""Fixtures shared by every Python test: one throwaway PostgreSQL server per test session, and the
.deb that CPack builds from build/ (once: tests/ops and tests/deploy both install it)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer
from tests.support.helpers import REPO


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    """A real PostgreSQL server (initdb + pg_ctl in a temp dir, free port), for the whole session."""
    server = PgServer()
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def built_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package CPack makes from the daemon's build directory, built once per session."""
    build = daemon_binary().parent
    if not (build / "CPackConfig.cmake").exists():
        pytest.skip(f"{build} has no CPackConfig.cmake (configure it with cmake)")
    out = tmp_path_factory.mktemp("deb")
    res = subprocess.run(
        ["cpack", "--config", str(build / "CPackConfig.cmake"), "-B", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    debs = list(out.glob("airflow-failover_*.deb"))
    assert len(debs) == 1, list(out.iterdir())
    return debs[0]
