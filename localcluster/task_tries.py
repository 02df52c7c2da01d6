"""An independent check that no task ran twice at once: two tries of one task instance alive
at the same moment, judged from the processes themselves.

Airflow records the pid of a try's task process in ``task_instance.pid`` while it runs; the row
then moves on to the next try and the old pid is forgotten. The watcher samples the running tries
twice a second, remembers every (try, pid, process start time) it has seen, and at each sample
counts the tries of each task instance whose process is still alive (same pid, same start time,
so a reused pid does not count). Two or more is an overlap. It reads Airflow's table and /proc,
never the daemons' own records. A sample every 0.5 s can miss an overlap shorter than that.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg2

from .procfs import alive, stat_fields

TiKey = tuple[str, str, str, int]  # dag_id, run_id, task_id, map_index


def start_time(pid: int) -> int | None:
    f = stat_fields(pid)
    return int(f[19]) if f is not None and len(f) > 19 else None  # field 22: starttime


class TryWatcher(threading.Thread):
    def __init__(self, conninfo: str, dag_id: str, every: float = 0.5) -> None:
        super().__init__(daemon=True, name="try-watcher")
        self.conninfo = conninfo
        self.dag_id = dag_id
        self.every = every
        self.seen: dict[TiKey, dict[int, tuple[int, int]]] = {}  # key -> try -> (pid, starttime)
        self.overlaps: list[dict[str, Any]] = []
        self._halt = threading.Event()

    @property
    def tries_seen(self) -> int:
        return sum(len(t) for t in self.seen.values())

    def run(self) -> None:
        conn = None
        while not self._halt.wait(self.every):
            try:
                if conn is None or conn.closed:
                    conn = psycopg2.connect(self.conninfo, connect_timeout=5)
                    conn.autocommit = True
                self.sample(conn)
            except psycopg2.Error:
                conn = None  # the database restarts or goes away at teardown: try again
        if conn is not None:
            conn.close()

    def sample(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT dag_id, run_id, task_id, map_index, try_number, pid FROM task_instance"
                " WHERE dag_id = %s AND state = 'running' AND pid IS NOT NULL",
                (self.dag_id,),
            )
            for dag_id, run_id, task_id, map_index, try_number, pid in cur.fetchall():
                st = start_time(pid)
                if st is not None:
                    self.seen.setdefault((dag_id, run_id, task_id, map_index), {}).setdefault(
                        try_number, (pid, st)
                    )
        for key, tries in self.seen.items():
            live = sorted(t for t, (pid, st) in tries.items() if alive(pid) and start_time(pid) == st)
            if len(live) > 1 and not any(o["key"] == list(key) and o["tries"] == live for o in self.overlaps):
                self.overlaps.append({"key": list(key), "tries": live})

    def stop(self) -> list[dict[str, Any]]:
        """Stops sampling; returns the overlaps seen (empty when no task ran twice at once)."""
        self._halt.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)
        return self.overlaps
