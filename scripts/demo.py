#!/usr/bin/env python3
"""The demo: a throwaway PostgreSQL, three airflow-failover daemons on loopback managing a
stand-in scheduler, and a live view of `airflow-failover status` and the latest events.

Kill the active daemon from another terminal (the view prints the command) and watch another
node take over. Ctrl-C stops the daemons gracefully and removes the database.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.cluster import Cluster, daemon_binary  # noqa: E402
from support.pgserver import PgServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--duration", type=float, default=0, help="stop after N seconds (0: never)")
    ap.add_argument("--plain", action="store_true", help="no screen clearing (for logs)")
    args = ap.parse_args()

    workdir = Path(os.environ.get("AF_DEMO_DIR", "/tmp/airflow-failover-demo"))
    workdir.mkdir(parents=True, exist_ok=True)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    print("==> starting a throwaway PostgreSQL", flush=True)
    pg = PgServer()
    pg.start()
    cluster = Cluster(pg, workdir / f"run-{int(time.time())}", size=args.nodes, tick_ms=1000,
                      name="demo")
    try:
        print(f"==> starting {args.nodes} daemons (logs in {cluster.workdir})", flush=True)
        cluster.start()
        began = time.monotonic()
        while not stop and (not args.duration or time.monotonic() - began < args.duration):
            show(cluster, args.plain)
            time.sleep(1)
    finally:
        print("\n==> stopping the daemons", flush=True)
        cluster.stop_all()
        pg.destroy()
        print("==> done", flush=True)
    return 0


def show(cluster: Cluster, plain: bool) -> None:
    res = subprocess.run([str(daemon_binary()), "status", "--config",
                          str(cluster.nodes["node-a"].config)],
                         capture_output=True, text=True, check=False)
    lines = [time.strftime("%H:%M:%S") + "  airflow-failover demo (Ctrl-C to stop)", ""]
    lines += (res.stdout or res.stderr).rstrip().splitlines()
    try:
        events = cluster.events()[-8:]
    except RuntimeError:
        events = []
    lines += ["", "latest events:"]
    lines += [f"  {e['at'][11:23]}  {e['node_id']:<8} term {e['term']:<3} {e['kind']}: "
              f"{e['detail']}" for e in events]
    lines += ["", "try it, in another terminal:"]
    for node in cluster.nodes.values():
        if node.proc and node.proc.poll() is None:
            lines.append(f"  kill -9 {node.proc.pid}    # {node.name}'s daemon")
    if not plain:
        sys.stdout.write("\x1b[H\x1b[2J")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
