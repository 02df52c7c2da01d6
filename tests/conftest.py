"""Fixtures shared by every Python test: one throwaway PostgreSQL server per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
