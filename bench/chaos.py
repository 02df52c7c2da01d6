#!/usr/bin/env python3
"""Chaos benchmark: every fault of the chaos suite N times on real network namespaces (one
PostgreSQL host, three scheduler hosts, each with a daemon, its guard and a stand-in that writes
to PostgreSQL through its own role), then a Markdown table. Run as root:

    .venv/bin/python bench/chaos.py --trials 3                 (build/ must be built)
    .venv/bin/python bench/chaos.py --trials 20 --faults db_lost_renewals,db_clock_ahead --ttl-ms 3000
    .venv/bin/python bench/chaos.py --trials 10 --netem-seconds 300 --faults kill9,netem
    AF_CHAOS_FENCING=off .venv/bin/python bench/chaos.py ...   (without database fencing)

Columns: failover = time from the fault to the start of the next scheduler on another node
(for pg_restart: from PostgreSQL back up to a running scheduler, 0 if it never stopped; for the
database failovers db_*: from the moment the promoted replica accepts writes to the next
scheduler start, 0 if the active kept its scheduler; for
simultaneous: from the common start instant to the first scheduler); overlap = trials in which
two schedulers were alive at once (exact, flock); stale writes = rows written by a term after a
newer term's first row (database clock); false failovers = trials in which the term or the
active changed although no failover was due.

The 2019 column is the original design (a standby fails over after 10 s without a heartbeat,
checked every 5 s), modelled analytically, not run: silence starts at the fault, the standby's
poll phase is uniform over the 5 s, so failover = 10 s + U(0, 5 s): median 12.5 s, worst 15 s.
It has no lease and no fencing, so a silent-but-alive active keeps its scheduler: two run.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from localcluster.chaos.env import ChaosEnv
from localcluster.chaos.faults import FAULTS, Options, Trial
from localcluster.chaos.netns import cleanup_leftovers, why_unavailable
from localcluster.chaos.trial import run_trial, statements_at_rest, summarize
from localcluster.cluster import daemon_binary

HERE = Path(__file__).resolve().parent


def fmt_s(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def table(results: dict[str, list[Trial]], fencing: bool) -> str:
    lines = [
        "| fault | trials | failover median | worst | overlap | stale writes | false failovers "
        "| 2019 design (model): median / worst | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, trials in results.items():
        f = FAULTS[key]
        if trials and all(t.skipped for t in trials):
            lines.append(f"| {f.label} | 0 | skipped | | | | | {f.baseline} | {trials[0].skipped} |")
            continue
        done = [t for t in trials if not t.skipped]
        s = summarize(done)
        med, worst = fmt_s(s["median"]), fmt_s(s["worst"])
        if not f.failover_due and key not in ("pg_restart", "simultaneous") and not f.db_pair:
            med, worst = "none due", ""
        notes = []
        if f.db_pair:
            notes.append(f"{sum(1 for t in done if t.failover_s == 0.0)} kept their scheduler (0 s)")
        if s["restarts"]:
            notes.append(f"{s['restarts']} needless in-place scheduler restarts (term kept)")
        if s["freezes"]:
            notes.append(f"{s['freezes']} freezes on a late renewal, each thawed in place")
        if s["woke_ms"] is not None:
            notes.append(f"frozen stand-in ran ≤ {s['woke_ms']:.1f} ms after waking")
        if key == "netem":
            notes.extend(sorted({n for t in done for n in t.notes if n.startswith("impaired by")}))
        bad = [p for t in done for p in t.problems]
        if bad:
            notes.append(f"{s['problems']} trial(s) with problems: {bad[0][:160]}")
        stale = f"{s['stale']}" + ("" if fencing else " (no fencing)")
        lines.append(
            f"| {f.label} | {s['trials']} | {med} | {worst} | {s['overlap']} | {stale} "
            f"| {s['false']} | {f.baseline} | {'; '.join(notes)} |"
        )
    return "\n".join(lines)


def load() -> str:
    """The 1-minute load average (the machine may be shared: figures are read beside it)."""
    return Path("/proc/loadavg").read_text().split()[0]


def derived(ttl: int) -> str:
    """The renew interval and fence margin the daemon derives from ``ttl`` (its rule,
    core::lease_timings_for), as its own `check-config` prints them: the rule is not restated."""
    cfg = {
        "cluster": "bench", "node_id": "bench", "database": {"conninfo": "dbname=none"},
        "lease": {"ttl_ms": ttl}, "processes": [{"name": "x", "command": ["true"]}],
    }  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(cfg, f)
        f.flush()
        out = subprocess.run(
            [str(daemon_binary()), "check-config", "--syntax-only", "--config", f.name],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    m = re.search(r"renew every (\d+) ms, fence margin (\d+) ms", out)
    if not m:
        raise RuntimeError(f"check-config printed no lease timings: {out!r}")
    return f"{m[1]} / {m[2]}"


def sweep(env: ChaosEnv, ttls: list[int], args: argparse.Namespace) -> tuple[str, list[dict[str, Any]]]:
    """Per TTL (the other timings derived): host loss (frozen, cut off) `--trials` times each,
    loss and jitter once for --netem-seconds, statements per second at rest."""
    rows: list[dict[str, Any]] = []
    for ttl in ttls:
        opts = Options(netem_seconds=args.netem_seconds, udp_cut_seconds=args.udp_cut_seconds, ttl_ms=ttl)
        row: dict[str, Any] = {"ttl_ms": ttl, "loads": []}
        for key in ("sigstop", "host_cut"):
            trials = []
            for n in range(args.trials):
                t = run_trial(env, key, opts)
                trials.append(t)
                row["loads"].append(load())
                print(
                    f"  ttl {ttl} {key} {n + 1}/{args.trials}: failover {fmt_s(t.failover_s)}"
                    f", overlap {t.overlap}, stale {t.stale_writes} (load {load()})"
                    f"{', PROBLEMS ' + str(t.problems[:2]) if t.problems else ''}",
                    file=sys.stderr,
                    flush=True,
                )
            row[key] = trials
        t = run_trial(env, "netem", opts)
        row["netem"] = [t]
        row["netem_load"] = load()
        print(
            f"  ttl {ttl} netem {args.netem_seconds:.0f} s: false {t.false_failover}, "
            f"restarts {t.restarts}, freezes {t.freezes}, overlap {t.overlap} (load {load()})"
            f"{', PROBLEMS ' + str(t.problems[:2]) if t.problems else ''}",
            file=sys.stderr,
            flush=True,
        )
        row["rest"] = statements_at_rest(env, opts, args.rest_seconds)
        row["rest_load"] = load()
        print(f"  ttl {ttl} at rest: {row['rest']} statements/s (load {load()})", file=sys.stderr, flush=True)
        rows.append(row)
    lines = [
        (
            "| ttl_ms | renew / fence margin (ms) | frozen (SIGSTOP): median / worst | cut off: "
            "median / worst | overlaps | stale writes | loss+jitter: minutes | false failovers "
            "| needless restarts | freezes (thawed in place) "
            "| statements/s per node at rest (active; standbys) | load (1 min) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fr, cu, ne = summarize(r["sigstop"]), summarize(r["host_cut"]), summarize(r["netem"])
        every = r["sigstop"] + r["host_cut"] + r["netem"]
        act = [v for k, v in r["rest"].items() if k.endswith("(active)")]
        sb = [v for k, v in r["rest"].items() if not k.endswith("(active)")]
        rest = (f"{act[0]:.1f}; " if act else "—; ") + ", ".join(f"{v:.2f}" for v in sb)
        loads = sorted(float(x) for x in r["loads"] + [r["netem_load"], r["rest_load"]])
        lines.append(
            f"| {r['ttl_ms']} | {derived(r['ttl_ms'])} | {fmt_s(fr['median'])} / "
            f"{fmt_s(fr['worst'])} ({fr['trials']}) | {fmt_s(cu['median'])} / "
            f"{fmt_s(cu['worst'])} ({cu['trials']}) | {sum(t.overlap for t in every)} "
            f"| {sum(t.stale_writes for t in every)} | {args.netem_seconds / 60:.0f} "
            f"| {ne['false']} | {ne['restarts']} | {ne['freezes']} | {rest} "
            f"| {loads[0]:.1f}–{loads[-1]:.1f} |"
        )
    return "\n".join(lines), rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--faults", default=",".join(FAULTS), help="comma list of " + ",".join(FAULTS))
    ap.add_argument(
        "--netem-seconds",
        type=float,
        default=180.0,
        help="how long loss and jitter last per trial (default 180)",
    )
    ap.add_argument("--udp-cut-seconds", type=float, default=15.0)
    ap.add_argument("--json", help="also write every trial to this file")
    ap.add_argument(
        "--sweep-ttl",
        help="comma list of lease.ttl_ms values: per TTL, host loss "
        "(frozen, cut off) --trials times, loss and jitter once, statements at rest",
    )
    ap.add_argument(
        "--ttl-ms",
        type=int,
        help="run the faults at this ttl_ms (the rest derived); default: the daemon's defaults",
    )
    ap.add_argument(
        "--replication-cut-seconds",
        type=float,
        default=3.0,
        help="db_lost_renewals: how long replication is cut before the primary is lost (default 3)",
    )
    ap.add_argument(
        "--replica-ahead-seconds",
        type=int,
        default=3,
        help="db_clock_ahead: how far the promoted replica's clock runs ahead (default 3)",
    )
    ap.add_argument(
        "--rest-seconds",
        type=float,
        default=30.0,
        help="how long statements are counted at rest in a sweep (default 30)",
    )
    args = ap.parse_args()
    reason = why_unavailable()
    if reason:
        print(f"bench/chaos.py: {reason}", file=sys.stderr)
        return 2
    cleanup_leftovers()
    opts = Options(
        netem_seconds=args.netem_seconds,
        udp_cut_seconds=args.udp_cut_seconds,
        ttl_ms=args.ttl_ms,
        replication_cut_s=args.replication_cut_seconds,
        replica_ahead_s=args.replica_ahead_seconds,
    )
    results: dict[str, list[Trial]] = {}
    began = time.monotonic()
    env = ChaosEnv.create()
    if args.sweep_ttl:
        try:
            print(
                f"database fencing: {'on' if env.fencing else 'off: ' + env.fencing_why}; load {load()}",
                file=sys.stderr,
            )
            text, rows = sweep(env, [int(x) for x in args.sweep_ttl.split(",")], args)
        finally:
            env.close()
        print(f"\n{text}\n")
        print(
            f"sweep in {(time.monotonic() - began) / 60:.1f} min; {args.trials} trials per "
            f"host-loss fault; loss/jitter {args.netem_seconds:.0f} s per TTL; load at the end "
            f"{load()}"
        )
        if args.json:
            Path(args.json).write_text(
                json.dumps(
                    [
                        {
                            **{k: v for k, v in r.items() if k not in ("sigstop", "host_cut", "netem")},
                            **{
                                k: [
                                    {
                                        "failover_s": t.failover_s,
                                        "overlap": t.overlap,
                                        "stale_writes": t.stale_writes,
                                        "false_failover": t.false_failover,
                                        "restarts": t.restarts,
                                        "problems": t.problems,
                                    }
                                    for t in r[k]
                                ]
                                for k in ("sigstop", "host_cut", "netem")
                            },
                        }
                        for r in rows
                    ],
                    indent=1,
                )
            )
        return (
            1 if any(t.problems for r in rows for k in ("sigstop", "host_cut", "netem") for t in r[k]) else 0
        )
    try:
        print(f"database fencing: {'on' if env.fencing else 'off: ' + env.fencing_why}", file=sys.stderr)
        for key in args.faults.split(","):
            results[key] = []
            for n in range(args.trials):
                t = run_trial(env, key, opts)
                results[key].append(t)
                print(
                    f"  {key} {n + 1}/{args.trials}: failover {fmt_s(t.failover_s)}, "
                    f"overlap {t.overlap}, stale {t.stale_writes}, false {t.false_failover}, "
                    f"restarts {t.restarts}, freezes {t.freezes}"
                    f"{', SKIPPED ' + t.skipped if t.skipped else ''}"
                    f"{', PROBLEMS ' + str(t.problems[:2]) if t.problems else ''} "
                    f"({t.seconds:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                if t.skipped:
                    break
        fencing = env.fencing
    finally:
        env.close()
    print(f"\n{table(results, fencing)}\n")
    print(
        f"{sum(len(v) for v in results.values())} trials in "
        f"{(time.monotonic() - began) / 60:.1f} min; database fencing "
        f"{'on' if fencing else 'off'}; loss/jitter {args.netem_seconds:.0f} s per trial; "
        f"ttl_ms {args.ttl_ms or 'default'}; load at the end {load()}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    k: [
                        {
                            **{
                                f: getattr(t, f)
                                for f in (
                                    "fault",
                                    "failover_s",
                                    "overlap",
                                    "stale_writes",
                                    "false_failover",
                                    "converged",
                                    "restarts",
                                    "woke_ms",
                                    "skipped",
                                    "seconds",
                                )
                            },
                            "problems": t.problems,
                        }
                        for t in v
                    ]
                    for k, v in results.items()
                },
                indent=1,
            )
        )
    bad = any(t.problems for v in results.values() for t in v)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
