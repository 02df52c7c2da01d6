"""The PySpark job against the independent pure-Python computation, and its input filtering."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pipeline.xetra import pds, reference
from pipeline.xetra.generate import SampleSummary, generate

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
        assert stats.malformed_by_kind == ref_stats.malformed_by_kind == _rules_broken(d.malformed_kinds)
        assert stats.isins == len(expected)
        assert stats.refused is None


# Which rule each kind of line the generator corrupts breaks (written from the rules, by hand).
GENERATED_KIND_RULE = {
    "truncated": "fields",
    "extra_field": "fields",
    "garbage": "fields",
    "unterminated_quote": "fields",
    "empty_isin": "isin",
    "wrong_date": "date",
    "non_numeric_price": "price",
    "zero_price": "price",
    "negative_volume": "volume",
}


def _rules_broken(kinds: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in kinds:
        out[GENERATED_KIND_RULE[k]] = out.get(GENERATED_KIND_RULE[k], 0) + 1
    return dict(sorted(out.items()))


EDGE_HEADER = ",".join(pds.XETR_COLUMNS)
DAY = date(2019, 1, 2)  # a Wednesday
# Copied from real PDS files (the 2018 style quotes every string field; newer files only where needed).
REAL_2018 = (
    '"GB0059822006","DLG","DIALOG SEMICOND.   LS-,10","Common stock","EUR",2505387,2018-06-12,10:00,'
    "15.21,15.21,15.2,15.2,1693,6"
)
REAL_2022 = (
    'DK0060534915,NOVC,"NOVO-NORDISK NAM.B DK-,20",Common stock,EUR,2505141,2022-04-07,15:19,'
    "110.1,110.1,109.8,109.8,104,3"
)


def _row(
    isin: str, mn: str, end: str, vol: str, ntr: str = "1", t: str = "08:00", d: str = "2019-01-02",
    desc: str = "DESC",
) -> str:  # fmt: skip
    return f"{isin},{mn},{desc},Common stock,EUR,1,{d},{t},1.00,9.00,0.50,{end},{vol},{ntr}"


def _quoted(isin: str, mn: str, desc: str, end: str, vol: str, ntr: str = "1", t: str = "08:00") -> str:
    """The 2018 style: every string field quoted (``desc`` given already escaped)."""
    return f'"{isin}","{mn}","{desc}","Common stock","EUR",1,2019-01-02,{t},1.00,9.00,0.50,{end},{vol},{ntr}'


A, B, C, D = "DE0007164600", "DE000BASF111", "DE000A1EWWW0", "GB0059822006"


def _edge_case_dir(root: Path) -> Path:
    day = root / DAY.isoformat()
    day.mkdir(parents=True)
    valid = [
        _row(A, "SAP", "10.00", "100", "2"),
        _row(A, "SAP", "20.00", "300", "3", t="08:01"),
        _row(B, "BAS", "5.50", "0", "1"),  # zero volume: VWAP undefined
        _row(C, "ADS", "100.25", "7", "1"),
        _row(C, "ADT", "101.75", "1", "1", t="16:35"),  # mnemonic: the largest is kept
        _quoted(D, "DLG", "DIALOG SEMICOND.   LS-,10", "15.20", "1693", "6", t="10:00"),  # 2018 style
        _row(D, "DLG", "15.40", "7", "1", t="10:01", desc='"DIALOG SEMICOND.   LS-,10"'),  # newer style
        _row(D, "DLG", "15.60", "3", "1", t="10:02", desc='"A ""QUOTED"" NAME, INC"'),  # doubled quotes
        _row(A, '"SAP"', "30.00", "100", "1", t="08:02"),  # a needlessly quoted field is still CSV
    ]
    malformed = [  # (line, the rule it breaks first)
        (_row(A, "SAP", "n/a", "10"), "price"),
        (_row(A, "SAP", "0.00", "10"), "price"),  # EndPrice must be > 0
        (_row(A, "SAP", "10.00", "-10"), "volume"),
        (_row(A, "SAP", "10.00", "10") + ",", "fields"),  # 15 fields (trailing empty one)
        (_row(A, "SAP", "10.00", "10") + ",EXTRA", "fields"),
        (",".join(_row(A, "SAP", "10.00", "10").split(",")[:11]), "fields"),
        (_row("", "SAP", "10.00", "10"), "isin"),
        (_row("de0007164600", "SAP", "10.00", "10"), "isin"),
        (_row(A, "", "10.00", "10"), "mnemonic"),
        (_row(A, '""', "10.00", "10"), "mnemonic"),
        (_row(A, "SAP", "10.00", "10", d="2019-01-01"), "date"),
        (_row(A, "SAP", "10.00", "10", t="8:00"), "time"),
        (_row(A, "SAP", "1e3", "10"), "price"),
        (_row(A, "SAP", "10.00", "1.5"), "volume"),
        (_row(A, "SAP", "10.00", "1234567890123456789"), "volume"),  # more than 18 digits
        (_row(A, "SAP", "10.00", "10", ntr=""), "trades"),
        (_row(A, "SAP", "10.00", "10", desc='"UNTERMINATED, NAME'), "fields"),  # the field runs to the end
        (_row(A, "SAP", "10.00", "10", ntr='"1'), "fields"),  # unterminated last field
        (_row(A, "SAP", "10.00", "10", desc='"CLOSED"TEXT'), "fields"),  # text after the closing quote
        (_row(A, "SAP", "10.00", "10", desc='STRAY"QUOTE'), "fields"),  # a quote in an unquoted field
        (_row(A, "SAP", "10.00", "10", desc="NAME, WITH COMMA"), "fields"),  # unquoted comma: 15 fields
        ("#### transfer interrupted ####", "fields"),
        ("   ", "fields"),
    ]
    bad = [line for line, _ in malformed]
    lines = [EDGE_HEADER, valid[0], "", bad[0], valid[1], *bad[1:8], valid[5]]
    (day / "2019-01-02_BINS_XETR08.csv").write_text("\n".join(lines) + "\n")
    lines = [EDGE_HEADER, *bad[8:], valid[2], valid[3], valid[4], valid[6], valid[7], valid[8]]
    with (day / "2019-01-02_BINS_XETR16.csv").open("w", newline="") as fh:  # a CRLF file
        fh.write("\r\n".join(lines) + "\r\n")
    (day / "2019-01-02_BINS_XETR07.csv").write_text(EDGE_HEADER + "\n")  # header-only
    (day / "2019-01-02_BINS_XETR18.csv").write_text(EDGE_HEADER)  # header-only, no newline
    # Eurex file and stray files: skipped, though their lines would look like (bad) data rows
    (day / "2019-01-02_BINS_XEUR08.csv").write_text(
        ",".join(pds.XEUR_COLUMNS) + "\n" + _row(A, "X", "1.0", "1") + "\n"
    )
    (day / "notes.txt").write_text(_row(A, "SAP", "99.00", "99") + "\n")
    (day / "2019-01-02_BINS_XETR09.csv.bak").write_text(_row(A, "SAP", "99.00", "99") + "\n")
    (day / "2019-01-03_BINS_XETR09.csv").write_text(_row(A, "SAP", "99.00", "99") + "\n")  # another day's
    return day


EDGE_KINDS = {
    "fields": 10,
    "isin": 2,
    "mnemonic": 2,
    "date": 1,
    "time": 1,
    "price": 3,
    "volume": 3,
    "trades": 1,
}
EXPECTED = [
    # isin, mnemonic, mean_end_price, vwap, volume, trades, bars
    (C, "ADT", (100.25 + 101.75) / 2, (100.25 * 7 + 101.75 * 1) / 8, 8, 2, 2),
    (B, "BAS", 5.5, None, 0, 1, 1),
    (A, "SAP", 20.0, (10.0 * 100 + 20.0 * 300 + 30.0 * 100) / 500, 500, 6, 3),
    (D, "DLG", (15.2 + 15.4 + 15.6) / 3, (15.2 * 1693 + 15.4 * 7 + 15.6 * 3) / 1703, 1703, 8, 3),
]


def test_edge_cases_skipped_and_counted(spark: Any, spark_job: ModuleType, tmp_path: Path) -> None:
    day_dir = _edge_case_dir(tmp_path / "src")
    expected_stats = dict(
        xetr_files=4, header_only_files=2, skipped_files=4, rows_valid=9, rows_malformed=23,
        malformed_by_kind=EDGE_KINDS,
    )  # fmt: skip
    assert sum(EDGE_KINDS.values()) == 23

    ref_rows, ref_stats = reference.compute_day(day_dir, DAY)
    for k, v in expected_stats.items():
        assert getattr(ref_stats, k) == v, k
    got_ref = [
        (r.isin, r.mnemonic, r.mean_end_price, r.vwap, r.total_volume, r.num_trades, r.num_bars)
        for r in ref_rows
    ]
    assert sorted(got_ref, key=str) == sorted(EXPECTED, key=str)

    # 23 of 32 lines malformed: far above the 5 % limit, so the limit is lifted for this day
    result, stats = spark_job.run(spark, str(day_dir), None, DAY, max_malformed_share=1.0)
    for k, v in expected_stats.items():
        assert getattr(stats, k) == v, k
    rows = [r.asDict() for r in result.collect()]
    _compare(rows, ref_rows)


def test_each_malformed_line_is_counted_under_its_rule(
    spark: Any, spark_job: ModuleType, tmp_path: Path
) -> None:
    """One file per malformed line: the kind names the rule, in the job and the oracle alike."""
    day = tmp_path / "one" / DAY.isoformat()
    day.mkdir(parents=True)
    malformed = _malformed_lines()
    for n, (line, _rule) in enumerate(malformed):
        text = EDGE_HEADER + "\n" + line + "\n" + _row(A, "SAP", "1.00", "1") + "\n"
        (day / f"2019-01-02_BINS_XETR{n:02d}.csv").write_text(text)
    _, ref = reference.compute_day(day, DAY)
    _, got = spark_job.run(spark, str(day), None, DAY, max_malformed_share=1.0)
    expected: dict[str, int] = {}
    for _, rule in malformed:
        expected[rule] = expected.get(rule, 0) + 1
    assert ref.malformed_by_kind == got.malformed_by_kind == dict(sorted(expected.items()))
    assert ref.rows_valid == got.rows_valid == len(malformed)


def _malformed_lines() -> list[tuple[str, str]]:
    return [
        (_row(A, "SAP", "n/a", "10"), "price"),
        (_row(A, "SAP", "10.00", "10") + ",", "fields"),
        (_row("", "SAP", "10.00", "10"), "isin"),
        (_row(A, '""', "10.00", "10"), "mnemonic"),
        (_row(A, "SAP", "10.00", "10", d="2019-01-01"), "date"),
        (_row(A, "SAP", "10.00", "10", t="8:00"), "time"),
        (_row(A, "SAP", "10.00", "1.5"), "volume"),
        (_row(A, "SAP", "10.00", "10", ntr=""), "trades"),
        (_row(A, "SAP", "10.00", "10", desc='"UNTERMINATED, NAME'), "fields"),
        (_row(A, "SAP", "10.00", "10", ntr='"1'), "fields"),
        (_row(A, "SAP", "10.00", "10", desc='"CLOSED"TEXT'), "fields"),
        (_row(A, "SAP", "10.00", "10", desc='STRAY"QUOTE'), "fields"),
        (_row(A, "SAP", "10.00", "10", desc="NAME, WITH COMMA"), "fields"),
    ]


def test_real_rows_in_both_quoting_styles(spark: Any, spark_job: ModuleType, tmp_path: Path) -> None:
    """The two rows copied from real files, each in a file of its own day, LF and CRLF."""
    cases = [(date(2018, 6, 12), REAL_2018, "\n"), (date(2022, 4, 7), REAL_2022, "\r\n")]
    for day, line, eol in cases:
        folder = tmp_path / day.isoformat()
        folder.mkdir()
        with (folder / f"{day.isoformat()}_BINS_XETR10.csv").open("w", newline="") as fh:
            fh.write(EDGE_HEADER + eol + line + eol)
        ref_rows, ref_stats = reference.compute_day(folder, day)
        result, stats = spark_job.run(spark, str(folder), None, day)
        rows = [r.asDict() for r in result.collect()]
        assert stats.rows_valid == ref_stats.rows_valid == 1 and stats.rows_malformed == 0
        _compare(rows, ref_rows)
    assert [(r.isin, r.mnemonic, r.mean_end_price, r.total_volume, r.num_trades) for r in
            reference.compute_day(tmp_path / "2018-06-12", date(2018, 6, 12))[0]] == [
        ("GB0059822006", "DLG", 15.2, 1693, 6)
    ]  # fmt: skip
    assert reference.parse_line(REAL_2018)[2] == "DIALOG SEMICOND.   LS-,10"  # type: ignore[index]
    assert reference.parse_line(REAL_2022)[2] == "NOVO-NORDISK NAM.B DK-,20"  # type: ignore[index]


def _header_only_day(root: Path, day: date) -> Path:
    folder = root / day.isoformat()
    folder.mkdir(parents=True)
    for h in range(7, 19):
        (folder / pds.file_name(day, h)).write_text(EDGE_HEADER + "\n")
    return folder


def test_header_only_days(spark: Any, spark_job: ModuleType, tmp_path: Path) -> None:
    """A weekend or holiday of header-only files gives an empty dataset; a trading day is refused."""
    for day in (date(2019, 1, 5), date(2019, 12, 25)):  # a Saturday, Christmas (a Wednesday)
        folder = _header_only_day(tmp_path / "src", day)
        out = tmp_path / "out" / day.isoformat()
        _, stats = spark_job.run(spark, str(folder), str(out), day)
        assert (stats.xetr_files, stats.header_only_files, stats.rows_read) == (12, 12, 0)
        assert stats.refused is None and spark.read.parquet(str(out)).count() == 0
        assert reference.compute_day(folder, day)[0] == []
    day = date(2019, 1, 7)  # a Monday
    folder = _header_only_day(tmp_path / "src", day)
    with pytest.raises(spark_job.DayRefused, match="no valid row on a trading day") as e:
        spark_job.run(spark, str(folder), str(tmp_path / "out" / day.isoformat()), day)
    assert e.value.stats.header_only_files == 12
    assert not (tmp_path / "out" / day.isoformat()).exists()


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_refuses_to_wipe_a_good_day(
    spark: Any, spark_job: ModuleType, sample: SampleSummary, tmp_path: Path
) -> None:
    d = next(x for x in sample.days if x.day.weekday() < 5)
    good_src = sample.root / d.day.isoformat()
    out = tmp_path / "out"
    spark_job.run(spark, str(good_src), str(out), d.day)
    before = _tree(out)
    assert any(k.endswith(".parquet") for k in before)

    # the upstream format changes: every line has a 15th field
    bad_src = tmp_path / "bad" / d.day.isoformat()
    bad_src.mkdir(parents=True)
    for f in sorted(good_src.iterdir()):
        text = f.read_text()
        lines = text.splitlines()
        (bad_src / f.name).write_text(
            "\n".join([lines[0] + ",Venue", *(x + ",XETR" for x in lines[1:])]) + "\n"
        )
    with pytest.raises(spark_job.DayRefused) as e:
        spark_job.run(spark, str(bad_src), str(out), d.day)
    assert e.value.stats.rows_valid == 0 and e.value.stats.malformed_by_kind["fields"] > 0
    assert _tree(out) == before  # nothing of the day was deleted or replaced

    # a share of malformed lines above the limit: refused; with a higher limit: written
    noisy = tmp_path / "noisy" / d.day.isoformat()
    noisy.mkdir(parents=True)
    for f in sorted(good_src.iterdir()):
        lines = f.read_text().splitlines()
        extra = ["#### garbage ####"] * (len(lines) // 10 + 1) if len(lines) > 1 else []
        (noisy / f.name).write_text("\n".join([*lines, *extra]) + "\n")
    with pytest.raises(spark_job.DayRefused, match=r"malformed \(.*% > 5.0%"):
        spark_job.run(spark, str(noisy), str(out), d.day)
    assert _tree(out) == before
    _, stats = spark_job.run(spark, str(noisy), str(out), d.day, max_malformed_share=0.5)
    assert stats.refused is None and stats.rows_malformed > 0.05 * stats.rows_read


def test_cli_exit_code_and_counts_when_refused(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    day = date(2019, 1, 7)
    folder = _header_only_day(tmp_path / "src", day)
    stats_file = tmp_path / "stats.json"
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[1]",
           str(Path(spark_job_path())), "--date", day.isoformat(), "--input", str(folder),
           "--output", str(tmp_path / "out"), "--stats-file", str(stats_file)]  # fmt: skip
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert res.returncode == 3, res.stderr[-3000:]
    assert f"XETRA_REFUSED {day}: no valid row on a trading day" in res.stdout
    payload = json.loads(stats_file.read_text())
    assert payload["refused"] and payload["header_only_files"] == 12
    assert not (tmp_path / "out").exists()


def spark_job_path() -> Path:
    from tests.support.helpers import REPO

    return REPO / "spark" / "xetra_daily_job.py"


def test_backfill_equals_daily_runs(
    spark: Any, spark_job: ModuleType, sample: SampleSummary, tmp_path: Path
) -> None:
    days = [d.day for d in sample.days]
    _, stats, missing = spark_job.run_range(
        spark, str(sample.root), str(tmp_path / "range"), days[0] - timedelta(days=1), days[-1]
    )
    assert missing == [days[0] - timedelta(days=1)] and sorted(stats) == days
    for day in days:
        _, one = spark_job.run(
            spark, str(sample.root / day.isoformat()), str(tmp_path / "daily" / day.isoformat()), day
        )
        assert stats[day] == one
        ranged = sorted(
            tuple(r) for r in spark.read.parquet(str(tmp_path / "range" / day.isoformat())).collect()
        )
        daily = sorted(
            tuple(r) for r in spark.read.parquet(str(tmp_path / "daily" / day.isoformat())).collect()
        )
        assert len(ranged) == len(daily)
        for a, b in zip(ranged, daily, strict=True):
            assert a[:3] == b[:3] and a[5:] == b[5:]
            assert _close(a[3], b[3]) and _close(a[4], b[4])
    assert sorted(p.name for p in (tmp_path / "range").iterdir()) == [d.isoformat() for d in days]


def test_oracle_and_job_agree_on_generated_quoting_styles(
    spark: Any, spark_job: ModuleType, tmp_path: Path
) -> None:
    """Days on both sides of the generator's quoting cut-over, as one backfill."""
    start = date(2019, 1, 2)
    g = generate(
        tmp_path / "src", start, 3, 12, seed=7, malformed_per_day=9, quote_all_before=date(2019, 1, 3)
    )
    first = (g.root / "2019-01-02" / "2019-01-02_BINS_XETR09.csv").read_text().splitlines()[1]
    later = (g.root / "2019-01-03" / "2019-01-03_BINS_XETR09.csv").read_text().splitlines()[1]
    assert first.startswith('"DE') and not later.startswith('"')
    _, stats, _ = spark_job.run_range(
        spark, str(g.root), str(tmp_path / "out"), start, start + timedelta(days=2)
    )
    for d in g.days:
        expected, ref = reference.compute_day(g.root / d.day.isoformat(), d.day)
        assert stats[d.day].malformed_by_kind == ref.malformed_by_kind == _rules_broken(d.malformed_kinds)
        assert stats[d.day].rows_valid == ref.rows_valid == d.data_rows
        rows = [
            r.asDict()
            for r in spark.read.parquet(str(tmp_path / "out" / d.day.isoformat())).orderBy("isin").collect()
        ]
        _compare(rows, expected)


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
