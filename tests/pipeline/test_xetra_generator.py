"""The sample generator writes the Xetra PDS layout, deterministically."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from pipeline.xetra import pds
from pipeline.xetra.generate import (
    HOURS,
    MALFORMED_KINDS,
    QUOTE_ALL_BEFORE,
    REAL_INSTRUMENTS,
    SampleSummary,
    format_row,
    generate,
    make_instruments,
)
from pipeline.xetra.reference import parse_line
from tests.pipeline.xetra_sample import SAMPLE_MALFORMED, SAMPLE_START, SAMPLE_TICKERS
from tests.support.helpers import REPO

XETR_HEADER = ",".join(pds.XETR_COLUMNS)


def test_columns_are_the_pds_ones() -> None:
    assert XETR_HEADER == (
        "ISIN,Mnemonic,SecurityDesc,SecurityType,Currency,SecurityID,Date,Time,"
        "StartPrice,MaxPrice,MinPrice,EndPrice,TradedVolume,NumberOfTrades"
    )


def test_layout_and_file_names(sample: SampleSummary) -> None:
    for d in sample.days:
        day_dir = sample.root / d.day.isoformat()
        names = sorted(p.name for p in day_dir.iterdir())
        xetr = [n for n in names if pds.XETR_FILE_RE.fullmatch(n)]
        xeur = [n for n in names if pds.XEUR_FILE_RE.fullmatch(n)]
        assert xetr == [f"{d.day.isoformat()}_BINS_XETR{h:02d}.csv" for h in HOURS]
        assert len(xetr) + len(xeur) == len(names)
        trading = d.day.weekday() < 5
        assert (len(xeur) > 0) == trading
        for n in xeur:
            assert (day_dir / n).read_text().splitlines()[0] == ",".join(pds.XEUR_COLUMNS)


def test_rows_header_only_and_malformed(sample: SampleSummary) -> None:
    isins = {i.isin for i in sample.instruments}
    assert len(isins) == SAMPLE_TICKERS
    for isin in isins:
        assert pds.ISIN_RE.fullmatch(isin) and int(isin[-1]) == pds.isin_check_digit(isin[:11])
    for d in sample.days:
        header_only = valid = bad = 0
        for h in HOURS:
            lines = (sample.root / pds.object_key(d.day, h)).read_text().splitlines()
            assert lines[0] == XETR_HEADER
            if len(lines) == 1:
                header_only += 1
            for line in lines[1:]:
                f = parse_line(line)
                if f is not None and pds.row_kind(f, d.day) is None:
                    valid += 1
                    assert f[6] == d.day.isoformat() and f[0] in isins
                    assert 8 * 60 <= int(f[7][:2]) * 60 + int(f[7][3:]) <= 16 * 60 + 35
                    assert float(f[10]) <= float(f[11]) <= float(f[9])  # Min <= End <= Max
                else:
                    bad += 1
        trading = d.day.weekday() < 5
        assert header_only == (3 if trading else len(HOURS))
        assert valid == d.data_rows and (valid > 0) == trading
        assert bad == d.malformed_rows == (SAMPLE_MALFORMED if trading else 0)
    kinds = {k for d in sample.days for k in d.malformed_kinds}
    assert kinds == set(MALFORMED_KINDS)


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_deterministic_by_seed(tmp_path: Path, sample: SampleSummary) -> None:
    a = generate(tmp_path / "a", SAMPLE_START, 2, 3, seed=5)
    b = generate(tmp_path / "b", SAMPLE_START, 2, 3, seed=5)
    c = generate(tmp_path / "c", SAMPLE_START, 2, 3, seed=6)
    assert _read_tree(a.root) == _read_tree(b.root)
    assert _read_tree(a.root) != _read_tree(c.root)
    # a day's content does not depend on how many days are generated
    one = generate(tmp_path / "one", SAMPLE_START + timedelta(days=1), 1, 3, seed=5)
    day = (SAMPLE_START + timedelta(days=1)).isoformat()
    assert _read_tree(one.root / day) == _read_tree(a.root / day)


def test_cli(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    cmd = [sys.executable, str(REPO / "scripts" / "make-xetra-sample"), "--out", str(out),
           "--start", "2019-01-07", "--days", "1", "--tickers", "2", "--seed", "3"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "wrote 1 days, 2 tickers" in res.stdout
    assert (out / "2019-01-07" / "2019-01-07_BINS_XETR08.csv").exists()
    again = generate(tmp_path / "api", date(2019, 1, 7), 1, 2, seed=3)
    assert _read_tree(out) == _read_tree(again.root)


def test_real_instruments_beside_synthetic_ones(sample: SampleSummary) -> None:
    real = {isin for isin, *_ in REAL_INSTRUMENTS}
    assert len(real) == len(REAL_INSTRUMENTS) and len({m for _, m, *_ in REAL_INSTRUMENTS}) == len(real)
    for isin, *_ in REAL_INSTRUMENTS:  # a typo in an ISIN breaks its check digit
        assert pds.ISIN_RE.fullmatch(isin) and int(isin[-1]) == pds.isin_check_digit(isin[:11]), isin
    assert REAL_INSTRUMENTS[0][:3] == ("DE0007164600", "SAP", "SAP SE O.N.")
    got = [(i.isin, i.mnemonic) for i in sample.instruments]
    assert got[0] == ("DE0007164600", "SAP")
    assert 0 < sum(isin in real for isin, _ in got) < len(got)  # real and synthetic ones
    assert len({m for _, m in got}) == len(got)
    for n in (1, 2, 100):
        assert make_instruments(n, seed=1)[0].mnemonic == "SAP"
    assert all(i.isin not in real for i in make_instruments(5, seed=1, real=0))
    with pytest.raises(ValueError, match="real must be between 0 and 2"):
        make_instruments(2, seed=1, real=3)


def test_quoting_style_by_date(sample: SampleSummary) -> None:
    """Before the cut-over every string field is quoted; from it only fields that need quotes."""
    fields = ["DK0060534915", "NOVC", "NOVO-NORDISK NAM.B DK-,20", "Common stock", "EUR", "2505141",
              "2022-04-07", "15:19", "110.1", "110.1", "109.8", "109.8", "104", "3"]  # fmt: skip
    assert format_row(fields, quote_all=False) == (
        'DK0060534915,NOVC,"NOVO-NORDISK NAM.B DK-,20",Common stock,EUR,2505141,2022-04-07,15:19,'
        "110.1,110.1,109.8,109.8,104,3"
    )
    assert format_row(fields, quote_all=True).startswith(
        '"DK0060534915","NOVC","NOVO-NORDISK NAM.B DK-,20","Common stock","EUR",2505141,2022-04-07,'
    )
    assert format_row(["A", 'SAY "HI"'], quote_all=False) == 'A,"SAY ""HI"""'
    seen = {True: 0, False: 0}
    comma_names = quote_names = 0
    for d in sample.days:
        if d.day.weekday() >= 5:
            continue
        old = d.day < QUOTE_ALL_BEFORE
        for line in (sample.root / pds.object_key(d.day, 10)).read_text().splitlines()[1:]:
            f = parse_line(line)
            if f is None or len(f) != 14:
                continue  # a malformed line
            seen[old] += 1
            assert line.startswith('"') == old, line
            comma_names += "," in f[2]
            quote_names += '"' in f[2]
    assert seen[True] > 0 and seen[False] > 0  # the sample spans the cut-over
    assert comma_names > 0 and quote_names > 0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        pds.file_name(date(2019, 1, 2), 24)
    with pytest.raises(ValueError):
        generate(Path("/nonexistent-unused"), SAMPLE_START, 0, 1)
