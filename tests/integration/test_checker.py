"""The overlap checker itself must be able to fail: two stand-ins run at once on purpose."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from localcluster.cluster import STANDIN, Cluster
from localcluster.pgserver import PgServer


def test_overlap_is_detected(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(pg, tmp_path / "c", size=2)
    env = dict(
        os.environ,
        STANDIN_LOG=str(cluster.standin_log),
        STANDIN_TICK_MS="5",
        STANDIN_LOCK=str(cluster.lock_file),
    )
    procs = []
    for node, term in (("node-a", 1), ("node-b", 2)):
        procs.append(
            subprocess.Popen(
                [str(STANDIN)], env=dict(env, AIRFLOW_FAILOVER_NODE=node, AIRFLOW_FAILOVER_TERM=str(term))
            )
        )
        # Each must be running (its start record written) before the next: under load a
        # Python start-up can take longer than any fixed sleep.
        deadline = time.monotonic() + 30
        while not any(r["ev"] == "start" and r["node"] == node for r in cluster.records()):
            assert time.monotonic() < deadline, f"stand-in of {node} did not start"
            time.sleep(0.05)
    for p in procs:
        p.terminate()
        p.wait()
    with pytest.raises(AssertionError, match="two schedulers alive at once"):
        cluster.assert_no_overlap()
