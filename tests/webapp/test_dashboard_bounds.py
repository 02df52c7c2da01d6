"""Attack tests for the dashboard (issue 22, item 6): the Werkzeug debugger is never served off
loopback, the session key never comes from the environment, the login throttle's table does not
grow with every address that ever failed, and a role with BYPASSRLS or CREATEROLE is refused."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from localcluster.pgserver import PgServer
from webapp import auth
from webapp import settings as settings_mod
from webapp.roles import NotLeastPrivilege, check_least_privilege


def parse(*args: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    settings_mod.add_arguments(ap)
    return ap.parse_args(["--conninfo", "dbname=x", "--cluster", "c", *args])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AF_DASHBOARD_SECRET_KEY", "AF_DASHBOARD_SECRET_KEY_FILE", "AF_DASHBOARD_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "dash.example"])
def test_debug_is_refused_off_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="--debug.*Werkzeug debugger"):
        settings_mod.from_args(parse("--debug", "--host", host))


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_debug_is_allowed_on_loopback(host: str) -> None:
    assert settings_mod.from_args(parse("--debug", "--host", host)).debug


def test_a_session_key_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AF_DASHBOARD_SECRET_KEY", "k" * 64)
    with pytest.raises(ValueError, match="AF_DASHBOARD_SECRET_KEY.*--secret-key-file"):
        settings_mod.from_args(parse())


def test_the_session_key_comes_from_a_private_file(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("s" * 64 + "\n")
    key.chmod(0o644)
    s = settings_mod.from_args(parse("--secret-key-file", str(key)))
    assert s.secret_key_file == key
    with pytest.raises(ValueError, match="mode 0644"):
        settings_mod.read_secret_key(key)
    key.chmod(0o600)
    assert settings_mod.read_secret_key(key) == "s" * 64
    key.write_text("short\n")
    with pytest.raises(ValueError, match="at least 32"):
        settings_mod.read_secret_key(key)


def test_the_login_throttle_forgets_expired_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Attack: one failed login from each of 20000 addresses (IPv6 hands out plenty)."""
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    t = auth.Throttle(limit=10, window_s=300.0)
    for i in range(20000):
        assert t.begin(f"2001:db8::{i:x}")
    now[0] += 301.0  # every failure has left the window
    assert t.begin("198.51.100.1")
    assert len(t._fails) <= 1, f"{len(t._fails)} addresses still held"
    # Pruning forgets nothing still in the window: the limit still holds.
    for _ in range(9):
        assert t.begin("198.51.100.1")
    assert not t.begin("198.51.100.1")


@pytest.fixture
def privileged_role(pg: PgServer, request: pytest.FixtureRequest) -> Iterator[psycopg2.extensions.connection]:
    attr: str = request.param
    role = f"af_dash_{attr.lower()}"
    pg.psql(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}')"
        f" THEN CREATE ROLE {role} LOGIN {attr}; END IF; END $$"
    )
    conn = psycopg2.connect(pg.conninfo(user=role))
    try:
        yield conn
    finally:
        conn.close()


@pytest.mark.parametrize("privileged_role", ["BYPASSRLS", "CREATEROLE"], indirect=True)
def test_a_role_with_bypassrls_or_createrole_is_refused(
    privileged_role: psycopg2.extensions.connection,
) -> None:
    with pytest.raises(NotLeastPrivilege, match="BYPASSRLS|CREATEROLE"):
        check_least_privilege(privileged_role, "airflow_failover")
