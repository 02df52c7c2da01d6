"""The warm standby's channel is bounded (issue 22, item 5), with real daemons and PostgreSQL:
a warm copy that writes 100 MB without a newline does not grow the daemon (it is killed, with an
event), and a go that cannot be sent leaves no warm copy running beside the cold start."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
from pathlib import Path

from localcluster.cluster import STANDIN, Cluster
from localcluster.pgserver import PgServer
from localcluster.procfs import alive
from tests.integration.test_warm_protocol import records

# Cold: becomes the stand-in. Warm: MODE decides how it misbehaves on fd 3.
LAUNCHER = """#!{python}
import json, os, socket, sys, time
def rec(ev, **kw):
    r = {{"ev": ev, "pid": os.getpid(), "node": os.environ.get("AIRFLOW_FAILOVER_NODE"), **kw}}
    with open({log!r}, "a") as f:
        f.write(json.dumps(r) + "\\n")
fd = os.environ.get("AIRFLOW_FAILOVER_WARM_FD")
if fd is None:
    rec("cold")
    os.execv({standin!r}, [{standin!r}])
fd = int(fd)
rec("warm")
if {mode!r} == "flood":
    chunk = b"x" * (1 << 20)
    try:
        for _ in range(100):
            os.write(fd, chunk)
        rec("flood_done")
    except OSError as e:
        rec("flood_refused", error=str(e))
else:  # "deaf": says ready, then closes its end, so go cannot be sent; stays alive
    os.write(fd, b"ready\\n")
    os.close(fd)
    rec("deaf")
time.sleep(300)
"""


def make_cluster(pg: PgServer, tmp: Path, mode: str) -> tuple[Cluster, Path]:
    log = tmp / "warm.jsonl"
    launcher = tmp / "warm-launcher"
    launcher.write_text(LAUNCHER.format(python=sys.executable, log=str(log), standin=str(STANDIN), mode=mode))
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    c = Cluster(pg, tmp / "c", size=2)
    for node in c.nodes.values():
        cfg = json.loads(node.config.read_text())
        cfg["processes"][0]["command"] = [str(launcher)]
        cfg["processes"][0]["warm"] = {"max_age_s": 3600}
        node.config.write_text(json.dumps(cfg))
    return c, log


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_a_warm_copy_writing_100_mb_without_newline_does_not_grow_the_daemon(
    pg: PgServer, tmp_path: Path
) -> None:
    c, log = make_cluster(pg, tmp_path, "flood")
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        c.start(["node-b"])
        proc = c.nodes["node-b"].proc
        assert proc is not None
        # Either the daemon read it all (unbounded) or it killed the copy on the way.
        c.wait_for(
            lambda: (
                any(r["ev"] == "flood_done" for r in records(log))
                or any(e["node_id"] == "node-b" and e["kind"] == "warm_exited" for e in c.events())
            ),
            60,
            "the warm copy's 100 MB write to end",
        )
        peak_mib = peak_rss_kib(proc.pid) / 1024
        # The daemon's own footprint is ~10 MiB; unbounded, the line buffer alone held 100 MiB.
        assert peak_mib < 50, f"node-b's daemon peaked at {peak_mib:.0f} MiB"
        ended = c.wait_for(
            lambda: next(
                (e for e in c.events() if e["node_id"] == "node-b" and e["kind"] == "warm_exited"), None
            ),
            15,
            "a warm_exited event on node-b",
        )
        assert "without a newline" in ended["detail"], ended
        warm_pid = next(r["pid"] for r in records(log) if r["ev"] == "warm" and r["node"] == "node-b")
        assert not alive(warm_pid)
    finally:
        c.stop_all()


def test_a_go_that_cannot_be_sent_leaves_no_warm_copy_running(pg: PgServer, tmp_path: Path) -> None:
    c, log = make_cluster(pg, tmp_path, "deaf")
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        c.start(["node-b"])
        deaf = c.wait_for(
            lambda: next((r for r in records(log) if r["ev"] == "deaf" and r["node"] == "node-b"), None),
            30,
            "node-b's warm copy to say ready and close its channel",
        )
        c.wait_for(
            lambda: any(e["node_id"] == "node-b" and e["kind"] == "warm_ready" for e in c.events()),
            15,
            "node-b to count its warm copy as ready",
        )
        c.signal("node-a", signal.SIGKILL)
        c.wait_exit("node-a")
        assert c.wait_active(other_than="node-a") == "node-b"
        c.wait_for(
            lambda: any(r["ev"] == "cold" and r["node"] == "node-b" for r in records(log)),
            15,
            "the cold start on node-b",
        )
        c.wait_for(lambda: not alive(deaf["pid"]), 5, "the warm copy that missed its go to be gone")
    finally:
        for r in records(log):
            if r["ev"] in ("warm", "deaf") and alive(r["pid"]):
                signal_pid(r["pid"])
        c.stop_all()


def signal_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
