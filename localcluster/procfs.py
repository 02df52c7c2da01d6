"""Reading /proc for the local system, its tests and benchmarks: the one module that does.

The command name in stat may hold spaces and parentheses, so fields are read after the last ')'.
Every reader tolerates the process vanishing between two reads.
"""

from __future__ import annotations

import os
from pathlib import Path


def pids() -> list[int]:
    """Every process id in /proc now (some may be gone by the time they are read)."""
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


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


def args(pid: int) -> list[str]:
    """The command line as text, without the empty trailing field; [] when the process is gone."""
    return [a.decode(errors="replace") for a in cmdline(pid) if a]


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def wchan(pid: int) -> str | None:
    """Where in the kernel the process sleeps (say ``wait_for_partner``: opening a FIFO)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return None


def pids_with_env(var: str, value: str) -> list[int]:
    """Live processes whose environment carries ``var=value`` (never this process)."""
    mark = f"{var}={value}".encode()
    out = []
    for pid in pids():
        if pid == os.getpid():
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if mark in env.split(b"\0") and alive(pid):
            out.append(pid)
    return out


def session_pids(sid: int) -> list[int]:
    """Live members of session ``sid``."""
    out = []
    for pid in pids():
        st = proc_stat(pid)
        if st and st[3] == sid and st[0] not in ("Z", "X"):
            out.append(pid)
    return out


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (by parent pid), not ``root`` itself."""
    children: dict[int, list[int]] = {}
    for pid in pids():
        st = proc_stat(pid)
        if st and st[0] not in ("Z", "X"):
            children.setdefault(st[1], []).append(pid)
    out: set[int] = set()
    todo = [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def guard_of(daemon_pid: int) -> int | None:
    """The pid of the `airflow-failover guard` process a daemon started, or None."""
    for pid in pids():
        st = proc_stat(pid)
        if st and st[1] == daemon_pid and cmdline(pid)[1:2] == [b"guard"]:
            return pid
    return None
