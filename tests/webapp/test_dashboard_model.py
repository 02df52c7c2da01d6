"""Pure parts of the dashboard: takeover gaps, node health, formatting, ticker choice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from webapp import model

T0 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Ev:
    node_id: str
    at: datetime
    term: int
    kind: str
    detail: str = ""


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def test_takeover_gap_after_a_release() -> None:
    events = [
        Ev("node-a", at(0), 1, "became_active", "won the lease in term 1"),
        Ev("node-a", at(5), 1, "process_started", "scheduler"),
        Ev("node-a", at(9000), 1, "shutdown", "SIGTERM"),
        Ev("node-a", at(9100), 1, "process_stopped", "scheduler exited 0"),
        Ev("node-a", at(9110), 1, "released", "released the lease"),
        Ev("node-b", at(9140), 2, "became_active", "won the lease in term 2"),
        Ev("node-a", at(9150), 1, "stepped_down", "left term 1"),  # after: not counted
    ]
    tk = model.takeovers(events)
    assert [t.node for t in tk] == ["node-a", "node-b"]
    assert not tk[0].is_failover and tk[0].gap_ms is None
    second = tk[1]
    assert second.previous_node == "node-a" and second.previous_term == 1
    assert second.previous_last_kind == "released"
    assert second.gap_ms == 30.0
    assert "shutdown" in second.why


def test_takeover_after_terminate_names_it() -> None:
    events = [
        Ev("node-c", at(0), 3, "became_active"),
        Ev(
            "node-c",
            at(1000),
            3,
            "terminate_requested",
            "killed scheduler on request of x",
        ),
        Ev("node-c", at(1200), 3, "process_stopped", "scheduler killed"),
        Ev("node-c", at(1210), 3, "stepped_down", "left term 3"),
        Ev("node-a", at(1400), 4, "became_active"),
    ]
    (_, t) = model.takeovers(events)
    assert t.gap_ms == 190.0 and t.previous_last_kind == "stepped_down"
    assert t.why.startswith("node-c: terminate_requested")


def test_takeover_after_silent_loss_measures_from_last_record() -> None:
    events = [
        Ev("node-a", at(0), 1, "became_active"),
        Ev("node-a", at(10), 1, "process_started", "scheduler"),
        Ev("node-b", at(3500), 2, "became_active"),
    ]
    (_, t) = model.takeovers(events)
    assert t.gap_ms == 3490.0 and t.previous_last_kind == "process_started"
    assert "recorded no end" in t.why


def test_same_node_can_win_again() -> None:
    events = [
        Ev("node-a", at(0), 1, "became_active"),
        Ev("node-a", at(100), 1, "lease_lost", "renewal refused"),
        Ev("node-a", at(400), 2, "became_active"),
    ]
    (_, t) = model.takeovers(events)
    assert (t.previous_node, t.node, t.gap_ms) == ("node-a", "node-a", 300.0)


def node(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "node_id": "node-a",
        "role": "standby",
        "stale": False,
        "processes": [{"name": "scheduler", "pid": None, "running": False}],
    }
    base.update(kw)
    return base


def test_node_health() -> None:
    running = [{"name": "scheduler", "pid": 42, "running": True}]
    assert model.node_health(node()).level == "ok"
    assert model.node_health(node(stale=True, stale_why="not heard from")).label == "stale: not heard from"
    assert model.node_health(node(role="active", processes=running)).level == "ok"
    # The schema's verdict on a row reading active without the live lease (cluster_status).
    why = "claims active without a valid lease"
    h = model.node_health(node(role="active", processes=running, stale=True, stale_why=why))
    assert (h.label, h.level) == (why, "bad")
    assert model.node_health(node(role="active")).level == "warn"


def test_formatting() -> None:
    running = [{"name": "scheduler", "pid": 42}, {"name": "triggerer", "pid": None}]
    assert model.process_pids(node(processes=running)) == "scheduler=42, triggerer=-"
    assert model.process_pids(node(processes=[])) == "-"
    assert model.peers_text({}) == ""
    assert model.peers_text({"node-b": {"age_ms": 300}, "node-a": 1500}) == (
        "node-a (1.5 s), node-b (300 ms)"
    )
    assert model.peers_text(["node-c"]) == "node-c"
    heartbeats = {
        "node-b": {"heard": True, "age_ms": 120, "role": "active", "term": 4},
        "node-c": {"heard": False, "age_ms": 5100, "role": "standby", "term": 0},
        "node-d": {"heard": False},
    }
    assert model.peers_text(heartbeats) == ("node-b (120 ms), node-c (silent 5.1 s), node-d (never heard)")
    assert model.fmt_ms(None) == "-" and model.fmt_ms(2849) == "2.8 s"
    assert model.fmt_ms(3.64) == "3.6 ms" and model.fmt_ms(250) == "250 ms"
    assert model.category("fenced") == "fencing" and model.category("new_kind") == "other"


def test_choose_ticker() -> None:
    t = [("DE000BASF111", "BAS"), ("DE0007164600", "SAP")]
    assert model.choose_ticker(t, None) == "DE0007164600"
    assert model.choose_ticker(t, "DE000BASF111") == "DE000BASF111"
    assert model.choose_ticker(t, "gone") == "DE0007164600"
    assert model.choose_ticker([("X1", "BAS")], None) == "X1"
    assert model.choose_ticker([], None) is None
