"""Attack tests for peer heartbeats (issue 14): replays of an earlier life of a peer, and a
heartbeat key that others can read."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from tests.support.heartbeat_wire import encode
from tests.support.helpers import settle


def incarnation(c: Cluster, node: str) -> int:
    return int(
        c.pg.psql(
            "SELECT incarnation FROM airflow_failover.nodes "
            f"WHERE cluster = '{c.name}' AND node_id = '{node}'"
        )
    )


def node_row(c: Cluster, name: str) -> dict[str, Any]:
    return next(n for n in c.status()["nodes"] if n["node_id"] == name)


def test_heartbeats_of_a_restarted_peers_earlier_life_are_replays(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=2, heartbeats=True, priorities={"node-a": 200, "node-b": 100})
    try:
        c.start()
        c.wait_active()
        settle(c, 1)
        captured_life = incarnation(c, "node-a")
        # node-a restarts (a new incarnation in the database), then dies for good.
        c.signal("node-a", signal.SIGTERM)
        assert c.wait_exit("node-a") == 0
        c.start(["node-a"])
        c.wait_for(lambda: incarnation(c, "node-a") > captured_life, 10, "node-a's restart")
        c.signal("node-a", signal.SIGTERM)
        assert c.wait_exit("node-a") == 0
        # node-b restarts too: it has heard nothing of node-a in this life.
        c.signal("node-b", signal.SIGTERM)
        c.wait_exit("node-b")
        c.start(["node-b"])
        c.wait_active()
        settle(c, 1.5)  # registered, a node-row refresh with counters
        # An attacker replays what it captured of node-a's first life: a healthy standby of
        # priority 200, which would make node-b fail back to a dead node or pass a switchover
        # check.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for seq in range(10_000, 10_010):
                s.sendto(
                    encode(
                        cluster=c.name,
                        node="node-a",
                        key=c.key,
                        incarnation=captured_life,
                        seq=seq,
                        role=0,
                        priority=200,
                        flags=0x02 | 0x04,
                    ),
                    ("127.0.0.1", c.udp_ports["node-b"]),
                )

        def counted() -> dict[str, Any] | None:
            row = node_row(c, "node-b")
            hb = row["counters"].get("heartbeat", {})
            return row if hb.get("dropped", {}).get("replayed", 0) >= 10 else None

        row = c.wait_for(counted, 10, "node-b to count the replays")
        assert row["counters"]["heartbeat"]["received"] == 0, row["counters"]
        assert not row["peers"].get("node-a", {}).get("heard"), row["peers"]
    finally:
        c.stop_all()


def test_a_key_file_others_can_read_stops_the_start(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=2, heartbeats=True)
    for mode in (0o644, 0o640, 0o604, 0o660):
        c.secret_file.chmod(mode)
        try:
            res = subprocess.run(
                [str(daemon_binary()), "run", "--config", str(c.nodes["node-a"].config)],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the daemon ran with a key file of mode {mode:04o}") from None
        assert res.returncode != 0
        assert str(c.secret_file) in res.stderr and f"{mode:04o}" in res.stderr, res.stderr
        assert "heartbeat.secret_file" in res.stderr
    c.secret_file.chmod(0o400)  # private, read-only: fine
    assert c.cli("check-config").returncode == 0


def test_a_key_path_that_is_a_directory_is_named_not_a_crash(pg: PgServer, tmp_path: Path) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=2, heartbeats=True)
    c.secret_file.unlink()
    c.secret_file.mkdir(mode=0o700)
    res = subprocess.run(
        [str(daemon_binary()), "run", "--config", str(c.nodes["node-a"].config)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert res.returncode != 0
    assert "heartbeat.secret_file" in res.stderr and "not a regular file" in res.stderr, res.stderr
    assert "basic_filebuf" not in res.stderr
