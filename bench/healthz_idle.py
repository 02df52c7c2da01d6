#!/usr/bin/env python3
"""/healthz latency while idle connections are held open (issue 14: answer within 100 ms with
100 idle connections). One real daemon with a real PostgreSQL; prints a Markdown table of the
time from connect to the full answer, per number of idle connections.

    .venv/bin/python bench/healthz_idle.py --probes 200        (build/ must be built)
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port


def probe(port: int, timeout: float) -> float | None:
    """Seconds from connect to the end of the answer to GET /healthz; None if no 200 answer."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return None
    return time.perf_counter() - t0 if data.startswith(b"HTTP/1.1 200") else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--idle", type=int, nargs="+", default=[0, 16, 100, 200])
    ap.add_argument("--timeout", type=float, default=6.0, help="per probe, seconds")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="af-bench-healthz-") as tmp, PgServer() as pg:
        port = free_tcp_port()
        c = Cluster(pg, Path(tmp) / "cluster", size=1)
        node = c.nodes["node-a"]
        cfg = json.loads(node.config.read_text())
        cfg["metrics"] = {"listen": f"127.0.0.1:{port}"}
        node.config.write_text(json.dumps(cfg))
        try:
            c.start()
            c.wait_active()
            deadline = time.monotonic() + 10
            while probe(port, 1.0) is None:
                if time.monotonic() > deadline:
                    raise SystemExit("/healthz never answered 200")
                time.sleep(0.1)
            print("| idle connections | probes | answered | median | p99 | worst |")
            print("|---|---|---|---|---|---|")
            for n in args.idle:
                idle = []
                for _ in range(n):
                    s = socket.create_connection(("127.0.0.1", port), timeout=3)
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
                    idle.append(s)
                times = [probe(port, args.timeout) for _ in range(args.probes)]
                for s in idle:
                    s.close()
                ok = sorted(t for t in times if t is not None)
                if ok:
                    p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))]
                    print(
                        f"| {n} | {len(times)} | {len(ok)} | "
                        f"{statistics.median(ok) * 1000:.1f} ms | {p99 * 1000:.1f} ms | "
                        f"{ok[-1] * 1000:.1f} ms |"
                    )
                else:
                    print(f"| {n} | {len(times)} | 0 | - | - | - |")
        finally:
            c.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
