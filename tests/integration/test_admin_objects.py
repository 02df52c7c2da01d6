"""Attack tests (issue 22): what the daemon's database role can do to the objects `init-db
--daemon-role` leaves to the administrator. The attacker holds the daemon's role (hooks,
`command` checks and, in the shipped examples, Airflow run as the Unix user that can read its
password). A real PostgreSQL per test: the attacks change roles and the schema."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer

ROLES = {"node-a": "sched_a", "node-b": "sched_b"}
S = "airflow_failover"


@pytest.fixture(scope="module")
def admin_server() -> Iterator[PgServer]:
    """A PostgreSQL with the daemon's role (no CREATEROLE) and Airflow's roles; postgres is the
    administrator who runs init-db. Each test gets a database of its own."""
    pg = PgServer()
    pg.start()
    try:
        pg.psql("CREATE ROLE af_daemon LOGIN")
        for role in ROLES.values():
            pg.psql(f"CREATE ROLE {role} LOGIN")
        yield pg
    finally:
        pg.destroy()


@dataclass
class Db:
    pg: PgServer
    name: str

    def conninfo(self, user: str = "postgres") -> str:
        return self.pg.conninfo(self.name, user=user)

    def psql(self, sql: str) -> str:
        return self.pg.psql(sql, dbname=self.name)


@pytest.fixture
def admin_pg(admin_server: PgServer) -> Iterator[Db]:
    db = Db(admin_server, admin_server.create_database("t" + uuid.uuid4().hex[:8]))
    try:
        yield db
    finally:
        # Whatever an attack (or the old code) did to the roles shared by the tests.
        admin_server.psql("ALTER ROLE af_daemon NOSUPERUSER")
        for role in ROLES.values():
            admin_server.psql(f"ALTER ROLE {role} LOGIN")


def cluster(db: Db, tmp_path: Path, size: int, extra: dict[str, object]) -> Cluster:
    c = Cluster(db.pg, tmp_path / "c", size=size, extra=extra)
    for node in c.nodes.values():
        cfg = json.loads(node.config.read_text())
        cfg["database"]["conninfo"] = db.conninfo()
        node.config.write_text(json.dumps(cfg))
    return c


def as_daemon(db: Db, sql: str) -> subprocess.CompletedProcess[str]:
    """One statement in a session of the daemon's role itself (not SET ROLE from a superuser)."""
    argv = [str(db.pg.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
    argv += ["-h", "127.0.0.1", "-p", str(db.pg.port), "-U", "af_daemon", "-d", db.name]
    return subprocess.run([*argv, "-c", sql], capture_output=True, text=True, timeout=30, check=False)


def init_db(db: Db, c: Cluster, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [str(daemon_binary()), "init-db", "--config", str(c.nodes["node-a"].config)]
    argv += ["--conninfo", db.conninfo(), "--daemon-role", "af_daemon"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False, env=env)


def is_superuser(pg: Db, role: str) -> bool:
    return pg.psql(f"SELECT rolsuper FROM pg_roles WHERE rolname = '{role}'") == "t"


def fencing_function(pg: Db, cluster: str) -> str:
    fn = pg.psql(
        "SELECT p.oid::regproc FROM pg_proc p "
        f"WHERE obj_description(p.oid, 'pg_proc') LIKE '%cluster {cluster} %'"
    )
    assert fn, "init-db installed no fencing function"
    return fn


def test_the_daemons_role_cannot_borrow_the_fencing_functions_rights(admin_pg: Db, tmp_path: Path) -> None:
    pg = admin_pg
    c = cluster(pg, tmp_path, 2, {"fencing": {"database_roles": ROLES}})
    res = init_db(pg, c)
    assert res.returncode == 0, res.stdout + res.stderr
    fn = fencing_function(pg, c.name)
    # The attack of issue 22 (executed against the old function): a `lease` the function reads
    # FOR UPDATE, replaced by a view whose WHERE runs as whoever reads it.
    attack = [
        f"ALTER TABLE {S}.lease RENAME TO lease_real",
        f"CREATE FUNCTION {S}.escalate() RETURNS boolean LANGUAGE plpgsql AS "
        "$$ BEGIN EXECUTE 'ALTER ROLE af_daemon SUPERUSER'; RETURN true; END $$",
        f"CREATE VIEW {S}.lease AS SELECT * FROM {S}.lease_real WHERE {S}.escalate()",
        f"INSERT INTO {S}.lease_real (cluster, holder, term, expires_at) "
        f"VALUES ('{c.name}', 'node-a', 7, 'infinity')",
        # And at whatever else the function might read: its own state and itself.
        f"ALTER TABLE {S}.fencing RENAME TO fencing_real",
        f"CREATE OR REPLACE VIEW {S}.fencing AS SELECT * FROM {S}.lease_real WHERE {S}.escalate()",
        f"UPDATE {S}.fencing SET term = 0",
        f"ALTER FUNCTION {fn} OWNER TO af_daemon",
        f"ALTER FUNCTION {fn} SET search_path = {S}, pg_catalog",
        f"SELECT {fn}('node-a', 7, false)",
        f"SELECT {fn}('node-a', 7, true)",
    ]
    outcomes = [(sql, as_daemon(pg, sql)) for sql in attack]
    log = "\n".join(f"{r.returncode} {sql}: {r.stderr.strip()}" for sql, r in outcomes)
    assert not is_superuser(pg, "af_daemon"), f"the daemon's role became a superuser:\n{log}"
    # What the administrator owns stays out of the daemon's reach.
    refused = {sql for sql, r in outcomes if r.returncode != 0}
    for sql in attack[4:9]:
        assert sql in refused, f"the daemon's role could: {sql}\n{log}"


def test_a_node_name_cannot_break_out_of_the_fencing_function(admin_pg: Db, tmp_path: Path) -> None:
    pg = admin_pg
    key = "x$fn$; ALTER ROLE af_daemon SUPERUSER; SELECT $fn$"
    roles = {**ROLES, key: "sched_b"}
    c = cluster(pg, tmp_path, 1, {"fencing": {"database_roles": roles}})
    # Only the body's validation stood between the name and the administrator's session, and
    # that is a session setting (PGOPTIONS, the conninfo's options, a restore script).
    env = {**os.environ, "PGOPTIONS": "-c check_function_bodies=off"}
    res = init_db(pg, c, env)
    assert not is_superuser(pg, "af_daemon"), res.stdout + res.stderr
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"fencing.database_roles.{key}" in res.stderr, res.stderr
    # The daemon and check-config refuse it the same way.
    check = c.cli("check-config")
    assert check.returncode == 2 and "fencing.database_roles.x$fn$" in check.stderr, check.stderr


def test_a_stale_term_cannot_fence_a_newer_holder(admin_pg: Db, tmp_path: Path) -> None:
    pg = admin_pg
    c = cluster(pg, tmp_path, 2, {"fencing": {"database_roles": ROLES}})
    res = init_db(pg, c)
    assert res.returncode == 0, res.stdout + res.stderr
    fn = fencing_function(pg, c.name)
    ins = as_daemon(
        pg,
        f"INSERT INTO {S}.lease (cluster, holder, term, expires_at) "
        f"VALUES ('{c.name}', 'node-b', 5, 'infinity')",
    )
    assert ins.returncode == 0, ins.stderr
    fenced = as_daemon(pg, f"SELECT {fn}('node-b', 5, false)")
    assert fenced.returncode == 0, fenced.stderr
    assert pg.psql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'sched_a'") == "f"
    # node-a, deposed, still believes in term 4 (its lease row long gone).
    stale = as_daemon(pg, f"SELECT {fn}('node-a', 4, false)")
    assert stale.returncode != 0
    assert pg.psql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'sched_b'") == "t"
    assert pg.psql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'sched_a'") == "f"


def test_the_daemons_role_cannot_rewrite_or_unguard_the_events(admin_pg: Db, tmp_path: Path) -> None:
    pg = admin_pg
    c = cluster(pg, tmp_path, 1, {})
    res = init_db(pg, c)
    assert res.returncode == 0, res.stdout + res.stderr
    ok = as_daemon(pg, f"INSERT INTO {S}.events (cluster, node_id, kind) VALUES ('{c.name}', 'node-a', 'x')")
    assert ok.returncode == 0, f"the daemon can no longer write events: {ok.stderr}"
    attacks = [
        f"ALTER TABLE {S}.events DISABLE TRIGGER ALL",
        f"DROP TRIGGER events_append_only ON {S}.events",
        f"CREATE OR REPLACE FUNCTION {S}.events_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
        f"DROP FUNCTION {S}.events_append_only() CASCADE",
        f"UPDATE {S}.events SET detail = 'rewritten'",
        f"DELETE FROM {S}.events",
        f"TRUNCATE {S}.events",
        f"ALTER TABLE {S}.events RENAME TO events_old",
        f"DROP TABLE {S}.events CASCADE",
    ]
    wrote = [sql for sql in attacks if as_daemon(pg, sql).returncode == 0]
    assert wrote == [], f"the daemon's role could: {wrote}"
    assert pg.psql(f"SELECT count(*) FROM {S}.events WHERE cluster = '{c.name}'") == "1"
    assert pg.psql(f"SELECT count(*) FROM {S}.events WHERE detail = 'rewritten'") == "0"


def test_init_db_for_a_daemon_role_runs_twice(admin_pg: Db, tmp_path: Path) -> None:
    """An upgrade re-runs init-db over a schema the administrator already holds."""
    pg = admin_pg
    c = cluster(pg, tmp_path, 2, {"fencing": {"database_roles": ROLES}})
    for _ in range(2):
        res = init_db(pg, c)
        assert res.returncode == 0, res.stdout + res.stderr
    assert pg.psql(f"SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = '{S}'") == (
        "postgres"
    )
