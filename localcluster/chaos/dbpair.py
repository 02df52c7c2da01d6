"""A PostgreSQL primary and its asynchronous streaming replica on the chaos suite's db host, for
the database-failover faults (issue 21, docs/chaos.md).

Both servers live in the db namespace on their own ports (PAIR_PORTS) and data directories; the
replica streams from the primary over TCP on the db address, so one iptables rule in the db
namespace cuts replication without touching the scheduler hosts' connections. The daemons and
stand-ins list both servers with target_session_attrs=read-write, as docs/operations.md tells a
user with a replica to do. After a failover the lost server is rebuilt as a replica of the new
primary (pg_basebackup -R), so the pair is ready for the next trial; the two swap roles.

The pair duck-types the single NsPgServer where the harness uses one (conninfo, psql, root,
port of the current primary), so the chaos cluster runs on it unchanged.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from .env import NsPgServer
from .netns import DB_IP, PG_PORT, Net

PAIR_PORTS = (PG_PORT + 1, PG_PORT + 2)


class PgPair:
    def __init__(self, net: Net) -> None:
        self.net = net
        self.primary = NsPgServer(net, port=PAIR_PORTS[0])
        self.replica = NsPgServer(net, port=PAIR_PORTS[1])
        self.bindir = self.primary.bindir

    # -- the NsPgServer face (always the current primary) --------------------------------------
    @property
    def root(self) -> Path:
        return self.primary.root

    @property
    def port(self) -> int:
        return int(self.primary.port)

    def conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        hosts = ",".join(DB_IP for _ in PAIR_PORTS)
        ports = ",".join(str(p) for p in PAIR_PORTS)
        return f"host={hosts} port={ports} dbname={dbname} user={user} target_session_attrs=read-write"

    def local_conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        servers = sorted((self.primary, self.replica), key=lambda s: int(s.port))
        hosts = ",".join(str(s.root) for s in servers)
        ports = ",".join(str(s.port) for s in servers)
        return f"host={hosts} port={ports} dbname={dbname} user={user} target_session_attrs=read-write"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        return str(self.primary.psql(sql, dbname))

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> PgPair:
        self.primary.init()
        with open(self.primary.datadir / "pg_hba.conf", "a", encoding="utf-8") as f:
            f.write(f"host replication all {DB_IP}/32 trust\n")
        self.primary.start()
        self.primary.wait_ready()
        return self

    def build_replica(self, env: dict[str, str] | None = None) -> None:
        """(Re)makes the replica from the current primary, started with `env` (libfaketime for
        a clock fault), and waits until it streams."""
        r = self.replica
        try:
            r.stop("immediate")
        except RuntimeError:
            r.kill9()
        shutil.rmtree(r.datadir, ignore_errors=True)
        r.init_replica_of(self.primary, host=DB_IP)
        r.env = dict(env or {})
        r.start()
        self.wait_streaming()

    def wait_streaming(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.primary.psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1":
                return
            time.sleep(0.1)
        raise TimeoutError("the replica did not start streaming")

    def prepare(self, replica_env: dict[str, str] | None = None) -> None:
        """Before a trial: a primary with the real clock, a streaming replica started with
        `replica_env`. Restarts or rebuilds only what differs."""
        want = dict(replica_env or {})
        if self.primary.env:
            self.primary.stop("fast")
            self.primary.env = {}
            self.primary.start()
            self.primary.wait_ready()
        if not self.replica.running() or self.replica.env != want:
            self.build_replica(want)
        else:
            self.wait_streaming()

    def cut_replication(self) -> None:
        """Silently drops the replication stream in both directions (the replica keeps its
        connection and hears nothing, as behind a failed link)."""
        port = str(self.primary.port)
        self.net.iptables(
            "db", "-A", "INPUT", "-p", "tcp", "-s", DB_IP, "-d", DB_IP, "--dport", port, "-j", "DROP"
        )
        self.net.iptables(
            "db", "-A", "INPUT", "-p", "tcp", "-s", DB_IP, "-d", DB_IP, "--sport", port, "-j", "DROP"
        )

    def fail_over(self) -> float:
        """Every process of the primary killed, the replica promoted at once. Returns the
        instant (CLOCK_MONOTONIC) the new primary accepts writes; the two swap roles, and the
        dead one is left for prepare() to rebuild."""
        self.primary.kill9()
        self.replica.promote()
        self.replica.psql("CREATE TEMP TABLE written AS SELECT 1")  # accepts writes
        t_up = time.monotonic()
        self.net.flush_rules("db")
        self.primary, self.replica = self.replica, self.primary
        return t_up

    def destroy(self) -> None:
        for s in (self.primary, self.replica):
            s.destroy()
