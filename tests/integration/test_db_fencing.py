"""Database fencing: the winner of a term revokes LOGIN from the other nodes' roles and ends
their sessions before its processes start, so a deposed scheduler's writes fail."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.support.helpers import settle

ROLES = {"node-a": "sched_a", "node-b": "sched_b", "node-c": "sched_c"}


def can_login(pg: PgServer, role: str) -> bool:
    return pg.psql(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{role}'") == "t"


def psql_as(pg: PgServer, role: str, sql: str) -> list[str]:
    """psql's argv for one statement as `role`, connecting over 127.0.0.1."""
    connect = ["-h", "127.0.0.1", "-p", str(pg.port), "-U", role, "-d", "postgres"]
    return [str(pg.bindir / "psql"), "-X", *connect, "-c", sql]


def try_connect(pg: PgServer, role: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        psql_as(pg, role, "SELECT 1"), capture_output=True, text=True, timeout=20, check=False
    )


def test_winner_fences_the_other_roles(tmp_path: Path) -> None:
    with PgServer() as pg:
        for role in ROLES.values():
            pg.psql(f"CREATE ROLE {role} LOGIN")
        cluster = Cluster(pg, tmp_path / "c", extra={"fencing": {"database_roles": ROLES}})
        # A session of node-b's role that is open before anyone wins: it must be ended.
        held = subprocess.Popen(
            psql_as(pg, "sched_b", "SELECT pg_sleep(60)"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            cluster.start()
            first = cluster.wait_active()
            for node, role in ROLES.items():
                assert can_login(pg, role) == (node == first), (node, role)
            if first != "node-b":
                _, err = held.communicate(timeout=20)
                assert "terminat" in err, err
            loser = next(r for n, r in ROLES.items() if n != first)
            res = try_connect(pg, loser)
            assert res.returncode != 0 and "not permitted to log in" in res.stderr
            assert try_connect(pg, ROLES[first]).returncode == 0
            kinds = [e["kind"] for e in cluster.events() if e["node_id"] == first]
            assert "fenced_database" in kinds

            cluster.signal(first, signal.SIGKILL)
            second = cluster.wait_active(other_than=first)
            settle(cluster, 1)
            assert not can_login(pg, ROLES[first]), "the deposed node's role still logs in"
            assert can_login(pg, ROLES[second])
            cluster.assert_no_overlap()
        finally:
            held.kill()
            cluster.stop_all()


def test_fencing_config_must_name_this_node(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(
        pg, tmp_path / "c", size=1, extra={"fencing": {"database_roles": {"node-z": "sched_z"}}}
    )
    res = cluster.cli("check-config")
    assert res.returncode == 2 and "must name a role for this node (node-a)" in res.stderr
    cfg = json.loads(cluster.nodes["node-a"].config.read_text())
    cfg["fencing"] = {"database_roles": {"node-a": "Bad-Role"}}
    cluster.nodes["node-a"].config.write_text(json.dumps(cfg))
    res = cluster.cli("check-config")
    assert res.returncode == 2 and "fencing.database_roles.node-a" in res.stderr
