"""The dashboard's least-privilege database role: its login and the prices table
(``webapp/sql/dashboard_role.sql``; the daemons' schema is granted by `airflow-failover init-db
--dashboard-role`), and the check, at start, that the dashboard really runs as such a role."""

from __future__ import annotations

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from .db import sql_text


def role_sql(role: str, prices_table: str = "xetra_daily_price") -> sql.Composed:
    return sql.SQL(sql_text("dashboard_role")).format(
        role_literal=sql.Literal(role),
        prices_regclass=sql.Literal(prices_table),
    )


def render(conn: psycopg2.extensions.connection, role: str, prices_table: str = "xetra_daily_price") -> str:
    return str(role_sql(role, prices_table).as_string(conn))


def grant_dashboard_role(
    conn: psycopg2.extensions.connection,
    role: str,
    prices_table: str = "xetra_daily_price",
    create: bool = True,
) -> None:
    """Creates ``role`` (LOGIN, no password: set one or use pg_hba) if missing and gives it
    SELECT on the prices table (if it exists yet). Its rights on the daemons' schema (read the
    cluster, request terminate for one cluster) come from `airflow-failover init-db
    --dashboard-role ROLE`. One transaction; run again after the prices table is created."""
    with conn, conn.cursor() as cur:
        if create:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        cur.execute(role_sql(role, prices_table))


class NotLeastPrivilege(ValueError):
    """The dashboard's connection has more rights than the dashboard role should."""


def check_least_privilege(conn: psycopg2.extensions.connection, schema: str) -> str:
    """Returns the role the connection logs in as, or raises NotLeastPrivilege when it is a
    superuser, owns the daemons' schema (or any table in it), or is a member of the owner:
    such a role could rewrite the lease. Run at start, before serving."""
    with conn.cursor() as cur:
        cur.execute(
            """
            SELECT current_user,
                   r.rolsuper,
                   r.rolbypassrls,
                   r.rolcreaterole,
                   n.oid IS NOT NULL AND pg_has_role(current_user, n.nspowner, 'USAGE'),
                   EXISTS (SELECT 1 FROM pg_class c
                           WHERE c.relnamespace = n.oid
                             AND pg_has_role(current_user, c.relowner, 'USAGE'))
            FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = %s
            WHERE r.rolname = current_user
            """,
            (schema,),
        )
        row = cur.fetchone()
    conn.rollback()
    user, superuser, bypassrls, createrole, owns_schema, owns_table = row
    if superuser:
        raise NotLeastPrivilege(
            f"database role {user} is a superuser; run the dashboard as its own role "
            "(python -m webapp grant-role --role af_dashboard, airflow-failover init-db "
            "--dashboard-role af_dashboard, then "
            "--conninfo '... user=af_dashboard')"
        )
    if bypassrls or createrole:
        # BYPASSRLS reads every cluster's rows past the policies; CREATEROLE can grant itself
        # the daemons' role. Either undoes the least privilege the rest of this check assumes.
        attr = "BYPASSRLS" if bypassrls else "CREATEROLE"
        raise NotLeastPrivilege(
            f"database role {user} has {attr}; the dashboard's role must have neither "
            f"BYPASSRLS nor CREATEROLE (ALTER ROLE {user} NO{attr})"
        )
    if owns_schema or owns_table:
        raise NotLeastPrivilege(
            f"database role {user} owns the daemons' schema {schema} (it is the daemons' "
            "role, which can rewrite the lease); run the dashboard as its own role "
            "(python -m webapp grant-role)"
        )
    return str(user)
