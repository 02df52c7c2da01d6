"""Load one day's figures (the Spark job's Parquet) into PostgreSQL table ``xetra_daily_price``.

One transaction per day: create the table if needed, delete the day's rows whose ISIN is not in
the new result, and upsert the rest (``INSERT .. ON CONFLICT (trade_date, isin) DO UPDATE``); an
empty result changes nothing. A rerun of any day therefore leaves the same table, and a failed
run leaves the previous state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import psycopg2.extras

TABLE = "xetra_daily_price"

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    trade_date      date             NOT NULL,
    isin            text             NOT NULL,
    mnemonic        text             NOT NULL,
    mean_end_price  double precision NOT NULL,
    vwap            double precision,
    total_volume    bigint           NOT NULL,
    num_trades      bigint           NOT NULL,
    num_bars        integer          NOT NULL,
    PRIMARY KEY (trade_date, isin)
)
"""

COLUMNS: tuple[str, ...] = (
    "trade_date",
    "isin",
    "mnemonic",
    "mean_end_price",
    "vwap",
    "total_volume",
    "num_trades",
    "num_bars",
)

UPSERT = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES %s "
    "ON CONFLICT (trade_date, isin) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[2:])
)

Row = tuple[Any, ...]


def read_parquet_rows(path: Path) -> list[Row]:
    """Rows (in ``COLUMNS`` order) from a Parquet file or folder of part files."""
    import pyarrow.parquet as pq

    table = pq.read_table(str(path), columns=list(COLUMNS))
    return [tuple(r[c] for c in COLUMNS) for r in table.to_pylist()]


def ensure_table(conn: psycopg2.extensions.connection) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(DDL)


def load_day(conn: psycopg2.extensions.connection, day: date, rows: Iterable[Sequence[Any]]) -> int:
    """Replace ``day``'s rows by ``rows`` in one transaction; returns the number of rows loaded.

    Zero rows load nothing and delete nothing: the Spark job lets a day through empty when its
    holiday table calls the exchange closed, and an empty result must not wipe a day that was
    loaded before (a wrong holiday entry, an input that went missing)."""
    data = [tuple(r) for r in rows]
    if not data:
        return 0
    for r in data:
        if r[0] != day:
            raise ValueError(f"row for {r[0]} in the load of {day}: {r}")
    isins = [r[1] for r in data]
    with conn:  # one transaction: commit on success, rollback on error
        with conn.cursor() as cur:
            # Serialise concurrent loads (e.g. a retry racing a stuck try, or two first-time
            # CREATE TABLEs); the lock is released at commit/rollback.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            cur.execute(DDL)
            cur.execute(
                f"DELETE FROM {TABLE} WHERE trade_date = %s AND NOT (isin = ANY(%s))",
                (day, isins),
            )
            if data:
                psycopg2.extras.execute_values(cur, UPSERT, data, page_size=1000)
    return len(data)


def load_parquet(dsn_or_conn: str | psycopg2.extensions.connection, day: date, path: Path) -> int:
    """Load the Parquet output of one day (see ``load_day``)."""
    rows = read_parquet_rows(path)
    if isinstance(dsn_or_conn, str):
        conn = psycopg2.connect(dsn_or_conn)
        try:
            return load_day(conn, day, rows)
        finally:
            conn.close()
    return load_day(dsn_or_conn, day, rows)


def fetch_day(conn: psycopg2.extensions.connection, day: date) -> list[Row]:
    """The table's rows of one day, ordered by ISIN (for checks and tests)."""
    with conn, conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE trade_date = %s ORDER BY isin", (day,))
        return [tuple(r) for r in cur.fetchall()]
