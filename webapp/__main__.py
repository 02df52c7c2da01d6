"""``python -m webapp``: serve the dashboard (default), hash a password, or set up the role."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys

from . import settings as settings_mod

COMMANDS = ("serve", "hash-password", "grant-role")

EPILOG = """\
commands:
  serve           run the dashboard (the default: `python -m webapp --cluster demo ...`)
  hash-password   print a `user:hash` line for the users file
  grant-role      create the dashboard's database role, grant it the prices table (the
                  daemons' schema: airflow-failover init-db --dashboard-role ROLE)

`python -m webapp COMMAND --help` shows a command's options. Environment:
  AF_DASHBOARD_CONNINFO, AF_DASHBOARD_SCHEMA, AF_DASHBOARD_CLUSTER, AF_DASHBOARD_HOST,
  AF_DASHBOARD_PORT, AF_DASHBOARD_PRICES_TABLE   as the serve options
  AF_DASHBOARD_USERS_FILE    `user:pbkdf2-hash` lines (see hash-password), or
  AF_DASHBOARD_PASSWORD_FILE one user's password in a file (user AF_DASHBOARD_USER, default
                             admin); a password in the environment is refused
  AF_DASHBOARD_SECRET_KEY_FILE  a file holding the Flask session key (random per start if
                             unset); a key in the environment (AF_DASHBOARD_SECRET_KEY) is refused

`serve` runs under gunicorn (one worker, threads); --debug uses Flask's development server.
Under systemd: gunicorn 'webapp.wsgi:create()' (packaging/airflow-failover-dashboard.service).
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m webapp",
        description="airflow-failover dashboard: cluster status, failover timeline, Xetra "
        "prices, and a login-guarded terminate button.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the dashboard (default)")
    settings_mod.add_arguments(serve)
    hp = sub.add_parser("hash-password", help="print a users-file line")
    hp.add_argument("user")
    hp.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin instead of prompting",
    )
    gr = sub.add_parser("grant-role", help="create the dashboard's database role, grant it the prices table")
    gr.add_argument("--role", default="af_dashboard")
    gr.add_argument("--conninfo", help="as a role allowed to grant [env AF_DASHBOARD_CONNINFO]")
    gr.add_argument(
        "--prices-table",
        default=os.environ.get("AF_DASHBOARD_PRICES_TABLE") or settings_mod.DEFAULT_PRICES_TABLE,
    )
    gr.add_argument(
        "--print",
        action="store_true",
        dest="print_only",
        help="print the GRANT statements instead of running them",
    )
    return ap


def cmd_serve(ns: argparse.Namespace) -> int:
    from .roles import NotLeastPrivilege
    from .wsgi import build

    try:
        s = settings_mod.from_args(ns)
        app = build(s)
    except NotLeastPrivilege as e:
        print(f"python -m webapp: refusing to start: {e}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as e:
        print(f"python -m webapp: {e}", file=sys.stderr)
        return 2
    users = app.server.extensions["af_dashboard"]["users"]
    if not users.enabled:
        print(
            "python -m webapp: no users configured (--users-file or --password-file): terminate is disabled",
            file=sys.stderr,
        )
    print(f"dashboard for cluster {s.cluster} on http://{s.host}:{s.port}/", flush=True)
    if s.debug:
        app.run(host=s.host, port=s.port, debug=True)
        return 0
    run_gunicorn(app.server, s.host, s.port)
    return 0


def run_gunicorn(wsgi: object, host: str, port: int, threads: int = 8) -> None:
    """Serves ``wsgi`` with gunicorn in this process (one worker: the login throttle and the
    session key are per process)."""
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            for key, value in {
                "bind": bind,
                "workers": 1,
                "threads": threads,
                "worker_class": "gthread",
                "timeout": 60,
                "graceful_timeout": 5,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> object:
            return wsgi

    _App().run()


def cmd_hash_password(ns: argparse.Namespace) -> int:
    from .auth import hash_password

    if ":" in ns.user:
        print("python -m webapp: a user name cannot contain ':'", file=sys.stderr)
        return 2
    if ns.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("python -m webapp: the passwords differ", file=sys.stderr)
            return 2
    if not password:
        print("python -m webapp: empty password", file=sys.stderr)
        return 2
    print(f"{ns.user}:{hash_password(password)}")
    return 0


def cmd_grant_role(ns: argparse.Namespace) -> int:
    import psycopg2

    from .roles import grant_dashboard_role, render

    conninfo = ns.conninfo or os.environ.get("AF_DASHBOARD_CONNINFO")
    if not conninfo:
        print(
            "python -m webapp: give --conninfo or AF_DASHBOARD_CONNINFO",
            file=sys.stderr,
        )
        return 2
    conn = psycopg2.connect(conninfo)
    try:
        if ns.print_only:
            print(render(conn, ns.role, ns.prices_table))
        else:
            grant_dashboard_role(conn, ns.role, ns.prices_table)
            print(
                f"role {ns.role}: SELECT on {ns.prices_table} (if it exists); the daemons' "
                f"schema: airflow-failover init-db --dashboard-role {ns.role}"
            )
    finally:
        conn.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0] not in COMMANDS and args[0] not in ("-h", "--help")):
        args.insert(0, "serve")
    ns = build_parser().parse_args(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if ns.command == "hash-password":
        return cmd_hash_password(ns)
    if ns.command == "grant-role":
        return cmd_grant_role(ns)
    return cmd_serve(ns)


if __name__ == "__main__":
    sys.exit(main())
