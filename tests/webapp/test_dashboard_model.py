"""Pure parts of the dashboard: takeovers from the schema's terms, node health, formatting, ticker choice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webapp import model
from webapp.db import TermRow

T0 = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


def at(ms: int) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def term(
    n: int,
    holder: str,
    start: int,
    ended: str = "active",
    detail: str = "",
    gap: tuple[float, str] | None = None,
) -> TermRow:
    """A term_history() row; ``gap``: (ms to the next term, the record it is measured from)."""
    gap_ms, kind = gap if gap else (None, "became_active")
    return TermRow(n, holder, at(start), ended, detail, gap_ms, kind, at(start))


def test_each_term_takes_over_from_the_one_before() -> None:
    tk = model.takeovers([
        term(1, "node-a", 0, "released", "SIGTERM", (30.0, "released")),
        term(2, "node-b", 9140),
    ])  # fmt: skip
    assert [t.node for t in tk] == ["node-a", "node-b"]
    assert not tk[0].is_failover and tk[0].gap_ms is None
    second = tk[1]
    assert (second.previous_node, second.previous_term, second.at) == ("node-a", 1, at(9140))
    assert (second.previous_last_kind, second.gap_ms) == ("released", 30.0)
    assert second.why == "node-a: released (SIGTERM)"


def test_the_reason_is_the_schemas_verdict() -> None:
    (_, t) = model.takeovers([
        term(3, "node-c", 0, "expired", "no end recorded: the lease ran out", (3490.0, "process_started")),
        term(4, "node-a", 3500),
    ])  # fmt: skip
    assert t.why == "node-c: expired (no end recorded: the lease ran out)"
    assert (t.gap_ms, t.previous_last_kind) == (3490.0, "process_started")


def test_same_node_can_win_again() -> None:
    (_, t) = model.takeovers(
        [term(1, "node-a", 0, "lease lost", "", (300.0, "stepped_down")), term(2, "node-a", 400)]
    )
    assert (t.previous_node, t.node, t.gap_ms, t.why) == ("node-a", "node-a", 300.0, "node-a: lease lost")


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
