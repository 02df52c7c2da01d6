"""`check-config` refuses what `run` would refuse at start (issue 17): the heartbeat secret
file, listen ports, commands on PATH, health URLs; each failure names the key and the problem,
all of them at once. And it prints the heartbeat, health and metrics timings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from localcluster.cluster import daemon_binary
from localcluster.ports import free_tcp_port, free_udp_port


def check(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(daemon_binary()), "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )


def config(tmp_path: Path, secret: Path, **over: Any) -> Path:
    cfg: dict[str, Any] = {
        "cluster": "cc", "node_id": "n1",
        "database": {"conninfo": "host=127.0.0.1 port=1 dbname=x user=x"},
        "processes": [{"name": "scheduler", "command": ["true"],
                       "health": {"type": "http", "url": "http://127.0.0.1:8974/health",
                                  "interval_ms": 5000, "failure_threshold": 3}}],
        "heartbeat": {"listen": f"127.0.0.1:{free_udp_port()}",
                      "peers": {"n2": "127.0.0.1:9"}, "secret_file": str(secret)},
        "metrics": {"listen": f"127.0.0.1:{free_tcp_port()}"},
    }  # fmt: skip
    cfg.update(over)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(cfg))
    return path


def secret_file(tmp_path: Path, content: bytes = b"a" * 64 + b"\n", mode: int = 0o600) -> Path:
    p = tmp_path / "hb.key"
    p.write_bytes(content)
    p.chmod(mode)
    return p


def test_a_good_config_prints_every_timing(tmp_path: Path) -> None:
    res = check(config(tmp_path, secret_file(tmp_path)))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    # The defaults (no lease section): the rule at ttl 1300, and what a late renewal brings.
    assert "lease ttl 1300 ms, renew every 216 ms, fence margin 130 ms" in out
    assert "freeze (SIGSTOP) 585 ms before the local deadline" in out
    assert "SIGKILL 100 ms before it" in out
    assert "heartbeats every 200 ms" in out and "silent after 3 missed (600 ms)" in out
    assert "metrics and health endpoints on http://127.0.0.1:" in out
    assert "health http http://127.0.0.1:8974/health: every 5000 ms" in out
    assert "killed after 3 failures in a row (at the earliest 15000 ms)" in out


def test_a_missing_secret_file_is_refused(tmp_path: Path) -> None:
    res = check(config(tmp_path, tmp_path / "absent.key"))
    assert res.returncode == 2
    assert f"heartbeat.secret_file: {tmp_path / 'absent.key'} does not exist" in res.stderr


def test_a_short_or_shared_secret_file_is_refused(tmp_path: Path) -> None:
    res = check(config(tmp_path, secret_file(tmp_path, b"short\n")))
    assert res.returncode == 2 and "holds 5 bytes; a key needs at least 32" in res.stderr
    res = check(config(tmp_path, secret_file(tmp_path, mode=0o644)))
    assert res.returncode == 2 and "has mode 0644" in res.stderr


def test_an_unreadable_secret_file_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads any file: make it a directory instead, which no one can read as a key
        secret = tmp_path / "dir.key"
        secret.mkdir(mode=0o700)
    else:
        secret = secret_file(tmp_path, mode=0o000)
    res = check(config(tmp_path, secret))
    assert res.returncode == 2, res.stdout
    assert "heartbeat.secret_file:" in res.stderr, res.stderr


def test_ports_in_use_are_refused(tmp_path: Path) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind(("127.0.0.1", 0))
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        path = config(
            tmp_path, secret_file(tmp_path),
            heartbeat={"listen": f"127.0.0.1:{udp.getsockname()[1]}",
                       "peers": {"n2": "127.0.0.1:9"},
                       "secret_file": str(tmp_path / "hb.key")},
            metrics={"listen": f"127.0.0.1:{tcp.getsockname()[1]}"},
        )  # fmt: skip
        res = check(path)
    finally:
        udp.close()
        tcp.close()
    assert res.returncode == 2
    assert "heartbeat.listen: cannot listen on 127.0.0.1:" in res.stderr, res.stderr
    assert "metrics.listen: cannot listen on 127.0.0.1:" in res.stderr, res.stderr
    assert "another program uses it, not this config's running daemon" in res.stderr
    assert "2 problem(s)" in res.stderr


def test_commands_must_be_found_and_urls_must_parse(tmp_path: Path) -> None:
    procs = [
        {"name": "scheduler", "command": ["airflow-no-such-binary", "scheduler"],
         "health": {"type": "http", "url": "http://:99999/health"}},
        {"name": "triggerer", "command": ["./bin/triggerer"], "cwd": str(tmp_path),
         "health": {"type": "command", "command": ["no-such-probe"]}},
    ]  # fmt: skip
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    # A URL that does not parse is the config's error: `run` refuses it too (one URL parser).
    res = check(config(tmp_path, secret_file(tmp_path), processes=procs), env)
    assert res.returncode == 2
    assert (
        'processes[0].health.url: must be an http:// URL: "http://:99999/health" is not a URL' in res.stderr
    )
    procs[0]["health"] = {"type": "http", "url": "http://[::1]:8974/health"}
    res = check(config(tmp_path, secret_file(tmp_path), processes=procs), env)
    assert res.returncode == 2
    err = res.stderr
    assert (
        "processes[0].command: airflow-no-such-binary is not found on the daemon's PATH (/usr/bin:/bin)"
        in err
    ), err
    assert "processes[0].health.url" not in err, err
    assert "processes[1].command: ./bin/triggerer does not exist or is not executable" in err
    assert "processes[1].health.command: no-such-probe is not found on the daemon's PATH" in err
    # Found relative to the process's cwd once it exists:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "triggerer").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "triggerer").chmod(0o755)
    res = check(config(tmp_path, secret_file(tmp_path), processes=procs), env)
    assert "processes[1].command" not in res.stderr
