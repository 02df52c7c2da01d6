"""The chaos faults, one function each, and their catalogue (FAULTS). A fault acts on a running
cluster and fills the trial's record (Trial): the failover time, what it saw. The primitives on
processes and the database come from localcluster.faults; the network ones from netns.py."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from localcluster import faults as prim
from localcluster.cluster import DaemonCluster
from localcluster.procs import signal_all

from .env import ChaosEnv, faketime_env
from .netns import DB_IP, NODE_IPS, NetnsUnavailable

if TYPE_CHECKING:
    from .dbpair import PgPair


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


FaultFn = Callable[[ChaosEnv, DaemonCluster, str, Trial, "Options"], None]


@dataclass
class Options:
    netem_seconds: float = 30.0
    udp_cut_seconds: float = 8.0
    hold_after_takeover: float = 1.0
    ttl_ms: int | None = None  # None: the daemon's defaults; else ttl_ms, the rest derived
    replication_cut_s: float = 3.0  # db_lost_renewals: replication cut this long before the loss
    replica_ahead_s: int = 3  # db_clock_ahead: the promoted server's clock runs this far ahead


def _takeover(c: DaemonCluster, t: Trial, t0: float, old: str, timeout: float = 30) -> None:
    start = c.wait_for(
        lambda: c.next_start(t0, other_than=old), timeout, f"a scheduler on a node other than {old}"
    )
    t.failover_s = float(start) - t0


def fault_kill9(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """kill -9 of the active daemon: its guard stops the scheduler and releases the lease."""
    t0 = prim.kill9(c, active)
    _takeover(c, t, t0, active)
    c.daemon_proc(active).wait(timeout=10)
    c.wait_for(lambda: not c.host_pids(active), 15, f"{active}'s guard and stand-in to go")
    c.start([active])  # the host comes back: it must join as a standby


def fault_sigstop(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """Every process of the active host (daemon, guard, stand-in) stopped for longer than the
    TTL, then continued: the stand-in first, the daemon last (the worst order)."""
    pids = c.host_pids(active)
    standins = {i.pid for i in c.live_instances() if i.node == active}
    t.frozen_pids = standins
    t0 = prim.freeze(pids)
    try:
        _takeover(c, t, t0, active)
        rest = max(0.0, t0 + 2 * c.ttl_ms / 1000 - time.monotonic())
        time.sleep(max(rest, o.hold_after_takeover))
    finally:
        daemon = c.daemon_proc(active).pid
        order = sorted(pids, key=lambda p: (p not in standins, p == daemon))
        t.t_resume = signal_all(order, signal.SIGCONT)
    c.wait_for(
        lambda: not [i for i in c.live_instances() if i.node == active],
        10,
        f"{active}'s stand-in to be killed after it woke",
    )


def _cut_off(
    env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options, cut: Callable[[str], None]
) -> None:
    """``cut`` the active host's traffic, time the takeover, hold a while, then heal the host."""
    t0 = time.monotonic()
    cut(active)
    _takeover(c, t, t0, active)
    time.sleep(o.hold_after_takeover)
    env.net.flush_rules(active)


