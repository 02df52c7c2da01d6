"""The dashboard as a WSGI application for a production server (gunicorn).

    gunicorn --bind 127.0.0.1:8050 --workers 1 --threads 8 'webapp.wsgi:create()'

configured from the environment (``AF_DASHBOARD_CONNINFO``, ``AF_DASHBOARD_CLUSTER``,
``AF_DASHBOARD_PASSWORD_FILE`` or ``AF_DASHBOARD_USERS_FILE``, ...; see ``python -m webapp
--help``). One worker: the login throttle and the session key live in the process (threads
serve the parallel requests). ``python -m webapp`` runs the same application under gunicorn.
"""

from __future__ import annotations

import argparse
import os
import shlex

import flask
from dash import Dash

from . import settings as settings_mod
from .app import create_app
from .auth import Users
from .db import Pool
from .roles import check_least_privilege


def build(s: settings_mod.Settings) -> Dash:
    """The checked application: credentials loaded, and the database role is the dashboard's
    least-privilege role (never a superuser nor the daemons' schema owner), or ValueError."""
    users = Users.load(s.users_file, s.password_file, s.user)
    secret_key = settings_mod.read_secret_key(s.secret_key_file) if s.secret_key_file else None
    pool = Pool(s.conninfo, size=s.pool_size)
    try:
        with pool.connection() as conn:
            check_least_privilege(conn, s.schema)
    except BaseException:
        pool.close()
        raise
    return create_app(s, users=users, secret_key=secret_key, pool=pool)


def create(argv: str | None = None) -> flask.Flask:
    """gunicorn's application factory: options from AF_DASHBOARD_ARGS (shell words) and the
    AF_DASHBOARD_* environment."""
    ap = argparse.ArgumentParser(prog="webapp.wsgi")
    settings_mod.add_arguments(ap)
    words = shlex.split(argv if argv is not None else os.environ.get("AF_DASHBOARD_ARGS", ""))
    app = build(settings_mod.from_args(ap.parse_args(words)))
    server: flask.Flask = app.server
    return server
