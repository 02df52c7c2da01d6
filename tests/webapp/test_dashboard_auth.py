"""Login credentials and configuration: users file, environment, hashing CLI, settings."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from webapp import __main__ as cli
from webapp import settings
from webapp.auth import Throttle, Users, hash_password, parse_users


def test_users_file_and_check(tmp_path: Path) -> None:
    f = tmp_path / "users"
    f.write_text(
        f"# operators\n\nalice:{hash_password('s3cret')}\nbob:{hash_password('pw')}\n"
    )
    users = Users.load(f, env={})
    assert users.enabled
    assert users.check("alice", "s3cret")
    assert not users.check("alice", "pw")
    assert not users.check("carol", "s3cret")
    assert not users.check("", "")
    assert users.check("bob", "pw")


def test_env_password_and_no_users() -> None:
    users = Users.load(None, env={"AF_DASHBOARD_PASSWORD": "x y z"})
    assert users.check("admin", "x y z") and not users.check("admin", "x y")
    named = Users.load(
        None, env={"AF_DASHBOARD_PASSWORD": "p", "AF_DASHBOARD_USER": "op"}
    )
    assert named.check("op", "p") and not named.check("admin", "p")
    nobody = Users.load(None, env={})
    assert not nobody.enabled and not nobody.check("admin", "")


def test_bad_users_file_lines() -> None:
    with pytest.raises(ValueError, match=":2:"):
        parse_users("ok:pbkdf2:sha256:1$a$b\nalice:plaintext\n")
    with pytest.raises(ValueError):
        parse_users("nocolon\n")


def test_hash_password_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hunter2\n"))
    assert cli.main(["hash-password", "alice", "--password-stdin"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("alice:pbkdf2:sha256:")
    assert "hunter2" not in line
    assert Users(parse_users(line)).check("alice", "hunter2")


def test_throttle() -> None:
    t = Throttle(limit=2, window_s=60)
    assert t.allowed("1.2.3.4")
    t.failed("1.2.3.4")
    t.failed("1.2.3.4")
    assert not t.allowed("1.2.3.4") and t.allowed("5.6.7.8")


def parse(*args: str) -> settings.Settings:
    ap = argparse.ArgumentParser()
    settings.add_arguments(ap)
    return settings.from_args(ap.parse_args(list(args)))


def test_settings_from_node_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k in list(__import__("os").environ):
        if k.startswith("AF_DASHBOARD_"):
            monkeypatch.delenv(k)
    cfg = tmp_path / "node-a.json"
    cfg.write_text(json.dumps({
        "cluster": "prod", "node_id": "node-a",
        "database": {"conninfo": "host=db dbname=af", "schema": "af2"},
        "lease": {"ttl_ms": 6000}, "processes": [],
    }))  # fmt: skip
    s = parse("--config", str(cfg))
    assert (s.cluster, s.conninfo, s.schema, s.stale_after_ms) == (
        "prod", "host=db dbname=af", "af2", 6000,
    )  # fmt: skip
    assert (s.host, s.port) == ("127.0.0.1", 8050)
    monkeypatch.setenv("AF_DASHBOARD_PORT", "9000")
    s = parse("--config", str(cfg), "--cluster", "other", "--stale-after-ms", "100")
    assert (s.cluster, s.port, s.stale_after_ms) == ("other", 9000, 100)
    with pytest.raises(ValueError, match="no database"):
        parse("--cluster", "x")


def test_help_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert (
        "hash-password" in out
        and "AF_DASHBOARD_PASSWORD" in out[out.index("commands") :]
    )
