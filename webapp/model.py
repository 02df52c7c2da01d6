"""Pure functions from database rows to what the page shows: node health, the failovers with
their takeover gaps (measured by the schema's term_history()), event categories. No I/O here;
unit-tested on plain data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import TermRow
from .event_kinds import CATEGORY_OF_KIND

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
    # The old holder's record the gap is measured from (its release, its ending record, or its
    # last record when it recorded no end), and the gap.
    previous_last_kind: str | None
    previous_last_at: datetime | None
    gap_ms: float | None
    why: str

    @property
    def is_failover(self) -> bool:
        return self.previous_node is not None


def takeovers(terms: Sequence[TermRow]) -> list[Takeover]:
    """Every term (term_history(), oldest first) as a takeover of the term before it: the gap
    and the reason are how that previous term ended, as the schema states them."""
    out: list[Takeover] = []
    for i, t in enumerate(terms):
        if i == 0:
            out.append(
                Takeover(t.started_at, t.holder, t.term, None, None, None, None, None, "first term in view")
            )
            continue
        p = terms[i - 1]
        why = f"{p.holder}: {p.ended}" + (f" ({p.detail})" if p.detail else "")
        out.append(
            Takeover(
                t.started_at,
                t.holder,
                t.term,
                p.holder,
                p.term,
                p.gap_from_kind,
                p.gap_from_at,
                p.gap_ms,
                why,
            )
        )
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
