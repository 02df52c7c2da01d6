"""The chaos suite, short run: every fault of issue 8 once, on real network namespaces, with a
real PostgreSQL host and three scheduler hosts (daemon, guard, writing stand-in each), followed
by every check: never two schedulers alive at once (flock, exact), no stale-term writes after a
newer term's first write (asserted when the daemon accepts `fencing.database_roles`, reported
otherwise), terms only grow, no false failover where none is due, convergence to one active.
bench/chaos.py runs the same trials many times. See docs/chaos.md."""

from __future__ import annotations

import os
import time
import warnings

import pytest

from localcluster.chaos.env import ChaosEnv
from localcluster.chaos.faults import DB_FAILOVER_FAULTS, FAULTS, Options
from localcluster.chaos.trial import new_cluster, run_trial, stale_writes

pytestmark = pytest.mark.chaos

# Design targets (README): kill -9 of the active daemon <= 3.5 s; a lost host about ttl_ms (3 s)
# plus the poll; generous bounds elsewhere, the figures themselves are for bench/chaos.py.
BOUND_S = {"kill9": 3.5, "clock": 3.5, "simultaneous": 3.0, "pg_restart": 10.0}


@pytest.mark.parametrize("key", [k for k in FAULTS if k not in DB_FAILOVER_FAULTS])
def test_fault(chaos_env: ChaosEnv, key: str) -> None:
    opts = Options(netem_seconds=float(os.environ.get("AF_CHAOS_NETEM_S", "30")))
    t = run_trial(chaos_env, key, opts)
    if t.skipped:
        pytest.skip(f"{key}: {t.skipped}")
    print(
        f"{key}: failover {t.failover_s}, stale {t.stale_writes}, restarts {t.restarts}, notes {t.notes[:3]}"
    )
    assert not t.problems, "\n".join(t.problems + t.notes)
    assert t.converged
    if FAULTS[key].failover_due:
        assert t.failover_s is not None
    if t.failover_s is not None:
        assert t.failover_s <= BOUND_S.get(key, 8.0), f"{key} took {t.failover_s:.2f} s"
    if t.restarts:
        warnings.warn(
            f"{key}: {t.restarts} needless in-place scheduler restart(s): " + "; ".join(t.notes[:2]),
            stacklevel=1,
        )


@pytest.mark.parametrize(
    ("key", "ttl_ms"),
    [
        ("db_lost_renewals", None),
        ("db_lost_renewals", 3000),
        ("db_clock_ahead", None),
        ("db_clock_ahead", 3000),
        ("db_lost_with_active", 3000),
    ],
)
def test_database_failover(chaos_env: ChaosEnv, key: str, ttl_ms: int | None) -> None:
    """Issue 21: a primary and an asynchronous streaming replica; the primary lost and the
    replica promoted at once, after it missed the last renewals (replication cut 3 s) or with
    its clock 3 s ahead, or with the active host losing both database servers at the same
    instant. Never two schedulers, terms only grow, one active at the end; the active keeps its
    scheduler when it reaches the new primary in time. Before the lease was
    judged on one server history this failed (issue 21: 5 of 5 trials at ttl 3000).
    AF_CHAOS_DB_TRIALS trials each (default 1: the suite's time budget; bench/chaos.py runs 20)."""
    for n in range(int(os.environ.get("AF_CHAOS_DB_TRIALS", "1"))):
        t = run_trial(chaos_env, key, Options(ttl_ms=ttl_ms))
        if t.skipped:
            pytest.skip(f"{key}: {t.skipped}")
        print(f"{key} ttl {ttl_ms or 'default'} #{n + 1}: failover {t.failover_s}, notes {t.notes[:3]}")
        assert not t.overlap, "\n".join(t.problems + t.notes)
        assert not t.problems, "\n".join(t.problems + t.notes)
        assert t.converged


def test_database_fencing_is_checked(chaos_env: ChaosEnv) -> None:
    """Makes the state of the stale-write assertion visible in the summary."""
    if not chaos_env.fencing:
        pytest.skip("stale writes reported, not asserted: " + chaos_env.fencing_why)


def test_stale_write_checker_counts_late_rows(chaos_env: ChaosEnv) -> None:
    """The checker itself, on rows with known database times: term 1 writes before and after
    term 2's first row; only the one after counts."""
    c = new_cluster(chaos_env, "checker")
    pg = chaos_env.pg
    rows = [
        ("node-a", 1, 0),
        ("node-a", 1, 10),
        ("node-b", 2, 20),
        ("node-a", 1, 30),
        ("node-b", 2, 40),
        ("node-c", 3, 50),
        ("node-b", 2, 60),
        ("node-b", 2, 70),
    ]
    base = time.time()
    pg.psql(
        "INSERT INTO chaos_writes (cluster, node, term, at) VALUES "
        + ", ".join(f"('{c.name}', '{n}', {tm}, to_timestamp({base} + {ms} / 1000.0))" for n, tm, ms in rows)
    )
    total, detail = stale_writes(pg, c.name)
    assert total == 3, detail
    assert any("node-a in term 1" in d and "10 ms" in d for d in detail), detail
    assert any("2 rows by node-b in term 2" in d for d in detail), detail
