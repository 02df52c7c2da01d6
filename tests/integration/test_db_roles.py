"""Attack test (issue 14): code run by the scheduler (a DAG) tries to write the lease with every
credential it can find. The daemon and Airflow run as different Unix users and database roles;
the daemon's role has no CREATEROLE and fences through init-db's SECURITY DEFINER function."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from tests.support.helpers import settle

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="running Airflow as another user needs root")

ROLES = {"node-a": "sched_a", "node-b": "sched_b"}
PASSWORDS = {"af_daemon": "pw-daemon", "sched_a": "pw-a", "sched_b": "pw-b"}

# A DAG's view: its own environment, files it can read, the daemon's /proc entry. Each
# attempt to write the daemon's tables is recorded as WROTE or refused.
DAG = r"""
out="$1"; psql="$2"; port="$3"; pgpass="$4"
conn="host=127.0.0.1 port=$port dbname=postgres connect_timeout=5"
attempt() {
    name="$1"; shift
    if "$@" >>"$out/log" 2>&1; then echo "$name WROTE"; else echo "$name refused"; fi >>"$out/res"
}
write_lease="UPDATE airflow_failover.lease SET expires_at = 'infinity', holder = 'dag'"
# 1. the daemon's role with whatever password the environment gives
attempt env-password env PGPASSWORD="${PGPASSWORD:-}" \
    "$psql" -X -w -d "$conn user=af_daemon" -c "$write_lease"
# 2. the daemon's password read from the daemon's own environment
stolen=$(tr '\0' '\n' < /proc/$PPID/environ 2>>"$out/log" | sed -n 's/^PGPASSWORD=//p')
attempt proc-environ env PGPASSWORD="$stolen" \
    "$psql" -X -w -d "$conn user=af_daemon" -c "$write_lease"
# 3. the daemon's password file at its well-known place
attempt pgpass-file env PGPASSFILE="$pgpass" \
    "$psql" -X -w -d "$conn user=af_daemon" -c "$write_lease"
# 4. Airflow's own role (its connection string is in its environment, as it must be)
"$psql" -X -w -d "$AIRFLOW_DB" -c "SELECT 1" >>"$out/log" 2>&1 && echo "own-role connects" >>"$out/res"
attempt own-role-lease "$psql" -X -w -d "$AIRFLOW_DB" -c "$write_lease"
attempt own-role-truncate "$psql" -X -w -d "$AIRFLOW_DB" -c "TRUNCATE airflow_failover.events"
attempt own-role-command "$psql" -X -w -d "$AIRFLOW_DB" -c \
    "INSERT INTO airflow_failover.commands (cluster, kind, requested_by) VALUES ('x', 'terminate', 'dag')"
