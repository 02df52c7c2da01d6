"""Pure functions from database rows to what the page shows: node health, the failovers with
their measured takeover gaps, event categories. No I/O here; unit-tested on plain data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .event_kinds import CATEGORY_OF_KIND


class EventLike(Protocol):
    @property
    def node_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def term(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def detail(self) -> str: ...


# -- events ------------------------------------------------------------------------------------
# The daemon's list of kinds, with each one's category (include/af/core/event_kinds.def).
CATEGORY_COLOR: dict[str, str] = {
    "active": "#2e7d32",
    "hand-over": "#1565c0",
    "process": "#78909c",
    "restart": "#ef6c00",
    "fencing": "#c62828",
    "terminate": "#6a1b9a",
    "other": "#9e9e9e",
}
# What can end a term, most telling first (the "why" of a failover).
CAUSES: tuple[str, ...] = (
    "terminate_requested",
    "daemon_died",
    "crash_loop",
    "fenced",
    "lease_lost",
    "renew_failing",
    "shutdown",
    "released",
    "stepped_down",
)


def category(kind: str) -> str:
    return CATEGORY_OF_KIND.get(kind, "other")


@dataclass(frozen=True)
class Takeover:
    """A node becoming active, with what it replaced."""

    at: datetime
    node: str
    term: int
    previous_node: str | None
    previous_term: int | None
    # The old holder's last event in its term up to the takeover, and the time from it.
    previous_last_kind: str | None
    previous_last_at: datetime | None
    gap_ms: float | None
    why: str

    @property
    def is_failover(self) -> bool:
        return self.previous_node is not None


def takeovers(events: Sequence[EventLike]) -> list[Takeover]:
    """Every ``became_active`` with its measured takeover gap: the time between the previous
    holder's last event in its term (at or before the takeover) and the new ``became_active``.
    ``events`` in time order. A previous holder that recorded nothing at its end (daemon or host
    lost) is measured from its last record, and the reason says so."""
    out: list[Takeover] = []
    prev: EventLike | None = None
    for e in events:
        if e.kind != "became_active":
            continue
        if prev is None:
            out.append(
                Takeover(
                    e.at,
                    e.node_id,
                    e.term,
                    None,
                    None,
                    None,
                    None,
                    None,
                    "first active node in view",
                )
            )
            prev = e
            continue
        p = prev
        tenure = [x for x in events if x.node_id == p.node_id and x.term == p.term and x.at <= e.at]
        last = max(tenure, key=lambda x: x.at) if tenure else p
        kinds = {x.kind: x for x in tenure}
        cause = next((k for k in CAUSES if k in kinds), None)
        if cause is None:
            why = f"{p.node_id} recorded no end of term {p.term}: its lease expired (daemon or host lost?)"
        elif cause in ("released", "stepped_down"):
            why = f"{p.node_id} released the lease"
        else:
            detail = kinds[cause].detail
            why = f"{p.node_id}: {cause}" + (f" ({detail})" if detail else "")
        gap = (e.at - last.at).total_seconds() * 1000.0
        out.append(Takeover(e.at, e.node_id, e.term, p.node_id, p.term, last.kind, last.at, gap, why))
        prev = e
    return out


# -- nodes -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Health:
    label: str
    level: str  # ok | warn | bad


def node_health(node: dict[str, Any]) -> Health:
    """A node row's health: the schema's stale verdict (cluster_status), else its processes."""
    if node.get("stale"):
        why = str(node.get("stale_why") or "not heard from")
        return Health(why if why.startswith("claims") else f"stale: {why}", "bad")
    role = node.get("role")
    procs = node.get("processes") or []
    if role == "active":
        if not procs or not all(p.get("running") for p in procs):
            return Health("active, process not running", "warn")
        return Health("healthy", "ok")
    if role == "standby":
        return Health("healthy", "ok")
    return Health(str(role or "unknown"), "warn")


def process_pids(node: dict[str, Any]) -> str:
    """``scheduler=1234`` (``-`` when not running), comma-separated, like `status`."""
    parts = []
    for p in node.get("processes") or []:
        pid = p.get("pid")
        parts.append(f"{p.get('name', '?')}={pid if pid is not None else '-'}")
    return ", ".join(parts) or "-"


def peers_text(peers: Any) -> str:
    """The peers a node hears (``nodes.peers``), or '' when it reports none."""
    if not peers:
        return ""
    if isinstance(peers, dict):
        parts = []
        for name in sorted(peers):
            v = peers[name]
            if isinstance(v, dict):  # the daemon's {heard, age_ms, role, term}
                age = v.get("age_ms")
                known = isinstance(age, (int, float))
                if v.get("heard", True) is False:
                    silent = f"silent {fmt_ms(age)}" if known else "never heard"
                    parts.append(f"{name} ({silent})")
                else:
                    parts.append(f"{name} ({fmt_ms(age)})" if known else name)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                parts.append(f"{name} ({fmt_ms(v)})")
            else:
                parts.append(name)
        return ", ".join(parts)
    if isinstance(peers, list):
        return ", ".join(str(p) for p in peers)
    return str(peers)


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    if abs(ms) < 10:
        return f"{ms:.1f} ms"
    if abs(ms) < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.1f} s"


def choose_ticker(
    tickers: Sequence[tuple[str, str]], current: str | None, preferred: str = "SAP"
) -> str | None:
    """The dropdown's value from (isin, mnemonic) pairs: keep the user's choice while it exists,
    else the preferred mnemonic (SAP) when present, else the first instrument."""
    isins = [isin for isin, _ in tickers]
    if current in isins:
        return current
    for isin, mnemonic in tickers:
        if mnemonic == preferred:
            return isin
    return isins[0] if isins else None
