"""Attack tests for what the daemon hands to the code it runs (issue 14): its environment, its
open descriptors and its Unix identity. Real daemons, a real PostgreSQL; the managed process
is a shell script that reports what it can see."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port

# What a managed process can find: its environment and identity (written by itself), then it
# becomes `sleep`, whose open descriptors the test reads from /proc (a shell opens its own
# while it runs, sleep does not).
SPY = """
out="$1"
env > "$out/env.tmp" && mv "$out/env.tmp" "$out/env"
id -u > "$out/uid.tmp"; id -g >> "$out/uid.tmp"; echo "$HOME $USER" >> "$out/uid.tmp"
mv "$out/uid.tmp" "$out/uid"
echo $$ > "$out/pid.tmp" && mv "$out/pid.tmp" "$out/pid"
exec sleep 600
"""


def open_fds(pid: int, timeout: float = 10.0) -> dict[int, str]:
    """The descriptors of `pid` once it has become `sleep`, with what each points to."""
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}/comm").read_text().strip() != "sleep":
        assert time.monotonic() < deadline, "the spy never became sleep"
        time.sleep(0.02)
    fd_dir = Path(f"/proc/{pid}/fd")
    return {int(p.name): os.readlink(p) for p in fd_dir.iterdir()}


def spy_cluster(pg: PgServer, tmp_path: Path, process: dict[str, object]) -> tuple[Cluster, Path]:
    # Outside pytest's private tmp tree: the spy may run as another user.
    out = Path(tempfile.mkdtemp(prefix="af-spy-"))
    out.chmod(0o777)
    metrics_port = free_tcp_port()
    c = Cluster(
        pg,
        tmp_path / "cluster",
        size=2,
        heartbeats=True,
        extra={"metrics": {"listen": f"127.0.0.1:{metrics_port}"}},
    )
    proc: dict[str, Any] = {"name": "scheduler", "command": ["/bin/sh", "-c", SPY, "spy", str(out)]}
    proc.update(process)
    for node in c.nodes.values():
        cfg = json.loads(node.config.read_text())
        cfg["processes"] = [proc]
        cfg["metrics"] = {"listen": f"127.0.0.1:{free_tcp_port()}"}
        node.config.write_text(json.dumps(cfg))
    c.daemon_env = {
        **os.environ,
        "PGPASSWORD": "the-daemons-password",
        "PGPASSFILE": str(tmp_path / "daemon.pgpass"),
        "PGUSER": "airflow_failover",
        "AF_UNRELATED_SECRET": "x",
    }
    return c, out


def wait_file(path: Path, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


def test_a_managed_process_gets_no_daemon_credentials_and_no_daemon_descriptors(
    pg: PgServer, tmp_path: Path
) -> None:
    c, out = spy_cluster(pg, tmp_path, {"env": {"AIRFLOW_HOME": "/opt/airflow"}})
    try:
        c.start(["node-a"])
        env_text = wait_file(out / "env", 30)
        fds = open_fds(int(wait_file(out / "pid")))
    finally:
        c.stop_all()
        shutil.rmtree(out, ignore_errors=True)
    env = dict(line.split("=", 1) for line in env_text.splitlines() if "=" in line)
    leaked = sorted(k for k in env if k.startswith("PG") or k == "AF_UNRELATED_SECRET")
    assert leaked == [], f"the daemon's variables reached the managed process: {leaked}"
    assert env["AIRFLOW_HOME"] == "/opt/airflow"
    assert env["AIRFLOW_FAILOVER_NODE"] == "node-a"
    assert env["PATH"]
    # stdin, stdout and stderr only: no heartbeat socket, no metrics listener, no pipe.
    assert sorted(fds) == [0, 1, 2], f"descriptors beyond stdio reached the child: {fds}"


def test_named_variables_are_passed_on(pg: PgServer, tmp_path: Path) -> None:
    c, out = spy_cluster(pg, tmp_path, {"inherit_env": ["PGPASSFILE"]})
    try:
        c.start(["node-a"])
        env_text = wait_file(out / "env", 30)
    finally:
        c.stop_all()
        shutil.rmtree(out, ignore_errors=True)
    env = dict(line.split("=", 1) for line in env_text.splitlines() if "=" in line)
    assert env["PGPASSFILE"] == str(tmp_path / "daemon.pgpass")
    assert "PGPASSWORD" not in env


@pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root or CAP_SETUID")
def test_a_managed_process_runs_as_its_own_user(pg: PgServer, tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    c, out = spy_cluster(pg, tmp_path, {"user": "nobody"})
    try:
        c.start(["node-a"])
        uid_text = wait_file(out / "uid", 30)
    finally:
        c.stop_all()
        shutil.rmtree(out, ignore_errors=True)
    uid, gid, home_user = uid_text.splitlines()
    assert (int(uid), int(gid)) == (nobody.pw_uid, nobody.pw_gid)
    assert home_user == f"{nobody.pw_dir} nobody"


def test_an_unknown_user_stops_the_start_naming_the_key(pg: PgServer, tmp_path: Path) -> None:
    c, out = spy_cluster(pg, tmp_path, {"user": "af-no-such-user"})
    shutil.rmtree(out)
    res = c.cli("run")
    assert res.returncode != 0
    assert "processes.scheduler.user" in res.stderr and "af-no-such-user" in res.stderr


CAPS_SPY = """
out="$1"
grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapAmb):' /proc/$$/status > "$out/$2.tmp"
mv "$out/$2.tmp" "$out/$2"
exec sleep 600
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"),
    reason="needs root and setpriv to start the daemon as the packaged unit does",
)
def test_a_non_root_daemon_with_the_units_capabilities(pg: PgServer) -> None:
    """As the packaged unit runs it: a non-root daemon with CAP_SETUID, CAP_SETGID and CAP_KILL
    (ambient). It runs one process as another user, one as itself; neither keeps a capability."""
    work = Path(tempfile.mkdtemp(prefix="af-caps-"))
    work.chmod(0o777)
    try:
        c = Cluster(pg, work / "cluster", size=1)
        (work / "cluster").chmod(0o755)
        node = c.nodes["node-a"]
        cfg = json.loads(node.config.read_text())
        cfg["processes"] = [
            {
                "name": "other-user",
                "user": "daemon",
                "command": ["/bin/sh", "-c", CAPS_SPY, "spy", str(work), "other"],
            },
            {"name": "same-user", "command": ["/bin/sh", "-c", CAPS_SPY, "spy", str(work), "same"]},
        ]
        node.config.write_text(json.dumps(cfg))
        node.config.chmod(0o644)
        caps = "+kill,+setuid,+setgid"
        with open(node.log, "ab") as log:  # the daemon keeps its own descriptor
            node.proc = subprocess.Popen(
                [
                    "setpriv",
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                    f"--inh-caps={caps}",
                    f"--ambient-caps={caps}",
                    str(daemon_binary()),
                    "run",
                    "--config",
                    str(node.config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            other = wait_file(work / "other", 30)
            same = wait_file(work / "same", 30)
        finally:
            c.stop_all()
        daemon_uid = pwd.getpwnam("daemon").pw_uid
        assert f"Uid:\t{daemon_uid}\t" in other, other
        assert f"Uid:\t{pwd.getpwnam('nobody').pw_uid}\t" in same, same
        for status in (other, same):
            for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
                line = next(ln for ln in status.splitlines() if ln.startswith(cap))
                assert line.split()[1] == "0000000000000000", status
    finally:
        shutil.rmtree(work, ignore_errors=True)
