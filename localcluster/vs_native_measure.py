"""What ``bench/vs_native.py`` measures: the database's and the schedulers' cost over a window, and
what happens after a fault. Everything is read from PostgreSQL's statistics views (through the
``postgres`` database, so the sampling itself is not counted), its server log and /proc."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg2

from .airflow_site import Site
from .pgserver import PgServer
from .procfs import args, environ_of, stat_fields

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOG_MARKS = {
    "lock_waits_logged": "still waiting for",  # log_lock_waits: a wait longer than deadlock_timeout
    "deadlocks_logged": "deadlock detected",
    "lock_timeouts_logged": "could not obtain lock",  # NOWAIT / lock_timeout failures
}


def stats_conn(pg: PgServer) -> Any:
    conn = psycopg2.connect(pg.conninfo("postgres"), connect_timeout=5)
    conn.autocommit = True
    return conn


def enable_statements(pg: PgServer) -> None:
    """pg_stat_statements, once: the server was started with it preloaded (bench/vs_native.py)."""
    pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def _counters(cur: Any, dbname: str) -> dict[str, float]:
    cur.execute(
        "SELECT xact_commit + xact_rollback, deadlocks, tup_inserted + tup_updated + tup_deleted,"
        " extract(epoch FROM clock_timestamp()) FROM pg_stat_database WHERE datname = %s",
        (dbname,),
    )
    xacts, deadlocks, writes, now = cur.fetchone()
    cur.execute(
        "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s"
        " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s",
        (dbname,),
    )
    calls = cur.fetchone()[0]
    return {
        "xacts": float(xacts),
        "deadlocks": float(deadlocks),
        "row_writes": float(writes),
        "statements": float(calls),
        "t": float(now),
    }


def scheduler_processes(site: Site) -> list[int]:
    """The site's scheduler processes (their main loops; the warm standby's waiting launcher too),
    not their executor workers or task runners."""
    home = str(site.home)
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        words = " ".join(args(pid)).split()
        if "scheduler" not in words[:4] or not any("airflow" in w for w in words[:2]):
            continue
        if environ_of(pid).get("AIRFLOW_HOME") == home:
            out.append(pid)
    return out


def _cpu_ticks(pid: int) -> tuple[int, int] | None:
    f = stat_fields(pid)
    if f is None or len(f) < 20:
        return None
    return int(f[19]), int(f[11]) + int(f[12])  # (starttime, utime + stime)


@dataclass
class Window:
    """Samples the database and the schedulers while it is open (a background thread)."""

    pg: PgServer
    site: Site
    every: float = 0.5
    samples: int = 0
    waiting_samples: int = 0
    max_waiting: int = 0
    _cpu: dict[tuple[int, int], list[int]] = field(default_factory=dict)

    def __enter__(self) -> Window:
        self._conn = stats_conn(self.pg)
        self._log_offset = self.pg.logfile.stat().st_size if self.pg.logfile.exists() else 0
        with self._conn.cursor() as cur:
            self._c0 = _counters(cur, self.site.dbname)
        self._t0 = self.site.db_now()
        self._sample_cpu(first=True)
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="window")
        self._thread.start()
        return self

    def _sample_cpu(self, first: bool = False) -> None:
        for pid in scheduler_processes(self.site):
            got = _cpu_ticks(pid)
            if got is None:
                continue
            key = (pid, got[0])
            if key not in self._cpu:
                # A process already running when the window opened counts from then; one that
                # starts later counts from its birth.
                self._cpu[key] = [got[1] if first else 0, got[1]]
            self._cpu[key][1] = got[1]

    def _run(self) -> None:
        conn = stats_conn(self.pg)
        try:
            while not self._halt.wait(self.every):
                with conn.cursor() as cur:
                    # Lock waits of this database's sessions (row locks show as transactionid or
                    # tuple locks, whose database column is empty, so filter by the session).
                    cur.execute(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                        " WHERE NOT l.granted AND a.datname = %s",
                        (self.site.dbname,),
                    )
                    waiting = int(cur.fetchone()[0])
                self.samples += 1
                self.waiting_samples += waiting > 0
                self.max_waiting = max(self.max_waiting, waiting)
                self._sample_cpu()
        finally:
            conn.close()

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self._thread.join(timeout=10)
        self._sample_cpu()
        with self._conn.cursor() as cur:
            self._c1 = _counters(cur, self.site.dbname)
        self._conn.close()
        self._t1 = self.site.db_now()

    def result(self) -> dict[str, float]:
        secs = self._c1["t"] - self._c0["t"]
        d = {k: self._c1[k] - self._c0[k] for k in self._c0}
        text = ""
        if self.pg.logfile.exists():
            with open(self.pg.logfile, "rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode(errors="replace")
        ticks = sum(last - first for first, last in self._cpu.values())
        queued = self.site.query(
            "SELECT count(*) FROM (SELECT queued_dttm FROM task_instance UNION ALL"
            " SELECT queued_dttm FROM task_instance_history) q"
            " WHERE queued_dttm > %s AND queued_dttm <= %s",
            (self._t0, self._t1),
        )[0][0]
        ended = dict(
            self.site.query(
                "SELECT coalesce(state, 'none'), count(*) FROM task_instance"
                " WHERE end_date > %s AND end_date <= %s GROUP BY 1",
                (self._t0, self._t1),
            )
        )
        finished = ended.get("success", 0)
        out = {
            "seconds": secs,
            "statements_per_s": d["statements"] / secs,
            "xacts_per_s": d["xacts"] / secs,
            "row_writes_per_s": d["row_writes"] / secs,
            "deadlocks": d["deadlocks"],
            "lock_wait_sample_pct": 100.0 * self.waiting_samples / max(1, self.samples),
            "max_waiting": float(self.max_waiting),
            "scheduler_cpu_pct": 100.0 * ticks / CLK_TCK / secs,
            "tis_queued_per_min": 60.0 * float(queued) / secs,
            "tis_done_per_min": 60.0 * float(finished) / secs,
        }
        for state, n in ended.items():
            out[f"ended_{state}"] = float(n)
        for key, mark in LOG_MARKS.items():
            out[key] = float(text.count(mark))
        return out


# -- after a fault -----------------------------------------------------------------------------------
def first_queued_after(site: Site, t: datetime) -> datetime | None:
    rows = site.query(
        "SELECT min(q) FROM (SELECT min(queued_dttm) q FROM task_instance WHERE queued_dttm > %s"
        " UNION ALL SELECT min(queued_dttm) FROM task_instance_history WHERE queued_dttm > %s) x",
        (t, t),
    )
    return rows[0][0] if rows else None


def first_parse_after(site: Site, t: datetime) -> datetime | None:
    rows = site.query("SELECT min(last_parsed_time) FROM dag WHERE last_parsed_time > %s", (t,))
    return rows[0][0] if rows else None


def long_tries(site: Site) -> list[dict[str, Any]]:
    """Every try of the long task (all its runs): history rows and the current row."""
    cols = "run_id, try_number, state, hostname, start_date, end_date"
    rows = site.query(
        f"SELECT {cols} FROM task_instance_history WHERE dag_id = 'vs_native_long' UNION ALL"
        f" SELECT {cols} FROM task_instance WHERE dag_id = 'vs_native_long' ORDER BY 1, 2"
    )
    keys = ("run_id", "try_number", "state", "hostname", "start_date", "end_date")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def running_long_try(site: Site) -> dict[str, Any] | None:
    """The long task's current try when it runs and its body wrote a beat in the last 2 s (a
    killed try stays "running" in the table until a scheduler resets it)."""
    recent = [b for b in read_beats(site)[-40:] if b["t"] > time.time() - 2]
    for t in long_tries(site):
        if t["state"] == "running" and any(
            b["run_id"] == t["run_id"] and b["try"] == t["try_number"] for b in recent
        ):
            return t
    return None


def read_beats(site: Site) -> list[dict[str, Any]]:
    path = Path(site.extra_env["VS_NATIVE_DIR"]) / "beats.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def overlap_seconds(beats: list[dict[str, Any]], bucket: float = 0.5) -> float:
    """How long two tries of one task instance both executed: the 0.5 s slots in which beats of
    two different tries were written (a frozen or dead try writes none). A try starts seconds
    after its predecessor died, so a hand-over never shares a slot."""
    slots: dict[tuple[str, int], set[int]] = {}
    for b in beats:
        slots.setdefault((b["run_id"], int(b["try"])), set()).add(int(b["t"] // bucket))
    shared: set[tuple[str, int]] = set()
    keys = sorted(slots)
    for i, ka in enumerate(keys):
        for kb in keys[i + 1 :]:
            if ka[0] == kb[0]:
                shared |= {(ka[0], s) for s in slots[ka] & slots[kb]}
    return len(shared) * bucket


def wait_until(pred: Any, timeout: float, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(every)
    return None
