#!/usr/bin/env python3
"""How close to its time a scheduled switchover (`switchover --at`) fires, on the database clock
(issue 17: within 1 s). Real daemons, a real PostgreSQL, the stand-in scheduler; N rounds of
`switchover --at +Ns`, back and forth between two nodes. Prints a Markdown table per round and
the summary: the active's `switchover` event minus the command's not_before (the time it was
due), and the time from due to the other node's `became_active`.

    .venv/bin/python bench/switchover_at.py --rounds 10        (build/ must be built)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--delay", default="+2s", help="the --at delay of each round")
    args = ap.parse_args()
    late: list[float] = []
    handover: list[float] = []
    with tempfile.TemporaryDirectory(prefix="af-bench-at-") as tmp, PgServer() as pg:
        c = Cluster(pg, Path(tmp) / "cluster", size=2)
        try:
            c.start(["node-a"])
            c.wait_active()
            c.start(["node-b"])
            time.sleep(1.5)
            print("| round | from | to | fired after due (ms) | new active after due (ms) |")
            print("|---|---|---|---|---|")
            for r in range(1, args.rounds + 1):
                before = c.wait_active()
                res = c.cli("switchover", "--at", args.delay)
                if res.returncode != 0:
                    print(res.stderr, file=sys.stderr)
                    return 1
                after = c.wait_active(timeout=30, other_than=before)
                row = c.pg.psql(
                    "SELECT extract(epoch FROM s.at - c.not_before) * 1000,"
                    " extract(epoch FROM b.at - c.not_before) * 1000"
                    " FROM airflow_failover.commands c"
                    " JOIN airflow_failover.events s ON s.cluster = c.cluster"
                    "  AND s.kind = 'switchover' AND s.at >= c.requested_at"
                    " JOIN airflow_failover.events b ON b.cluster = c.cluster"
                    "  AND b.kind = 'became_active' AND b.at > s.at"
                    f" WHERE c.cluster = '{c.name}' AND c.not_before IS NOT NULL"
                    " ORDER BY c.id DESC, s.id, b.id LIMIT 1"
                ).split("|")
                late.append(float(row[0]))
                handover.append(float(row[1]))
                print(f"| {r} | {before} | {after} | {late[-1]:.1f} | {handover[-1]:.1f} |")
                time.sleep(7)  # the hand-over cooldown of the old active (2 x ttl) passes
        finally:
            c.stop_all()
    print()
    print(
        f"fired after its time: median {statistics.median(late):.1f} ms, "
        f"max {max(late):.1f} ms over {len(late)} rounds (database clock)"
    )
    print(
        f"new active after its time: median {statistics.median(handover):.1f} ms, max {max(handover):.1f} ms"
    )
    return 0 if max(late) < 1000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
