"""Health checks beyond "the pid is alive", against real daemons: a frozen scheduler (alive but
not answering) is detected by its http check, killed and restarted in place; a command check that
keeps failing makes the node hand the lease over."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_ports
from tests.support.helpers import settle


def with_health(cluster: Cluster, health: dict[str, Any] | None = None, per_node: bool = False) -> None:
    """Rewrites the node configs with a health check on the scheduler."""
    # TCP ports, distinct per node: a free UDP number may be a TCP port in use (the database's).
    ports = free_tcp_ports(len(cluster.nodes))
    for node, port in zip(cluster.nodes.values(), ports, strict=True):
        cfg = cluster.node_config(node)
        proc = cfg.processes[0]
        if per_node:
            proc.env["STANDIN_HTTP_PORT"] = str(port)
            proc.health = {
                "type": "http",
                "url": f"http://127.0.0.1:{port}/health",
                "interval_ms": 300,
                "timeout_ms": 200,
                "failure_threshold": 3,
                "start_period_ms": 5000,
            }
        else:
            proc.health = health
        cfg.write(node.config)


def test_check_config_accepts_and_rejects_health(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(pg, tmp_path / "c", size=1)
    with_health(cluster, {"type": "http", "url": "https://x/health"})
    res = cluster.cli("check-config")
    assert res.returncode == 2 and "processes[0].health.url: must be an http:// URL" in res.stderr
    with_health(cluster, {"type": "tcp"})
    res = cluster.cli("check-config")
    assert res.returncode == 2 and 'processes[0].health.type: must be "airflow-db"' in res.stderr
    with_health(cluster, {"type": "command", "command": ["true"], "interval_ms": 1000, "timeout_ms": 2000})
    res = cluster.cli("check-config")
    assert res.returncode == 2 and "timeout_ms: must not exceed" in res.stderr


def test_frozen_scheduler_is_restarted_in_place(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(pg, tmp_path / "c")
    with_health(cluster, per_node=True)
    try:
        cluster.start()
        active = cluster.wait_active()
        term = cluster.status()["term"]
        cluster.wait_for(
            lambda: any(
                p.get("health", {}) and p["health"]["state"] == "healthy"
                for n in cluster.status()["nodes"]
                if n["node_id"] == active
                for p in n["processes"]
            ),
            10,
            "the check to pass once",
        )
        frozen = cluster.live_instances()[0]
        os.kill(frozen.pid, signal.SIGSTOP)  # alive, but hung
        cluster.wait_for(
            lambda: any(e["kind"] == "health_failed" for e in cluster.events()), 15, "health_failed"
        )
        cluster.wait_for(
            lambda: (
                [i.node for i in cluster.live_instances()] == [active]
                and cluster.live_instances()[0].pid != frozen.pid
            ),
            15,
            "a new scheduler on the same node",
        )
        assert cluster.status()["term"] == term, "restarted in place, same term"
        kinds = [e["kind"] for e in cluster.events() if e["node_id"] == active]
        assert "restart_scheduled" in kinds
        settle(cluster, 1)
        cluster.assert_no_overlap()
    finally:
        cluster.stop_all()


def test_failing_command_check_hands_over(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(pg, tmp_path / "c")
    # Each node's check fails while its crash file exists (the stand-in itself keeps running).
    for node in cluster.nodes.values():
        cfg = cluster.node_config(node)
        cfg.processes[0].env["STANDIN_CRASH_FILE"] = str(tmp_path / "never")
        cfg.processes[0].health = {
            "type": "command",
            "command": ["/bin/sh", "-c", f"test ! -e {node.crash_file}"],
            "interval_ms": 200,
            "timeout_ms": 150,
            "failure_threshold": 2,
            "start_period_ms": 0,
        }
        cfg.write(node.config)
    try:
        cluster.start()
        first = cluster.wait_active()
        cluster.nodes[first].crash_file.touch()
        second = cluster.wait_active(timeout=40, other_than=first)
        kinds = [e["kind"] for e in cluster.events() if e["node_id"] == first]
        assert "health_failed" in kinds and "crash_loop" in kinds
        assert second != first
        settle(cluster, 1)
        cluster.assert_no_overlap()
        cluster.assert_terms_grow()
    finally:
        cluster.stop_all()


def test_sighup_reloads_health_limits_and_refuses_the_rest(pg: PgServer, tmp_path: Path) -> None:
    import json
    import time

    cluster = Cluster(pg, tmp_path / "c", size=1)
    with_health(cluster, per_node=True)
    node = cluster.nodes["node-a"]
    try:
        cluster.start()
        cluster.wait_active()
        cfg = json.loads(node.config.read_text())
        cfg["processes"][0]["health"]["failure_threshold"] = 7
        node.config.write_text(json.dumps(cfg))
        cluster.signal("node-a", signal.SIGHUP)
        cluster.wait_for(
            lambda: "health-check limits reloaded" in node.log.read_text(), 10, "the reload to be logged"
        )
        cfg["processes"][0]["health"]["url"] = "http://127.0.0.1:1/other"
        node.config.write_text(json.dumps(cfg))
        cluster.signal("node-a", signal.SIGHUP)
        cluster.wait_for(
            lambda: "only failure_threshold, interval_ms and start_period_ms" in node.log.read_text(),
            10,
            "the refusal to be logged",
        )
        time.sleep(0.5)
        assert cluster.active() == "node-a", "a reload must not disturb the election"
    finally:
        cluster.stop_all()
