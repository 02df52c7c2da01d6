"""Every daemon config the local cluster writes (localcluster/daemon_config.py, one builder for the
stand-in cluster and the Airflow pair) passes the daemon's own `check-config`, which refuses an
unknown key, a missing file or a value out of range: a key misspelt in the builder fails here, not
as a daemon that will not start in the middle of a slow suite."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from localcluster.airflow_pair import Pair, TakeoverPair
from localcluster.airflow_site import Site
from localcluster.cluster import DaemonCluster, daemon_binary
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port


def check_all(configs: list[Path]) -> None:
    for cfg in configs:
        res = subprocess.run(
            [str(daemon_binary()), "check-config", "--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert res.returncode == 0, f"{cfg.name}: {res.stderr}"


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"heartbeats": True, "priorities": {"node-b": 5}},
        {"lease_defaults": True, "size": 2},
        {"lease_ttl_only": True, "ttl_ms": 3000},
        {
            "metrics_ports": {"node-a": free_tcp_port()},
            "fencing": {"database_roles": {n: f"r_{n[-1]}" for n in ("node-a", "node-b", "node-c")}},
        },
    ],
    ids=["plain", "heartbeats", "lease-defaults", "ttl-only", "metrics-fencing"],
)
def test_the_stand_in_cluster_configs_pass_check_config(
    pg: PgServer, tmp_path: Path, kw: dict[str, Any]
) -> None:
    c = DaemonCluster(pg, tmp_path / "c", **kw)
    check_all([n.config for n in c.nodes.values()])


def test_the_airflow_pair_configs_pass_check_config(pg: PgServer, tmp_path: Path) -> None:
    site = Site(pg, tmp_path / "site")
    pairs = [
        Pair(site, health=True, heartbeats=True),
        TakeoverPair(site, hooks={"pre_promote": {"command": ["true"]}}),
        TakeoverPair(site, takeover=False, warm=True),
        TakeoverPair(site, db_roles={"node-a": "r_a", "node-b": "r_b"}),
        TakeoverPair(
            site, names=("n1", "n2", "n3"), singletons=True, heartbeats=True, job_types=None, warm=True
        ),
    ]
    check_all([n.config for p in pairs for n in p.nodes.values()])
