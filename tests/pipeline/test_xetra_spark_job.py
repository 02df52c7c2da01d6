"""The PySpark job against the independent pure-Python computation, and its input filtering."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pipeline.xetra import pds, reference
from pipeline.xetra.generate import SampleSummary

REL = 1e-9


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=REL, abs_tol=0.0)


def _compare(rows: list[Any], expected: list[reference.DailyPrice]) -> None:
    assert [r["isin"] for r in rows] == [e.isin for e in expected]
    for r, e in zip(rows, expected, strict=True):
        assert r["trade_date"] == e.trade_date
        assert r["mnemonic"] == e.mnemonic
        assert (r["total_volume"], r["num_trades"], r["num_bars"]) == (
            e.total_volume,
            e.num_trades,
            e.num_bars,
        )
        assert _close(r["mean_end_price"], e.mean_end_price), (r, e)
        assert _close(r["vwap"], e.vwap), (r, e)


def test_matches_reference_on_generated_days(
    spark: Any, spark_job: ModuleType, sample: SampleSummary, tmp_path: Path
) -> None:
    for d in sample.days:
        day_dir = sample.root / d.day.isoformat()
        out = tmp_path / d.day.isoformat()
        _, stats = spark_job.run(spark, str(day_dir), str(out), d.day)
        expected, ref_stats = reference.compute_day(day_dir, d.day)
        rows = [r.asDict() for r in spark.read.parquet(str(out)).orderBy("isin").collect()]
        _compare(rows, expected)
        trading = d.day.weekday() < 5
        assert (len(rows) > 0) == trading
        # the job's own counts equal the reference's and what the generator wrote
        assert stats.xetr_files == ref_stats.xetr_files == d.xetr_files
        assert stats.header_only_files == ref_stats.header_only_files == d.header_only_files
        assert stats.skipped_files == ref_stats.skipped_files == d.xeur_files
        assert stats.rows_valid == ref_stats.rows_valid == d.data_rows
        assert stats.rows_malformed == ref_stats.rows_malformed == d.malformed_rows
        assert stats.isins == len(expected)


EDGE_HEADER = ",".join(pds.XETR_COLUMNS)
DAY = date(2019, 1, 2)


def _row(
    isin: str, mn: str, end: str, vol: str, ntr: str = "1", t: str = "08:00", d: str = "2019-01-02"
) -> str:
    return f"{isin},{mn},DESC,Common stock,EUR,1,{d},{t},1.00,9.00,0.50,{end},{vol},{ntr}"


A, B, C = "DE0007164600", "DE000BASF111", "DE000A1EWWW0"


def _edge_case_dir(root: Path) -> Path:
    day = root / DAY.isoformat()
    day.mkdir(parents=True)
    valid = [
        _row(A, "SAP", "10.00", "100", "2"),
        _row(A, "SAP", "20.00", "300", "3", t="08:01"),
        _row(B, "BAS", "5.50", "0", "1"),  # zero volume: VWAP undefined
        _row(C, "ADS", "100.25", "7", "1"),
        _row(C, "ADT", "101.75", "1", "1", t="16:35"),  # mnemonic: the largest is kept
    ]
    malformed = [
        _row(A, "SAP", "n/a", "10"),
        _row(A, "SAP", "0.00", "10"),  # EndPrice must be > 0
        _row(A, "SAP", "10.00", "-10"),
        _row(A, "SAP", "10.00", "10") + ",",  # 15 fields (trailing empty one)
        _row(A, "SAP", "10.00", "10") + ",EXTRA",
        ",".join(_row(A, "SAP", "10.00", "10").split(",")[:11]),
        _row("", "SAP", "10.00", "10"),
        _row("de0007164600", "SAP", "10.00", "10"),
        _row(A, "", "10.00", "10"),
        _row(A, "SAP", "10.00", "10", d="2019-01-01"),
        _row(A, "SAP", "10.00", "10", t="8:00"),
        _row(A, "SAP", "1e3", "10"),
        _row(A, "SAP", "10.00", "1.5"),
        _row(A, "SAP", "10.00", "1234567890123456789"),  # more than 18 digits
        _row(A, '"SAP"', "10.00", "10"),
        "#### transfer interrupted ####",
    ]
    lines = [EDGE_HEADER, valid[0], "", malformed[0], valid[1], *malformed[1:8]]
    (day / "2019-01-02_BINS_XETR08.csv").write_text("\n".join(lines) + "\n")
    lines = [EDGE_HEADER, *malformed[8:], valid[2], valid[3], valid[4]]
    (day / "2019-01-02_BINS_XETR16.csv").write_text("\r\n".join(lines) + "\r\n")  # CRLF file
    (day / "2019-01-02_BINS_XETR07.csv").write_text(EDGE_HEADER + "\n")  # header-only
    (day / "2019-01-02_BINS_XETR18.csv").write_text(EDGE_HEADER)  # header-only, no newline
    # Eurex file and stray files: skipped, though their lines would look like (bad) data rows
    (day / "2019-01-02_BINS_XEUR08.csv").write_text(
        ",".join(pds.XEUR_COLUMNS) + "\n" + _row(A, "X", "1.0", "1") + "\n"
    )
    (day / "notes.txt").write_text(_row(A, "SAP", "99.00", "99") + "\n")
    (day / "2019-01-02_BINS_XETR09.csv.bak").write_text(_row(A, "SAP", "99.00", "99") + "\n")
    return day


EXPECTED = [
    # isin, mnemonic, mean_end_price, vwap, volume, trades, bars
    (C, "ADT", (100.25 + 101.75) / 2, (100.25 * 7 + 101.75 * 1) / 8, 8, 2, 2),
    (B, "BAS", 5.5, None, 0, 1, 1),
    (A, "SAP", 15.0, (10.0 * 100 + 20.0 * 300) / 400, 400, 5, 2),
]


def test_edge_cases_skipped_and_counted(spark: Any, spark_job: ModuleType, tmp_path: Path) -> None:
    day_dir = _edge_case_dir(tmp_path / "src")
    expected_stats = dict(xetr_files=4, header_only_files=2, skipped_files=3, rows_valid=5, rows_malformed=16)

    ref_rows, ref_stats = reference.compute_day(day_dir, DAY)
    for k, v in expected_stats.items():
        assert getattr(ref_stats, k) == v, k
    got_ref = [
        (r.isin, r.mnemonic, r.mean_end_price, r.vwap, r.total_volume, r.num_trades, r.num_bars)
        for r in ref_rows
    ]
    assert sorted(got_ref) == sorted(EXPECTED)

    result, stats = spark_job.run(spark, str(day_dir), None, DAY)
    for k, v in expected_stats.items():
        assert getattr(stats, k) == v, k
    rows = [r.asDict() for r in result.collect()]
    _compare(rows, ref_rows)


def test_output_rerun_overwrites(
    spark: Any, spark_job: ModuleType, sample: SampleSummary, tmp_path: Path
) -> None:
    d = sample.days[0]
    out = tmp_path / "out"
    spark_job.run(spark, str(sample.root / d.day.isoformat()), str(out), d.day)
    first = sorted(tuple(r) for r in spark.read.parquet(str(out)).collect())
    spark_job.run(spark, str(sample.root / d.day.isoformat()), str(out), d.day)
    second = sorted(tuple(r) for r in spark.read.parquet(str(out)).collect())
    assert first == second and len(first) > 0
    assert [p.name for p in out.iterdir() if p.suffix == ".parquet"].__len__() == 1


def test_missing_input_fails(spark: Any, spark_job: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        spark_job.run(spark, str(tmp_path / "nope"), None, DAY)
