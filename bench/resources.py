#!/usr/bin/env python3
"""Resources at rest: resident memory (VmRSS) and CPU use of the daemon on the active node and
on a standby, with heartbeats on (200 ms, HMAC) and metrics served and scraped every 15 s as
Prometheus would, over a window (default 60 s) after a short warm-up. Real daemons on loopback,
a real PostgreSQL, the stand-in scheduler. Prints a Markdown table; exit 1 if a target is missed.

    .venv/bin/python bench/resources.py [--duration 60] [--nodes 3] [--json]

CPU is utime+stime from /proc/<pid>/stat over the window, as a percentage of one core. The
guard process (one per daemon, mostly asleep) is shown on its own row, and each node's daemon
and guard together on a third. Targets (issue 15): daemon and guard together at most 6 MB PSS,
the daemon under 1 % of one core, active and standby alike. VmRSS cannot be the target: Debian's
libpq alone maps about 8 MB of shared libraries, resident in every libpq client of the host.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port
from localcluster.procfs import guard_of, stat_fields

TICK = os.sysconf("SC_CLK_TCK")
PSS_TARGET_KB = 6 * 1024  # daemon + guard of one node
CPU_TARGET_PCT = 1.0


def cpu_ticks(pid: int) -> int:
    fields = stat_fields(pid)
    if fields is None:
        raise RuntimeError(f"process {pid} is gone")
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def threads(pid: int) -> int:
    return status_kb(pid, "Threads")


def pss_kb(pid: int) -> int:
    """Proportional set size: shared library pages divided among the processes mapping them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def pss_by_mapping(pid: int) -> dict[str, int]:
    """PSS (kB) per mapped file ("[anon]" for the rest), from /proc/<pid>/smaps."""
    out: dict[str, int] = {}
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 5)
        if len(head) >= 5 and "-" in head[0] and not head[0].endswith(":"):
            name = head[5].strip() if len(head) == 6 and head[5].startswith("/") else "[anon]"
        elif line.startswith("Pss:"):
            out[name] = out.get(name, 0) + int(line.split()[1])
    return out


# What a guard linked against libpq alone would not map: libpqxx, logging, metrics, systemd and
# the libraries only they pull in (libsystemd's compression and crypto chain).
SHEDDABLE = (
    "libpqxx",
    "libspdlog",
    "libfmt",
    "libprometheus-cpp",
    "libsystemd",
    "liblzma",
    "libzstd",
    "liblz4",
    "libgcrypt",
    "libgpg-error",
    "libcap.",
)


