"""The chaos run's shared environment: the network namespaces, a real PostgreSQL on its own
"host", the daemon binary snapshot, and what this machine can do (database fencing,
libfaketime). Used by the trials (trial.py) and bench/chaos.py; see docs/chaos.md."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from localcluster.cluster import REPO, daemon_binary
from localcluster.daemon_config import observer
from localcluster.pgserver import PgServer

from .netns import DB_IP, NODE_IPS, PG_PORT, Net

if TYPE_CHECKING:
    from .dbpair import PgPair

ROLES = {node: "chaos_" + node.replace("-", "_") for node in NODE_IPS}
FAKETIME_LIBS = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
]
CLOCK_OFFSET_S = 300  # the offset host's wall clock runs five minutes ahead


def standin_python() -> str:
    """An interpreter with psycopg2: this one, else the repository's venv."""
    for py in (sys.executable, str(REPO / ".venv" / "bin" / "python")):
        if (
            Path(py).exists()
            and subprocess.run([py, "-c", "import psycopg2"], capture_output=True, check=False).returncode
            == 0
        ):
            return py
    raise RuntimeError("no Python with psycopg2: source scripts/lib/python-env.sh; ensure_python_env")


# -- PostgreSQL on the db host ----------------------------------------------------------------
class NsPgServer(PgServer):
    """PgServer started inside the db namespace, listening on its address (10.211.0.10:5432)
    for the scheduler hosts and on a Unix socket in its directory for the harness, which runs
    in the root namespace and so is never cut off by a fault."""

    def __init__(self, net: Net, port: int = PG_PORT) -> None:
        super().__init__(base_dir=str(net.run_dir), port=port)
        self.net = net
        self._as_user: list[str] = net.cmd("db") + list(self._as_user)  # ip netns exec, runuser
        # psql through the Unix socket: the harness is in the root namespace, never cut off.
        self.psql_host = str(self.root)
        self.psql_timeout = 30.0

    def init(self) -> None:
        super().init()
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write(f"listen_addresses = '{DB_IP}'\n")  # the last setting wins
        with open(self.datadir / "pg_hba.conf", "a", encoding="utf-8") as f:
            f.write(f"host all all {DB_IP.rsplit('.', 1)[0]}.0/24 trust\n")

    def conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host={DB_IP} port={self.port} dbname={dbname} user={user}"

    def local_conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host={self.root} port={self.port} dbname={dbname} user={user}"


SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS chaos_writes (
    id        bigserial PRIMARY KEY,
    cluster   text NOT NULL,
    node      text NOT NULL,
    term      bigint NOT NULL,
    pid       integer,
    host_wall double precision,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS chaos_writes_cluster_term ON chaos_writes (cluster, term, at);
"""


def setup_database(pg: NsPgServer) -> None:
    pg.psql(SCHEMA_SQL)
    for role in ROLES.values():
        pg.psql(f"DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        pg.psql(
            f"GRANT INSERT ON chaos_writes TO {role}; GRANT USAGE ON SEQUENCE chaos_writes_id_seq TO {role}"
        )


def reset_roles(pg: NsPgServer) -> None:
    """Database fencing revokes LOGIN from deposed nodes' roles: every new cluster starts with
    all of them able to log in again."""
    pg.psql("; ".join(f"ALTER ROLE {r} LOGIN" for r in ROLES.values()))


# -- feature detection ------------------------------------------------------------------------
def fencing_config() -> dict[str, Any]:
    """The `fencing` section the suite puts in every node's config when the daemon accepts it.
    Override the shape with AF_CHAOS_FENCING_JSON if the implementation chose another one."""
    env = os.environ.get("AF_CHAOS_FENCING_JSON")
    if env:
        return dict(json.loads(env))
    return {"database_roles": dict(ROLES)}


def snapshot_binary(dest: Path) -> Path:
    """A private copy of the daemon for this run: build/ may be rebuilt while the suite runs
    (a half-written binary, or a different one between trials)."""
    src = daemon_binary()
    deadline = time.monotonic() + 60
    while True:
        try:
            shutil.copy2(src, dest)
            res = subprocess.run([str(dest), "--version"], capture_output=True, check=False, timeout=10)
            if res.returncode == 0:
                return dest
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{src} did not run (being rebuilt?)")
        time.sleep(1)


def detect_fencing(workdir: Path, binary: Path) -> tuple[bool, str]:
    """(True, "") when `airflow-failover check-config` accepts the fencing section; otherwise
    (False, why), and the stale-write check only reports instead of asserting."""
    cfg = observer("probe", f"host={DB_IP} dbname=postgres user=postgres")
    cfg.node_id, cfg.fencing = "node-a", fencing_config()
    path = cfg.write(workdir / "fencing-probe.json")
    res = subprocess.run(
        [str(binary), "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if res.returncode == 0:
        return True, ""
    msg = (res.stderr or res.stdout).strip().splitlines()
    return False, (
        "`airflow-failover check-config` refuses the fencing section "
        f"{json.dumps(fencing_config())}: {msg[-1] if msg else res.returncode}"
    )


def detect_faketime(net: Net) -> tuple[str | None, str]:
    """(path of libfaketime, "") when it shifts a process's wall clock here; else (None, why)."""
    lib = next((p for p in FAKETIME_LIBS if Path(p).exists()), None)
    if lib is None:
        return None, "libfaketime is not installed (Debian: apt-get install faketime)"
    env = faketime_env(lib)
    res = subprocess.run(
        net.cmd("node-a", "date", "+%s"),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        skew = int(res.stdout.strip()) - time.time()
    except ValueError:
        return None, f"libfaketime does not work here: {res.stderr.strip()}"
    if abs(skew - CLOCK_OFFSET_S) > 5:
        return None, (f"libfaketime loaded but the clock is off by {skew:.0f} s, not {CLOCK_OFFSET_S} s")
    return lib, ""


def faketime_env(lib: str, offset_s: int = CLOCK_OFFSET_S) -> dict[str, str]:
    # Only the wall clock moves: a host's monotonic and boot clocks have no offset to compare
    # (each host has its own), and the daemon's deadlines run on CLOCK_BOOTTIME.
    return {
        "LD_PRELOAD": lib,
        "FAKETIME": f"+{offset_s}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_NO_CACHE": "1",
    }


# -- the environment one run shares ------------------------------------------------------------
@dataclass
class ChaosEnv:
    net: Net
    pg: NsPgServer
    workdir: Path
    fencing: bool
    fencing_why: str
    faketime: str | None
    faketime_why: str
    python: str
    binary: Path
    pair: PgPair | None = None  # primary + replica for the database-failover faults, made on first use

    def db_pair(self) -> PgPair:
        """The primary and its streaming replica (dbpair.py), made on first use: a run
        without the database-failover faults does not pay for them."""
        if self.pair is None:
            from .dbpair import PgPair

            pair = PgPair(self.net)
            try:
                pair.start()
                setup_database(cast(NsPgServer, pair))
                pair.build_replica()
            except Exception:
                pair.destroy()
                raise
            self.pair = pair
        return self.pair

    @classmethod
    def create(cls) -> ChaosEnv:
        net = Net().up()
        try:
            pg = NsPgServer(net)
            pg.start()
            pg.wait_ready()
            setup_database(pg)
            workdir = net.run_dir / "clusters"
            workdir.mkdir()
            binary = snapshot_binary(net.run_dir / "airflow-failover")
            fencing, fwhy = detect_fencing(workdir, binary)
            if fencing and os.environ.get("AF_CHAOS_FENCING") == "off":
                fencing, fwhy = False, "database fencing turned off (AF_CHAOS_FENCING=off)"
            lib, twhy = detect_faketime(net)
            return cls(net, pg, workdir, fencing, fwhy, lib, twhy, standin_python(), binary)
        except Exception:
            net.down()
            raise

    def close(self) -> None:
        try:
            self.net.heal()
        except Exception as e:  # noqa: BLE001 - the namespaces go anyway
            print(f"chaos: heal before teardown failed: {e}", file=sys.stderr)
        try:
            if self.pair is not None:
                self.pair.destroy()
            self.pg.destroy()
        finally:
            self.net.down()


def ensure_tools() -> str | None:
    for tool in ("runuser", "sh"):
        if not shutil.which(tool):
            return f"`{tool}` is missing"
    return None
