"""The Dash app: cluster panel, failover timeline, prices, and the guarded terminate button."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import dash
import flask
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, dcc, html
from werkzeug.middleware.proxy_fix import ProxyFix

from . import model
from .auth import Throttle, Users, attempt_login
from .db import DatabaseUnavailable, Event, PauseUnreadable, Pool, Queries
from .settings import Settings

log = logging.getLogger("webapp")

HIDDEN: dict[str, str] = {"display": "none"}
SHOWN: dict[str, str] = {"display": "flex"}
ASSETS = Path(__file__).resolve().parent / "assets"


def _card(title: str, *children: Any, id_: str | None = None) -> html.Section:
    kw: dict[str, Any] = {"id": id_} if id_ else {}
    return html.Section([html.H2(title), *children], className="card", **kw)


def _modal(id_: str, title: str, body: list[Any]) -> html.Div:
    return html.Div(
        html.Div([html.H3(title), *body], className="modal-box", role="dialog"),
        id=id_,
        className="modal",
        style=HIDDEN,
    )


def layout(settings: Settings) -> html.Div:
    return html.Div(
        [
            html.Header(
                [
                    html.H1(
                        [
                            "airflow-failover ",
                            html.Span(settings.cluster, className="cluster-name"),
                        ]
                    ),
                    html.Div(
                        [
                            html.Span(id="login-status", className="login-status"),
                            html.Button("Log in", id="login-open", n_clicks=0, className="btn"),
                            html.Button(
                                "Log out",
                                id="logout",
                                n_clicks=0,
                                className="btn",
                                style=HIDDEN,
                            ),
                        ],
                        className="login-area",
                    ),
                ]
            ),
            html.Div(id="db-error", className="banner bad", style=HIDDEN),
            html.Div(id="pause-banner", className="banner warn", style=HIDDEN),
            html.Main(
                [
                    _card(
                        "Cluster",
                        html.Div(id="summary", className="summary"),
                        html.Div(id="nodes"),
                        html.Div(
                            [
                                html.Button(
                                    "Terminate active scheduler",
                                    id="terminate-open",
                                    n_clicks=0,
                                    className="btn danger",
                                    disabled=True,
                                ),
                                html.Span(id="terminate-result", className="terminate-result"),
                            ],
                            className="actions",
                        ),
                        id_="cluster-card",
                    ),
                    _card(
                        "Failover timeline",
                        dcc.Graph(
                            id="timeline",
                            config={"displayModeBar": False},
                            style={"height": "300px"},
                        ),
                        html.Div(id="takeovers"),
                        html.Details([html.Summary("latest events"), html.Div(id="events")]),
                        id_="timeline-card",
                    ),
                    _card(
                        "Xetra daily prices",
                        html.Div(
                            [
                                dcc.Dropdown(
                                    id="ticker",
                                    options=[],
                                    value=None,
                                    clearable=False,
                                    placeholder="no instruments yet",
                                    style={"width": "22rem"},
                                ),
                                html.Span(id="prices-note", className="note"),
                            ],
                            className="row",
                        ),
                        dcc.Graph(
                            id="prices",
                            config={"displayModeBar": False},
                            style={"height": "340px"},
                        ),
                        id_="prices-card",
                    ),
                ]
            ),
            _modal(
                "login-modal",
                "Log in",
                [
                    dcc.Input(
                        id="login-user",
                        type="text",
                        placeholder="user",
                        autoComplete="username",
                        debounce=False,
                    ),
                    dcc.Input(
                        id="login-password",
                        type="password",
                        placeholder="password",
                        autoComplete="current-password",
                        debounce=False,
                        n_submit=0,
                    ),
                    html.Div(id="login-error", className="error"),
                    html.Div(
                        [
                            html.Button("Cancel", id="login-cancel", n_clicks=0, className="btn"),
                            html.Button(
                                "Log in",
                                id="login-submit",
                                n_clicks=0,
                                className="btn primary",
                            ),
                        ],
                        className="modal-buttons",
                    ),
                ],
            ),
            _modal(
                "terminate-dialog",
                "Terminate the active scheduler?",
                [
                    html.P(id="terminate-text"),
                    html.Div(
                        [
                            html.Button(
                                "Cancel",
                                id="terminate-cancel",
                                n_clicks=0,
                                className="btn",
                            ),
                            html.Button(
                                "Terminate",
                                id="terminate-confirm",
                                n_clicks=0,
                                className="btn danger",
                            ),
                        ],
                        className="modal-buttons",
                    ),
                ],
            ),
            dcc.Store(id="panel"),  # {active, term}: what the user sees
            dcc.Store(id="event-marker"),  # last event id; the timeline refreshes when it moves
            dcc.Store(id="auth"),  # {user}: mirrors the server-side session
            dcc.Store(id="terminate-target"),
            dcc.Store(id="prices-version"),
            dcc.Interval(id="tick", interval=settings.refresh_ms),
            dcc.Interval(id="prices-tick", interval=15_000),
        ],
        className="page",
    )


# -- rendering ---------------------------------------------------------------------------------
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
        h = model.node_health(n, active)
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


# -- the app -----------------------------------------------------------------------------------
def create_app(
    settings: Settings,
    users: Users | None = None,
    secret_key: str | None = None,
    pool: Pool | None = None,
) -> Dash:
    users = (
        users if users is not None else Users.load(settings.users_file, settings.password_file, settings.user)
    )
    pool = pool or Pool(settings.conninfo, size=settings.pool_size)
    q = Queries(pool, settings.schema, settings.cluster, settings.prices_table)
    throttle = Throttle()

    app = Dash(
        __name__,
        title=f"airflow-failover · {settings.cluster}",
        assets_folder=str(ASSETS),
        update_title="",
    )
    server: flask.Flask = app.server
    server.secret_key = secret_key or secrets.token_hex(32)
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # Off loopback the cookie travels only over HTTPS (a TLS proxy in front).
        SESSION_COOKIE_SECURE=settings.secure_cookies,
    )
    if settings.trust_proxy:
        # Behind N proxies the client is what they say, not the last proxy's address: the
        # login throttle keys on it. Without --trust-proxy the headers are ignored (forgeable).
        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server.wsgi_app,
            x_for=settings.trust_proxy,
            x_proto=settings.trust_proxy,
        )
    server.extensions["af_dashboard"] = {"queries": q, "pool": pool, "users": users}
    app.layout = layout(settings)

    def session_user() -> str | None:
        user = flask.session.get("user")
        return user if isinstance(user, str) and user in users.hashes else None

    # -- cluster panel: one statement per second ------------------------------------------------
    @app.callback(
        Output("summary", "children"),
        Output("nodes", "children"),
        Output("panel", "data"),
        Output("event-marker", "data"),
        Output("db-error", "children"),
        Output("db-error", "style"),
        Output("pause-banner", "children"),
        Output("pause-banner", "style"),
        Input("tick", "n_intervals"),
        State("event-marker", "data"),
    )
    def refresh_panel(_n: int | None, marker: Any) -> tuple[Any, ...]:
        try:
            p = q.panel(settings.stale_after_ms)
        except DatabaseUnavailable as e:
            return (
                [
                    html.Span("active ", className="label"),
                    html.Span("unknown", id="active-node", className="active-node bad"),
                ],
                dash.no_update,
                {"active": None, "term": None, "error": True},
                dash.no_update,
                f"database unreachable: {e}",
                {"display": "block"},
                dash.no_update,
                dash.no_update,
            )
        new_marker = p.get("event_marker")
        try:
            banner = pause_banner(q.pause(), p.get("active"))
        except PauseUnreadable as e:
            banner = f"maintenance mode unknown (re-run `python -m webapp grant-role`): {e}"
        except DatabaseUnavailable:
            banner = ""
        return (
            render_summary(p),
            render_nodes(p),
            {"active": p.get("active"), "term": p.get("term")},
            new_marker if new_marker != marker else dash.no_update,
            "",
            HIDDEN,
            banner,
            {"display": "block"} if banner else HIDDEN,
        )

    # -- failover timeline: re-read when a new event exists -------------------------------------
    @app.callback(
        Output("timeline", "figure"),
        Output("takeovers", "children"),
        Output("events", "children"),
        Input("event-marker", "data"),
    )
    def refresh_timeline(_marker: Any) -> tuple[Any, ...]:
        try:
            events = q.events()
        except DatabaseUnavailable:
            return dash.no_update, dash.no_update, dash.no_update
        if not events:
            return (
                empty_figure("no events yet"),
                render_takeovers([]),
                render_events([]),
            )
        tk = model.takeovers(events)
        return timeline_figure(events, tk), render_takeovers(tk), render_events(events)

    # -- login ----------------------------------------------------------------------------------
    @app.callback(
        Output("login-modal", "style"),
        Output("login-error", "children"),
        Output("auth", "data"),
        Output("login-password", "value"),
        Input("login-open", "n_clicks"),
        Input("login-cancel", "n_clicks"),
        Input("login-submit", "n_clicks"),
        Input("login-password", "n_submit"),
        Input("logout", "n_clicks"),
        State("login-user", "value"),
        State("login-password", "value"),
    )
    def login(*args: Any) -> tuple[Any, ...]:
        user_in, password = args[-2], args[-1]
        trig = ctx.triggered_id
        if trig is None:  # page load: only report the session
            return HIDDEN, "", {"user": session_user()}, ""
        if trig == "login-open":
            if not users.enabled:
                msg = "no users configured: start with --users-file or --password-file"
                return SHOWN, msg, dash.no_update, ""
            return SHOWN, "", dash.no_update, ""
        if trig == "login-cancel":
            return HIDDEN, "", dash.no_update, ""
        if trig == "logout":
            flask.session.clear()
            return HIDDEN, "", {"user": None}, ""
        # login-submit or Enter in the password field
        addr = flask.request.remote_addr or "?"
        user = str(user_in or "")
        outcome = attempt_login(users, throttle, addr, user, str(password or ""))
        if outcome == "throttled":
            return (
                SHOWN,
                "too many failed logins; wait a few minutes",
                dash.no_update,
                "",
            )
        if outcome == "ok":
            flask.session.clear()
            flask.session["user"] = user
            log.info("login: %s from %s", user, addr)
            return HIDDEN, "", {"user": user}, ""
        log.warning("failed login for %r from %s", user, addr)
        return SHOWN, "wrong user or password", dash.no_update, ""

    @app.callback(
        Output("login-status", "children"),
        Output("login-open", "style"),
        Output("logout", "style"),
        Output("terminate-open", "disabled"),
        Output("terminate-open", "title"),
        Input("auth", "data"),
    )
    def show_auth(auth: Any) -> tuple[Any, ...]:
        user = (auth or {}).get("user")
        if user:
            return (
                f"signed in as {user}",
                HIDDEN,
                {},
                False,
                "kill the active node's scheduler; another node takes over",
            )
        return ("", {}, HIDDEN, True, "log in to terminate")

    # -- terminate: never on load, only after login and confirmation ----------------------------
    @app.callback(
        Output("terminate-dialog", "style"),
        Output("terminate-text", "children"),
        Output("terminate-target", "data"),
        Output("terminate-result", "children"),
        Input("terminate-open", "n_clicks"),
        Input("terminate-cancel", "n_clicks"),
        Input("terminate-confirm", "n_clicks"),
        State("panel", "data"),
        State("terminate-target", "data"),
        prevent_initial_call=True,
    )
    def terminate(
        n_open: int | None,
        _n_cancel: int | None,
        n_confirm: int | None,
        panel: Any,
        target: Any,
    ) -> tuple[Any, ...]:
        trig = ctx.triggered_id
        user = session_user()
        if trig == "terminate-cancel":
            return HIDDEN, "", None, "cancelled"
        if user is None:
            return HIDDEN, "", None, "log in first"
        if trig == "terminate-open" and n_open:
            active = (panel or {}).get("active")
            term = (panel or {}).get("term")
            if not active:
                return HIDDEN, "", None, "no active node to terminate"
            text = [
                "This kills the scheduler on ",
                html.B(active),
                (
                    f" (term {term}) as if it had crashed; the daemon then hands the lease to "
                    "another node. Requested as "
                ),
                html.B(user),
                ".",
            ]
            return SHOWN, text, {"holder": active, "term": term}, ""
        if trig == "terminate-confirm" and n_confirm and isinstance(target, dict):
            holder, term = target.get("holder"), target.get("term")
            if not isinstance(holder, str) or not isinstance(term, int):
                return HIDDEN, "", None, "nothing to confirm"
            try:
                sent = q.request_terminate(f"dashboard:{user}", holder, term)
            except DatabaseUnavailable as e:
                return HIDDEN, "", None, f"not sent: database unreachable ({e})"
            if not sent:
                msg = f"not sent: {holder} no longer holds term {term}; look again and retry"
                return HIDDEN, "", None, msg
            log.warning("terminate requested by %s for %s (term %s)", user, holder, term)
            msg = f"sent: {holder} (term {term}) will kill its scheduler and hand over"
            return HIDDEN, "", None, msg
        return HIDDEN, "", None, dash.no_update

    # -- prices ---------------------------------------------------------------------------------
    @app.callback(
        Output("ticker", "options"),
        Output("ticker", "value"),
        Output("prices-note", "children"),
        Output("prices-version", "data"),
        Input("prices-tick", "n_intervals"),
        State("ticker", "value"),
        State("prices-version", "data"),
    )
    def refresh_tickers(_n: int | None, current: str | None, version: Any) -> tuple[Any, ...]:
        try:
            tickers = q.tickers()
        except DatabaseUnavailable:
            return (
                dash.no_update,
                dash.no_update,
                "database unreachable",
                dash.no_update,
            )
        if not tickers:
            return (
                [],
                None,
                f"no price data yet ({settings.prices_table} is absent or empty)",
                None,
            )
        options = [{"label": f"{t.mnemonic} ({t.isin})", "value": t.isin} for t in tickers]
        chosen = model.choose_ticker([(t.isin, t.mnemonic) for t in tickers], current)
        last = max(t.last_day for t in tickers)
        days = sum(t.days for t in tickers)
        new_version = f"{last.isoformat()}/{days}/{len(tickers)}"
        note = f"{len(tickers)} instruments, last trading day {last.isoformat()}"
        if new_version == version and chosen == current:  # nothing new: leave the menu be
            return dash.no_update, dash.no_update, note, dash.no_update
        return options, chosen, note, new_version

    @app.callback(
        Output("prices", "figure"),
        Input("ticker", "value"),
        Input("prices-version", "data"),
        State("ticker", "options"),
    )
    def refresh_prices(isin: str | None, _version: Any, options: Any) -> go.Figure:
        if not isin:
            return empty_figure("no price data yet")
        try:
            rows = q.prices(isin)
        except DatabaseUnavailable:
            return empty_figure("database unreachable")
        label = next((o["label"] for o in options or [] if o.get("value") == isin), isin)
        if not rows:
            return empty_figure(f"no prices for {label}")
        return prices_figure(label, rows)

    return app
