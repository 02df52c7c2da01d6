"""A heartbeat's term is a hint, never the source of a term (issue 22, item 3). One correctly
authenticated datagram (the test knows the cluster's key, as an attacker holding it would)
claiming term 2^63 - 2 used to become the next acquire's floor: the lease row went to
INT64_MAX and every later acquire overflowed, so no node could become active again."""

from __future__ import annotations

import signal
import socket

from localcluster.cluster import Cluster
from tests.support.heartbeat_wire import encode
from tests.support.helpers import settle

HUGE = 2**63 - 2


def won_terms(cluster: Cluster) -> list[int]:
    return [int(e["term"]) for e in cluster.events() if e["kind"] == "became_active"]


def test_a_forged_huge_term_does_not_become_the_next_term(hb_cluster: Cluster) -> None:
    hb_cluster.start()
    first = hb_cluster.wait_active()
    before = max(won_terms(hb_cluster))
    # Signed with the real key, a later incarnation than the active's real one (so not a
    # replay), claiming to be the active in a huge term.
    forged = encode(
        cluster=hb_cluster.name, node=first, key=hb_cluster.key, incarnation=2**40, seq=1, role=1, term=HUGE
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name, port in hb_cluster.udp_ports.items():
            if name != first:
                s.sendto(forged, ("127.0.0.1", port))
    settle(hb_cluster, 1.0)  # received and stepped into the standbys' cores
    # The holder dies: a standby that heard the forged datagram must win a sane term.
    hb_cluster.signal(first, signal.SIGKILL)
    hb_cluster.wait_active(other_than=first, timeout=20)
    terms = won_terms(hb_cluster)
    assert max(terms) <= before + 1000 + 1, terms
    lease_term = int(
        hb_cluster.pg.psql(
            f"SELECT term FROM airflow_failover.lease WHERE cluster = '{hb_cluster.name}'"
        ).strip()
    )
    assert lease_term == max(terms)
    hb_cluster.assert_no_overlap()
    ignored = [e for e in hb_cluster.events() if e["kind"] == "peer_term_ignored"]
    assert ignored and str(HUGE) in ignored[0]["detail"], ignored
