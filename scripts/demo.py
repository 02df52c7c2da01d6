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
sys.path.insert(0, str(REPO))

from localcluster.cluster import Cluster, daemon_binary  # noqa: E402
from localcluster.pgserver import PgServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--duration", type=float, default=0, help="stop after N seconds (0: never)")
    ap.add_argument("--plain", action="store_true", help="no screen clearing (for logs)")
    ap.add_argument("--no-dashboard", action="store_true", help="no web dashboard (webapp/)")
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
                      heartbeats=True, name="demo")
    try:
        print(f"==> starting {args.nodes} daemons (logs in {cluster.workdir})", flush=True)
        cluster.start()
        if not args.no_dashboard:
            start_dashboard(pg, cluster)
        began = time.monotonic()
        while not stop and (not args.duration or time.monotonic() - began < args.duration):
            show(cluster, args.plain)
            time.sleep(1)
    finally:
        print("\n==> stopping the daemons", flush=True)
        if DASHBOARD:
            DASHBOARD[0].terminate()
            DASHBOARD[0].wait(timeout=10)
        cluster.stop_all()
        pg.destroy()
        print("==> done", flush=True)
    return 0


DASHBOARD: list[subprocess.Popen[bytes]] = []
DASHBOARD_NOTE: list[str] = []


def start_dashboard(pg: PgServer, cluster: Cluster) -> None:
    """The web dashboard (docs/dashboard.md) beside the cluster, as its least-privilege role,
    with a login from AF_DASHBOARD_PASSWORD or a random one shown in the view."""
    import importlib.util
    import secrets

    if importlib.util.find_spec("dash") is None:
        DASHBOARD_NOTE.append("dashboard: not started (no dash; run scripts/demo.sh)")
        return
    deadline = time.monotonic() + 30  # the daemons create the schema as they start
    while pg.psql("SELECT to_regclass('airflow_failover.commands') IS NOT NULL") != "t":
        if time.monotonic() > deadline:
            DASHBOARD_NOTE.append("dashboard: not started (no schema after 30 s)")
            return
        time.sleep(0.2)
    subprocess.run([sys.executable, "-m", "webapp", "grant-role", "--conninfo", pg.conninfo()],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    user = os.environ.get("AF_DASHBOARD_USER") or "admin"
    password = os.environ.get("AF_DASHBOARD_PASSWORD") or secrets.token_urlsafe(9)
    port = os.environ.get("AF_DASHBOARD_PORT") or "8050"
    log = cluster.workdir / "dashboard.log"
    with open(log, "ab") as out:
        DASHBOARD.append(subprocess.Popen(
            [sys.executable, "-m", "webapp", "--config", str(cluster.nodes["node-a"].config),
             "--conninfo", pg.conninfo(user="af_dashboard"), "--port", port],
            cwd=REPO, env={**os.environ, "AF_DASHBOARD_PASSWORD": password},
            stdout=out, stderr=subprocess.STDOUT))
    DASHBOARD_NOTE.append(f"dashboard: http://127.0.0.1:{port}/  (log in as {user} / "
                          f"{password}; log {log})")


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
    if DASHBOARD and DASHBOARD[0].poll() is not None:
        DASHBOARD_NOTE[-1:] = ["dashboard: exited (port taken? see dashboard.log)"]
    lines += ["", *DASHBOARD_NOTE] if DASHBOARD_NOTE else []
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
