"""The operator role (issue 22, issue 24 item 2): `init-db --operator-role` lets a role run
status, history, pause, resume, switchover, restart, remove and failover for one cluster, from
a config with `cluster` and `database` alone, and nothing else; operator commands run no
migration and record who asked (Unix user and database role). A real PostgreSQL and a real daemon."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer

S = "airflow_failover"


@pytest.fixture
def roles_pg() -> Iterator[PgServer]:
    pg = PgServer()
    pg.start()
    try:
        pg.psql("CREATE ROLE af_daemon LOGIN")
        pg.psql("CREATE ROLE af_op LOGIN")
        yield pg
    finally:
        pg.destroy()


def as_operator(pg: PgServer, sql: str) -> subprocess.CompletedProcess[str]:
    argv = [str(pg.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    argv += ["-h", "127.0.0.1", "-p", str(pg.port), "-U", "af_op", "-d", "postgres", "-c", sql]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(daemon_binary()), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_operator_config_runs_the_operator_commands_and_nothing_else(
    roles_pg: PgServer, tmp_path: Path
) -> None:
    pg = roles_pg
    c = Cluster(pg, tmp_path / "c", size=1)
    node = c.nodes["node-a"]
    cfg = json.loads(node.config.read_text())
    cfg["database"]["conninfo"] = pg.conninfo(user="af_daemon")
    node.config.write_text(json.dumps(cfg))
    argv = [str(daemon_binary()), "init-db", "--config", str(node.config), "--conninfo"]
    argv += [pg.conninfo(), "--daemon-role", "af_daemon", "--operator-role", "af_op"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    op = tmp_path / "operator.json"
    op.write_text(json.dumps({"cluster": c.name, "database": {"conninfo": pg.conninfo(user="af_op")}}))
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        for args in (
            ("status",),
            ("history",),
            ("pause", "--reason", "op test", "--expires", "10m"),
            ("resume",),
            ("switchover", "--at", "+1h"),
            ("switchover", "--cancel"),
            ("restart", "scheduler"),
        ):
            r = cli(op, *args)
            assert r.returncode == 0, f"{args}: {r.stdout}{r.stderr}"
        # Nothing to hand over to: refused for want of a standby, not for want of rights.
        r = cli(op, "switchover", "--timeout", "2")
        assert "permission denied" not in r.stderr, r.stderr
        # The switchover above may leave the lease free for a moment: then this reserves it
        # (reserve_free_lease, as the operator); else node-a is already active.
        r = cli(op, "failover", "--to", "node-a", "--yes")
        assert r.returncode == 0 and "node-a" in r.stdout, r.stdout + r.stderr
        events = pg.psql(f"SELECT detail FROM {S}.events WHERE cluster = '{c.name}' AND kind = 'resumed'")
        requested = pg.psql(f"SELECT requested_by FROM {S}.commands WHERE cluster = '{c.name}'")
    finally:
        c.stop_all()
    # A decommissioned node of its own cluster, and one of another cluster with a free lease.
    for cluster, node_id in ((c.name, "node-z"), ("other", "node-o")):
        pg.psql(
            f"INSERT INTO {S}.nodes (cluster, node_id, role, last_seen) "
            f"VALUES ('{cluster}', '{node_id}', 'standby', now() - interval '1 hour')"
        )
    pg.psql(f"INSERT INTO {S}.lease (cluster, holder, term) VALUES ('other', NULL, 3)")
    # The free lease of its own cluster may be reserved (failover), another cluster's not.
    reserve = f"SELECT {S}.reserve_free_lease('{{}}', '{{}}', 1000)"
    assert as_operator(pg, reserve.format(c.name, "node-z")).stdout.strip() == "t"
    assert as_operator(pg, reserve.format("other", "node-o")).stdout.strip() == "f"
    r = cli(op, "remove", "node-z")
    assert r.returncode == 0, r.stdout + r.stderr
    assert as_operator(pg, f"DELETE FROM {S}.nodes WHERE cluster = 'other'").returncode == 0
    assert pg.psql(f"SELECT count(*) FROM {S}.nodes WHERE cluster = 'other'") == "1"
    assert pg.psql(f"SELECT reserved_for IS NULL FROM {S}.lease WHERE cluster = 'other'") == "t"
    me = pwd.getpwuid(os.getuid()).pw_name
    assert f"cli:{me}@" in events and " as af_op" in events, events
    assert requested and all(" as af_op" in line for line in requested.splitlines()), requested
    # And nothing else, straight at the database with the operator's role.
    attacks = [
        f"UPDATE {S}.lease SET expires_at = 'infinity'",
        f"DELETE FROM {S}.lease",
        f"DELETE FROM {S}.events",
        f"UPDATE {S}.events SET detail = 'x'",
        f"UPDATE {S}.nodes SET role = 'x'",
        f"SELECT * FROM {S}.fencing",
        f"INSERT INTO {S}.commands (cluster, kind, requested_by) VALUES ('{c.name}', 'terminate', 'x')",
        f"INSERT INTO {S}.commands (cluster, kind, requested_by) VALUES ('other', 'switchover', 'x')",
        f"INSERT INTO {S}.pause (cluster, paused_by) VALUES ('other', 'x')",
        f"DELETE FROM {S}.commands",
        f"UPDATE {S}.commands SET kind = 'terminate'",
        f"CREATE TABLE {S}.mine (x int)",
        f"ALTER TABLE {S}.pause DISABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {S}.nodes DISABLE ROW LEVEL SECURITY",
        f"INSERT INTO {S}.commands (cluster, kind, requested_by) VALUES ('other', 'restart', 'x')",
        f"INSERT INTO {S}.operator_clusters VALUES ('af_op', 'other')",
        f"UPDATE {S}.lease SET reserved_for = 'x'",
        f"SET airflow_failover.prune_before = 'infinity'; DELETE FROM {S}.events",
    ]
    allowed = [sql for sql in attacks if as_operator(pg, sql).returncode == 0]
    assert allowed == [], f"the operator's role could: {allowed}"


def test_operator_commands_run_no_migration(roles_pg: PgServer, tmp_path: Path) -> None:
    """An operator command against a database without the schema says so and creates nothing
    (even with a node's full config and a role that could create the schema)."""
    pg = roles_pg
    db = pg.create_database("empty")
    c = Cluster(pg, tmp_path / "c", size=1)
    node = c.nodes["node-a"]
    cfg = json.loads(node.config.read_text())
    cfg["database"]["conninfo"] = pg.conninfo(db)
    node.config.write_text(json.dumps(cfg))
    r = c.cli("pause", "--reason", "x")
    assert r.returncode != 0 and "init-db" in r.stderr, r.stdout + r.stderr
    assert pg.psql(f"SELECT count(*) FROM pg_namespace WHERE nspname = '{S}'", dbname=db) == "0"
