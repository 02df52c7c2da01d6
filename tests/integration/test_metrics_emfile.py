"""Out of descriptors, the metrics server must not spin the daemon's event loop (issue 22,
item 6). A real daemon's RLIMIT_NOFILE is lowered (prlimit) to just above what it has open, and
connections that never send a request wait in the listen backlog: every accept fails with
EMFILE. Accepting again at once used to fail again at once, a busy loop on the thread that also
runs the election; now it waits between tries. Measured as the daemon's CPU time (utime +
stime) over two seconds of that."""

from __future__ import annotations

import os
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port

WINDOW_S = 2.0


@pytest.fixture
def one_node(pg: PgServer, tmp_path: Path) -> Iterator[tuple[Cluster, int]]:
    port = free_tcp_port()
    c = Cluster(pg, tmp_path / "cluster", size=1, extra={"metrics": {"listen": f"127.0.0.1:{port}"}})
    try:
        yield c, port
    finally:
        c.stop_all()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_running_out_of_descriptors_does_not_spin_the_event_loop(one_node: tuple[Cluster, int]) -> None:
    c, port = one_node
    c.start()
    c.wait_active()
    proc = c.nodes["node-a"].proc
    assert proc is not None
    pid = proc.pid
    old = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    held: list[socket.socket] = []
    try:
        open_now = len(os.listdir(f"/proc/{pid}/fd"))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_now + 2, old[1]))
        for _ in range(10):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        time.sleep(0.3)  # the accepts have run into the limit
        start = cpu_seconds(pid)
        time.sleep(WINDOW_S)
        used = cpu_seconds(pid) - start
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, old)
        for s in held:
            s.close()
    assert used < 0.25 * WINDOW_S, f"the daemon used {used:.2f} s of CPU in {WINDOW_S} s out of descriptors"
    # It serves again once descriptors are back.
    c.wait_for(lambda: proc.poll() is None and c.active() == "node-a", 5, "node-a still active")
