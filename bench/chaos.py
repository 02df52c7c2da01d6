#!/usr/bin/env python3
"""Chaos benchmark: every fault of the chaos suite N times on real network namespaces (one
PostgreSQL host, three scheduler hosts, each with a daemon, its guard and a stand-in that writes
to PostgreSQL through its own role), then a Markdown table. Run as root:

    .venv/bin/python bench/chaos.py --trials 3                 (build/ must be built)
    .venv/bin/python bench/chaos.py --trials 10 --netem-seconds 300 --faults kill9,netem
    AF_CHAOS_FENCING=off .venv/bin/python bench/chaos.py ...   (without database fencing)

Columns: failover = time from the fault to the start of the next scheduler on another node
(for pg_restart: from PostgreSQL back up to a running scheduler, 0 if it never stopped; for
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
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "chaos"))
sys.path.insert(0, str(HERE.parent))  # the localcluster package

from harness import FAULTS, ChaosEnv, Options, Trial, run_trial, summarize
from netns import cleanup_leftovers, why_unavailable


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
            lines.append(f"| {f.label} | 0 | skipped | | | | | {f.baseline} | "
                         f"{trials[0].skipped} |")
            continue
        done = [t for t in trials if not t.skipped]
        s = summarize(done)
        med, worst = fmt_s(s["median"]), fmt_s(s["worst"])
        if not f.failover_due and key not in ("pg_restart", "simultaneous"):
            med, worst = "none due", ""
        notes = []
        if s["restarts"]:
            notes.append(f"{s['restarts']} needless in-place scheduler restarts (term kept)")
        if s["woke_ms"] is not None:
            notes.append(f"frozen stand-in ran ≤ {s['woke_ms']:.1f} ms after waking")
        if key == "netem":
            notes.extend(sorted({n for t in done for n in t.notes if n.startswith("impaired by")}))
        bad = [p for t in done for p in t.problems]
        if bad:
            notes.append(f"{s['problems']} trial(s) with problems: {bad[0][:160]}")
        stale = f"{s['stale']}" + ("" if fencing else " (no fencing)")
        lines.append(f"| {f.label} | {s['trials']} | {med} | {worst} | {s['overlap']} | {stale} "
                     f"| {s['false']} | {f.baseline} | {'; '.join(notes)} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--faults", default=",".join(FAULTS), help="comma list of " + ",".join(FAULTS))
    ap.add_argument("--netem-seconds", type=float, default=180.0,
                    help="how long loss and jitter last per trial (default 180)")
    ap.add_argument("--udp-cut-seconds", type=float, default=15.0)
    ap.add_argument("--json", help="also write every trial to this file")
    args = ap.parse_args()
    reason = why_unavailable()
    if reason:
        print(f"bench/chaos.py: {reason}", file=sys.stderr)
        return 2
    cleanup_leftovers()
    opts = Options(netem_seconds=args.netem_seconds, udp_cut_seconds=args.udp_cut_seconds)
    results: dict[str, list[Trial]] = {}
    began = time.monotonic()
    env = ChaosEnv.create()
    try:
        print(f"database fencing: {'on' if env.fencing else 'off: ' + env.fencing_why}",
              file=sys.stderr)
        for key in args.faults.split(","):
            results[key] = []
            for n in range(args.trials):
                t = run_trial(env, key, opts)
                results[key].append(t)
                print(f"  {key} {n + 1}/{args.trials}: failover {fmt_s(t.failover_s)}, "
                      f"overlap {t.overlap}, stale {t.stale_writes}, false {t.false_failover}, "
                      f"restarts {t.restarts}{', SKIPPED ' + t.skipped if t.skipped else ''}"
                      f"{', PROBLEMS ' + str(t.problems[:2]) if t.problems else ''} "
                      f"({t.seconds:.0f} s)", file=sys.stderr, flush=True)
                if t.skipped:
                    break
        fencing = env.fencing
    finally:
        env.close()
    print(f"\n{table(results, fencing)}\n")
    print(f"{sum(len(v) for v in results.values())} trials in "
          f"{(time.monotonic() - began) / 60:.1f} min; database fencing "
          f"{'on' if fencing else 'off'}; loss/jitter {args.netem_seconds:.0f} s per trial")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {k: [{**{f: getattr(t, f) for f in ("fault", "failover_s", "overlap", "stale_writes",
                                                 "false_failover", "converged", "restarts",
                                                 "woke_ms", "skipped", "seconds")},
                  "problems": t.problems} for t in v] for k, v in results.items()}, indent=1))
    bad = any(t.problems for v in results.values() for t in v)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
