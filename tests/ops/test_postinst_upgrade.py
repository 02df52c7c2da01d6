"""Issue 20: a package upgrade during a pause. postinst restarts a running daemon, except the
active node of a paused cluster (its restart would release the lease, and paused, nobody would
take over until resume): it says so and leaves the restart to the operator. A standby's restart
is harmless: while paused the acquire statement refuses every claimant, so a restarted standby
never takes the lease. Real daemons, real PostgreSQL, postinst's own decision function."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from tests.support.helpers import REPO

POSTINST = REPO / "packaging" / "postinst"


def decide(config: Path, tmp: Path) -> str:
    """postinst's restart_is_safe, run by sh as postinst runs it (airflow-failover on PATH), for
    the node whose config is `config`: 'restart' or 'leave: <why>'."""
    m = re.search(r"^restart_is_safe\(\) \{\n.*?^\}\n", POSTINST.read_text(), re.S | re.M)
    assert m, "postinst has no restart_is_safe function"
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    link = bindir / "airflow-failover"
    if not link.exists():
        link.symlink_to(daemon_binary())
    script = f'set -e\nCONFIG="$1"\n{m.group(0)}\n'
    script += 'if restart_is_safe; then echo restart; else echo "leave: $why"; fi\n'
    res = subprocess.run(
        ["sh", "-c", script, "postinst", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout.strip()


def test_postinst_leaves_a_paused_active_alone_and_a_restarted_standby_takes_nothing(
    pg: PgServer, tmp_path: Path
) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=2)
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        c.start(["node-b"])
        a, b = c.nodes["node-a"].config, c.nodes["node-b"].config
        assert decide(a, tmp_path) == "restart" and decide(b, tmp_path) == "restart"
        assert c.cli("pause", "--reason", "apt upgrade").returncode == 0
        leave = decide(a, tmp_path)
        assert leave.startswith("leave: the cluster is paused and this node (node-a) is the active one"), (
            leave
        )
        assert decide(b, tmp_path) == "restart"
        # What try-restart does to the standby: SIGTERM, then a new start. Paused, it must not
        # take the lease, even given a few lease lengths.
        c.signal("node-b", signal.SIGTERM)
        c.wait_exit("node-b")
        c.start(["node-b"])
        c.wait_for(
            lambda: {n["node_id"]: n["role"] for n in c.status()["nodes"]}.get("node-b") == "standby",
            10,
            "the restarted node-b to report standby",
        )
        time.sleep(3 * c.ttl_ms / 1000)
        st = c.status()
        assert st["active"] == "node-a" and st["paused"] is not None, st
        assert [e["node_id"] for e in c.events() if e["kind"] == "became_active"] == ["node-a"]
        assert c.cli("resume").returncode == 0
        assert decide(a, tmp_path) == "restart"
        # A cluster it cannot read: the restart is left to the operator too.
        dead = tmp_path / "dead.json"
        dead.write_text(a.read_text().replace(f"port={pg.port}", "port=1"))
        assert decide(dead, tmp_path).startswith("leave: cannot read the cluster state")
    finally:
        c.stop_all()
