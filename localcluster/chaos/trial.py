"""One chaos trial: a fresh cluster on the namespaces, one fault, then every check (no overlap,
no stale writes, terms grow, no false failover, convergence, fencing). Used by
tests/chaos/test_chaos.py (every fault once, strict) and bench/chaos.py (every fault N times, a
table). See docs/chaos.md."""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, cast

from localcluster.cluster import DaemonCluster, Node
from localcluster.daemon_config import Process

from .env import (
    ROLES,
    ChaosEnv,
    NsPgServer,
    faketime_env,
    fencing_config,
    reset_roles,
)
from .faults import FAULTS, Options, Skip, Trial
from .launch import NetnsHosts

STANDIN = Path(__file__).resolve().parent / "standin_writer.py"


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
            fault.fn(env, c, active, t, opts)
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
            check_fenced_roles(env, c, t)
        t.stale_writes, detail = stale_writes(env.pg, c.name)
        if t.stale_writes:
            if env.fencing:
                t.problems.append("stale writes with database fencing on: " + "; ".join(detail))
            else:
                t.notes.append("stale writes (database fencing not available): " + "; ".join(detail))
        if not write_counts(env.pg, c.name):
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


def new_cluster(env: ChaosEnv, label: str, opts: Options | None = None) -> DaemonCluster:
    """Three daemons, one per scheduler host, heartbeats on, each managing the writing stand-in
    (standin_writer.py); database fencing when the daemon accepts it. ``opts.ttl_ms`` None: no
    `lease` section, the daemon's defaults; else ttl_ms only, the other timings derived from it
    by the daemon's rule (docs/design.md)."""
    ttl = opts.ttl_ms if opts else None

    def writer(c: DaemonCluster, node: Node) -> list[Process]:
        return [
            Process(
                "scheduler",
                [env.python, str(STANDIN)],
                {
                    "STANDIN_LOG": str(c.standin_log),
                    "STANDIN_TICK_MS": str(c.tick_ms),
                    "STANDIN_LOCK": str(c.lock_file),
                    "STANDIN_DB": env.pg.conninfo(user=ROLES[node.name]),
                    "STANDIN_CLUSTER": c.name,
                    "STANDIN_WRITE_MS": "5",
                    "LD_PRELOAD": "",  # the stand-in's records use the real clocks
                },
                stop_timeout_ms=c.stop_timeout_ms,
            )
        ]

    return DaemonCluster(
        env.pg,
        env.workdir / f"{label}-{uuid.uuid4().hex[:6]}",
        ttl_ms=ttl or 0,  # 0: the daemon's defaults, asked from the binary
        lease_defaults=ttl is None,
        lease_ttl_only=ttl is not None,
        heartbeats=True,
        standin_name=STANDIN.name,  # the writing stand-in, not scripts/standin-scheduler
        launcher=NetnsHosts(env.net),
        binary=env.binary,
        fencing=fencing_config() if env.fencing else None,
        workload=writer,
        cli_conninfo=env.pg.local_conninfo(),
    )


def stale_writes(pg: NsPgServer, cluster: str) -> tuple[int, list[str]]:
    """Rows written in term T after the first row of any newer term, by the database clock
    (chaos_writes.at = clock_timestamp() of the INSERT)."""
    out = pg.psql(f"""
        WITH f AS (SELECT term, min(at) AS first FROM chaos_writes
                    WHERE cluster = '{cluster}' GROUP BY term),
             w AS (SELECT c.node, c.term, c.at,
                          (SELECT min(first) FROM f WHERE f.term > c.term) AS newer
                     FROM chaos_writes c WHERE c.cluster = '{cluster}')
        SELECT node, term, count(*),
               round(extract(epoch FROM max(at) - min(newer)) * 1000)
          FROM w WHERE newer IS NOT NULL AND at > newer GROUP BY node, term ORDER BY term""")
    total, detail = 0, []
    for line in out.splitlines():
        node, term, n, late = line.split("|")
        total += int(n)
        detail.append(f"{n} rows by {node} in term {term}, the last {late} ms after a newer term's first row")
    return total, detail


def write_counts(pg: NsPgServer, cluster: str) -> dict[int, int]:
    out = pg.psql(
        f"SELECT term, count(*) FROM chaos_writes WHERE cluster = '{cluster}' GROUP BY term ORDER BY term"
    )
    return {int(t): int(n) for t, n in (ln.split("|") for ln in out.splitlines())}


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


def check_fenced_roles(env: ChaosEnv, c: DaemonCluster, t: Trial) -> None:
    """With database fencing, only the active node's role may log in, and a deposed node's
    role is refused at login (what its stale scheduler would hit on reconnecting)."""
    active = c.active()
    out = env.pg.psql(
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
            str(env.pg.bindir / "psql"),
            "-X",
            "-h",
            str(env.pg.root),
            "-p",
            str(env.pg.port),
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


def check_overlap(c: DaemonCluster, t: Trial) -> None:
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
