"""`switchover --at` (issue 17): a hand-over scheduled for a time on the database clock fires
within 1 s of it; `--cancel` withdraws it; bad times are refused with a clear error."""

from __future__ import annotations

import time

import pytest

from localcluster.cluster import Cluster


def test_switchover_at_fires_within_a_second_of_its_time(two: Cluster) -> None:
    c = two
    res = c.cli("switchover", "--at", "+3s", "--to", "node-b")
    assert res.returncode == 0, res.stderr
    assert "switchover scheduled (command" in res.stdout, res.stdout
    status = c.status()
    (sched,) = status["scheduled_switchovers"]
    assert sched["target"] == "node-b" and sched["for_holder"] == "node-a"
    assert 0 < sched["in_ms"] <= 3000
    assert "scheduled switchover" in c.cli("status").stdout
    # Nothing happens before the time.
    time.sleep(1.5)
    assert c.status()["active"] == "node-a"
    assert c.wait_active(timeout=15, other_than="node-a") == "node-b"
    # When did node-a accept it, on the database clock, against the time it was due?
    late_ms = float(
        c.pg.psql(
            "SELECT extract(epoch FROM e.at - c.not_before) * 1000"
            " FROM airflow_failover.events e, airflow_failover.commands c"
            f" WHERE e.cluster = '{c.name}' AND c.cluster = e.cluster AND e.kind = 'switchover'"
            " AND c.not_before IS NOT NULL"
        )
    )
    print(f"switchover --at fired {late_ms:.1f} ms after its time (database clock)")
    assert 0 <= late_ms < 1000, late_ms
    assert c.status()["scheduled_switchovers"] == []
    c.assert_no_overlap()


def test_switchover_cancel_withdraws_it(two: Cluster) -> None:
    c = two
    assert c.cli("switchover", "--at", "+4s").returncode == 0
    res = c.cli("switchover", "--cancel")
    assert res.returncode == 0 and "cancelled switchover" in res.stdout, res.stdout
    assert c.status()["scheduled_switchovers"] == []
    time.sleep(6)
    assert c.status()["active"] == "node-a"
    res = c.cli("switchover", "--cancel")
    assert "no scheduled switchover to cancel" in res.stdout


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("tomorrow", "has no UTC offset; add Z (UTC) or one like +01:00"),
        ("2026-12-01T02:00:00", "has no UTC offset"),
        ("+30", "--at needs a duration with a unit"),
        ("2001-01-01T00:00:00Z", "is not ahead of the database clock"),
        ("2026-02-30T00:00:00Z", "is not a valid time: ERROR:  date/time field value out of range"),
    ],
)
def test_bad_times_are_refused_clearly(two: Cluster, at: str, message: str) -> None:
    res = two.cli("switchover", "--at", at)
    assert res.returncode == 2, res.stdout
    assert message in res.stderr, res.stderr
    assert two.status()["scheduled_switchovers"] == []
