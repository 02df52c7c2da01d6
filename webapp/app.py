"""The Dash app: the Flask server's session and proxy settings, the page (webapp/layout.py) and
what it does (webapp/callbacks.py), over one connection pool."""

from __future__ import annotations

import secrets
from pathlib import Path

import flask
from dash import Dash
from werkzeug.middleware.proxy_fix import ProxyFix

from . import callbacks
from .auth import Throttle, Users
from .db import Pool, Queries
from .layout import layout
from .settings import Settings

ASSETS = Path(__file__).resolve().parent / "assets"


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
    # One throttle per app (per process): gunicorn runs one worker, so it sees every login.
    callbacks.register(app, callbacks.Callbacks(settings, q, users, Throttle()))
    return app
