"""The page's static structure: header, banners, the three cards, the two dialogs, and the
stores and timers the callbacks (webapp/callbacks.py) read and write. Every element a callback
touches has an id here; nothing here reads the database."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from .settings import Settings

HIDDEN: dict[str, str] = {"display": "none"}
SHOWN: dict[str, str] = {"display": "flex"}
# How often the ticker menu is re-read: new trading days arrive once a day at most.
PRICES_REFRESH_MS = 15_000


def layout(settings: Settings) -> html.Div:
    return html.Div(
        [
            _header(settings.cluster),
            html.Div(id="db-error", className="banner bad", style=HIDDEN),
            html.Div(id="pause-banner", className="banner warn", style=HIDDEN),
            html.Main([_cluster_card(), _timeline_card(), _prices_card()]),
            _login_dialog(),
            _terminate_dialog(),
            *_stores_and_timers(settings.refresh_ms),
        ],
        className="page",
    )


def _button(label: str, id_: str, class_name: str = "btn", **kw: Any) -> html.Button:
    return html.Button(label, id=id_, n_clicks=0, className=class_name, **kw)


def _card(title: str, *children: Any, id_: str) -> html.Section:
    return html.Section([html.H2(title), *children], className="card", id=id_)


def _modal(id_: str, title: str, body: list[Any]) -> html.Div:
    return html.Div(
        html.Div([html.H3(title), *body], className="modal-box", role="dialog"),
        id=id_,
        className="modal",
        style=HIDDEN,
    )


def _graph(id_: str, height_px: int) -> dcc.Graph:
    return dcc.Graph(id=id_, config={"displayModeBar": False}, style={"height": f"{height_px}px"})


def _header(cluster: str) -> html.Header:
    return html.Header(
        [
            html.H1(["airflow-failover ", html.Span(cluster, className="cluster-name")]),
            html.Div(
                [
                    html.Span(id="login-status", className="login-status"),
                    _button("Log in", "login-open"),
                    _button("Log out", "logout", style=HIDDEN),
                ],
                className="login-area",
            ),
        ]
    )


def _cluster_card() -> html.Section:
    return _card(
        "Cluster",
        html.Div(id="summary", className="summary"),
        html.Div(id="nodes"),
        html.Div(
            [
                # Enabled by the auth callback once a user is signed in.
                _button("Terminate active scheduler", "terminate-open", "btn danger", disabled=True),
                html.Span(id="terminate-result", className="terminate-result"),
            ],
            className="actions",
        ),
        id_="cluster-card",
    )


def _timeline_card() -> html.Section:
    return _card(
        "Failover timeline",
        _graph("timeline", 300),
        html.Div(id="takeovers"),
        html.Details([html.Summary("latest events"), html.Div(id="events")]),
        id_="timeline-card",
    )


def _prices_card() -> html.Section:
    ticker = dcc.Dropdown(
        id="ticker",
        options=[],
        value=None,
        clearable=False,
        placeholder="no instruments yet",
        style={"width": "22rem"},
    )
    return _card(
        "Xetra daily prices",
        html.Div([ticker, html.Span(id="prices-note", className="note")], className="row"),
        _graph("prices", 340),
        id_="prices-card",
    )


def _login_dialog() -> html.Div:
    return _modal(
        "login-modal",
        "Log in",
        [
            dcc.Input(
                id="login-user", type="text", placeholder="user", autoComplete="username", debounce=False
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
                [_button("Cancel", "login-cancel"), _button("Log in", "login-submit", "btn primary")],
                className="modal-buttons",
            ),
        ],
    )


def _terminate_dialog() -> html.Div:
    return _modal(
        "terminate-dialog",
        "Terminate the active scheduler?",
        [
            html.P(id="terminate-text"),
            html.Div(
                [
                    _button("Cancel", "terminate-cancel"),
                    _button("Terminate", "terminate-confirm", "btn danger"),
                ],
                className="modal-buttons",
            ),
        ],
    )


def _stores_and_timers(refresh_ms: int) -> list[Any]:
    return [
        dcc.Store(id="panel"),  # {active, term}: what the user sees
        dcc.Store(id="event-marker"),  # last event id; the timeline refreshes when it moves
        dcc.Store(id="auth"),  # {user}: mirrors the server-side session
        dcc.Store(id="terminate-target"),  # {holder, term} shown in the dialog: what confirm sends
        dcc.Store(id="prices-version"),  # last day/days/instruments: the chart redraws when it moves
        dcc.Interval(id="tick", interval=refresh_ms),
        dcc.Interval(id="prices-tick", interval=PRICES_REFRESH_MS),
    ]
