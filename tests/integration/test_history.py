"""`airflow-failover history`: the terms of the lease rebuilt from the events, checked against
what the test itself did to the cluster (a kill -9, a switchover, a SIGTERM)."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from datetime import datetime

from localcluster.cluster import Cluster, daemon_binary


def history(cluster: Cluster, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(daemon_binary()), "history", "--config", str(cluster.nodes["node-a"].config), *extra],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_history_names_how_each_term_ended(cluster: Cluster) -> None:
    cluster.start()
    first = cluster.wait_active()
    cluster.signal(first, signal.SIGKILL)  # its guard releases the lease
    second = cluster.wait_active(other_than=first)
    third = next(n for n in cluster.nodes if n not in (first, second))
    time.sleep(1)  # the standby row must read healthy for the switchover check
    res = cluster.cli("switchover", "--to", third, node=second)
    assert res.returncode == 0, res.stdout + res.stderr
    cluster.wait_active(other_than=second)
    cluster.signal(third, signal.SIGTERM)
    assert cluster.wait_exit(third) == 0
    fourth = cluster.wait_active(other_than=third)
    assert fourth == second

    res = history(cluster, "--json")
    assert res.returncode == 0, res.stderr
    terms = json.loads(res.stdout)["terms"]
    won = [(e["term"], e["node_id"]) for e in cluster.events() if e["kind"] == "became_active"]
    assert [(t["term"], t["holder"]) for t in terms] == won
    assert [t["ended"] for t in terms] == ["daemon died", "switchover", "released", "active"]
    # The gap, recomputed from the event rows: from the holder's release (or its guard's record
    # of its death) to the next term's became_active.
    events = cluster.events()
    starts = {e["term"]: e for e in events if e["kind"] == "became_active"}
    for t, nxt in itertools.pairwise(terms):
        ends = [
            e
            for e in events
            if e["node_id"] == t["holder"]
            and e["term"] == t["term"]
            and e["kind"] in ("released", "daemon_died")
        ]
        assert ends and t["end"] is not None and not t["gap_is_upper_bound"], (t, ends)
        # The daemon records its release right after committing it, so the next node can win
        # and record first: such a gap reads 0, never negative.
        expected_ms = max(
            0.0,
            (
                datetime.fromisoformat(starts[nxt["term"]]["at"]) - datetime.fromisoformat(ends[-1]["at"])
            ).total_seconds()
            * 1000,
        )
        assert abs(t["gap_ms"] - expected_ms) < 1.0, (t, expected_ms)
    assert terms[3]["end"] is None

    text = history(cluster)
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].split()[:2] == ["TERM", "HOLDER"] and len(lines) == 5
    assert "daemon died" in lines[1] and "switchover" in lines[2]

    limited = json.loads(history(cluster, "--json", "--limit", "2").stdout)["terms"]
    assert [t["term"] for t in limited] == [t["term"] for t in terms[-2:]]


def test_history_limit_must_be_positive(cluster: Cluster) -> None:
    res = history(cluster, "--limit", "0")
    assert res.returncode == 2 and "--limit: must be a number greater than 0" in res.stderr
