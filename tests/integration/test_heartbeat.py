"""Peer heartbeats with three real daemons: they hear each other, bad datagrams are dropped
and counted without changing anything, blocked UDP still leaves exactly one scheduler, and the
release path (SIGTERM, switchover) hands over."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.support.heartbeat_wire import encode
from tests.support.helpers import settle


@pytest.fixture
def hb_cluster(pg: PgServer, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(
        pg, tmp_path / "cluster", heartbeats=True, priorities={"node-a": 100, "node-b": 100, "node-c": 200}
    )
    try:
        yield c
    finally:
        c.stop_all()


def node_row(cluster: Cluster, name: str) -> dict[str, Any]:
    return next(n for n in cluster.status()["nodes"] if n["node_id"] == name)


def drops(cluster: Cluster, name: str) -> dict[str, int]:
    return dict(node_row(cluster, name)["counters"]["heartbeat"]["dropped"])


def test_peers_hear_each_other(hb_cluster: Cluster) -> None:
    hb_cluster.start()
    hb_cluster.wait_active()

    def all_heard() -> bool:
        for n in hb_cluster.status()["nodes"]:
            peers = n["peers"]
            if set(peers) != set(hb_cluster.nodes) - {n["node_id"]}:
                return False
            if not all(p.get("heard") for p in peers.values()):
                return False
        return True

    hb_cluster.wait_for(all_heard, 10, "every node to hear every other")
    text = hb_cluster.cli("status").stdout
    assert "heartbeats:" in text and "hears:" in text
    counters = node_row(hb_cluster, "node-a")["counters"]["heartbeat"]
    assert counters["sent"] > 0 and counters["received"] > 0
    assert sum(counters["dropped"].values()) == 0


def test_bad_datagrams_are_dropped_counted_and_change_nothing(hb_cluster: Cluster) -> None:
    hb_cluster.start()
    active = hb_cluster.wait_active()
    target = next(n for n in hb_cluster.nodes if n != active)
    settle(hb_cluster, 1.5)  # a first node-row refresh with counters
    before = hb_cluster.status()
    events_before = len(hb_cluster.events())
    key = hb_cluster.key
    cl = hb_cluster.name
    sender = "node-a" if target != "node-a" else "node-b"
    good = encode(
        cluster=cl, node=sender, key=key, incarnation=1, seq=1, role=1, term=999, flags=1
    )  # claims "active, releasing" in a huge term: must change nothing
    cases = {
        "bad_mac": encode(cluster=cl, node=sender, key=b"x" * 64, role=1, term=999, flags=1),
        "malformed": good[:20],
        "oversized": good + b"\0" * 300,
        "bad_version": encode(cluster=cl, node=sender, key=key, version=7),
        "wrong_cluster": encode(cluster="other", node=sender, key=key, role=1, flags=1),
        "unknown_node": encode(cluster=cl, node="intruder", key=key, role=1, flags=1),
        # an old incarnation of a real peer: a replay
        "replayed": good,
    }
    port = hb_cluster.udp_ports[target]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(3):
            for data in cases.values():
                s.sendto(data, ("127.0.0.1", port))

    def counted() -> dict[str, int] | None:
        d = drops(hb_cluster, target)
        return d if all(d[k] >= 3 for k in cases) else None

    got = hb_cluster.wait_for(counted, 10, f"drop counters on {target}")
    assert all(got[k] >= 3 for k in cases), got
    settle(hb_cluster, 1)
    after = hb_cluster.status()
    assert after["active"] == before["active"] and after["term"] == before["term"]
    assert len(hb_cluster.events()) == events_before, "a dropped datagram caused an event"
    # The real peers are still heard: the replayed datagram did not take the sender's place.
    assert node_row(hb_cluster, target)["peers"][sender]["heard"]
    hb_cluster.assert_no_overlap()


def test_sigterm_hands_over_through_the_release_path(hb_cluster: Cluster) -> None:
    hb_cluster.start()
    first = hb_cluster.wait_active()
    settle(hb_cluster, 1)
    hb_cluster.signal(first, signal.SIGTERM)
    assert hb_cluster.wait_exit(first) == 0
    second = hb_cluster.wait_active(other_than=first)
    kinds = [(e["node_id"], e["kind"]) for e in hb_cluster.events()]
    assert (first, "released") in kinds and (second, "became_active") in kinds
    if first != "node-c":
        assert second == "node-c", "the highest-priority standby should take a released lease"
    hb_cluster.assert_no_overlap()
    hb_cluster.assert_terms_grow()


def test_switchover_to_a_named_standby(hb_cluster: Cluster) -> None:
    hb_cluster.start()
    first = hb_cluster.wait_active()
    settle(hb_cluster, 1.5)
    target = next(n for n in sorted(hb_cluster.nodes) if n != first and n != "node-c")
    res = hb_cluster.cli("switchover", "--to", target, "--timeout", "20")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"switchover done: {target} is active" in res.stdout
    assert hb_cluster.wait_active(other_than=first) == target
    kinds = [(e["node_id"], e["kind"]) for e in hb_cluster.events()]
    assert (first, "switchover") in kinds and (first, "released") in kinds
    hb_cluster.assert_no_overlap()
    hb_cluster.assert_terms_grow()


def test_switchover_refuses_unknown_target(hb_cluster: Cluster) -> None:
    hb_cluster.start()
    first = hb_cluster.wait_active()
    res = hb_cluster.cli("switchover", "--to", "nobody")
    assert res.returncode == 1 and "unknown node 'nobody'" in res.stderr
    assert hb_cluster.active() == first


def _iptables() -> str | None:
    exe = shutil.which("iptables")
    if not exe:
        return None
    ok = subprocess.run([exe, "-w", "-L", "INPUT", "-n"], capture_output=True, check=False)
    return exe if ok.returncode == 0 else None


def test_udp_blocked_still_exactly_one_scheduler(hb_cluster: Cluster) -> None:
    ipt = _iptables()
    if ipt is None:
        pytest.skip("iptables is not usable here (needs root and netfilter): cannot block UDP")
    rules = [["-p", "udp", "--dport", str(p), "-j", "DROP"] for p in hb_cluster.udp_ports.values()]
    for r in rules:
        subprocess.run([ipt, "-w", "-I", "INPUT", *r], check=True)
    try:
        hb_cluster.start()
        first = hb_cluster.wait_active()
        settle(hb_cluster, 3)  # nobody hears anybody: still one scheduler, no false failover
        assert hb_cluster.active() == first
        assert len({e["term"] for e in hb_cluster.events() if e["kind"] == "became_active"}) == 1
        hb_cluster.signal(first, signal.SIGKILL)
        hb_cluster.wait_active(other_than=first)
        settle(hb_cluster, 2)
        hb_cluster.assert_no_overlap()
        hb_cluster.assert_terms_grow()
    finally:
        for r in rules:
            subprocess.run([ipt, "-w", "-D", "INPUT", *r], check=False)
