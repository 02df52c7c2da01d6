"""The chaos harness: a real PostgreSQL on its own "host", three scheduler hosts each running
`airflow-failover run` and the writing stand-in, the faults, and the checks after each.

Used by tests/chaos/test_chaos.py (every fault once, strict) and bench/chaos.py (every fault N
times, a table). See docs/chaos.md.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from localcluster.cluster import REPO, Cluster, Node, daemon_binary
from localcluster.pgserver import PgServer

from .netns import (
    DB_IP,
    HB_PORT,
    NODE_IPS,
    PG_PORT,
    Net,
    NetnsUnavailable,
    kill_namespace_processes,
    netns_pids,
)

if TYPE_CHECKING:
    from .dbpair import PgPair

HERE = Path(__file__).resolve().parent
STANDIN = HERE / "standin_writer.py"
ROLES = {node: "chaos_" + node.replace("-", "_") for node in NODE_IPS}
FAKETIME_LIBS = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
]
CLOCK_OFFSET_S = 300  # the offset host's wall clock runs five minutes ahead
DEFAULT_TTL_MS = 3000  # the daemon's lease.ttl_ms default (src/config), for the waits below


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
    cfg = {
        "cluster": "probe",
        "node_id": "node-a",
        "database": {"conninfo": f"host={DB_IP} dbname=postgres user=postgres"},
        "processes": [{"name": "scheduler", "command": ["true"]}],
        "fencing": fencing_config(),
    }
    path = workdir / "fencing-probe.json"
    path.write_text(json.dumps(cfg))
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


# -- the cluster on the namespaces -------------------------------------------------------------
@dataclass
class ChaosCluster(Cluster):
    standin_name: str = STANDIN.name  # the writing stand-in, not scripts/standin-scheduler
    env: ChaosEnv | None = None
    write_ms: int = 5
    faketime_nodes: set[str] = field(default_factory=set)
    # False: no `lease` section, the daemon's defaults; True: ttl_ms only, the other timings
    # derived from it by the daemon's rule (docs/design.md)
    lease_ttl_only: bool = False

    def __post_init__(self) -> None:
        assert self.env is not None
        self.heartbeats = True
        super().__post_init__()
        self.observer = self.workdir / "observer.json"
        self.observer.write_text(
            json.dumps(
                {
                    "cluster": self.name,
                    "node_id": "observer",
                    "database": {"conninfo": self.env.pg.local_conninfo()},
                    "processes": [{"name": "scheduler", "command": ["true"]}],
                }
            )
        )
        self.fifo = self.workdir / "start.fifo"

    def config_for(self, node: Node) -> dict[str, Any]:
        assert self.env is not None
        cfg: dict[str, Any] = {
            "cluster": self.name,
            "node_id": node.name,
            "database": {"conninfo": self.env.pg.conninfo()},
            "processes": [
                {
                    "name": "scheduler",
                    "command": [self.env.python, str(STANDIN)],
                    "env": {
                        "STANDIN_LOG": str(self.standin_log),
                        "STANDIN_TICK_MS": str(self.tick_ms),
                        "STANDIN_LOCK": str(self.lock_file),
                        "STANDIN_DB": self.env.pg.conninfo(user=ROLES[node.name]),
                        "STANDIN_CLUSTER": self.name,
                        "STANDIN_WRITE_MS": str(self.write_ms),
                        "LD_PRELOAD": "",  # the stand-in's records use the real clocks
                    },
                    "stop_timeout_ms": self.stop_timeout_ms,
                }
            ],
            "supervision": {
                "restart_backoff_initial_ms": 200,
                "crash_loop_limit": 3,
                "crash_loop_window_ms": 30000,
            },
            "heartbeat": {
                "listen": f"{NODE_IPS[node.name]}:{HB_PORT}",
                "peers": {n: f"{ip}:{HB_PORT}" for n, ip in NODE_IPS.items() if n != node.name},
                "interval_ms": 200,
                "secret_file": str(self.secret_file),
            },
            "log": {"level": "info"},
        }
        if self.lease_ttl_only:
            cfg["lease"] = {"ttl_ms": self.ttl_ms}
        if self.env.fencing:
            cfg["fencing"] = fencing_config()
        cfg.update(self.extra)
        return cfg

    # -- processes ------------------------------------------------------------------------------
    def start(  # type: ignore[override]
        self,
        names: list[str] | None = None,
        barrier: bool = False,
        faketime: set[str] | None = None,
    ) -> float | None:
        """Starts the daemons in their hosts' namespaces. With barrier, every daemon first
        blocks opening a FIFO; opening it for writing releases them all in the same instant.
        Returns that instant (CLOCK_MONOTONIC) with barrier, else None."""
        assert self.env is not None
        names = names or list(self.nodes)
        if barrier:
            if self.fifo.exists():
                self.fifo.unlink()
            os.mkfifo(self.fifo)
        for name in names:
            node = self.nodes[name]
            argv = [str(self.env.binary), "run", "--config", str(node.config)]
            if barrier:
                argv = ["sh", "-c", 'read _ < "$0"; exec "$@"', str(self.fifo), *argv]
            env = dict(os.environ)
            if faketime and name in faketime:
                assert self.env.faketime, self.env.faketime_why
                env.update(faketime_env(self.env.faketime))
                self.faketime_nodes.add(name)
            else:
                self.faketime_nodes.discard(name)
            with open(node.log, "ab") as log:
                node.proc = subprocess.Popen(
                    self.env.net.cmd(name, *argv),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=env,
                )
        if not barrier:
            return None

        # wait until every shell sits in open() of the FIFO, then release them together
        def parked(name: str) -> bool:
            proc = self.nodes[name].proc
            assert proc is not None
            try:
                return Path(f"/proc/{proc.pid}/wchan").read_text().strip() == "wait_for_partner"
            except OSError:
                return False

        self.wait_for(lambda: all(parked(n) for n in names), 15, "the daemons at the barrier")
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        t0 = time.monotonic()
        os.close(fd)
        return t0

    def host_pids(self, name: str) -> list[int]:
        assert self.env is not None
        return netns_pids(self.env.net.hosts[name])

    def stop_all(self) -> None:
        assert self.env is not None
        for name in self.nodes:  # a frozen host first thaws, so it can stop cleanly
            for pid in self.host_pids(name):
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        super().stop_all()
        for name in self.nodes:  # guards and stand-ins of daemons that were killed
            kill_namespace_processes(self.env.net.hosts[name], grace=3)

    # -- state ----------------------------------------------------------------------------------
    def cli(self, *args: str, node: str = "observer") -> subprocess.CompletedProcess[str]:
        """Runs the CLI in the root namespace through the Unix socket: never partitioned."""
        assert self.env is not None
        return subprocess.run(
            [str(self.env.binary), *args, "--config", str(self.observer)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def status(self) -> dict[str, Any]:
        res = self.cli("status", "--json")
        try:
            return dict(json.loads(res.stdout))
        except json.JSONDecodeError:
            return {"active": None, "term": None, "nodes": [], "error": res.stderr.strip()}

    def events_since(self, first_id: int) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["id"] > first_id]

    def last_event_id(self) -> int:
        ev = self.events()
        return int(ev[-1]["id"]) if ev else 0

    def roles(self) -> dict[str, str]:
        return {n["node_id"]: n["role"] for n in self.status().get("nodes", [])}

    def next_start(self, t0: float, other_than: str | None = None) -> float | None:
        for inst in self.instances():
            if inst.start > t0 and inst.node != other_than:
                return inst.start
        return None

    def watch(self, seconds: float) -> int:
        """Lets the cluster run; returns how many samples saw two stand-ins alive at once."""
        bad = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if len(self.live_instances()) > 1:
                bad += 1
            time.sleep(0.05)
        return bad

    def stale_writes(self) -> tuple[int, list[str]]:
        """Rows written in term T after the first row of any newer term, by the database clock
        (chaos_writes.at = clock_timestamp() of the INSERT)."""
        assert self.env is not None
        out = self.env.pg.psql(f"""
            WITH f AS (SELECT term, min(at) AS first FROM chaos_writes
                        WHERE cluster = '{self.name}' GROUP BY term),
                 w AS (SELECT c.node, c.term, c.at,
                              (SELECT min(first) FROM f WHERE f.term > c.term) AS newer
                         FROM chaos_writes c WHERE c.cluster = '{self.name}')
            SELECT node, term, count(*),
                   round(extract(epoch FROM max(at) - min(newer)) * 1000)
              FROM w WHERE newer IS NOT NULL AND at > newer GROUP BY node, term ORDER BY term""")
        total, detail = 0, []
        for line in out.splitlines():
            node, term, n, late = line.split("|")
            total += int(n)
            detail.append(
                f"{n} rows by {node} in term {term}, the last {late} ms after a newer term's first row"
            )
        return total, detail

    def write_counts(self) -> dict[int, int]:
        assert self.env is not None
        out = self.env.pg.psql(
            f"SELECT term, count(*) FROM chaos_writes WHERE cluster = "
            f"'{self.name}' GROUP BY term ORDER BY term"
        )
        return {int(t): int(n) for t, n in (ln.split("|") for ln in out.splitlines())}


# -- one trial ----------------------------------------------------------------------------------
@dataclass
class Trial:
    fault: str
    failover_s: float | None = None  # fault -> next scheduler start (None: none due)
    overlap: bool = False
    stale_writes: int = 0
    false_failover: bool = False
    converged: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0
    restarts: int = 0  # schedulers restarted in place (same node, same term) with none due
    freezes: int = 0  # late renewals that froze the scheduler (a pause, not a restart)
    frozen_pids: set[int] = field(default_factory=set)  # stand-ins of a frozen host
    t_resume: float = 0.0  # when the frozen host was continued
    woke_ms: float | None = None  # how long a deposed, frozen stand-in ran after waking


class Skip(Exception):
    """The fault cannot be made on this machine (the message says why)."""


FaultFn = Callable[[ChaosCluster, str, Trial, "Options"], None]


@dataclass
class Options:
    netem_seconds: float = 30.0
    udp_cut_seconds: float = 8.0
    hold_after_takeover: float = 1.0
    ttl_ms: int | None = None  # None: the daemon's defaults; else ttl_ms, the rest derived
    replication_cut_s: float = 3.0  # db_lost_renewals: replication cut this long before the loss
    replica_ahead_s: int = 3  # db_clock_ahead: the promoted server's clock runs this far ahead


def _takeover(c: ChaosCluster, t: Trial, t0: float, old: str, timeout: float = 30) -> None:
    start = c.wait_for(
        lambda: c.next_start(t0, other_than=old), timeout, f"a scheduler on a node other than {old}"
    )
    t.failover_s = float(start) - t0


def fault_kill9(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """kill -9 of the active daemon: its guard stops the scheduler and releases the lease."""
    t0 = time.monotonic()
    c.signal(active, signal.SIGKILL)
    _takeover(c, t, t0, active)
    c.nodes[active].proc.wait(timeout=10)  # type: ignore[union-attr]
    c.wait_for(lambda: not c.host_pids(active), 15, f"{active}'s guard and stand-in to go")
    c.start([active])  # the host comes back: it must join as a standby


def fault_sigstop(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """Every process of the active host (daemon, guard, stand-in) stopped for longer than the
    TTL, then continued: the stand-in first, the daemon last (the worst order)."""
    pids = c.host_pids(active)
    standins = {i.pid for i in c.live_instances() if i.node == active}
    t.frozen_pids = standins
    t0 = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        _takeover(c, t, t0, active)
        rest = max(0.0, t0 + 2 * c.ttl_ms / 1000 - time.monotonic())
        time.sleep(max(rest, o.hold_after_takeover))
    finally:
        daemon = c.nodes[active].proc.pid  # type: ignore[union-attr]
        order = sorted(pids, key=lambda p: (p not in standins, p == daemon))
        t.t_resume = time.monotonic()
        for pid in order:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    c.wait_for(
        lambda: not [i for i in c.live_instances() if i.node == active],
        10,
        f"{active}'s stand-in to be killed after it woke",
    )


def fault_db_cut(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """The active host loses PostgreSQL only (tcp/5432 dropped both ways); UDP heartbeats
    still flow. It must fence itself; a standby takes the lease once it expires."""
    assert c.env is not None
    t0 = time.monotonic()
    c.env.net.cut_from_db(active)
    _takeover(c, t, t0, active)
    time.sleep(o.hold_after_takeover)
    c.env.net.flush_rules(active)


def fault_udp_cut(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """UDP between the scheduler hosts dropped: nobody hears anybody. The database still
    decides: no failover is due and none may happen."""
    assert c.env is not None
    c.env.net.cut_udp_between_nodes()
    try:
        bad = c.watch(o.udp_cut_seconds)
        if bad:
            t.problems.append(f"two stand-ins alive in {bad} samples during the UDP cut")
    finally:
        for node in NODE_IPS:
            c.env.net.flush_rules(node)


def fault_host_cut(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """Every packet in or out of the active host dropped: it fences itself when renewals stop
    succeeding; the others take over when the lease expires on the database clock."""
    assert c.env is not None
    t0 = time.monotonic()
    c.env.net.isolate(active)
    _takeover(c, t, t0, active)
    time.sleep(o.hold_after_takeover)
    c.env.net.flush_rules(active)


def fault_netem(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """5 % loss and 100 ms ± 100 ms delay on every link (each host's egress): no failover."""
    assert c.env is not None
    try:
        kind = c.env.net.impair(loss_pct=5, delay_ms=100, jitter_ms=100)
    except NetnsUnavailable as e:
        raise Skip(str(e)) from e
    t.notes.append(
        "impaired by tc netem"
        if kind == "netem"
        else "impaired by the NFQUEUE delayer (this kernel has no netem)"
    )
    try:
        bad = c.watch(o.netem_seconds)
        if bad:
            t.problems.append(f"two stand-ins alive in {bad} samples under loss and jitter")
    finally:
        stats = c.env.net.unimpair()
    if kind == "nfqueue":
        pk = sum(s.get("packets", 0) for s in stats.values())
        dr = sum(s.get("dropped", 0) for s in stats.values())
        t.notes.append(f"{pk} packets impaired, {dr} dropped")
        if len(stats) < len(c.env.net.hosts) or pk == 0:
            t.problems.append(f"the delayer did not impair every host: {stats}")


def fault_pg_restart(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """PostgreSQL stopped (fast: sessions cut), down for 2 s, started. Timed from when it is
    back up to the next scheduler start (0 if the active kept its scheduler through it)."""
    assert c.env is not None
    before = {i.pid for i in c.live_instances()}
    c.env.pg.stop()
    time.sleep(2)
    c.env.pg.start()
    t_up = time.monotonic()
    c.wait_for(lambda: c.live_instances(), 30, "a scheduler after the restart")
    if {i.pid for i in c.live_instances()} & before:
        t.failover_s = 0.0
        t.notes.append("the active kept the lease through the restart")
    else:
        start = c.next_start(t_up - 3)  # a start just before pg_ctl returned counts as 0
        t.failover_s = max(0.0, float(start or t_up) - t_up)


def fault_clock(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """One host's wall clock five minutes ahead (libfaketime on its daemon and guard): it
    must neither take a live lease nor lose one; it takes over normally when due."""
    assert c.env is not None
    if not c.env.faketime:
        raise Skip(c.env.faketime_why)
    skewed, other = [n for n in sorted(c.nodes) if n != active]
    for n in (skewed, other):  # restart one standby skewed, stop the other
        c.signal(n, signal.SIGTERM)
        c.wait_exit(n)
    c.start([skewed], faketime={skewed})
    first = c.last_event_id()
    c.wait_for(lambda: c.roles().get(skewed) == "standby", 15, f"{skewed} back as standby")
    c.watch(2 * c.ttl_ms / 1000)
    won = [e for e in c.events_since(first) if e["kind"] == "became_active"]
    if won:
        t.false_failover = True
        t.problems.append(f"the skewed host took a live lease: {won}")
    t0 = time.monotonic()
    c.signal(active, signal.SIGKILL)  # the skewed host is the only standby left
    _takeover(c, t, t0, active)
    c.nodes[active].proc.wait(timeout=10)  # type: ignore[union-attr]
    c.wait_for(lambda: not c.host_pids(active), 15, f"{active}'s guard and stand-in to go")
    if c.active() != skewed:
        t.problems.append(f"expected the skewed host {skewed} to take over, got {c.active()}")
    c.start([other, active])
    term = c.status().get("term")
    c.watch(2 * c.ttl_ms / 1000)  # it must keep renewing with its clock ahead
    if c.status().get("term") != term or c.active() != skewed:
        t.problems.append("the skewed host lost its lease without a fault")


def _db_failover(c: ChaosCluster, t: Trial, cut_s: float, active: str | None = None) -> None:
    """The primary lost (every process killed) and the replica promoted at once; after
    `cut_s` s of cut replication when > 0. Timed from the moment the new primary accepts writes
    to the next scheduler start (0: the active rode the failover out, its scheduler untouched).
    The overlap check afterwards is the point: a standby must not take the lease while the old
    holder's deadline, counted from renewals the new primary never saw, has not passed. With
    `active`, that host loses both database servers at the instant the primary dies (a rack
    lost together with it) and gets them back 2 x TTL later: it cannot renew on the new
    primary, so only its own deadline stops its scheduler."""
    assert c.env is not None
    pair = cast("PgPair", c.env.pg)
    before = {i.pid for i in c.live_instances()}
    if cut_s > 0:
        pair.cut_replication()
        time.sleep(cut_s)
    if active:
        for port in (pair.primary.port, pair.replica.port):
            for rule in (("OUTPUT", "-d", DB_IP, "--dport"), ("INPUT", "-s", DB_IP, "--sport")):
                c.env.net.iptables(active, "-A", rule[0], "-p", "tcp", *rule[1:], str(port), "-j", "DROP")
    t_up = pair.fail_over()
    if active:
        time.sleep(2 * c.ttl_ms / 1000)
        c.env.net.flush_rules(active)
    c.wait_for(lambda: c.live_instances(), 30, "a scheduler after the database failover")
    c.watch(3 * c.ttl_ms / 1000)  # past every deadline the failover could leave standing
    if {i.pid for i in c.live_instances()} & before:
        t.failover_s = 0.0
        t.notes.append("the active kept its scheduler through the database failover")
    else:
        start = c.next_start(t_up - 30)
        later = [i.start for i in c.instances() if i.start > t_up - 30 and i.pid not in before]
        start = min(later) if later else start
        t.failover_s = max(0.0, float(start or t_up) - t_up)


def fault_db_lost_renewals(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """Replication cut, then the primary lost and the asynchronous replica promoted at once:
    the new primary has not seen the last renewals."""
    _db_failover(c, t, o.replication_cut_s)


def fault_db_lost_with_active(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """As db_lost_renewals, and the active host loses both database servers with the primary."""
    _db_failover(c, t, o.replication_cut_s, active)


def fault_db_clock_ahead(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """The primary lost, the replica (replication kept) promoted; its clock runs ahead."""
    _db_failover(c, t, 0.0)


def fault_simultaneous(c: ChaosCluster, active: str, t: Trial, o: Options) -> None:
    """All daemons stopped, then all started in the same instant (a FIFO barrier): exactly one
    wins, once. Timed from the release to the first scheduler start."""
    c.stop_all()
    first = c.last_event_id()
    t0 = c.start(barrier=True)
    assert t0 is not None
    start = c.wait_for(lambda: c.next_start(t0), 30, "a scheduler after the simultaneous start")
    t.failover_s = float(start) - t0
    c.watch(2)
    won = [e for e in c.events_since(first) if e["kind"] == "became_active"]
    if len(won) != 1:
        t.problems.append(f"{len(won)} nodes won after the simultaneous start: {won}")


@dataclass
class Fault:
    key: str
    label: str
    fn: FaultFn
    failover_due: bool  # the active must change
    baseline: str  # the original design's figure for this fault
    db_pair: bool = False  # runs on the primary + replica (dbpair.py), not the single server
    replica_clock: bool = False  # the replica's postmaster runs with its clock ahead


BASE_S = "12.5 s / 15.0 s"  # 10 s of silence + a 5 s poll phase: median / worst (analytic)
FAULTS: dict[str, Fault] = {
    f.key: f
    for f in [
        Fault("kill9", "kill -9 of the active daemon", fault_kill9, True, BASE_S),
        Fault("sigstop", "SIGSTOP of the active host > TTL, then SIGCONT", fault_sigstop, True, BASE_S),
        Fault(
            "db_cut",
            "active host cut from PostgreSQL only",
            fault_db_cut,
            True,
            "never (heartbeats still flow): no working scheduler until healed",
        ),
        Fault(
            "udp_cut",
            "UDP between scheduler hosts cut",
            fault_udp_cut,
            False,
            "false failover after 12.5 s / 15.0 s, then two schedulers",
        ),
        Fault("host_cut", "active host cut off (all traffic)", fault_host_cut, True, BASE_S),
        Fault(
            "netem",
            "5 % loss, 100 ms jitter on every link",
            fault_netem,
            False,
            "none (10 s of total silence is needed)",
        ),
        Fault(
            "pg_restart",
            "PostgreSQL restarted (2 s down)",
            fault_pg_restart,
            False,
            "not affected (no database lease)",
        ),
        Fault("clock", "one host's wall clock +5 min", fault_clock, True, BASE_S),
        Fault(
            "simultaneous",
            "all daemons started at the same instant",
            fault_simultaneous,
            False,
            "n/a (static roles)",
        ),
        Fault(
            "db_lost_renewals",
            "primary lost, async replica promoted after missing the last renewals (3 s cut)",
            fault_db_lost_renewals,
            False,
            "two schedulers (issue 21: 5 of 5 at ttl 3000, 1 of 3 at 1300)",
            db_pair=True,
        ),
        Fault(
            "db_lost_with_active",
            "as db_lost_renewals, and the active host cut from both database servers for 2 x TTL",
            fault_db_lost_with_active,
            False,
            "two schedulers until the old active's deadline",
            db_pair=True,
        ),
        Fault(
            "db_clock_ahead",
            "primary lost, replica promoted whose clock runs 3 s ahead",
            fault_db_clock_ahead,
            False,
            "two schedulers (issue 21: 3 of 7 at ttl 1300)",
            db_pair=True,
            replica_clock=True,
        ),
    ]
}

DB_FAILOVER_FAULTS = [k for k, f in FAULTS.items() if f.db_pair]


def run_trial(env: ChaosEnv, key: str, opts: Options | None = None) -> Trial:
    """One fault on a fresh cluster (fresh cluster name, records and lock file; the same
    namespaces and PostgreSQL), then every check. Never raises for a broken guarantee: the
    problems are in Trial.problems (the pytest suite asserts there are none)."""
    opts = opts or Options()
    fault = FAULTS[key]
    t = Trial(key)
    began = time.monotonic()
    if fault.db_pair:
        if fault.replica_clock and not env.faketime:
            t.skipped = env.faketime_why
            return t
        pair = env.db_pair()
        pair.prepare(
            faketime_env(env.faketime, opts.replica_ahead_s) if fault.replica_clock and env.faketime else None
        )
        # the pair stands in for the single server everywhere the trial uses one (it has the
        # same face: conninfo listing both hosts, psql on the current primary)
        env = dataclasses.replace(env, pg=cast(NsPgServer, pair))
    reset_roles(env.pg)
    c = new_cluster(env, key, opts)
    try:
        c.start()
        active = c.wait_active(timeout=30)
        c.watch(1.0)  # let the stand-in write a while
        first = c.last_event_id()
        term0 = c.status().get("term")
        t_fault = time.monotonic()
        try:
            fault.fn(c, active, t, opts)
        except Skip as e:
            t.skipped = str(e)
            return t
        except AssertionError as e:
            t.problems.append(f"{e}")
        env.net.heal()
        # convergence: exactly one stand-in alive, on the node the lease names
        try:
            now = c.wait_active(timeout=30)
            c.watch(2.0)
            t.converged = c.active() == now and len(c.live_instances()) == 1
            if not t.converged:
                t.problems.append("the cluster did not settle on one active")
        except AssertionError as e:
            t.problems.append(f"did not converge to one active: {str(e).splitlines()[0]}")
        # false failover: a new term or another active although none was due. A scheduler
        # restarted in place (same node, same term: the active began a graceful stop while a
        # renewal was late, then the renewal came) is counted apart, as `restarts`.
        if not fault.failover_due and key not in ("simultaneous", "pg_restart") and not fault.db_pair:
            won = [e for e in c.events_since(first) if e["kind"] == "became_active"]
            term1 = c.status().get("term")
            later = [i for i in c.instances() if i.start > t_fault]
            moved = [i for i in later if i.node != active or i.term != term0]
            t.restarts = len(later) - len(moved)
            t.freezes = sum(1 for e in c.events_since(first) if e["kind"] == "processes_frozen")
            if won or moved or term1 != term0:
                t.false_failover = True
                t.problems.append(
                    f"false failover: term {term0} -> {term1}, won {[(e['node_id'], e['term']) for e in won]}"
                )
            if t.restarts:
                t.notes.append(
                    f"{t.restarts} needless scheduler restart(s) in place on {active} "
                    f"(term {term0} kept): no renewal confirmed before the local deadline"
                )
        if key == "pg_restart" and t.failover_s == 0.0 and c.status().get("term") != term0:
            t.notes.append("the term changed although the scheduler was not interrupted")
        check_overlap(c, t)
        try:
            c.assert_terms_grow()
        except AssertionError as e:
            t.problems.append(f"terms: {str(e).splitlines()[0]}")
        if env.fencing and t.converged:
            check_fenced_roles(c, t)
        t.stale_writes, detail = c.stale_writes()
        if t.stale_writes:
            if env.fencing:
                t.problems.append("stale writes with database fencing on: " + "; ".join(detail))
            else:
                t.notes.append("stale writes (database fencing not available): " + "; ".join(detail))
        if not c.write_counts():
            t.problems.append("the stand-ins wrote no rows at all")
        if t.problems:
            t.notes.append(c.diagnose())
        return t
    finally:
        try:
            env.net.heal()
        finally:
            c.stop_all()
            t.seconds = time.monotonic() - began


def new_cluster(env: ChaosEnv, label: str, opts: Options) -> ChaosCluster:
    return ChaosCluster(
        env.pg,
        env.workdir / f"{label}-{uuid.uuid4().hex[:6]}",
        env=env,
        ttl_ms=opts.ttl_ms or DEFAULT_TTL_MS,
        lease_ttl_only=opts.ttl_ms is not None,
    )


def statements_at_rest(env: ChaosEnv, opts: Options, seconds: float = 30.0) -> dict[str, float]:
    """Database statements per second of each node of a healthy cluster at rest (no fault),
    from the daemons' own counters (nodes.counters.db_statements, published with the node row)
    over `seconds`. Keys: the node ids, with the active's marked " (active)"."""
    reset_roles(env.pg)
    c = new_cluster(env, "rest", opts)
    try:
        c.start()
        active = c.wait_active(timeout=30)
        time.sleep(5)  # past the start-up statements (migrations, registration, fencing)

        def counts() -> dict[str, int]:
            return {
                n["node_id"]: int((n.get("counters") or {}).get("db_statements", 0))
                for n in c.status().get("nodes", [])
            }

        a, t_a = counts(), time.monotonic()
        time.sleep(seconds)
        b, t_b = counts(), time.monotonic()
        # the counters are published with the node row (every status_interval): the span is
        # the sampling one, good to about a second in `seconds`
        return {
            (n + " (active)" if n == active else n): (b[n] - a.get(n, 0)) / (t_b - t_a) for n in sorted(b)
        }
    finally:
        c.stop_all()


def check_fenced_roles(c: ChaosCluster, t: Trial) -> None:
    """With database fencing, only the active node's role may log in, and a deposed node's
    role is refused at login (what its stale scheduler would hit on reconnecting)."""
    assert c.env is not None
    active = c.active()
    out = c.env.pg.psql(
        "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ("
        + ", ".join(f"'{r}'" for r in ROLES.values())
        + ")"
    )
    can = {name: flag == "t" for name, flag in (ln.split("|") for ln in out.splitlines())}
    want = {ROLES[n]: n == active for n in ROLES}
    if can != want:
        t.problems.append(f"fencing: roles that may log in {can}, expected {want}")
        return
    deposed = next(r for n, r in ROLES.items() if n != active)
    res = subprocess.run(
        [
            str(c.env.pg.bindir / "psql"),
            "-X",
            "-h",
            str(c.env.pg.root),
            "-p",
            str(c.env.pg.port),
            "-U",
            deposed,
            "-d",
            "postgres",
            "-c",
            f"INSERT INTO chaos_writes (cluster, node, term) VALUES ('{c.name}-probe', 'x', 0)",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if res.returncode == 0 or "not permitted to log in" not in res.stderr:
        t.problems.append(
            f"fencing: a write as deposed role {deposed} was not refused at "
            f"login: rc {res.returncode} {res.stderr.strip()}"
        )


def check_overlap(c: ChaosCluster, t: Trial) -> None:
    """Never two schedulers alive at once, exactly (the flock) and from the records, as
    Cluster.assert_no_overlap. One exception, by definition of the fault: a stand-in of a
    *frozen* host is alive (stopped) while its successor starts, and nothing can kill a process
    on a frozen host. For it the check is instead: it ran at most 1 s after the host was
    continued (the guard and the daemon kill it on waking), and that time is reported; what it
    could write in that instant is what the stale-write check and database fencing are for."""
    lives = c.instances()
    for r in (r for r in c.records() if r["ev"] == "overlap"):
        # a frozen stand-in leaves no record while frozen: it lived at least until the thaw
        holders = {
            i.pid
            for i in lives
            if i.pid != r["pid"]
            and i.start <= r["mono"] <= (max(i.end, t.t_resume) if i.pid in t.frozen_pids else i.end)
        }
        if not holders or not holders <= t.frozen_pids:
            t.overlap = True
            t.problems.append(
                f"two schedulers alive at once: {r['node']} (term {r['term']}) "
                f"found the lock taken at {r['mono']:.3f}"
            )
    awake = [i for i in lives if i.pid not in t.frozen_pids]
    for a, b in itertools.pairwise(awake):
        if b.start <= a.end:
            t.overlap = True
            t.problems.append(
                f"{b.node} (term {b.term}) started at {b.start:.3f} before "
                f"{a.node} (term {a.term}) ended at {a.end:.3f}"
            )
    for i in (i for i in lives if i.pid in t.frozen_pids):
        t.woke_ms = max(0.0, (i.end - t.t_resume) * 1000) if t.t_resume else None
        if t.woke_ms is not None and t.woke_ms > 1000:
            t.overlap = True
            t.problems.append(f"the frozen host's stand-in ran {t.woke_ms:.0f} ms after waking")
        if t.woke_ms is not None:
            t.notes.append(
                f"the frozen host's stand-in ran {t.woke_ms:.1f} ms after waking "
                "(it was alive, stopped, while its successor started)"
            )


def summarize(trials: list[Trial]) -> dict[str, Any]:
    times = [t.failover_s for t in trials if t.failover_s is not None]
    return {
        "trials": len(trials),
        "median": statistics.median(times) if times else None,
        "worst": max(times) if times else None,
        "overlap": sum(t.overlap for t in trials),
        "stale": sum(t.stale_writes for t in trials),
        "stale_trials": sum(1 for t in trials if t.stale_writes),
        "false": sum(t.false_failover for t in trials),
        "restarts": sum(t.restarts for t in trials),
        "freezes": sum(t.freezes for t in trials),
        "woke_ms": max((t.woke_ms for t in trials if t.woke_ms is not None), default=None),
        "problems": sum(1 for t in trials if t.problems),
    }


def ensure_tools() -> str | None:
    for tool in ("runuser", "sh"):
        if not shutil.which(tool):
            return f"`{tool}` is missing"
    return None
