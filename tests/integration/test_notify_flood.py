"""Attack test (issue 22): any database role may NOTIFY on the daemon's channel (NOTIFY needs
no privilege), e.g. "<cluster>:released:<term>:" by the thousand. A standby must not answer
each with an acquire statement. Counted with the standby's own statement counter
(airflow_failover_database_statements_total), quiet period against flood period."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port
from tests.support.helpers import http_get

WINDOW_S = 2.0


def statements(port: int) -> float:
    _, body = http_get(port, "/metrics")
    m = re.search(r"^airflow_failover_database_statements_total\{[^}]*\} (\S+)$", body, re.M)
    assert m, body
    return float(m.group(1))


def metrics_up(port: int) -> bool:
    try:
        return http_get(port, "/metrics")[0] == 200
    except OSError:
        return False


def test_forged_release_notifies_do_not_drive_acquires(pg: PgServer, tmp_path: Path) -> None:
    pg.psql("DO $$ BEGIN CREATE ROLE af_nobody LOGIN; EXCEPTION WHEN duplicate_object THEN END $$")
    c = Cluster(pg, tmp_path / "c", size=2)
    port = free_tcp_port()
    node_b = c.nodes["node-b"]
    cfg = json.loads(node_b.config.read_text())
    cfg["metrics"] = {"listen": f"127.0.0.1:{port}"}
    node_b.config.write_text(json.dumps(cfg))
    # One forged release every millisecond or so, from a role with no rights at all.
    flood = (
        "DO $$ BEGIN FOR i IN 1..1000 LOOP "
        f"PERFORM pg_notify('airflow_failover', '{c.name}:released:' || i || ':'); "
        "COMMIT; PERFORM pg_sleep(0.001); END LOOP; END $$"
    )
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        c.start(["node-b"])
        c.wait_for(lambda: metrics_up(port), 15, "node-b's metrics")
        time.sleep(1)
        before = statements(port)
        time.sleep(WINDOW_S)
        quiet = statements(port) - before
        argv = [str(pg.bindir / "psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(pg.port)]
        argv += ["-U", "af_nobody", "-d", "postgres", "-c", flood]
        before = statements(port)
        started = time.monotonic()
        res = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        took = time.monotonic() - started
        flooded = statements(port) - before
        assert res.returncode == 0, res.stderr
        assert c.active() == "node-a"
    finally:
        c.stop_all()
    # Scaled to the flood's own length: the quiet rate, plus one hint-driven acquire per poll
    # interval (default 1 s) and some slack for the status writes.
    allowed = quiet * took / WINDOW_S + took / 1.0 + 10
    print(f"flood: {flooded:.0f} statements in {took:.1f} s; quiet: {quiet:.0f} in {WINDOW_S} s")
    assert flooded <= allowed, (
        f"{flooded:.0f} statements during {took:.1f} s of forged NOTIFYs (quiet: {quiet:.0f} in {WINDOW_S} s)"
    )
