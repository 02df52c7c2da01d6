"""Login credentials and configuration: users file, environment, hashing CLI, settings."""

from __future__ import annotations

import argparse
import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from webapp import __main__ as cli
from webapp import settings
from webapp.auth import Throttle, Users, attempt_login, hash_password, parse_users


def test_users_file_and_check(tmp_path: Path) -> None:
    f = tmp_path / "users"
    f.write_text(f"# operators\n\nalice:{hash_password('s3cret')}\nbob:{hash_password('pw')}\n")
    users = Users.load(f, env={})
    assert users.enabled
    assert users.check("alice", "s3cret")
    assert not users.check("alice", "pw")
    assert not users.check("carol", "s3cret")
    assert not users.check("", "")
    assert users.check("bob", "pw")


def test_password_file_and_no_users(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("x y z\nignored second line\n")
    users = Users.load(None, pw, env={})
    assert users.check("admin", "x y z") and not users.check("admin", "x y")
    named = Users.load(None, pw, user="op", env={})
    assert named.check("op", "x y z") and not named.check("admin", "x y z")
    nobody = Users.load(None, env={})
    assert not nobody.enabled and not nobody.check("admin", "")
    (tmp_path / "empty").write_text("")
    with pytest.raises(ValueError, match="empty"):
        Users.load(None, tmp_path / "empty", env={})


def test_a_password_in_the_environment_is_refused() -> None:
    with pytest.raises(ValueError, match="--password-file"):
        Users.load(None, env={"AF_DASHBOARD_PASSWORD": "p"})


def test_bad_users_file_lines() -> None:
    with pytest.raises(ValueError, match=":2:"):
        parse_users("ok:pbkdf2:sha256:1$a$b\nalice:plaintext\n")
    with pytest.raises(ValueError):
        parse_users("nocolon\n")


def test_hash_password_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hunter2\n"))
    assert cli.main(["hash-password", "alice", "--password-stdin"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("alice:pbkdf2:sha256:")
    assert "hunter2" not in line
    assert Users(parse_users(line)).check("alice", "hunter2")


def test_throttle() -> None:
    t = Throttle(limit=2, window_s=60)
    assert t.allowed("1.2.3.4")
    assert t.begin("1.2.3.4") and t.begin("1.2.3.4")
    assert not t.begin("1.2.3.4") and not t.allowed("1.2.3.4")
    assert t.allowed("5.6.7.8")
    ok = Throttle(limit=1, window_s=60)
    assert ok.begin("a")
    ok.succeeded("a")  # a right password is not a failure
    assert ok.begin("a")


def test_parallel_guesses_get_no_more_checks_than_the_limit() -> None:
    """Attack: many guesses at once from one address. Each real check costs a PBKDF2 round
    (~0.3 s), so on a check-then-record throttle they would all pass the check first."""
    users = Users({"admin": hash_password("right")})
    throttle = Throttle(limit=5, window_s=300)
    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(
            lambda i: attempt_login(users, throttle, "10.0.0.9", "admin", f"guess{i}"),
            range(30)))  # fmt: skip
    assert outcomes.count("wrong") == 5, outcomes
    assert outcomes.count("throttled") == 25
    assert attempt_login(users, throttle, "10.0.0.9", "admin", "right") == "throttled"
    assert attempt_login(users, throttle, "10.0.0.10", "admin", "right") == "ok"


def parse(*args: str) -> settings.Settings:
    ap = argparse.ArgumentParser()
    settings.add_arguments(ap)
    return settings.from_args(ap.parse_args(list(args)))


def test_settings_from_node_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(__import__("os").environ):
        if k.startswith("AF_DASHBOARD_"):
            monkeypatch.delenv(k)
    cfg = tmp_path / "node-a.json"
    cfg.write_text(json.dumps({
        "cluster": "prod", "node_id": "node-a",
        "database": {"conninfo": "host=db dbname=af", "schema": "af2"},
        "lease": {"ttl_ms": 6000}, "processes": [],
    }))  # fmt: skip
    # The node config's conninfo is the daemons' role: never used.
    with pytest.raises(ValueError, match="no database.*not used"):
        parse("--config", str(cfg))
    s = parse("--config", str(cfg), "--conninfo", "host=db dbname=af user=af_dashboard")
    assert (s.cluster, s.conninfo, s.schema) == (
        "prod", "host=db dbname=af user=af_dashboard", "af2",
    )  # fmt: skip
    assert (s.host, s.port) == ("127.0.0.1", 8050)
    monkeypatch.setenv("AF_DASHBOARD_PORT", "9000")
    s = parse("--config", str(cfg), "--cluster", "other", "--conninfo", "x")
    assert (s.cluster, s.port) == ("other", 9000)
    with pytest.raises(ValueError, match="no database"):
        parse("--cluster", "x")


def test_help_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "hash-password" in out and "AF_DASHBOARD_PASSWORD_FILE" in out[out.index("commands") :]


def test_secure_cookies_off_loopback_and_trusted_proxies() -> None:
    assert not parse("--conninfo", "x", "--cluster", "c").secure_cookies
    assert not parse("--conninfo", "x", "--cluster", "c", "--host", "::1").secure_cookies
    assert parse("--conninfo", "x", "--cluster", "c", "--host", "0.0.0.0").secure_cookies
    assert parse("--conninfo", "x", "--cluster", "c", "--host", "10.1.2.3").secure_cookies
    assert not parse("--conninfo", "x", "--cluster", "c", "--host", "10.1.2.3",
                     "--secure-cookies", "no").secure_cookies  # fmt: skip
    assert parse("--conninfo", "x", "--cluster", "c", "--secure-cookies", "yes").secure_cookies
    assert parse("--conninfo", "x", "--cluster", "c").trust_proxy == 0
    assert parse("--conninfo", "x", "--cluster", "c", "--trust-proxy", "1").trust_proxy == 1
    with pytest.raises(ValueError, match="trust-proxy"):
        parse("--conninfo", "x", "--cluster", "c", "--trust-proxy", "-1")
