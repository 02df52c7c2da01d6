"""/metrics and /healthz on real daemons: parsed with prometheus_client's text parser, values
moving with the role (switchover: the old active's role gauge goes 1 -> 0, the new active's
failovers counter goes up and its term is higher), heartbeat counters, the renew latency
histogram, and the HTTP edges (404, 405, a stuck loop that cannot answer)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port
from tests.support.helpers import http_get


def scrape(port: int) -> dict[str, Any]:
    """{sample name or name{label=value,...}: value} plus the families' types under '#types'
    and the one cluster every series is labelled with under '#cluster' (left out of the keys)."""
    status, body = http_get(port, "/metrics")
    assert status == 200
    out: dict[str, Any] = {"#types": {}}
    clusters = set()
    for fam in text_string_to_metric_families(body):
        out["#types"][fam.name] = fam.type
        for s in fam.samples:
            key = s.name
            clusters.add(s.labels.pop("cluster", None))
            if s.labels:
                key += "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
            out[key] = s.value
    assert len(clusters) == 1 and None not in clusters, f"every series carries one cluster: {clusters}"
    out["#cluster"] = clusters.pop()
    return out


def test_metrics_follow_a_switchover(metrics_cluster: Cluster) -> None:
    c = metrics_cluster
    ports = c.metrics_ports
    c.start()
    first = c.wait_active()
    other = next(n for n in c.nodes if n != first)
    time.sleep(1.5)  # renewals and heartbeats to count

    a = scrape(ports[first])
    b = scrape(ports[other])
    types = a["#types"]
    # prometheus_client strips _total from counter family names
    assert types["airflow_failover_failovers"] == "counter"
    assert types["airflow_failover_renew_latency_seconds"] == "histogram"
    assert types["airflow_failover_role"] == "gauge"
    assert a["airflow_failover_active"] == 1 and b["airflow_failover_active"] == 0
    assert a["airflow_failover_cluster_active_nodes"] == 1 == b["airflow_failover_cluster_active_nodes"]
    assert a["airflow_failover_role{role=active}"] == 1
    assert b["airflow_failover_role{role=standby}"] == 1
    term = a["airflow_failover_term"]
    assert term >= 1 and b["airflow_failover_term"] == 0
    assert 0 < a["airflow_failover_lease_remaining_seconds"] <= c.ttl_ms / 1000
    assert a["#cluster"] == c.name == b["#cluster"]
    # The cluster's first election: neither a failover nor a switchover.
    for m in (a, b):
        assert m["airflow_failover_failovers_total"] == 0 and m["airflow_failover_switchovers_total"] == 0
    assert a["airflow_failover_events_total{kind=became_active}"] == 1
    assert a["airflow_failover_process_starts_total{process=scheduler}"] == 1
    assert a["airflow_failover_process_restarts_total{process=scheduler}"] == 0
    renews = a["airflow_failover_renew_latency_seconds_count"]
    assert renews >= 2  # every 500 ms
    assert a["airflow_failover_renew_latency_seconds_bucket{le=+Inf}"] == renews
    assert a["airflow_failover_renew_latency_seconds_sum"] < renews * 0.5
    for m in (a, b):
        assert m["airflow_failover_heartbeats_sent_total"] > 0
        assert m["airflow_failover_heartbeats_received_total"] > 0
        assert m["airflow_failover_heartbeats_dropped_total{reason=bad_mac}"] == 0
        assert m["airflow_failover_database_errors_total{op=renew}"] == 0
        assert m["airflow_failover_database_connected"] == 1
        assert m["airflow_failover_loop_healthy"] == 1
        node = first if m is a else other
        info = [k for k in m if k.startswith(f"airflow_failover_info{{node={node},version=")]
        assert len(info) == 1 and m[info[0]] == 1, info

    # /healthz: both loops healthy; /healthz/active only on the active.
    code, body = http_get(ports[first], "/healthz")
    assert code == 200 and json.loads(body)["role"] == "active"
    assert http_get(ports[other], "/healthz")[0] == 200
    assert http_get(ports[first], "/healthz/active")[0] == 200
    assert http_get(ports[other], "/healthz/active")[0] == 503

    res = c.cli("switchover", "--to", other, "--timeout", "20", node=first)
    assert res.returncode == 0, res.stdout + res.stderr
    c.wait_active(other_than=first)
    time.sleep(1.0)
    a2 = scrape(ports[first])
    b2 = scrape(ports[other])
    assert a2["airflow_failover_active"] == 0 and a2["airflow_failover_role{role=standby}"] == 1
    assert a2["airflow_failover_term"] == 0 and a2["airflow_failover_lease_remaining_seconds"] == 0
    assert b2["airflow_failover_active"] == 1
    assert b2["airflow_failover_term"] > term
    # A switchover is not a failover: counted once, by the node that won the new term.
    assert b2["airflow_failover_switchovers_total"] == 1 and a2["airflow_failover_switchovers_total"] == 0
    assert a2["airflow_failover_failovers_total"] == 0 == b2["airflow_failover_failovers_total"]
    assert a2["airflow_failover_events_total{kind=switchover}"] == 1
    assert a2["airflow_failover_renew_latency_seconds_count"] >= renews
    assert http_get(ports[first], "/healthz/active")[0] == 503
    assert http_get(ports[other], "/healthz/active")[0] == 200

    # The new active's daemon is killed (its guard releases the lease): the first node takes
    # over, a failover although the lease was released, not a switchover.
    c.signal(other, signal.SIGKILL)
    c.wait_for(lambda: scrape(ports[first])["airflow_failover_active"] == 1, 15, f"{first} active again")
    a3 = scrape(ports[first])
    assert a3["airflow_failover_failovers_total"] == 1
    assert a3["airflow_failover_switchovers_total"] == 0


def test_http_edges_and_a_stopped_loop(metrics_cluster: Cluster) -> None:
    c = metrics_cluster
    port = c.metrics_ports["node-a"]
    c.start(["node-a"])
    c.wait_active()
    assert http_get(port, "/nope")[0] == 404
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 405")
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 431")
    # The endpoint is served by the daemon's own loop: a stopped loop gives no answer at all
    # (a load balancer's timeout), never a stale 200.
    c.signal("node-a", signal.SIGSTOP)
    try:
        with pytest.raises(OSError):
            http_get(port, "/healthz", timeout=1.0)
    finally:
        c.signal("node-a", signal.SIGCONT)
    c.wait_for(lambda: http_get(port, "/healthz")[0] == 200, 10, "/healthz 200 again")


def test_metrics_listen_is_checked(tmp_path: Path, pg: PgServer) -> None:
    def check(metrics: Any) -> subprocess.CompletedProcess[str]:
        cfg = {
            "cluster": "c",
            "node_id": "n",
            "database": {"conninfo": pg.conninfo()},
            "processes": [{"name": "p", "command": ["true"]}],
            "metrics": metrics,
        }
        path = tmp_path / "c.json"
        path.write_text(json.dumps(cfg))
        return subprocess.run(
            [str(daemon_binary()), "check-config", "--config", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )

    assert check({"listen": "127.0.0.1:9464"}).returncode == 0
    res = check({"listen": "localhost:9464"})
    assert res.returncode != 0 and "metrics.listen: must be an IP address" in res.stderr
    res = check({"listen": "127.0.0.1:99999"})
    assert "metrics.listen: port must be 1-65535" in res.stderr
    res = check({"listen": "127.0.0.1:9464", "path": "/m"})
    assert "metrics.path: unknown key" in res.stderr
    # The port is taken: the daemon refuses to start, naming the key.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    cfg_port = busy.getsockname()[1]
    cfg = {
        "cluster": "c" + str(free_tcp_port()),
        "node_id": "n",
        "database": {"conninfo": pg.conninfo()},
        "processes": [{"name": "p", "command": ["sleep", "60"]}],
        "metrics": {"listen": f"127.0.0.1:{cfg_port}"},
    }
    path = tmp_path / "busy.json"
    path.write_text(json.dumps(cfg))
    try:
        res = subprocess.run(
            [str(daemon_binary()), "run", "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    finally:
        busy.close()
    assert res.returncode != 0
    assert "metrics.listen: cannot listen on 127.0.0.1:" in res.stderr


def test_cluster_active_nodes_alarm_fires_on_every_node(metrics_cluster: Cluster) -> None:
    """Every node exports the cluster's active count from its own view; with the active gone
    and nobody to take over (the other node is nofailover), the survivor reports 0."""
    c = metrics_cluster
    ports = c.metrics_ports
    cfg_b = c.nodes["node-b"].config
    cfg = json.loads(cfg_b.read_text())
    cfg["nofailover"] = True
    cfg_b.write_text(json.dumps(cfg))
    c.start()
    assert c.wait_active() == "node-a"
    key = "airflow_failover_cluster_active_nodes"
    c.wait_for(lambda: scrape(ports["node-b"]).get(key) == 1, 10, "node-b to see node-a active")
    assert scrape(ports["node-a"])[key] == 1
    assert scrape(ports["node-b"])["airflow_failover_role{role=nofailover}"] == 1
    c.signal("node-a", signal.SIGKILL)
    c.wait_for(lambda: scrape(ports["node-b"]).get(key) == 0, 10, "node-b to report no active")


def idle_connections(port: int, n: int) -> list[socket.socket]:
    """n connections that send half a request head and then nothing (a slowloris)."""
    conns = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        conns.append(s)
    return conns


def test_idle_connections_do_not_starve_healthz(metrics_cluster: Cluster) -> None:
    """Attack: 100 idle connections, then probes. Every probe is answered (the latency figure
    is bench/healthz_idle.py's job; the timeout here only bounds a hang)."""
    c = metrics_cluster
    port = c.metrics_ports["node-a"]
    c.start(["node-a"])
    c.wait_active()
    c.wait_for(lambda: http_get(port, "/healthz")[0] == 200, 10, "/healthz 200")
    conns = idle_connections(port, 100)
    try:
        for _ in range(20):
            code, body = http_get(port, "/healthz", timeout=2.0)
            assert code == 200, body
        # New idle connections keep coming: the probes still get through.
        conns += idle_connections(port, 50)
        assert http_get(port, "/healthz", timeout=2.0)[0] == 200
    finally:
        for s in conns:
            s.close()


def test_pause_is_loud_on_every_node_when_the_holder_dies(metrics_cluster: Cluster) -> None:
    """Maintenance mode: every node exports cluster_paused; with the holder killed while
    paused, the standby reports paused and no active node, the alert pair of docs/operations.md,
    and says so in /healthz's status."""
    c = metrics_cluster
    ports = c.metrics_ports
    c.start(["node-a"])
    assert c.wait_active() == "node-a"
    c.start(["node-b"])
    paused = "airflow_failover_cluster_paused"
    active = "airflow_failover_cluster_active_nodes"

    def listening() -> bool:
        try:
            return http_get(ports["node-b"], "/healthz")[0] == 200
        except OSError:
            return False

    c.wait_for(listening, 10, "node-b's metrics server")
    assert scrape(ports["node-b"])[paused] == 0
    assert c.cli("pause", "--reason", "deploy").returncode == 0
    for node in ("node-a", "node-b"):
        c.wait_for(lambda n=node: scrape(ports[n]).get(paused) == 1, 5, f"{node} paused")
    c.signal("node-a", signal.SIGKILL)
    c.wait_for(lambda: scrape(ports["node-b"]).get(active) == 0, 15, "node-b to report no active")
    assert scrape(ports["node-b"])[paused] == 1
    body = json.loads(http_get(ports["node-b"], "/healthz")[1])
    assert body["paused"] is True
    assert "NO ACTIVE NODE and nobody takes over until resume" in body["status"], body
    assert c.cli("resume", node="node-b").returncode == 0
    c.wait_for(lambda: scrape(ports["node-b"]).get(paused) == 0, 5, "node-b resumed")
    assert c.wait_active(timeout=10) == "node-b"
