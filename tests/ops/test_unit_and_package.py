"""The systemd unit passes `systemd-analyze verify`, says what the issue asks, and the .deb that
CPack builds installs the binary, the unit, the config (a conffile) and a postinst that
creates the service user. JSON log lines stay valid JSON whatever the message holds."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from tests.support.helpers import REPO

UNIT = REPO / "config" / "airflow-failover.service"


def unit_directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def verify(unit_text: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """systemd-analyze verify on a copy whose ExecStart points at the built binary (the
    installed path does not exist here; verify checks that it is executable)."""
    path = tmp / "airflow-failover.service"
    path.write_text(unit_text.replace("/usr/bin/airflow-failover", str(daemon_binary())))
    return subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def analyze() -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze missing (apt-get install systemd)")


def test_unit_verifies_cleanly(analyze: None, tmp_path: Path) -> None:
    res = verify(UNIT.read_text(), tmp_path)
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    # The check has teeth: a bad value and an unknown key are reported.
    bad = UNIT.read_text().replace("KillMode=control-group", "KillMode=bogus\nFooBar=1")
    res = verify(bad, tmp_path)
    assert "kill mode" in res.stderr and "Unknown key" in res.stderr


def test_unit_says_what_the_service_needs() -> None:
    d = unit_directives(UNIT.read_text())
    assert d["Type"] == ["notify"] and d["NotifyAccess"] == ["main"]
    assert d["KillMode"] == ["control-group"]
    assert d["Restart"] == ["on-failure"]
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    # The daemon as its own user, Airflow as "airflow" (the config's processes[].user), with
    # exactly the capabilities that needs and nothing more.
    assert d["User"] == ["airflow-failover"] and d["Group"] == ["airflow-failover"]
    needed = {"CAP_SETUID", "CAP_SETGID", "CAP_KILL"}
    assert set(d["CapabilityBoundingSet"][0].split()) == needed
    assert set(d["AmbientCapabilities"][0].split()) == needed
    example = json.loads((REPO / "config" / "airflow-failover.json").read_text())
    assert example["processes"][0]["user"] == "airflow"
    assert d["ExecStart"][0].startswith("/usr/bin/airflow-failover run --config /etc/")
    # The password file postinst creates (0600, the daemon's own), for libpq.
    assert d["Environment"] == ["PGPASSFILE=/etc/airflow-failover/pgpass"]
    postinst = (REPO / "packaging" / "postinst").read_text()
    assert "install -o airflow-failover -g airflow-failover -m 0600 /dev/null" in postinst
    assert "/etc/airflow-failover/pgpass" in postinst
    watchdog = int(d["WatchdogSec"][0].rstrip("s"))
    assert watchdog * 1000 >= 2 * 3000, "WatchdogSec below two default lease TTLs"
    families = set(d["RestrictAddressFamilies"][0].split())
    assert {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"} <= families
    for key in (
        "NoNewPrivileges",
        "PrivateTmp",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectControlGroups",
    ):
        assert d[key] == ["yes"], key
    assert d["ProtectSystem"][0] in ("full", "strict")


def test_unit_security_exposure_is_low(analyze: None, tmp_path: Path) -> None:
    path = tmp_path / "airflow-failover.service"
    path.write_text(UNIT.read_text().replace("/usr/bin/airflow-failover", str(daemon_binary())))
    res = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", res.stdout)
    assert m, res.stdout[-500:] + res.stderr
    assert float(m.group(1)) <= 3.0, res.stdout[-300:]


@pytest.fixture(scope="module")
def deb(built_deb: Path) -> Path:
    return built_deb  # tests/conftest.py: one CPack run per session, shared with tests/deploy


def test_deb_contents(deb: Path, tmp_path: Path) -> None:
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    files = {line.split()[-1] for line in listing.splitlines()}
    for f in (
        "./usr/bin/airflow-failover",
        "./usr/lib/systemd/system/airflow-failover.service",
        "./etc/airflow-failover/config.json",
        "./usr/share/doc/airflow-failover/airflow-failover.json",
        "./usr/share/doc/airflow-failover/warm-standby.md",
        "./usr/share/airflow-failover/python/airflow_failover_warm/__init__.py",
        "./usr/share/airflow-failover/prometheus/airflow-failover.rules.yml",
        "./usr/share/airflow-failover/grafana/airflow-failover.json",
        "./usr/share/man/man1/airflow-failover.1",
        "./usr/share/bash-completion/completions/airflow-failover",
    ):
        assert f in files, f
    # The man page is the program's own help, every subcommand's included.
    root = tmp_path / "man"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    man = (root / "usr/share/man/man1/airflow-failover.1").read_text()
    for cmd in ("status", "restart", "remove", "failover", "events prune"):
        assert f'.SS "airflow-failover {cmd}"' in man, cmd
    assert "--older-than" in man and "--watch" in man
    info = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True, check=True).stdout
    depends = next(line for line in info.splitlines() if line.startswith(" Depends:"))
    for lib in ("libpqxx-6.4", "libspdlog1.10", "libsystemd0", "libprometheus-cpp-core1.0", "adduser"):
        assert lib in depends, depends
    ctl = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(ctl)], check=True)
    postinst = (ctl / "postinst").read_text()
    assert "adduser --system" in postinst and " airflow\n" in postinst
    assert "airflow-failover\n" in postinst
    assert (ctl / "postinst").stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(ctl / "postinst")], check=True)
    assert (ctl / "conffiles").read_text().split() == ["/etc/airflow-failover/config.json"]

    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    unit = (root / "usr/lib/systemd/system/airflow-failover.service").read_text()
    assert "ExecStart=/usr/bin/airflow-failover run --config /etc/airflow-failover/config.json" in unit
    binary = root / "usr/bin/airflow-failover"
    assert subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    res = subprocess.run(
        [
            str(binary),
            "check-config",
            "--syntax-only",
            "--config",
            str(root / "etc/airflow-failover/config.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    # On this host the template is not ready to run: check-config says why, by key.
    res = subprocess.run(
        [str(binary), "check-config", "--config", str(root / "etc/airflow-failover/config.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2
    assert "heartbeat.secret_file:" in res.stderr, res.stderr
    assert 'node_id: "CHANGE-ME-sched-a" is the shipped placeholder' in res.stderr, res.stderr


def test_json_logs_stay_valid_with_quotes(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=1, extra={"log": {"level": "info", "format": "json"}})
    node = c.nodes["node-a"]
    cfg = json.loads(node.config.read_text())
    # A command that cannot start: its path, with quotes and a backslash, ends up in messages.
    cfg["processes"][0]["command"] = ['/nonexistent/"quoted"\\dir/sched\tuler']
    node.config.write_text(json.dumps(cfg))
    try:
        c.start()
        c.wait_for(
            lambda: (
                '"quoted' in node.log.read_text(errors="replace")
                or "quoted" in node.log.read_text(errors="replace")
            ),
            15,
            "the failing command in the log",
        )
    finally:
        c.stop_all()
    lines = [ln for ln in node.log.read_text().splitlines() if ln.strip()]
    parsed = [json.loads(ln) for ln in lines]  # every line is one JSON object
    assert {"time", "level", "node", "msg"} <= set(parsed[0])
    assert any('"quoted"\\dir/sched\tuler' in p["msg"] for p in parsed), lines[-5:]
    assert all(p["node"] == "node-a" for p in parsed)
    assert "password" not in node.log.read_text().lower()
