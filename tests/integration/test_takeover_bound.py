"""Fault test (issue 22): the takeover statement never touches the scheduler this term starts.
A node re-wins its own lease, so the takeover closes out its own hostname's jobs; its statement
is delayed past airflow.takeover.timeout_ms (the first host of Airflow's conninfo accepts TCP
and never answers, so libpq spends its 2 s connect_timeout there before the real server). The
scheduler the term starts registers its job at once; that row must stay `running`."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.integration.test_takeover_hooks import JOB_TABLE, events, jobs

HOST = "host-a.example"

# The "scheduler": registers its SchedulerJob as Airflow's does when it starts, then runs.
SCHEDULER = f"""
"$1" -X -q -h 127.0.0.1 -p "$2" -U postgres -d "$3" -c \
  "INSERT INTO job (state, job_type, hostname, start_date, latest_heartbeat, dag_id) \
   VALUES ('running', 'SchedulerJob', '{HOST}', now(), now(), 'new-term')"
exec sleep 600
"""


def test_a_late_takeover_does_not_fail_the_new_terms_own_scheduler(pg: PgServer, tmp_path: Path) -> None:
    db = "airflow_" + uuid.uuid4().hex[:8]
    pg.create_database(db)
    pg.psql(JOB_TABLE, dbname=db)
    silent = socket.socket()  # listens, never accepts: a connect to it hangs until the timeout
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    c = Cluster(pg, tmp_path / "c", size=1)
    node = c.nodes["node-a"]
    cfg = json.loads(node.config.read_text())
    silent_port = silent.getsockname()[1]
    cfg["airflow"] = {
        "conninfo": f"host=127.0.0.1,127.0.0.1 port={silent_port},{pg.port} dbname={db} "
        "user=postgres connect_timeout=2",
        "hostnames": {"node-a": HOST},
        "takeover": {"timeout_ms": 500},
    }
    cfg["processes"] = [
        {
            "name": "scheduler",
            "command": ["/bin/sh", "-c", SCHEDULER, "sched", str(pg.bindir / "psql"), str(pg.port), db],
        }
    ]
    node.config.write_text(json.dumps(cfg))
    try:
        res = c.cli("init-db")
        assert res.returncode == 0, res.stderr
        # This node held term 5 and died: the lease it left has expired, and its scheduler's job
        # is still `running`.
        pg.psql(
            "INSERT INTO airflow_failover.lease (cluster, holder, term, expires_at, last_holder) "
            f"VALUES ('{c.name}', 'node-a', 5, clock_timestamp() - interval '1 s', 'node-a')"
        )
        pg.psql(
            "INSERT INTO job (state, job_type, hostname, start_date, latest_heartbeat, dag_id) "
            f"VALUES ('running', 'SchedulerJob', '{HOST}', now() - interval '1 hour', "
            "now() - interval '1 minute', 'old-term')",
            dbname=db,
        )
        c.start(["node-a"])
        c.wait_for(
            lambda: any(e["kind"].startswith("takeover") for e in events(c)),
            20,
            "the takeover's outcome",
        )
        # The connection opens ~2 s after the win; give the statement time to run if it would.
        time.sleep(3)
        rows = {
            r.split("|")[0]: r.split("|")[1]
            for r in pg.psql("SELECT dag_id, state FROM job", dbname=db).splitlines()
        }
        kinds = [(e["kind"], e["detail"]) for e in events(c)]
    finally:
        c.stop_all()
        silent.close()
    assert rows.get("new-term") == "running", f"the new term's own job was closed: {rows} {kinds}"
    take = [d for k, d in kinds if k.startswith("takeover")]
    assert take and not any("fenced" in d for d in take), take
    assert len(jobs(pg, db)) == 2
