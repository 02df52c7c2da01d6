"""The HTML pieces the callbacks fill in: the cluster summary, the node and takeover tables, the
event list and the maintenance banner. Pure: data in, Dash components out (no database)."""

from __future__ import annotations

from typing import Any

from dash import html

from . import model
from .db import Event


def pause_banner(pause: dict[str, Any] | None, active: str | None) -> str:
    """The maintenance-mode banner: who paused, why, until when; loud when nobody is active,
    since nobody takes over until resume. "" when not paused."""
    if not pause:
        return ""
    text = f"MAINTENANCE MODE: paused by {pause.get('paused_by')}"
    if pause.get("reason"):
        text += f": {pause['reason']}"
    text += ". No failover, no restarts"
    if pause.get("stop_processes"):
        text += ", processes stopped"
    expires = pause.get("expires_at")
    text += f" until resume or {expires}." if expires else " until resume."
    if not active:
        text += " NO ACTIVE NODE: nobody takes over until `airflow-failover resume`."
    return text


def render_summary(p: dict[str, Any]) -> list[Any]:
    active = p.get("active")
    left = int(p.get("lease_remaining_ms") or 0)
    ttl = p.get("lease_ttl_ms") or 0
    frac = max(0.0, min(1.0, left / ttl)) if ttl else 0.0
    return [
        html.Div(
            [
                html.Span("active ", className="label"),
                html.Span(
                    active or "none",
                    id="active-node",
                    className="active-node " + ("ok" if active else "bad"),
                ),
                html.Span(" term ", className="label"),
                html.Span(str(p.get("term", 0)), id="active-term"),
                html.Span(" lease ", className="label"),
                html.Span(
                    model.fmt_ms(left) + " left" if active else "expired",
                    id="lease-left",
                ),
            ]
        ),
        html.Div(
            html.Div(className="lease-bar-fill", style={"width": f"{frac * 100:.0f}%"}),
            className="lease-bar",
            title="lease remaining (database clock)",
        ),
    ]


def render_nodes(p: dict[str, Any]) -> html.Table:
    active = p.get("active")
    head = html.Tr(
        [
            html.Th(h)
            for h in (
                "node",
                "role",
                "health",
                "last seen",
                "term",
                "processes",
                "hears",
                "host",
            )
        ]
    )
    rows = []
    for n in p.get("nodes", []):
        h = model.node_health(n)
        rows.append(
            html.Tr(
                [
                    html.Td(n["node_id"]),
                    html.Td(n["role"], className="role"),
                    html.Td(h.label, className=f"health {h.level}"),
                    html.Td(model.fmt_ms(n.get("last_seen_age_ms")) + " ago"),
                    html.Td(str(n.get("term", 0))),
                    html.Td(model.process_pids(n), className="mono"),
                    html.Td(model.peers_text(n.get("peers")) or "-"),
                    html.Td(n.get("hostname") or "-"),
                ],
                id={"type": "node-row", "node": n["node_id"]},
                className="active-row" if n["node_id"] == active else "",
            )
        )
    if not rows:
        rows.append(html.Tr(html.Td("no node has registered yet", colSpan=8)))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="nodes")


def render_takeovers(takeovers: list[model.Takeover]) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("at", "became active", "term", "replaced", "takeover gap", "why")])
    rows = []
    for t in reversed(takeovers[-20:]):
        gap = f"{model.fmt_ms(t.gap_ms)} after {t.previous_last_kind}" if t.gap_ms is not None else "-"
        rows.append(
            html.Tr(
                [
                    html.Td(f"{t.at:%H:%M:%S.%f}"[:-3]),
                    html.Td(t.node),
                    html.Td(str(t.term)),
                    html.Td(f"{t.previous_node} (term {t.previous_term})" if t.previous_node else "-"),
                    html.Td(gap, className="gap"),
                    html.Td(t.why),
                ]
            )
        )
    if not rows:
        rows.append(html.Tr(html.Td("no node has become active yet", colSpan=6)))
    return html.Table([html.Thead(head), html.Tbody(rows)], className="takeovers")


def render_events(events: list[Event]) -> html.Table:
    rows = [
        html.Tr(
            [
                html.Td(f"{e.at:%H:%M:%S.%f}"[:-3]),
                html.Td(e.node_id),
                html.Td(str(e.term)),
                html.Td(
                    e.kind,
                    style={"color": model.CATEGORY_COLOR[model.category(e.kind)]},
                ),
                html.Td(e.detail),
            ]
        )
        for e in reversed(events[-30:])
    ]
    return html.Table(html.Tbody(rows), className="events")
