"""A node with `"nofailover": true` reports its status and sends heartbeats but never competes
for the lease, not even as the last node standing (patronictl's nofailover tag)."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer


def test_nofailover_node_never_becomes_active(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(pg, tmp_path / "cluster", size=2, heartbeats=True)
    cfg_b = cluster.nodes["node-b"].config
    cfg = json.loads(cfg_b.read_text())
    cfg["nofailover"] = True
    cfg_b.write_text(json.dumps(cfg))
    try:
        cluster.start()
        assert cluster.wait_active() == "node-a"
        # node-b is alive and heard, with its own role.
        cluster.wait_for(
            lambda: (
                {n["node_id"]: n["role"] for n in cluster.status()["nodes"]}.get("node-b") == "nofailover"
            ),
            10,
            "node-b's row to read nofailover",
        )
        cluster.wait_for(
            lambda: any(
                n["node_id"] == "node-a" and n["peers"].get("node-b", {}).get("heard")
                for n in cluster.status()["nodes"]
            ),
            10,
            "node-a to hear node-b's heartbeats",
        )
        cluster.signal("node-a", signal.SIGKILL)
        time.sleep(3 * cluster.ttl_ms / 1000)  # three lease lengths with the lease free
        status = cluster.status()
        assert status["active"] is None, status
        roles = {n["node_id"]: n["role"] for n in status["nodes"]}
        assert roles["node-b"] == "nofailover", roles
        assert cluster.cli("status").returncode == 1  # no active node
        won = [e["node_id"] for e in cluster.events() if e["kind"] == "became_active"]
        assert won == ["node-a"], won
        assert not [i for i in cluster.live_instances() if i.node == "node-b"]
    finally:
        cluster.stop_all()


def test_nofailover_must_be_a_boolean(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(pg, tmp_path / "cluster", size=1)
    cfg_path = cluster.nodes["node-a"].config
    cfg = json.loads(cfg_path.read_text())
    cfg["nofailover"] = "yes"
    cfg_path.write_text(json.dumps(cfg))
    res = cluster.cli("check-config")
    assert res.returncode == 2 and "nofailover: must be true or false" in res.stderr