def fault_db_cut(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """The active host loses PostgreSQL only (tcp/5432 dropped both ways); UDP heartbeats
    still flow. It must fence itself; a standby takes the lease once it expires."""
    _cut_off(env, c, active, t, o, env.net.cut_from_db)


def fault_udp_cut(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """UDP between the scheduler hosts dropped: nobody hears anybody. The database still
    decides: no failover is due and none may happen."""
    env.net.cut_udp_between_nodes()
    try:
        bad = c.watch(o.udp_cut_seconds)
        if bad:
            t.problems.append(f"two stand-ins alive in {bad} samples during the UDP cut")
    finally:
        for node in NODE_IPS:
            env.net.flush_rules(node)


def fault_host_cut(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """Every packet in or out of the active host dropped: it fences itself when renewals stop
    succeeding; the others take over when the lease expires on the database clock."""
    _cut_off(env, c, active, t, o, env.net.isolate)


def fault_netem(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """5 % loss and 100 ms ± 100 ms delay on every link (each host's egress): no failover."""
    try:
        kind = env.net.impair(loss_pct=5, delay_ms=100, jitter_ms=100)
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
        stats = env.net.unimpair()
    if kind == "nfqueue":
        pk = sum(s.get("packets", 0) for s in stats.values())
        dr = sum(s.get("dropped", 0) for s in stats.values())
        t.notes.append(f"{pk} packets impaired, {dr} dropped")
        if len(stats) < len(env.net.hosts) or pk == 0:
            t.problems.append(f"the delayer did not impair every host: {stats}")


def fault_pg_restart(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """PostgreSQL stopped (fast: sessions cut), down for 2 s, started. Timed from when it is
    back up to the next scheduler start (0 if the active kept its scheduler through it)."""
    before = {i.pid for i in c.live_instances()}
    t_up = prim.pg_restart(env.pg)
    c.wait_for(lambda: c.live_instances(), 30, "a scheduler after the restart")
    if {i.pid for i in c.live_instances()} & before:
        t.failover_s = 0.0
        t.notes.append("the active kept the lease through the restart")
    else:
        start = c.next_start(t_up - 3)  # a start just before pg_ctl returned counts as 0
        t.failover_s = max(0.0, float(start or t_up) - t_up)


def fault_clock(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """One host's wall clock five minutes ahead (libfaketime on its daemon and guard): it
    must neither take a live lease nor lose one; it takes over normally when due."""
    if not env.faketime:
        raise Skip(env.faketime_why)
    skewed, other = [n for n in sorted(c.nodes) if n != active]
    for n in (skewed, other):  # restart one standby skewed, stop the other
        c.signal(n, signal.SIGTERM)
        c.wait_exit(n)
    c.start([skewed], env={skewed: faketime_env(env.faketime)})
    first = c.last_event_id()
    c.wait_for(lambda: c.roles().get(skewed) == "standby", 15, f"{skewed} back as standby")
    c.watch(2 * c.ttl_ms / 1000)
    won = [e for e in c.events_since(first) if e["kind"] == "became_active"]
    if won:
        t.false_failover = True
        t.problems.append(f"the skewed host took a live lease: {won}")
    t0 = prim.kill9(c, active)  # the skewed host is the only standby left
    _takeover(c, t, t0, active)
    c.daemon_proc(active).wait(timeout=10)
    c.wait_for(lambda: not c.host_pids(active), 15, f"{active}'s guard and stand-in to go")
    if c.active() != skewed:
        t.problems.append(f"expected the skewed host {skewed} to take over, got {c.active()}")
    c.start([other, active])
    term = c.status().get("term")
    c.watch(2 * c.ttl_ms / 1000)  # it must keep renewing with its clock ahead
    if c.status().get("term") != term or c.active() != skewed:
        t.problems.append("the skewed host lost its lease without a fault")


def _db_failover(env: ChaosEnv, c: DaemonCluster, t: Trial, cut_s: float, active: str | None = None) -> None:
    """The primary lost (every process killed) and the replica promoted at once; after
    `cut_s` s of cut replication when > 0. Timed from the moment the new primary accepts writes
    to the next scheduler start (0: the active rode the failover out, its scheduler untouched).
    The overlap check afterwards is the point: a standby must not take the lease while the old
    holder's deadline, counted from renewals the new primary never saw, has not passed. With
    `active`, that host loses both database servers at the instant the primary dies (a rack
    lost together with it) and gets them back 2 x TTL later: it cannot renew on the new
    primary, so only its own deadline stops its scheduler."""
    pair = cast("PgPair", env.pg)
    before = {i.pid for i in c.live_instances()}
    if cut_s > 0:
        pair.cut_replication()
        time.sleep(cut_s)
    if active:
        for port in (pair.primary.port, pair.replica.port):
            for rule in (("OUTPUT", "-d", DB_IP, "--dport"), ("INPUT", "-s", DB_IP, "--sport")):
                env.net.iptables(active, "-A", rule[0], "-p", "tcp", *rule[1:], str(port), "-j", "DROP")
    t_up = pair.fail_over()
    if active:
        time.sleep(2 * c.ttl_ms / 1000)
        env.net.flush_rules(active)
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


def fault_db_lost_renewals(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """Replication cut, then the primary lost and the asynchronous replica promoted at once:
    the new primary has not seen the last renewals."""
    _db_failover(env, c, t, o.replication_cut_s)


def fault_db_lost_with_active(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """As db_lost_renewals, and the active host loses both database servers with the primary."""
    _db_failover(env, c, t, o.replication_cut_s, active)


def fault_db_clock_ahead(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
    """The primary lost, the replica (replication kept) promoted; its clock runs ahead."""
    _db_failover(env, c, t, 0.0)


def fault_simultaneous(env: ChaosEnv, c: DaemonCluster, active: str, t: Trial, o: Options) -> None:
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
