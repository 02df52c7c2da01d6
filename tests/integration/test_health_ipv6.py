"""An http health check on an IPv6 literal works end to end: check-config accepts
`http://[::1]:PORT/health` and the daemon's check requests it (one URL parser for both; before,
check-config passed it and the check tried to resolve "[::1]")."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer


class V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def test_an_ipv6_health_url_is_checked_end_to_end(pg: PgServer, tmp_path: Path) -> None:
    hosts: list[str] = []

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            hosts.append(self.headers.get("Host", ""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = V6Server(("::1", 0), Health)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cluster = Cluster(pg, tmp_path / "c", size=1)
    node = cluster.nodes["node-a"]
    cfg = cluster.node_config(node)
    url = f"http://[::1]:{port}/health"
    cfg.processes[0].health = {"type": "http", "url": url, "interval_ms": 300, "timeout_ms": 200}
    cfg.write(node.config)
    try:
        res = cluster.cli("check-config")
        assert res.returncode == 0, res.stdout + res.stderr
        cluster.start()
        cluster.wait_active()
        cluster.wait_for(lambda: len(hosts) >= 3, 15, "three health requests on [::1]")
        assert set(hosts) == {f"[::1]:{port}"}, hosts
        assert not [e for e in cluster.events() if e["kind"] == "health_failed"]
    finally:
        cluster.stop_all()
        server.shutdown()
