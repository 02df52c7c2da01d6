"""The lease is judged on one database server history (issue 21, docs/design.md "The lease
across a database failover"): a live-looking or expired row stamped by another server history
(or by none: rows from before the stamp) is not taken at once. The first claim re-stamps it with
a full TTL on this server's clock, and only then can it be won. On the code before issue 21 the
daemon took such a row at once.

The promoted-replica faults themselves are in tests/chaos (db_lost_renewals, db_clock_ahead)."""

from __future__ import annotations

import time
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer

TTL_MS = 3000


def test_a_row_from_another_server_history_is_given_a_full_ttl_before_it_is_taken(
    pg: PgServer, tmp_path: Path
) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=1, ttl_ms=TTL_MS, renew_ms=500)
    try:
        assert c.cli("init-db").returncode == 0
        # As a promoted replica that missed the holder's last renewals shows it: held by a node
        # that is gone, expired on this server's clock, written on another history (no stamp).
        pg.psql(
            "INSERT INTO airflow_failover.lease (cluster, holder, term, expires_at)"
            f" VALUES ('{c.name}', 'node-gone', 7, clock_timestamp() - interval '1 hour')"
        )
        t0 = time.monotonic()
        c.start()
        c.wait_active(timeout=30)
        first = c.instances()[0]
        waited = first.start - t0
        assert waited >= TTL_MS / 1000, f"took a row of another server history after {waited:.2f} s"
        assert first.term == 8
        stamp, here = pg.psql(
            "SELECT server_stamp, (SELECT system_identifier::text FROM pg_control_system()) || '/' ||"
            " substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"
            f" FROM airflow_failover.lease WHERE cluster = '{c.name}'"
        ).split("|")
        assert stamp == here
        c.assert_no_overlap()
    finally:
        c.stop_all()
