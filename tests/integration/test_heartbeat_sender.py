"""Datagrams from an address that is none of `heartbeat.peers` are dropped before any parsing
or HMAC (issue 22, item 6): a flood from elsewhere costs a counter, not a SHA-256 each, and is
counted as `unknown_sender` (not `bad_mac`, which only the HMAC can tell). Even a correctly
signed datagram from such an address changes nothing. The peers here all send from 127.0.0.1;
127.0.0.2 is loopback too, but not listed."""

from __future__ import annotations

import socket
import time
from typing import Any

from localcluster.cluster import Cluster
from tests.support.heartbeat_wire import encode

FLOOD = 2000


def dropped(cluster: Cluster, name: str) -> dict[str, int]:
    row: dict[str, Any] = next(n for n in cluster.status()["nodes"] if n["node_id"] == name)
    # The node row carries counters from its first refresh after the start on.
    return dict(row.get("counters", {}).get("heartbeat", {}).get("dropped", {}))


def test_a_flood_from_an_unlisted_address_is_dropped_before_the_hmac(hb_cluster: Cluster) -> None:
    hb_cluster.start()
    active = hb_cluster.wait_active()
    target = next(n for n in hb_cluster.nodes if n != active)
    before = hb_cluster.status()
    bad = encode(cluster=hb_cluster.name, node=active, key=b"k" * 64, role=1, flags=1)
    signed = encode(
        cluster=hb_cluster.name, node=active, key=hb_cluster.key, incarnation=2**40, role=1, flags=1, term=7
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.2", 0))
        for i in range(FLOOD):
            s.sendto(signed if i == 0 else bad, ("127.0.0.1", hb_cluster.udp_ports[target]))
            if i % 50 == 49:
                time.sleep(0.005)  # within the receive buffer: the kernel drops none

    def counted() -> dict[str, int] | None:
        d = dropped(hb_cluster, target)
        return d if d.get("unknown_sender", 0) + d.get("bad_mac", 0) >= FLOOD * 0.9 else None

    got = hb_cluster.wait_for(counted, 15, f"the flood counted on {target}")
    assert got.get("bad_mac", 0) == 0, f"an HMAC was computed for the flood: {got}"
    # UDP may drop some under load: most of it arrived, and all of that as unknown_sender.
    assert got["unknown_sender"] >= FLOOD * 0.9, got
    after = hb_cluster.status()
    assert after["active"] == before["active"] and after["term"] == before["term"]
    hb_cluster.assert_no_overlap()
