"""The command line on CLI11 (issue 24): every subcommand has its own help and refuses the
options of the others; the new commands (restart, remove, failover, events prune) against real
daemons and a real PostgreSQL; switchover --at times read by PostgreSQL."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer

S = "airflow_failover"

# command -> (an option it takes, shown in its help; an option it must refuse)
COMMANDS = {
    "run": ("--config", "--json"),
    "status": ("--watch", "--to"),
    "history": ("--limit", "--watch"),
    "init-db": ("--operator-role", "--to"),
    "check-config": ("--environment-file", "--limit"),
    "switchover": ("--cancel", "--reason"),
    "pause": ("--stop-processes", "--at"),
    "resume": ("--json", "--reason"),
    "restart": ("--node", "--to"),
    "remove": ("NODE", "--force"),
    "failover": ("--force", "--cancel"),
    "events prune": ("--older-than", "--limit"),
}


def af(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(daemon_binary()), *args], capture_output=True, text=True, timeout=60, check=False, input=stdin
    )


def test_each_command_has_its_own_help_and_refuses_the_others_options() -> None:
    top = af("--help")
    assert top.returncode == 0
    for cmd, (own, foreign) in COMMANDS.items():
        assert cmd.split()[0] in top.stdout, cmd
        res = af(*cmd.split(), "--help")
        assert res.returncode == 0 and own in res.stdout, f"{cmd} --help: {res.stdout}{res.stderr}"
        assert foreign not in res.stdout, f"{cmd} --help shows {foreign}"
        # Refused before any config is read: the file does not exist.
        required = {"failover": ["--to", "y"], "events prune": ["--older-than", "1"]}.get(cmd, [])
        res = af(*cmd.split(), *required, foreign, "x", "--config", "/nonexistent")
        assert res.returncode == 2 and foreign in res.stderr, f"{cmd} {foreign}: {res.stderr}"
    for argv, why in [
        (["bogus"], "unknown command 'bogus'"),
        ([], "A subcommand is required"),
        (["events"], "A subcommand is required"),
        (["remove"], "NODE is required"),
        (["failover"], "--to is required"),
        (["switchover", "--cancel", "--to", "b"], "excludes"),
        (["history", "--limit", "0"], "--limit"),
        (["events", "prune", "--older-than", "0"], "--older-than"),
        (["status", "--watch", "0"], "--watch"),
    ]:
        res = af(*argv, "--config", "/nonexistent")
        assert res.returncode == 2 and why in res.stderr, f"{argv}: {res.stderr}"


def test_config_errors_name_the_cause() -> None:
    res = af("status", "--config", "/nonexistent/c.json")
    assert res.returncode == 2 and "No such file or directory" in res.stderr, res.stderr


def wait(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_restart_failover_remove_and_at_against_real_daemons(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "c", size=2, heartbeats=True)
    try:
        c.start()
        a = c.wait_active()
        b = next(n for n in c.nodes if n != a)
        wait(lambda: c.status()["nodes"] and len(c.status()["nodes"]) == 2, 10, "both node rows")
        term = c.status()["term"]
        pid = c.live_instances()[0].pid

        # status --watch: one status a period until Ctrl-C, asleep in between (not a spin).
        # SIGINT at its default in the child, as at a terminal: a shell without job control
        # starts a background job (pytest run with `&`) with SIGINT ignored, and exec keeps that.
        watch = subprocess.Popen(
            [str(daemon_binary()), "status", "--watch", "0.3", "--json", "--config", str(c.nodes[a].config)],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        time.sleep(1.5)
        with open(f"/proc/{watch.pid}/stat") as f:
            cpu_ticks = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13])
        watch.send_signal(signal.SIGINT)
        out, _ = watch.communicate(timeout=10)
        shown = [json.loads(line)["active"] for line in out.splitlines()]
        assert len(shown) >= 3 and set(shown) == {a}, out
        assert cpu_ticks < 100, f"{cpu_ticks} ticks of CPU in 1.5 s: a busy loop"

        res = c.cli("restart", "scheduler", "--node", b)
        assert res.returncode == 1 and "not the active node" in res.stderr, res.stderr
        res = c.cli("restart", "scheduler")
        assert res.returncode == 0 and "done: restarting scheduler" in res.stdout, res.stdout + res.stderr
        # Started again by the same node in the same term: a new process, no hand-over.
        wait(lambda: [i.pid for i in c.live_instances()] not in ([], [pid]), 15, "the restarted scheduler")
        assert c.status()["active"] == a and c.status()["term"] == term
        assert [i.node for i in c.live_instances()] == [a]
        res = c.cli("restart", "webserver")
        assert res.returncode == 1 and "webserver is not running" in res.stderr, res.stderr

        res = c.cli("switchover", "--at", "2026-02-31T02:00:00Z")
        assert res.returncode == 2 and "not a valid time" in res.stderr and "22008" in res.stderr, res.stderr
        res = c.cli("switchover", "--at", "2036-01-01T02:00:00")
        assert res.returncode == 2 and "has no UTC offset" in res.stderr, res.stderr

        res = c.cli("failover", "--to", b)
        assert res.returncode == 1 and "healthy active" in res.stderr, res.stderr
        res = c.cli("failover", "--to", b, "--force")  # no terminal to confirm on
        assert res.returncode == 2 and "--yes" in res.stderr, res.stderr
        res = c.cli("remove", a)
        assert res.returncode == 1 and "holds the lease" in res.stderr, res.stderr
        res = c.cli("remove", b)
        assert res.returncode == 1 and "stop its daemon first" in res.stderr, res.stderr
        res = c.cli("failover", "--to", b, "--force", "--yes", "--timeout", "20")
        assert res.returncode == 0 and f"failover done: {b} is active" in res.stdout, res.stdout + res.stderr
        c.assert_no_overlap()

        proc = c.nodes[a].proc
        assert proc is not None
        proc.kill()  # a daemon stopped cleanly deletes its own row; a dead one leaves it
        proc.wait(timeout=20)
        deadline = time.monotonic() + 15
        while (removed := c.cli("remove", a)).returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert [n["node_id"] for n in c.status()["nodes"]] == [b]
        kinds = {e["kind"] for e in c.events()}
        assert {"restart_requested", "failover_requested", "node_removed"} <= kinds, kinds
    finally:
        c.stop_all()


def test_events_prune_deletes_only_old_events_and_nothing_else(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "c", size=1)
    assert c.cli("init-db").returncode == 0
    for days in (40, 10, 0):
        pg.psql(
            f"INSERT INTO {S}.events (cluster, node_id, kind, at) "
            f"VALUES ('{c.name}', 'x', 'shutdown', now() - interval '{days} days')"
        )
    pg.psql(
        f"INSERT INTO {S}.events (cluster, node_id, kind, at) "
        "VALUES ('other', 'x', 'shutdown', now() - interval '40 days')"
    )
    res = c.cli("events", "prune", "--older-than", "30", "--json")
    assert res.returncode == 0 and '"exit_code":0' in res.stdout, res.stdout + res.stderr
    assert "deleted 1 events" in res.stdout
    left = pg.psql(
        f"SELECT string_agg(cluster || ':' || extract(day FROM now() - at)::int, ',' ORDER BY at) "
        f"FROM {S}.events WHERE kind = 'shutdown' AND cluster IN ('other', '{c.name}')"
    )
    assert left == f"other:40,{c.name}:10,{c.name}:0", left
    # The append-only rule still refuses the rest, even with the pruning horizon set by hand.
    horizon = "SET airflow_failover.prune_before = 'infinity'; "
    for sql in (
        f"DELETE FROM {S}.events WHERE cluster = '{c.name}'",
        f"{horizon}DELETE FROM {S}.events WHERE at > now() - interval '2 days'",
        f"{horizon}UPDATE {S}.events SET detail = 'x'",
        f"{horizon}TRUNCATE {S}.events",
    ):
        with pytest.raises(RuntimeError, match="append-only"):
            pg.psql(sql)


def test_check_config_on_a_live_node_knows_its_own_ports_and_the_units_path(
    pg: PgServer, tmp_path: Path
) -> None:
    c = Cluster(pg, tmp_path / "c", size=2, heartbeats=True)  # a heartbeat section needs a peer
    node = c.nodes["node-a"]
    try:
        c.start(["node-a"])
        c.wait_active()
        res = c.cli("check-config")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "held by this config's running daemon" in res.stdout, res.stdout
        # The same port in another config file is another program's: in use.
        other = tmp_path / "other.json"
        other.write_text(node.config.read_text())
        res = af("check-config", "--config", str(other))
        assert res.returncode == 2 and "heartbeat.listen" in res.stderr and "in use" in res.stderr, res.stderr
    finally:
        c.stop_all()
    # Commands are looked up on the unit's PATH (its EnvironmentFile), not this shell's.
    bindir = tmp_path / "unit-bin"
    bindir.mkdir()
    (bindir / "my-scheduler").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "my-scheduler").chmod(0o755)
    cfg = json.loads(node.config.read_text())
    cfg["processes"][0]["command"] = ["my-scheduler"]
    cfg.pop("heartbeat")
    node.config.write_text(json.dumps(cfg))
    env = tmp_path / "default"
    env.write_text(f"# the unit's EnvironmentFile\nPATH={bindir}:/usr/bin\n")
    res = c.cli("check-config")
    assert res.returncode == 2 and "my-scheduler is not found" in res.stderr, res.stderr
    res = c.cli("check-config", "--environment-file", str(env))
    assert res.returncode == 0 and f"PATH={bindir}:/usr/bin" in res.stdout, res.stdout + res.stderr
