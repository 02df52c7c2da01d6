"""Reading /proc for tests and benchmarks: one parser of /proc/<pid>/stat for everyone.

The command name in stat may hold spaces and parentheses, so fields are read after the last ')'.
Every reader tolerates the process vanishing between two reads.
"""

from __future__ import annotations

from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """Fields 3 onwards of /proc/<pid>/stat (state, ppid, pgrp, session, ...), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgrp, session) of a process, or None when it is gone."""
    f = stat_fields(pid)
    if f is None:
        return None
    return f[0], int(f[1]), int(f[2]), int(f[3])


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie runs nothing, whoever reaps it)."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def guard_of(daemon_pid: int) -> int | None:
    """The pid of the `airflow-failover guard` process a daemon started, or None."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        st = proc_stat(pid)
        if st and st[1] == daemon_pid and cmdline(pid)[1:2] == [b"guard"]:
            return pid
    return None
