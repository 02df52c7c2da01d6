"""The warm standby protocol with real daemons, a real PostgreSQL and the stand-in scheduler
(docs/warm-standby.md): a small warm launcher written here speaks the protocol on fd 3 and then
execs the stand-in, so the records prove what ran when. The Airflow launcher is tested end to
end in tests/airflow/test_airflow_warm.py."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import time
from pathlib import Path
from typing import Any

from localcluster.cluster import STANDIN, Cluster
from localcluster.pgserver import PgServer
from localcluster.procfs import alive

# Writes one JSON line per protocol step to WARM_LOG, then becomes the stand-in (same pid).
LAUNCHER = """#!{python}
import json, os, socket, stat, sys, time
def rec(ev, **kw):
    r = {{"ev": ev, "pid": os.getpid(), "node": os.environ.get("AIRFLOW_FAILOVER_NODE"),
         "term_env": os.environ.get("AIRFLOW_FAILOVER_TERM"), "mono": time.monotonic(), **kw}}
    with open({log!r}, "a") as f:
        f.write(json.dumps(r) + "\\n")
fd = os.environ.get("AIRFLOW_FAILOVER_WARM_FD")
if fd is None:
    rec("cold")
    os.execv({standin!r}, [{standin!r}])
rec("warm", fd=fd, fd_is_socket=stat.S_ISSOCK(os.fstat(int(fd)).st_mode))
s = socket.socket(fileno=int(fd))
s.sendall(b"ready\\n")
line = s.makefile("rb").readline()
if not line:
    rec("eof")
    sys.exit(0)
term = line.split()[1].decode()
rec("go", line=line.decode())
s.close()
os.environ["AIRFLOW_FAILOVER_TERM"] = term
del os.environ["AIRFLOW_FAILOVER_WARM_FD"]
os.execv({standin!r}, [{standin!r}])
"""


def make_cluster(pg: PgServer, tmp: Path, warm: dict[str, Any]) -> tuple[Cluster, Path]:
    log = tmp / "warm.jsonl"
    launcher = tmp / "warm-launcher"
    launcher.write_text(LAUNCHER.format(python=sys.executable, log=str(log), standin=str(STANDIN)))
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    c = Cluster(pg, tmp / "c", size=2)
    for node in c.nodes.values():
        cfg = json.loads(node.config.read_text())
        cfg["processes"][0]["command"] = [str(launcher)]
        cfg["processes"][0]["warm"] = warm
        node.config.write_text(json.dumps(cfg))
    return c, log


def records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


def warm_of(c: Cluster, log: Path, node: str, after: int = 0) -> dict[str, Any]:
    """The node's newest warm copy that said ready, with a pid above `after` in record order."""

    def pred() -> dict[str, Any] | None:
        ws = [r for r in records(log) if r["ev"] == "warm" and r["node"] == node]
        ws = ws[after:]
        if not ws:
            return None
        ready = [e for e in c.events() if e["node_id"] == node and e["kind"] == "warm_ready"]
        return ws[-1] if len(ready) > after else None

    return dict(c.wait_for(pred, 30, f"a warm copy on {node}"))


def test_warm_copy_waits_then_takes_over_with_the_term(pg: PgServer, tmp_path: Path) -> None:
    c, log = make_cluster(pg, tmp_path, {"max_age_s": 3600})
    try:
        c.start(["node-a"])
        first = c.wait_active()
        assert first == "node-a"
        c.start(["node-b"])
        w = warm_of(c, log, "node-b")
        assert w["fd"] == "3" and w["fd_is_socket"], w
        assert w["term_env"] is None, "a warm copy must not be given a term"
        time.sleep(1)
        # It never counts: the stand-in records show only node-a's scheduler, the status too.
        assert {i.node for i in c.live_instances()} == {"node-a"}
        nodes = {n["node_id"]: n for n in c.status().get("nodes", [])}
        if "node-b" in nodes:
            procs = nodes["node-b"].get("processes") or []
            assert not [p for p in procs if p.get("running")], nodes["node-b"]
        c.signal("node-a", signal.SIGKILL)
        c.wait_exit("node-a")
        assert c.wait_active(other_than="node-a") == "node-b"
        go = c.wait_for(
            lambda: next((r for r in records(log) if r["ev"] == "go" and r["node"] == "node-b"), None),
            15,
            "go on node-b",
        )
        term = int(go["line"].split()[1])
        assert go["pid"] == w["pid"], "go reached another process than the warm copy"
        inst = c.wait_for(
            lambda: next((i for i in c.live_instances() if i.node == "node-b"), None),
            15,
            "the stand-in on node-b",
        )
        assert inst.term == term and term >= 2, (inst, term)
        started = [e for e in c.events() if e["node_id"] == "node-b" and e["kind"] == "process_started"]
        assert "warm standby: sent go" in started[-1]["detail"], started
        c.assert_no_overlap()
        c.assert_terms_grow()
    finally:
        c.stop_all()


