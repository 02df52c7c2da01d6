"""The fencing deadline waits on the boot clock in the real processes: the daemon and its guard
each hold a timerfd on CLOCK_BOOTTIME (which keeps counting through a suspend), read from the
kernel's own record in /proc/PID/fdinfo. The guard has no other way to wait for the deadline
(it polls with no timeout), so a frozen daemon is still fenced: the SIGSTOP cases of
test_failover.py exercise that path."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from localcluster.chaos.env import FAKETIME_LIBS, faketime_env
from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.procfs import guard_of, stat_fields

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


def cpu_seconds(pid: int) -> float:
    f = stat_fields(pid)
    assert f is not None, f"process {pid} is gone"
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_a_wall_clock_shifted_by_libfaketime_neither_spins_nor_slows_the_daemon(
    pg: PgServer, tmp_path: Path
) -> None:
    """The chaos suite moves a host's wall clock with libfaketime, which also rewrites absolute
    timerfd instants: armed through libc, every boot-clock timer fired at once and the loop
    spun (the clock row's failover took 450 ms instead of 100). Idle daemons stay idle, and
    a kill -9 of the active still fails over through the standby's own timers."""
    lib = next((p for p in FAKETIME_LIBS if Path(p).exists()), None)
    assert lib, f"libfaketime not found in {FAKETIME_LIBS}: scripts/lib/deps.sh installs faketime"
    env = {**os.environ, **faketime_env(lib)}
    cluster = Cluster(pg, tmp_path / "c", size=2, daemon_env=env)
    try:
        cluster.start()
        active = cluster.wait_active()
        time.sleep(1.0)
        pids = {n: node.proc.pid for n, node in cluster.nodes.items() if node.proc}
        before = {n: cpu_seconds(p) for n, p in pids.items()}
        time.sleep(3.0)
        used = {n: cpu_seconds(p) - before[n] for n, p in pids.items()}
        # Idle, a daemon uses a few ms of CPU a second; a spinning loop all it can get.
        assert all("libfaketime" in Path(f"/proc/{p}/maps").read_text() for p in pids.values())
        assert all(u < 0.3 for u in used.values()), f"CPU seconds in 3 s: {used}"
        cluster.signal(active, signal.SIGKILL)
        cluster.wait_active(other_than=active, timeout=15)
        cluster.assert_no_overlap()
    finally:
        cluster.stop_all()
