"""The fencing deadline waits on the boot clock in the real processes: the daemon and its guard
each hold a timerfd on CLOCK_BOOTTIME (which keeps counting through a suspend), read from the
kernel's own record in /proc/PID/fdinfo. The guard has no other way to wait for the deadline
(it polls with no timeout), so a frozen daemon is still fenced: the SIGSTOP cases of
test_failover.py exercise that path."""

from __future__ import annotations

import os
import time
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.procfs import guard_of

CLOCK_BOOTTIME = 7


def timerfd_clocks(pid: int) -> list[int]:
    clocks = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) != "anon_inode:[timerfd]":
                continue
            for line in (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().splitlines():
                if line.startswith("clockid:"):
                    clocks.append(int(line.split()[1]))
        except OSError:
            continue
    return clocks


def test_daemon_and_guard_wait_on_the_boot_clock(cluster: Cluster) -> None:
    cluster.start()
    active = cluster.wait_active()
    proc = cluster.nodes[active].proc
    assert proc is not None
    guard = cluster.wait_for(lambda: guard_of(proc.pid), 10, "the active daemon's guard")
    time.sleep(0.5)  # the guard has been told its deadline
    assert timerfd_clocks(guard) == [CLOCK_BOOTTIME]
    assert CLOCK_BOOTTIME in timerfd_clocks(proc.pid)