def test_warm_copy_exits_when_its_daemon_dies(pg: PgServer, tmp_path: Path) -> None:
    c, log = make_cluster(pg, tmp_path, {})
    try:
        c.start(["node-a"])
        c.wait_active()
        c.start(["node-b"])
        w = warm_of(c, log, "node-b")
        c.signal("node-b", signal.SIGKILL)
        c.wait_exit("node-b")
        c.wait_for(lambda: not alive(w["pid"]), 10, "the warm copy to exit with its daemon")
        assert not [r for r in records(log) if r["ev"] == "go"]
    finally:
        c.stop_all()


def test_warm_copy_is_replaced_on_sighup_and_when_a_watched_path_changes(
    pg: PgServer, tmp_path: Path
) -> None:
    watched = tmp_path / "venv-lib"
    watched.mkdir()
    c, log = make_cluster(pg, tmp_path, {"watch_paths": [str(watched)]})
    try:
        c.start(["node-a"])
        c.wait_active()
        c.start(["node-b"])
        w1 = warm_of(c, log, "node-b")
        c.signal("node-b", signal.SIGHUP)
        w2 = warm_of(c, log, "node-b", after=1)
        assert w2["pid"] != w1["pid"]
        c.wait_for(lambda: not alive(w1["pid"]), 10, "the old warm copy to exit")
        eof = [r for r in records(log) if r["ev"] == "eof" and r["pid"] == w1["pid"]]
        assert eof, "the replaced copy did not see EOF (it was killed instead)"
        replaced = [e["detail"] for e in c.events() if e["kind"] == "warm_replaced"]
        assert any("SIGHUP" in d for d in replaced), replaced

        time.sleep(0.05)
        (watched / "new_package.py").write_text("")  # the directory's mtime changes
        w3 = warm_of(c, log, "node-b", after=2)
        assert w3["pid"] != w2["pid"]
        replaced = [e["detail"] for e in c.events() if e["kind"] == "warm_replaced"]
        assert any(str(watched) in d for d in replaced), replaced
        # Neither copy ever ran the stand-in.
        assert {i.node for i in c.live_instances()} == {"node-a"}
        assert os.path.exists(log)
    finally:
        c.stop_all()


def test_warm_copy_is_replaced_after_its_max_age(pg: PgServer, tmp_path: Path) -> None:
    c, log = make_cluster(pg, tmp_path, {"max_age_s": 10})  # the smallest allowed
    try:
        c.start(["node-a"])
        c.wait_active()
        c.start(["node-b"])
        w1 = warm_of(c, log, "node-b")
        t0 = time.monotonic()
        w2 = dict(
            c.wait_for(
                lambda: next(
                    (
                        r
                        for r in records(log)
                        if r["ev"] == "warm" and r["node"] == "node-b" and r["pid"] != w1["pid"]
                    ),
                    None,
                ),
                20,
                "a second warm copy",
            )
        )
        # Replaced at 10 s of age (the copy started up to a second before we saw it ready).
        assert 8.0 <= w2["mono"] - w1["mono"] <= 14.0, (w1, w2, time.monotonic() - t0)
        replaced = [e["detail"] for e in c.events() if e["kind"] == "warm_replaced"]
        assert any("max age of 10 s" in d for d in replaced), replaced
    finally:
        c.stop_all()
