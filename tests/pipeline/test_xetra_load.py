"""The load into xetra_daily_price is idempotent, replaces a day exactly, and is one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest

from localcluster.pgserver import PgServer
from pipeline.xetra import reference
from pipeline.xetra.generate import SampleSummary
from pipeline.xetra.load import fetch_day, load_day, load_parquet

D1, D2 = date(2019, 1, 3), date(2019, 1, 4)


@pytest.fixture(scope="module")
def db(pg: PgServer) -> str:
    pg.create_database("xetra_load")
    return pg.conninfo("xetra_load")


@pytest.fixture
def conn(db: str) -> Iterator[psycopg2.extensions.connection]:
    c = psycopg2.connect(db)
    with c, c.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS xetra_daily_price")
    yield c
    c.close()


def _rows(day: date, n: int, bump: float = 0.0) -> list[tuple[Any, ...]]:
    return [
        (day, f"DE000A{i:05d}{i % 10}", f"M{i}", 10.0 + i + bump, 10.5 + i, 100 * i, i + 1, i + 2)
        for i in range(n)
    ]


def _table(conn: psycopg2.extensions.connection) -> list[tuple[Any, ...]]:
    with conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM xetra_daily_price ORDER BY trade_date, isin")
        return list(cur.fetchall())


def test_twice_gives_the_same_table(conn: psycopg2.extensions.connection) -> None:
    assert load_day(conn, D1, _rows(D1, 5)) == 5
    assert load_day(conn, D2, _rows(D2, 3)) == 3
    first = _table(conn)
    load_day(conn, D1, _rows(D1, 5))
    load_day(conn, D2, _rows(D2, 3))
    assert _table(conn) == first and len(first) == 8


def test_rerun_replaces_only_that_day(conn: psycopg2.extensions.connection) -> None:
    load_day(conn, D1, _rows(D1, 5))
    load_day(conn, D2, _rows(D2, 3))
    d2_before = fetch_day(conn, D2)
    load_day(conn, D1, _rows(D1, 2, bump=1.0))  # fewer ISINs, new values
    assert fetch_day(conn, D1) == _rows(D1, 2, bump=1.0)
    assert fetch_day(conn, D2) == d2_before
    assert fetch_day(conn, D2) == d2_before


def test_zero_rows_never_delete_a_loaded_day(conn: psycopg2.extensions.connection) -> None:
    """Issue 22: the Spark job lets a day through with zero rows when its holiday table calls the
    exchange closed; a wrong holiday entry (or an input that went missing) must not wipe a day
    that was loaded."""
    load_day(conn, D1, _rows(D1, 5))
    before = fetch_day(conn, D1)
    assert load_day(conn, D1, []) == 0
    assert fetch_day(conn, D1) == before


def test_failure_leaves_previous_state(conn: psycopg2.extensions.connection) -> None:
    load_day(conn, D1, _rows(D1, 4))
    before = _table(conn)
    bad = _rows(D1, 3)
    bad[2] = (D1, bad[2][1], None, *bad[2][3:])  # NOT NULL mnemonic violated by the last row
    with pytest.raises(psycopg2.IntegrityError):
        load_day(conn, D1, bad)
    assert _table(conn) == before
    with pytest.raises(ValueError):
        load_day(conn, D1, _rows(D2, 1))  # a row of another day


def test_spark_parquet_loads_the_reference_figures(
    conn: psycopg2.extensions.connection, db: str, spark: Any, spark_job: ModuleType,
    sample: SampleSummary, tmp_path: Path,
) -> None:  # fmt: skip
    d = next(x for x in sample.days if x.day.weekday() < 5)
    out = tmp_path / "parquet"
    spark_job.run(spark, str(sample.root / d.day.isoformat()), str(out), d.day)
    assert load_parquet(db, d.day, out) == load_parquet(db, d.day, out) > 0
    got = fetch_day(conn, d.day)
    expected, _ = reference.compute_day(sample.root / d.day.isoformat(), d.day)
    assert [r[:3] for r in got] == [(e.trade_date, e.isin, e.mnemonic) for e in expected]
    for r, e in zip(got, expected, strict=True):
        assert r[5:] == (e.total_volume, e.num_trades, e.num_bars)
        assert r[3] == pytest.approx(e.mean_end_price, rel=1e-9)
        assert r[4] == pytest.approx(e.vwap, rel=1e-9)
