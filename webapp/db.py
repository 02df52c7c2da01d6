"""Database access: a small blocking connection pool and the dashboard's queries.

Every query is one statement in autocommit mode on a borrowed connection, so no transaction is
ever held open between refreshes. The SQL lives in ``webapp/sql/``.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

SQL_DIR = Path(__file__).resolve().parent / "sql"
APPLICATION_NAME = "airflow-failover-dashboard"


@cache
def sql_text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def table_identifier(name: str) -> sql.Identifier:
    """``schema.table`` or ``table`` as a quoted identifier."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise ValueError(f"bad table name {name!r}")
    return sql.Identifier(*parts)


class PauseUnreadable(RuntimeError):
    """The dashboard role may not read the pause table (granted before schema version 5)."""


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or a connection broke."""


class Pool:
    """At most ``size`` connections, created lazily; ``connection()`` blocks until one is free
    (psycopg2's own pools raise instead). A connection that fails is dropped, not reused."""

    def __init__(
        self,
        conninfo: str,
        size: int = 2,
        connect_timeout_s: int = 3,
        statement_timeout_ms: int = 5000,
    ) -> None:
        self._conninfo = conninfo
        self._size = size
        self._connect_timeout_s = connect_timeout_s
        self._statement_timeout_ms = statement_timeout_ms
        self._idle: queue.LifoQueue[psycopg2.extensions.connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._all: set[psycopg2.extensions.connection] = set()

    def _connect(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(
            self._conninfo,
            connect_timeout=self._connect_timeout_s,
            application_name=APPLICATION_NAME,
            options=f"-c statement_timeout={self._statement_timeout_ms}",
        )
        conn.autocommit = True
        with self._lock:
            self._all.add(conn)
        return conn

    def _discard(self, conn: psycopg2.extensions.connection) -> None:
        with self._lock:
            self._all.discard(conn)
        try:
            conn.close()
        except psycopg2.Error:
            pass

    @contextmanager
    def connection(self, timeout_s: float = 10.0) -> Iterator[psycopg2.extensions.connection]:
        if not self._slots.acquire(timeout=timeout_s):
            raise DatabaseUnavailable("no free database connection")
        conn: psycopg2.extensions.connection | None = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                try:
                    conn = self._connect()
                except psycopg2.OperationalError as e:
                    raise DatabaseUnavailable(str(e).strip()) from e
            try:
                yield conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as e:
                self._discard(conn)
                conn = None
                raise DatabaseUnavailable(str(e).strip()) from e
            except BaseException:
                if conn.closed:
                    self._discard(conn)
                    conn = None
                raise
        finally:
            if conn is not None:
                if conn.closed:
                    self._discard(conn)
                else:
                    self._idle.put(conn)
            self._slots.release()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._all)

    def close(self) -> None:
        with self._lock:
            conns = list(self._all)
            self._all.clear()
        for c in conns:
            try:
                c.close()
            except psycopg2.Error:
                pass


@dataclass(frozen=True)
class Event:
    id: int
    node_id: str
    at: datetime
    term: int
    kind: str
    detail: str


@dataclass(frozen=True)
class TermRow:
    """One row of the schema's term_history()."""

    term: int
    holder: str
    started_at: datetime
    ended: str  # released, daemon died, switchover, terminate, ..., expired, active
    detail: str
    gap_ms: float | None  # to the next term's start; None for the current term
    gap_from_kind: str  # the record the gap is measured from
    gap_from_at: datetime


@dataclass(frozen=True)
class Ticker:
    isin: str
    mnemonic: str
    days: int
    last_day: date


@dataclass(frozen=True)
class PriceRow:
    trade_date: date
    mean_end_price: float
    vwap: float | None
    total_volume: int
    num_trades: int


class Queries:
    """The dashboard's statements, bound to one schema, cluster and prices table."""

    def __init__(
        self,
        pool: Pool,
        schema: str,
        cluster: str,
        prices_table: str = "xetra_daily_price",
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.cluster = cluster
        self.prices_table = prices_table
        s = sql.Identifier(schema)
        t = table_identifier(prices_table)
        self._panel = sql.SQL(sql_text("panel")).format(schema=s)
        self._events = sql.SQL(sql_text("events")).format(schema=s)
        self._terms = sql.SQL(sql_text("terms")).format(schema=s)
        self._terminate = sql.SQL(sql_text("terminate")).format(schema=s)
        self._pause = sql.SQL(sql_text("pause")).format(schema=s)
        self._tickers = sql.SQL(sql_text("tickers")).format(table=t)
        self._prices = sql.SQL(sql_text("prices")).format(table=t)

    def panel(self) -> dict[str, Any]:
        """The cluster panel: one statement, one round trip."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(self._panel, {"cluster": self.cluster})
            row = cur.fetchone()
        assert row is not None
        value = row[0]
        return dict(json.loads(value) if isinstance(value, str) else value)

    def pause(self) -> dict[str, Any] | None:
        """The cluster's live maintenance-mode pause, None when not paused. Raises
        PauseUnreadable when the role may not read it (granted before schema version 5)."""
        try:
            with self.pool.connection() as conn, conn.cursor() as cur:
                cur.execute(self._pause, {"cluster": self.cluster})
                row = cur.fetchone()
        except (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.UndefinedTable) as e:
            raise PauseUnreadable(str(e).strip().splitlines()[0]) from e
        if row is None:
            return None
        value = row[0]
        return dict(json.loads(value) if isinstance(value, str) else value)

    def events(self, limit: int = 500) -> list[Event]:
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(self._events, {"cluster": self.cluster, "limit": limit})
            return [Event(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5]) for r in cur.fetchall()]

    def terms(self, limit: int = 21) -> list[TermRow]:
        """The last ``limit`` terms, oldest first (term_history())."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(self._terms, {"cluster": self.cluster, "terms": limit})
            return [
                TermRow(int(r[0]), r[1], r[2], r[3], r[4], None if r[5] is None else float(r[5]), r[6], r[7])
                for r in cur.fetchall()
            ]

    def prices_available(self) -> bool:
        """Whether the prices table exists and this role may read it."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT to_regclass(%s) IS NOT NULL AND has_table_privilege(to_regclass(%s), 'SELECT')",
                (self.prices_table, self.prices_table),
            )
            row = cur.fetchone()
        return bool(row and row[0])

    def tickers(self) -> list[Ticker]:
        """The instruments with prices; empty when the table is absent or unreadable."""
        if not self.prices_available():
            return []
        with self.pool.connection() as conn, conn.cursor() as cur:
            try:
                cur.execute(self._tickers)
            except (
                psycopg2.errors.UndefinedTable,
                psycopg2.errors.InsufficientPrivilege,
            ):
                return []
            return [Ticker(r[0], r[1], int(r[2]), r[3]) for r in cur.fetchall()]

    def prices(self, isin: str) -> list[PriceRow]:
        if not self.prices_available():
            return []
        with self.pool.connection() as conn, conn.cursor() as cur:
            try:
                cur.execute(self._prices, {"isin": isin})
            except (
                psycopg2.errors.UndefinedTable,
                psycopg2.errors.InsufficientPrivilege,
            ):
                return []
            return [
                PriceRow(
                    r[0],
                    float(r[1]),
                    None if r[2] is None else float(r[2]),
                    int(r[3]),
                    int(r[4]),
                )
                for r in cur.fetchall()
            ]

    def request_terminate(self, requested_by: str, holder: str, term: int) -> bool:
        """Writes the terminate command if ``holder`` still holds the lease in ``term``.
        Returns whether the command was written."""
        with self.pool.connection() as conn, conn.cursor() as cur:
            cur.execute(
                self._terminate,
                {
                    "cluster": self.cluster,
                    "requested_by": requested_by,
                    "holder": holder,
                    "term": term,
                },
            )
            row = cur.fetchone()
        return row is not None and row[0] is not None