attempt own-role-fence "$psql" -X -w -d "$AIRFLOW_DB" -c "ALTER ROLE sched_b NOLOGIN"
echo done >>"$out/res"
exec sleep 600
"""


def init_db_for_daemon_role(pg: PgServer, c: Cluster) -> subprocess.CompletedProcess[str]:
    """`init-db --daemon-role af_daemon` as the administrator (superuser), for node-a's config."""
    argv = [str(daemon_binary()), "init-db", "--config", str(c.nodes["node-a"].config)]
    argv += ["--conninfo", pg.conninfo(), "--daemon-role", "af_daemon"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def scram_pg() -> Iterator[PgServer]:
    """A PostgreSQL where every role but postgres logs in with a password (scram)."""
    pg = PgServer()
    pg.init()
    (pg.datadir / "pg_hba.conf").write_text(
        "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    pg.start()
    try:
        pg.psql("CREATE ROLE af_daemon LOGIN PASSWORD 'pw-daemon'")  # no CREATEROLE
        for role in ROLES.values():
            pg.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORDS[role]}'")
        yield pg
    finally:
        pg.destroy()


def can_login(pg: PgServer, role: str) -> bool:
    return pg.psql(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{role}'") == "t"


def test_a_dag_cannot_write_the_lease_with_what_it_finds(scram_pg: PgServer, tmp_path: Path) -> None:
    pg = scram_pg
    out = Path(tempfile.mkdtemp(prefix="af-dag-"))
    out.chmod(0o777)
    pgpass = tmp_path / "pgpass"
    pgpass.write_text("*:*:*:af_daemon:pw-daemon\n")
    pgpass.chmod(0o600)
    daemon_conninfo = f"host=127.0.0.1 port={pg.port} dbname=postgres user=af_daemon"
    c = Cluster(pg, tmp_path / "cluster", size=2, extra={"fencing": {"database_roles": ROLES}})
    for name, node in c.nodes.items():
        cfg = json.loads(node.config.read_text())
        cfg["database"]["conninfo"] = daemon_conninfo
        airflow_db = (
            f"host=127.0.0.1 port={pg.port} dbname=postgres user={ROLES[name]} "
            f"password={PASSWORDS[ROLES[name]]} connect_timeout=5"
        )
        cfg["processes"] = [
            {
                "name": "scheduler",
                "user": "nobody",
                "command": [
                    "/bin/sh",
                    "-c",
                    DAG,
                    "dag",
                    str(out),
                    str(pg.bindir / "psql"),
                    str(pg.port),
                    str(pgpass),
                ],
                "env": {"AIRFLOW_DB": airflow_db},
            }
        ]
        node.config.write_text(json.dumps(cfg))
    c.daemon_env = {**os.environ, "PGPASSFILE": str(pgpass), "PGPASSWORD": "pw-daemon"}
    # The administrator prepares the schema for the daemon's role.
    res = init_db_for_daemon_role(pg, c)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "EXECUTE granted to af_daemon only" in res.stdout
    try:
        c.start(["node-a"])
        deadline_s = 60
        c.wait_for(
            lambda: (out / "res").exists() and "done" in (out / "res").read_text(),
            deadline_s,
            "the DAG's attempts",
        )
        results = (out / "res").read_text().split("\n")
        c.start(["node-b"])
        settle(c, 1)
        lease = pg.psql(
            "SELECT holder || ' ' || term || ' ' || (expires_at = 'infinity') "
            f"FROM airflow_failover.lease WHERE cluster = '{c.name}'"
        )
        logins = (can_login(pg, "sched_a"), can_login(pg, "sched_b"))
        kinds = [e["kind"] for e in c.events()]
    finally:
        c.stop_all()
        log = (out / "log").read_text() if (out / "log").exists() else ""
        shutil.rmtree(out, ignore_errors=True)
    assert "own-role connects" in results, log  # the refusals below are about rights
    attempts = [r for r in results if r.endswith(("WROTE", "refused"))]
    assert len(attempts) == 7, results
    wrote = [r for r in attempts if r.endswith("WROTE")]
    assert wrote == [], f"the DAG wrote with: {wrote}\n{log}"
    assert lease.startswith("node-a ") and lease.endswith(" false"), lease
    # The daemon's role fenced without CREATEROLE: node-b's role may not log in.
    assert logins == (True, False)
    assert "fenced_database" in kinds and "fencing_failed" not in kinds


def test_events_refuse_truncate_even_by_the_owner(scram_pg: PgServer, tmp_path: Path) -> None:
    pg = scram_pg
    c = Cluster(pg, tmp_path / "cluster", size=1)
    res = init_db_for_daemon_role(pg, c)
    assert res.returncode == 0, res.stderr
    # The daemon's role no longer owns events (issue 22): refused by privilege, not by trigger.
    with pytest.raises(RuntimeError, match="append-only|permission denied"):
        pg.psql("SET ROLE af_daemon; TRUNCATE airflow_failover.events")
    with pytest.raises(RuntimeError, match="append-only"):
        pg.psql("TRUNCATE airflow_failover.events")  # even a superuser goes through it


def test_init_db_refuses_a_superuser_or_the_daemons_role_as_airflow_role(
    scram_pg: PgServer, tmp_path: Path
) -> None:
    pg = scram_pg
    for roles, problem in (
        ({"node-a": "postgres"}, "is a superuser"),
        ({"node-a": "af_daemon"}, "is the daemon's own role"),
    ):
        c = Cluster(pg, tmp_path / f"c{len(problem)}", size=1, extra={"fencing": {"database_roles": roles}})
        res = init_db_for_daemon_role(pg, c)
        assert res.returncode != 0 and problem in res.stderr, res.stderr