def measure(duration: float, nodes: int, warmup: float) -> dict[str, Any]:
    ports = {f"node-{chr(ord('a') + i)}": free_tcp_port() for i in range(nodes)}

    with tempfile.TemporaryDirectory(prefix="af-resources-") as tmp, PgServer() as pg:
        c = Cluster(pg, Path(tmp) / "cluster", size=nodes, heartbeats=True, tick_ms=100, metrics_ports=ports)
        try:
            c.start()
            active = c.wait_active(timeout=30)
            standby = next(n for n in c.nodes if n != active)
            time.sleep(warmup)
            pids = {}
            for role, name in (("active", active), ("standby", standby)):
                proc = c.nodes[name].proc
                assert proc is not None
                pids[role] = proc.pid
                g = guard_of(proc.pid)
                if g:
                    pids[f"{role} guard"] = g
            start = {k: cpu_ticks(p) for k, p in pids.items()}
            t0 = time.monotonic()
            peak = dict.fromkeys(pids, 0)
            next_scrape = t0
            while (now := time.monotonic()) < t0 + duration:
                if now >= next_scrape:  # what a Prometheus server would do
                    for port in ports.values():
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3).read()
                    next_scrape += 15
                for k, p in pids.items():
                    peak[k] = max(peak[k], status_kb(p, "VmRSS"))
                time.sleep(1)
            wall = time.monotonic() - t0
            rows = {}
            for k, p in pids.items():
                used = (cpu_ticks(p) - start[k]) / TICK
                rows[k] = {
                    "pid": p,
                    "rss_kb": status_kb(p, "VmRSS"),
                    "peak_rss_kb": peak[k],
                    "anon_kb": status_kb(p, "RssAnon"),
                    "file_kb": status_kb(p, "RssFile"),
                    "pss_kb": pss_kb(p),
                    "cpu_pct": 100.0 * used / wall,
                    "threads": threads(p),
                }
            guard = pids.get("active guard")
            if guard:
                maps = pss_by_mapping(guard)
                rows_shed = {
                    k: v for k, v in maps.items() if any(Path(k).name.startswith(p) for p in SHEDDABLE)
                }
            assert c.active() == active, "the active changed during the measurement"
            c.assert_no_overlap()
            return {
                "duration_s": round(wall, 1),
                "nodes": nodes,
                "rows": rows,
                "guard_maps": maps if guard else {},
                "guard_sheddable": rows_shed if guard else {},
            }
        finally:
            c.stop_all()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--nodes", type=int, default=3, choices=(2, 3))
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = measure(args.duration, args.nodes, args.warmup)
    if args.json:
        print(json.dumps(r, indent=2))
    print(
        f"{r['nodes']} daemons, heartbeats every 200 ms, /metrics scraped every 15 s, "
        f"{r['duration_s']} s at rest:\n"
    )
    print(
        "| process | VmRSS (MB) | peak VmRSS | of it private (RssAnon) | of it shared libs "
        "(RssFile) | PSS (MB) | CPU (% of one core) | threads |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    rows = dict(r["rows"])
    for role in ("active", "standby"):
        d, g = rows.get(role), rows.get(f"{role} guard")
        if d and g:
            rows[f"**{role}: daemon + guard**"] = {
                k: d[k] + g[k]
                for k in ("rss_kb", "peak_rss_kb", "anon_kb", "file_kb", "pss_kb", "cpu_pct", "threads")
            }
            ok &= d["pss_kb"] + g["pss_kb"] <= PSS_TARGET_KB
        else:
            ok = False
            print(f"no guard found for the {role} daemon", file=sys.stderr)
    for k, row in rows.items():
        print(
            f"| {k} | {row['rss_kb'] / 1024:.1f} | {row['peak_rss_kb'] / 1024:.1f} | "
            f"{row['anon_kb'] / 1024:.1f} | {row['file_kb'] / 1024:.1f} | "
            f"{row['pss_kb'] / 1024:.1f} | {row['cpu_pct']:.2f} | {row['threads']} |"
        )
        if k in ("active", "standby"):
            ok &= row["cpu_pct"] < CPU_TARGET_PCT
    print(
        f"\ntargets: daemon + guard PSS <= {PSS_TARGET_KB // 1024} MB per node, daemon CPU < "
        f"{CPU_TARGET_PCT} % of one core: {'met' if ok else 'MISSED'}"
    )
    shed = r["guard_sheddable"]
    if shed:
        print(
            f"\nthe active's guard maps {len(shed)} libraries a libpq-only guard would not: "
            f"{sum(shed.values()) / 1024:.2f} MB of its PSS ("
            + ", ".join(f"{Path(k).name} {v} kB" for k, v in sorted(shed.items(), key=lambda kv: -kv[1]))
            + ")"
        )
        own = {Path(k).name: v for k, v in r["guard_maps"].items()}
        print(
            "its largest PSS shares: "
            + ", ".join(f"{k} {v} kB" for k, v in sorted(own.items(), key=lambda kv: -kv[1])[:8])
        )
    print(
        "VmRSS counts every resident page of the shared libraries mapped (libpq's chain: "
        "OpenSSL, GnuTLS through LDAP, Kerberos), which every libpq client on the host shares; "
        "RssAnon is the daemon's own memory, PSS its fair share of the total."
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
