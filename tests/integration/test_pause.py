"""Maintenance mode (issue 17): `pause` freezes failover cluster-wide, in the database; real
daemons, real PostgreSQL, the stand-in scheduler."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer


def won_by(c: Cluster) -> list[str]:
    return [e["node_id"] for e in c.events() if e["kind"] == "became_active"]


def scheduler_pids(c: Cluster, node: str) -> list[int]:
    return [i.pid for i in c.live_instances() if i.node == node]


def test_pause_then_kill_9_of_the_active_nothing_takes_over_until_resume(two: Cluster) -> None:
    c = two
    res = c.cli("pause", "--reason", "deploy airflow 3.3.2", "--expires", "10m")
    assert res.returncode == 0, res.stderr
    assert "paused by cli:" in res.stdout and "deploy airflow 3.3.2" in res.stdout
    status = c.status()
    assert status["paused"]["reason"] == "deploy airflow 3.3.2"
    assert status["paused"]["for_holder"] == "node-a"
    assert 590_000 < status["paused"]["remaining_ms"] <= 600_000
    c.signal("node-a", signal.SIGKILL)
    c.wait_exit("node-a")
    # The guard kills node-a's scheduler at its deadline; the lease then expires. Three lease
    # lengths with a free lease and a healthy standby: nobody takes over.
    c.wait_for(lambda: not c.live_instances(), 10, "node-a's scheduler to be killed by its guard")
    time.sleep(3 * c.ttl_ms / 1000)
    status = c.status()
    assert status["active"] is None, status
    assert won_by(c) == ["node-a"]
    assert not c.live_instances()
    text = c.cli("status", node="node-b")
    assert text.returncode == 1
    assert "NO ACTIVE NODE" in text.stdout and "MAINTENANCE MODE" in text.stdout, text.stdout
    assert "nobody takes over until `airflow-failover resume`" in text.stdout, text.stdout
    # Resume ends it at once: node-b is woken through NOTIFY and takes the free lease.
    t0 = time.monotonic()
    res = c.cli("resume", node="node-b")
    assert res.returncode == 0 and "resumed" in res.stdout, res.stderr
    assert c.wait_active(timeout=10) == "node-b"
    took = time.monotonic() - t0
    print(f"resume -> node-b active with its scheduler: {took * 1000:.0f} ms")
    assert took < 5, took  # generous: the path is NOTIFY, not the poll
    assert c.status()["paused"] is None
    kinds = [e["kind"] for e in c.events()]
    assert "paused" in kinds and "resumed" in kinds
    c.assert_no_overlap()
    # history: node-a's term ended when it died, node-b's began only at resume; the operator's
    # paused/resumed rows belong to no term.
    terms = json.loads(c.cli("history", "--json").stdout)["terms"]
    assert [(t["holder"], t["ended"]) for t in terms][-1] == ("node-b", "active"), terms
    assert terms[-2]["holder"] == "node-a" and terms[-2]["ended"] != "active", terms
    assert terms[-2]["gap_ms"] >= 3 * c.ttl_ms, terms


def test_pause_then_killing_the_scheduler_by_hand_it_is_not_restarted(two: Cluster) -> None:
    c = two
    (pid,) = scheduler_pids(c, "node-a")
    assert c.cli("pause", "--reason", "restart scheduler by hand").returncode == 0
    time.sleep(0.5)  # NOTIFY reaches node-a's worker
    os.kill(pid, signal.SIGKILL)
    # The restart back-off is 200 ms in these configs: wait far longer.
    time.sleep(4)
    assert not c.live_instances(), c.live_instances()
    status = c.status()
    assert status["active"] == "node-a", "the holder keeps its lease while paused"
    assert won_by(c) == ["node-a"]
    exits = [e for e in c.events() if e["kind"] == "process_exited"]
    assert exits and "not restarted: the cluster is paused" in exits[-1]["detail"], exits
    assert c.cli("resume").returncode == 0
    c.wait_for(lambda: scheduler_pids(c, "node-a"), 5, "resume to start node-a's scheduler")
    assert c.status()["term"] == status["term"], "same term: no failover happened"
    c.assert_no_overlap()


def test_stop_processes_stops_them_and_resume_starts_them(two: Cluster) -> None:
    c = two
    (pid,) = scheduler_pids(c, "node-a")
    term = c.status()["term"]
    res = c.cli("pause", "--stop-processes", "--reason", "db migration", "--expires", "never")
    assert res.returncode == 0, res.stderr
    assert "processes stopped until resume" in res.stdout and "no expiry" in res.stdout
    c.wait_for(lambda: not c.live_instances(), 10, "the stand-in to be stopped")
    stopped = [i for i in c.instances() if i.pid == pid]
    assert stopped and stopped[0].stopped_cleanly, "stopped gracefully (SIGTERM), not killed"
    time.sleep(2)
    assert not c.live_instances()
    status = c.status()
    assert status["active"] == "node-a" and status["term"] == term
    assert status["paused"]["stop_processes"] is True and status["paused"]["expires_at"] is None
    assert c.cli("resume").returncode == 0
    c.wait_for(lambda: scheduler_pids(c, "node-a"), 5, "resume to start node-a's scheduler")
    assert c.status()["term"] == term
    c.assert_no_overlap()


def test_a_switchover_is_refused_while_paused(two: Cluster) -> None:
    c = two
    assert c.cli("pause").returncode == 0
    time.sleep(0.5)
    res = c.cli("switchover", "--timeout", "5")
    assert res.returncode == 1
    assert "refused: the cluster is paused" in res.stderr, res.stderr
    assert c.status()["active"] == "node-a"


def test_pause_arguments_are_checked(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=1)
    res = c.cli("pause", "--expires", "30")
    assert res.returncode == 2
    assert "--expires needs a duration with a unit" in res.stderr, res.stderr
    res = c.cli("resume")
    assert res.returncode == 0 and "was not paused" in res.stdout, res.stdout + res.stderr


def test_an_expired_pause_no_longer_holds_anyone_back(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=1)
    try:
        assert c.cli("pause", "--expires", "3s").returncode == 0
        c.start()
        time.sleep(1.5)
        assert c.status()["active"] is None, "paused: the only node does not take the lease"
        assert c.wait_active(timeout=10) == "node-a"
        assert c.status()["paused"] is None
        assert json.loads(c.cli("status", "--json").stdout)["paused"] is None
    finally:
        c.stop_all()
