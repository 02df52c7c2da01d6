"""Single-process pure-Python computation of the daily figures: the test oracle and the benchmark
baseline for the Spark job (``spark/xetra_daily_job.py``), written independently of it: lines are
parsed with Python's ``csv`` module (strict RFC 4180), the rules are ``pipeline.xetra.pds``'s.

Per trading day and ISIN: the mnemonic (largest seen, for determinism), the mean EndPrice over the
one-minute bars, the VWAP ``sum(EndPrice * TradedVolume) / sum(TradedVolume)`` (None when the
volume is 0), the total TradedVolume, the total NumberOfTrades and the number of bars.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.xetra import pds

HEADER = list(pds.XETR_COLUMNS)


@dataclass(frozen=True)
class DailyPrice:
    trade_date: date
    isin: str
    mnemonic: str
    mean_end_price: float
    vwap: float | None
    total_volume: int
    num_trades: int
    num_bars: int


@dataclass
class RunStats:
    xetr_files: int = 0
    header_only_files: int = 0
    skipped_files: int = 0  # XEUR and anything else that is not an XETR file
    rows_read: int = 0
    rows_valid: int = 0
    rows_malformed: int = 0
    malformed_by_kind: dict[str, int] = field(default_factory=dict)
    skipped_names: list[str] = field(default_factory=list)


@dataclass
class _Acc:
    mnemonic: str = ""
    end_prices: list[float] = field(default_factory=list)
    pv: list[float] = field(default_factory=list)
    volume: int = 0
    trades: int = 0


def select_files(paths: Iterable[Path], stats: RunStats, day: date) -> list[Path]:
    """Keep ``<day>_BINS_XETRhh.csv``; count everything else as skipped."""
    keep = []
    for p in sorted(paths):
        m = pds.XETR_FILE_RE.fullmatch(p.name)
        if m and m.group(1) == day.isoformat():
            keep.append(p)
        else:
            stats.skipped_files += 1
            stats.skipped_names.append(p.name)
    return keep


def parse_line(line: str) -> list[str] | None:
    """The fields of one line (without its line end) as strict RFC 4180 CSV, or None when it is
    not well-formed: an unterminated quoted field, text after a closing quote, or a quote inside
    a field that does not start with one (the ``csv`` module keeps that as text; RFC 4180 not)."""
    try:
        fields = next(csv.reader((line,), strict=True))
    except csv.Error:
        return None
    for f in fields:
        if '"' in f and '"' + f.replace('"', '""') + '"' not in line:
            return None
    return fields


def compute_day(day_dir: Path, day: date) -> tuple[list[DailyPrice], RunStats]:
    """The daily figures of one day's folder of PDS files, sorted by ISIN."""
    stats = RunStats()
    files = select_files((p for p in Path(day_dir).iterdir() if p.is_file()), stats, day)
    acc: dict[str, _Acc] = {}
    for path in files:
        stats.xetr_files += 1
        data = 0
        with path.open(encoding="utf-8", newline=None) as fh:  # universal newlines: \n, \r\n, \r
            for raw in fh:
                line = raw[:-1] if raw.endswith("\n") else raw
                if not line:
                    continue
                fields = parse_line(line)
                if fields == HEADER:
                    continue
                data += 1
                stats.rows_read += 1
                kind = "fields" if fields is None else pds.row_kind(fields, day)
                if kind is not None:
                    stats.rows_malformed += 1
                    stats.malformed_by_kind[kind] = stats.malformed_by_kind.get(kind, 0) + 1
                    continue
                assert fields is not None  # (kind is "fields" otherwise)
                stats.rows_valid += 1
                isin, mnemonic = fields[0], fields[1]
                end = float(fields[11])
                vol = int(fields[12])
                a = acc.setdefault(isin, _Acc())
                a.mnemonic = max(a.mnemonic, mnemonic)
                a.end_prices.append(end)
                a.pv.append(end * vol)
                a.volume += vol
                a.trades += int(fields[13])
        if data == 0:
            stats.header_only_files += 1
    stats.malformed_by_kind = dict(sorted(stats.malformed_by_kind.items()))
    out = [
        DailyPrice(
            trade_date=day,
            isin=isin,
            mnemonic=a.mnemonic,
            mean_end_price=math.fsum(a.end_prices) / len(a.end_prices),
            vwap=math.fsum(a.pv) / a.volume if a.volume > 0 else None,
            total_volume=a.volume,
            num_trades=a.trades,
            num_bars=len(a.end_prices),
        )
        for isin, a in sorted(acc.items())
    ]
    return out, stats
