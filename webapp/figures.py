"""The Plotly figures: the failover timeline (a band per term, a dot per event), the daily
prices, and the empty chart with a note. Pure: data in, figures out."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

import plotly.graph_objects as go

from . import model
from .db import Event


def timeline_figure(events: list[Event], takeovers: list[model.Takeover]) -> go.Figure:
    fig = go.Figure()
    now = datetime.now(UTC)
    # One band per term: from became_active to the holder's last event of that term.
    for i, t in enumerate(takeovers):
        nxt = takeovers[i + 1] if i + 1 < len(takeovers) else None
        end = nxt.previous_last_at if nxt and nxt.previous_last_at else now
        fig.add_trace(
            go.Scatter(
                x=[t.at, end],
                y=[t.node, t.node],
                mode="lines",
                line={"width": 10, "color": "rgba(46,125,50,0.25)"},
                hoverinfo="text",
                text=f"term {t.term} on {escape(t.node)}",
                showlegend=False,
            )
        )
    by_cat: dict[str, list[Event]] = {}
    for e in events:
        by_cat.setdefault(model.category(e.kind), []).append(e)
    for cat, evs in by_cat.items():
        fig.add_trace(
            go.Scatter(
                x=[e.at for e in evs],
                y=[e.node_id for e in evs],
                mode="markers",
                name=cat,
                marker={
                    "size": 9,
                    "color": model.CATEGORY_COLOR[cat],
                    "symbol": "diamond" if cat == "active" else "circle",
                },
                # Plotly renders hover text as HTML: event details come from the database
                # (a process name, an error message) and are escaped.
                hovertext=[
                    f"{e.at:%H:%M:%S.%f}"[:-3] + f" {escape(e.node_id)} term {e.term}<br>"
                    f"<b>{escape(e.kind)}</b> {escape(e.detail)}"
                    for e in evs
                ],
                hoverinfo="text",
            )
        )
    fig.update_layout(
        margin={"l": 60, "r": 10, "t": 10, "b": 30},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
        yaxis={"categoryorder": "category descending"},
    )
    return fig


def prices_figure(title: str, rows: list[Any]) -> go.Figure:
    fig = go.Figure()
    if rows:
        days = [r.trade_date for r in rows]
        fig.add_trace(
            go.Scatter(
                x=days,
                y=[r.mean_end_price for r in rows],
                name="mean price",
                mode="lines+markers",
            )
        )
        fig.add_trace(go.Scatter(x=days, y=[r.vwap for r in rows], name="VWAP", mode="lines+markers"))
    fig.update_layout(
        title=title,
        margin={"l": 50, "r": 10, "t": 40, "b": 30},
        template="plotly_white",
        yaxis_title="EUR",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def empty_figure(text: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        template="plotly_white",
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        annotations=[{"text": text, "showarrow": False, "font": {"size": 14}}],
    )
    return fig
