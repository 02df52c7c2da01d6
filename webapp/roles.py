"""The dashboard's least-privilege database role (``webapp/sql/dashboard_role.sql``)."""

from __future__ import annotations

import psycopg2  # type: ignore[import-untyped]
import psycopg2.extensions  # type: ignore[import-untyped]
from psycopg2 import sql

from .db import sql_text


def role_sql(
    role: str, schema: str, prices_table: str = "xetra_daily_price"
) -> sql.Composed:
    return sql.SQL(sql_text("dashboard_role")).format(
        role=sql.Identifier(role),
        schema=sql.Identifier(schema),
        role_literal=sql.Literal(role),
        prices_regclass=sql.Literal(prices_table),
    )


def render(
    conn: psycopg2.extensions.connection,
    role: str,
    schema: str,
    prices_table: str = "xetra_daily_price",
) -> str:
    return str(role_sql(role, schema, prices_table).as_string(conn))


def grant_dashboard_role(
    conn: psycopg2.extensions.connection,
    role: str,
    schema: str,
    prices_table: str = "xetra_daily_price",
    create: bool = True,
) -> None:
    """Creates ``role`` (LOGIN, no password: set one or use pg_hba) if missing and gives it
    exactly: SELECT on lease, nodes, events and the prices table (if it exists yet); INSERT of
    (cluster, kind, target, requested_by) into commands and USAGE on its id sequence.
    One transaction; run again after the prices table is created."""
    with conn, conn.cursor() as cur:
        if create:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(
                    sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role))
                )
        cur.execute(role_sql(role, schema, prices_table))
