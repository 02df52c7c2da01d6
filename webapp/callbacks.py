"""What the page does: one class, ``Callbacks``, whose methods answer the browser (refresh the
panel and the timeline, log in and out, terminate, the prices), and ``register``, which wires
each method to the layout's ids (webapp/layout.py).

The methods hold the logic and return the outputs in the order ``register`` declares them; the
database is reached only through ``Queries``, and ``DatabaseUnavailable`` never escapes: the page
says what is unknown and keeps what it showed."""

from __future__ import annotations

import logging
from typing import Any

import dash
import flask
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, html

from . import model
from .auth import Throttle, Users, attempt_login
from .db import DatabaseUnavailable, PauseUnreadable, Queries
from .figures import empty_figure, prices_figure, timeline_figure
from .layout import HIDDEN, SHOWN
from .render import pause_banner, render_events, render_nodes, render_summary, render_takeovers
from .settings import Settings

log = logging.getLogger("webapp")

BANNER_SHOWN: dict[str, str] = {"display": "block"}
NO = dash.no_update


class Callbacks:
    def __init__(self, settings: Settings, queries: Queries, users: Users, throttle: Throttle) -> None:
        self.settings = settings
        self.q = queries
        self.users = users
        self.throttle = throttle

    def session_user(self) -> str | None:
        """The signed-in user of this request, if still a configured user."""
        user = flask.session.get("user")
        return user if isinstance(user, str) and user in self.users.hashes else None

    # -- cluster panel: one statement per second ------------------------------------------------
    def refresh_panel(self, _n: int | None, marker: Any) -> tuple[Any, ...]:
        """summary, nodes, panel store, event marker, db-error text and style, pause banner text
        and style."""
        try:
            p = self.q.panel()
        except DatabaseUnavailable as e:
            unknown = [
                html.Span("active ", className="label"),
                html.Span("unknown", id="active-node", className="active-node bad"),
            ]
            error = {"active": None, "term": None, "error": True}
            return unknown, NO, error, NO, f"database unreachable: {e}", BANNER_SHOWN, NO, NO
        new_marker = p.get("event_marker")
        try:
            banner = pause_banner(self.q.pause(), p.get("active"))
        except PauseUnreadable as e:
            banner = f"maintenance mode unknown (re-run `airflow-failover init-db --dashboard-role`): {e}"
        except DatabaseUnavailable:
            banner = ""
        return (
            render_summary(p),
            render_nodes(p),
            {"active": p.get("active"), "term": p.get("term")},
            new_marker if new_marker != marker else NO,
            "",
            HIDDEN,
            banner,
            BANNER_SHOWN if banner else HIDDEN,
        )

    # -- failover timeline: re-read when a new event exists -------------------------------------
    def refresh_timeline(self, _marker: Any) -> tuple[Any, ...]:
        """timeline figure, takeovers table, events table."""
        try:
            events = self.q.events()
            terms = self.q.terms()
        except DatabaseUnavailable:
            return NO, NO, NO
        if not events:
            return empty_figure("no events yet"), render_takeovers([]), render_events([])
        tk = model.takeovers(terms)
        return timeline_figure(events, tk), render_takeovers(tk), render_events(events)

    # -- login ----------------------------------------------------------------------------------
    def login(self, *args: Any) -> tuple[Any, ...]:
        """login dialog style, login error, auth store, password field (always cleared)."""
        user_in, password = args[-2], args[-1]
        trig = ctx.triggered_id
        if trig is None:  # page load: only report the session
            return HIDDEN, "", {"user": self.session_user()}, ""
        if trig == "login-open":
            if not self.users.enabled:
                msg = "no users configured: start with --users-file or --password-file"
                return SHOWN, msg, NO, ""
            return SHOWN, "", NO, ""
        if trig == "login-cancel":
            return HIDDEN, "", NO, ""
        if trig == "logout":
            flask.session.clear()
            return HIDDEN, "", {"user": None}, ""
        # login-submit or Enter in the password field
        addr = flask.request.remote_addr or "?"
        user = str(user_in or "")
        outcome = attempt_login(self.users, self.throttle, addr, user, str(password or ""))
        if outcome == "throttled":
            return SHOWN, "too many failed logins; wait a few minutes", NO, ""
        if outcome == "ok":
            flask.session.clear()
            flask.session["user"] = user
            log.info("login: %s from %s", user, addr)
            return HIDDEN, "", {"user": user}, ""
        log.warning("failed login for %r from %s", user, addr)
        return SHOWN, "wrong user or password", NO, ""

    @staticmethod
    def show_auth(auth: Any) -> tuple[Any, ...]:
        """login status, log-in button style, log-out button style, terminate disabled, its title."""
        user = (auth or {}).get("user")
        if user:
            why = "kill the active node's scheduler; another node takes over"
            return f"signed in as {user}", HIDDEN, {}, False, why
        return "", {}, HIDDEN, True, "log in to terminate"

    # -- terminate: never on load, only after login and confirmation ----------------------------
    def terminate(
        self,
        n_open: int | None,
        _n_cancel: int | None,
        n_confirm: int | None,
        panel: Any,
        target: Any,
    ) -> tuple[Any, ...]:
        """dialog style, dialog text, terminate-target store, result line. The user is the
        server-side session's, never the page's: a forged request without a login sends nothing."""
        trig = ctx.triggered_id
        user = self.session_user()
        if trig == "terminate-cancel":
            return HIDDEN, "", None, "cancelled"
        if user is None:
            return HIDDEN, "", None, "log in first"
        if trig == "terminate-open" and n_open:
            return self._ask_to_terminate(user, panel)
        if trig == "terminate-confirm" and n_confirm and isinstance(target, dict):
            return HIDDEN, "", None, self._send_terminate(user, target)
        return HIDDEN, "", None, NO

    @staticmethod
    def _ask_to_terminate(user: str, panel: Any) -> tuple[Any, ...]:
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
        # What the dialog shows is what confirm sends: a lease that moved meanwhile is refused.
        return SHOWN, text, {"holder": active, "term": term}, ""

    def _send_terminate(self, user: str, target: dict[str, Any]) -> str:
        holder, term = target.get("holder"), target.get("term")
        if not isinstance(holder, str) or not isinstance(term, int):
            return "nothing to confirm"
        try:
            sent = self.q.request_terminate(f"dashboard:{user}", holder, term)
        except DatabaseUnavailable as e:
            return f"not sent: database unreachable ({e})"
        if not sent:
            return f"not sent: {holder} no longer holds term {term}; look again and retry"
        log.warning("terminate requested by %s for %s (term %s)", user, holder, term)
        return f"sent: {holder} (term {term}) will kill its scheduler and hand over"

    # -- prices ---------------------------------------------------------------------------------
    def refresh_tickers(self, _n: int | None, current: str | None, version: Any) -> tuple[Any, ...]:
        """ticker options, ticker value, prices note, prices-version store."""
        try:
            tickers = self.q.tickers()
        except DatabaseUnavailable:
            return NO, NO, "database unreachable", NO
        if not tickers:
            return [], None, f"no price data yet ({self.settings.prices_table} is absent or empty)", None
        options = [{"label": f"{t.mnemonic} ({t.isin})", "value": t.isin} for t in tickers]
        chosen = model.choose_ticker([(t.isin, t.mnemonic) for t in tickers], current)
        last = max(t.last_day for t in tickers)
        days = sum(t.days for t in tickers)
        new_version = f"{last.isoformat()}/{days}/{len(tickers)}"
        note = f"{len(tickers)} instruments, last trading day {last.isoformat()}"
        if new_version == version and chosen == current:  # nothing new: leave the menu be
            return NO, NO, note, NO
        return options, chosen, note, new_version

    def refresh_prices(self, isin: str | None, _version: Any, options: Any) -> go.Figure:
        """the prices figure."""
        if not isin:
            return empty_figure("no price data yet")
        try:
            rows = self.q.prices(isin)
        except DatabaseUnavailable:
            return empty_figure("database unreachable")
        label = next((o["label"] for o in options or [] if o.get("value") == isin), isin)
        if not rows:
            return empty_figure(f"no prices for {label}")
        return prices_figure(label, rows)


def register(app: Dash, cb: Callbacks) -> None:
    """Wires each method to the page: its outputs, in the order it returns them, then its inputs
    and states, in the order it takes them."""
    app.callback(
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
    )(cb.refresh_panel)
    app.callback(
        Output("timeline", "figure"),
        Output("takeovers", "children"),
        Output("events", "children"),
        Input("event-marker", "data"),
    )(cb.refresh_timeline)
    app.callback(
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
    )(cb.login)
    app.callback(
        Output("login-status", "children"),
        Output("login-open", "style"),
        Output("logout", "style"),
        Output("terminate-open", "disabled"),
        Output("terminate-open", "title"),
        Input("auth", "data"),
    )(cb.show_auth)
    app.callback(
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
    )(cb.terminate)
    app.callback(
        Output("ticker", "options"),
        Output("ticker", "value"),
        Output("prices-note", "children"),
        Output("prices-version", "data"),
        Input("prices-tick", "n_intervals"),
        State("ticker", "value"),
        State("prices-version", "data"),
    )(cb.refresh_tickers)
    app.callback(
        Output("prices", "figure"),
        Input("ticker", "value"),
        Input("prices-version", "data"),
        State("ticker", "options"),
    )(cb.refresh_prices)
