"""The dashboard's configuration: command-line arguments, then environment variables, then an
optional airflow-failover node config (``--config``) for the cluster and schema. The
database connection is always the dashboard's own (``--conninfo``): a node config's conninfo is
the daemons' role, which can rewrite the lease, and is never used."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_SCHEMA = "airflow_failover"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050
DEFAULT_PRICES_TABLE = "xetra_daily_price"


@dataclass(frozen=True)
class Settings:
    conninfo: str
    cluster: str
    schema: str = DEFAULT_SCHEMA
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    prices_table: str = DEFAULT_PRICES_TABLE
    refresh_ms: int = 1000
    pool_size: int = 2
    users_file: Path | None = None
    password_file: Path | None = None
    user: str = "admin"
    trust_proxy: int = 0
    secure_cookies: bool = False
    debug: bool = False
    secret_key_file: Path | None = None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--config",
        metavar="FILE",
        help="an airflow-failover node config: cluster and database.schema are taken "
        "from it (never its conninfo: that is the daemons' role)",
    )
    ap.add_argument(
        "--conninfo",
        help="libpq connection string as the dashboard's own role (python -m webapp "
        "grant-role, init-db --dashboard-role), no password in it (use PGPASSFILE) "
        "[env AF_DASHBOARD_CONNINFO]",
    )
    ap.add_argument(
        "--schema",
        help=f"the daemons' schema [env AF_DASHBOARD_SCHEMA; default {DEFAULT_SCHEMA}]",
    )
    ap.add_argument("--cluster", help="cluster name [env AF_DASHBOARD_CLUSTER]")
    ap.add_argument("--host", help=f"listen address [env AF_DASHBOARD_HOST; default {DEFAULT_HOST}]")
    ap.add_argument(
        "--port",
        type=int,
        help=f"listen port [env AF_DASHBOARD_PORT; default {DEFAULT_PORT}]",
    )
    ap.add_argument(
        "--prices-table",
        help=f"the Xetra table, optionally schema-qualified [env "
        f"AF_DASHBOARD_PRICES_TABLE; default {DEFAULT_PRICES_TABLE}]",
    )
    ap.add_argument(
        "--users-file",
        metavar="FILE",
        help="login credentials, `user:pbkdf2-hash` lines (python -m webapp "
        "hash-password) [env AF_DASHBOARD_USERS_FILE]",
    )
    ap.add_argument(
        "--password-file",
        metavar="FILE",
        help="one user's password, the file's first line (the user is --user); for a "
        "demo or a single operator [env AF_DASHBOARD_PASSWORD_FILE]",
    )
    ap.add_argument(
        "--user",
        help="the user of --password-file [env AF_DASHBOARD_USER; default admin]",
    )
    ap.add_argument(
        "--trust-proxy",
        type=int,
        metavar="N",
        help="N reverse proxies are in front: take the client address and scheme from "
        "their X-Forwarded-For/-Proto (login throttle, logs) [default 0: ignore them]",
    )
    ap.add_argument(
        "--secure-cookies",
        choices=("auto", "yes", "no"),
        default="auto",
        help="mark the session cookie Secure (HTTPS only); auto: yes unless --host is a "
        "loopback address [default auto]",
    )
    ap.add_argument(
        "--secret-key-file",
        metavar="FILE",
        help="the Flask session key, the file's first line (private to the dashboard's user); "
        "sessions then outlive a restart [env AF_DASHBOARD_SECRET_KEY_FILE; default: random "
        "per start]",
    )
    ap.add_argument(
        "--debug",
        action="store_true",
        help="Dash debug mode with the Werkzeug debugger (development only; loopback --host only)",
    )


def _node_config(path: str) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError(f"{path}: not a JSON object")
    return data


def from_args(ns: argparse.Namespace) -> Settings:
    node: dict[str, Any] = _node_config(ns.config) if ns.config else {}
    db = node.get("database", {}) if isinstance(node.get("database"), dict) else {}

    conninfo = ns.conninfo or _env("AF_DASHBOARD_CONNINFO")
    cluster = ns.cluster or _env("AF_DASHBOARD_CLUSTER") or node.get("cluster")
    if not conninfo:
        raise ValueError(
            "no database: give --conninfo or AF_DASHBOARD_CONNINFO, logging in as the "
            "dashboard's own role (airflow-failover init-db --dashboard-role); --config's conninfo is the "
            "daemons' and is not used"
        )
    if not cluster:
        raise ValueError("no cluster: give --cluster, AF_DASHBOARD_CLUSTER or --config")
    schema = ns.schema or _env("AF_DASHBOARD_SCHEMA") or db.get("schema") or DEFAULT_SCHEMA

    users_file = ns.users_file or _env("AF_DASHBOARD_USERS_FILE")
    password_file = ns.password_file or _env("AF_DASHBOARD_PASSWORD_FILE")
    host = ns.host or _env("AF_DASHBOARD_HOST") or DEFAULT_HOST
    trust_proxy = int(ns.trust_proxy or 0)
    if trust_proxy < 0:
        raise ValueError("--trust-proxy: must be 0 or more")
    secure = {"yes": True, "no": False}.get(ns.secure_cookies, not is_loopback(host))
    if ns.debug and not is_loopback(host):
        # The Werkzeug debugger runs any Python its console is sent: never off this host.
        raise ValueError(
            f"--debug: serves the Werkzeug debugger, which runs code for whoever reaches it; "
            f"refused on --host {host} (use a loopback address such as 127.0.0.1)"
        )
    if _env("AF_DASHBOARD_SECRET_KEY"):
        # The environment of a process is readable by its user's other processes (/proc) and
        # ends up in unit files and logs: the key goes in a file.
        raise ValueError(
            "AF_DASHBOARD_SECRET_KEY: a session key in the environment is refused; put it in a "
            "file readable only by the dashboard's user and give --secret-key-file (or "
            "AF_DASHBOARD_SECRET_KEY_FILE)"
        )
    secret_key_file = getattr(ns, "secret_key_file", None) or _env("AF_DASHBOARD_SECRET_KEY_FILE")
    return Settings(
        conninfo=str(conninfo),
        cluster=str(cluster),
        schema=str(schema),
        host=host,
        port=int(ns.port or _env("AF_DASHBOARD_PORT") or DEFAULT_PORT),
        prices_table=ns.prices_table or _env("AF_DASHBOARD_PRICES_TABLE") or DEFAULT_PRICES_TABLE,
        users_file=Path(users_file) if users_file else None,
        password_file=Path(password_file) if password_file else None,
        user=ns.user or _env("AF_DASHBOARD_USER") or "admin",
        trust_proxy=trust_proxy,
        secure_cookies=secure,
        debug=bool(ns.debug),
        secret_key_file=Path(secret_key_file) if secret_key_file else None,
    )


def read_secret_key(path: Path) -> str:
    """The session key from ``path``'s first line; refused when group or others may read it
    or when it is too short to be a key."""
    mode = path.stat().st_mode
    if mode & 0o077:
        raise ValueError(
            f"--secret-key-file: {path} has mode {mode & 0o777:04o}: group or others may read "
            f"it; chmod 600 {path}"
        )
    lines = path.read_text(encoding="utf-8").splitlines()
    key = lines[0].strip() if lines else ""
    if len(key) < 32:
        raise ValueError(
            f"--secret-key-file: {path} holds {len(key)} characters; a key needs at least 32 "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))' > FILE)"
        )
    return key
