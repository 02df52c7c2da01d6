"""Attack test (issue 14): an operator command is carried out only by the holder and term it
was meant for. A terminate aimed at a node that then loses its lease must not kill the next
holder's brand-new scheduler; it is closed as stale, with the reason, in the events too."""

from __future__ import annotations

import signal
from pathlib import Path

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.support.helpers import settle


def command_rows(c: Cluster) -> list[tuple[str, str]]:
    out = c.pg.psql(
        "SELECT kind || '|' || coalesce(result, '') FROM airflow_failover.commands "
        f"WHERE cluster = '{c.name}' ORDER BY id"
    )
    return [tuple(line.split("|", 1)) for line in out.splitlines() if line]  # type: ignore[misc]


def test_a_terminate_for_a_lost_node_is_stale_not_run_by_the_next_holder(
    pg: PgServer, tmp_path: Path
) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=2)
    try:
        c.start(["node-a"])
        assert c.wait_active() == "node-a"
        c.start(["node-b"])
        settle(c, 1)
        term = c.status()["term"]
        # node-a's daemon stops answering (frozen, or cut from the database); the operator
        # terminates node-a's scheduler as the dashboard does: only while node-a holds `term`.
        c.signal("node-a", signal.SIGSTOP)
        c.pg.psql(
            "INSERT INTO airflow_failover.commands (cluster, kind, target, requested_by)"
            f" SELECT '{c.name}', 'terminate', NULL, 'dashboard:operator'"
            " FROM airflow_failover.lease"
            f" WHERE cluster = '{c.name}' AND holder = 'node-a' AND term = {term}"
            " AND expires_at > clock_timestamp()"
        )
        assert len(command_rows(c)) == 1, "the lease expired before the insert: too slow"
        # node-b takes over when node-a's lease expires ...
        assert c.wait_active(timeout=15, other_than="node-a") == "node-b"
        first = [i for i in c.live_instances() if i.node == "node-b"]
        assert len(first) == 1
        # ... and keeps its scheduler: the terminate was not meant for it.
        settle(c, 4)
        live = c.live_instances()
        assert [(i.node, i.pid) for i in live] == [("node-b", first[0].pid)], (
            f"node-b's scheduler was killed: {live}\n{c.diagnose()}"
        )
        assert c.status()["active"] == "node-b"
        ((kind, result),) = command_rows(c)
        assert kind == "terminate"
        assert result.startswith(f"stale: meant for node-a in term {term}, but node-b holds"), result
        stale = [e for e in c.events() if e["kind"] == "command_stale"]
        assert stale and stale[0]["node_id"] == "node-b" and "node-a" in stale[0]["detail"]
    finally:
        try:
            c.signal("node-a", signal.SIGCONT)
        except (AssertionError, ProcessLookupError):
            pass
        c.stop_all()
    c.assert_no_overlap()


def test_switchover_reports_a_stale_command(pg: PgServer, tmp_path: Path) -> None:
    """A switchover row meant for a term that is over: the CLI shows why nothing happened."""
    c = Cluster(pg, tmp_path / "cluster", size=2)
    try:
        c.start()
        active = c.wait_active()
        term = c.status()["term"]
        c.pg.psql(
            "INSERT INTO airflow_failover.commands (cluster, kind, requested_by, for_holder,"
            f" for_term) VALUES ('{c.name}', 'switchover', 'test', '{active}', {term - 1})"
        )
        c.wait_for(lambda: command_rows(c) and command_rows(c)[0][1], 10, "the row closed")
        ((_, result),) = command_rows(c)
        assert result == (
            f"stale: meant for {active} in term {term - 1}, but {active} holds the lease in term {term}"
        )
        assert c.status()["active"] == active and c.status()["term"] == term
    finally:
        c.stop_all()
