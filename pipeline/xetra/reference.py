"""Single-process pure-Python computation of the daily figures: the test oracle and the benchmark
baseline for the Spark job (``spark/xetra_daily_job.py``), written independently of it.

Per trading day and ISIN: the mnemonic (largest seen, for determinism), the mean EndPrice over the
one-minute bars, the VWAP ``sum(EndPrice * TradedVolume) / sum(TradedVolume)`` (None when the
volume is 0), the total TradedVolume, the total NumberOfTrades and the number of bars.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipeline.xetra import pds

HEADER = ",".join(pds.XETR_COLUMNS)


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
    skipped_names: list[str] = field(default_factory=list)


@dataclass
class _Acc:
    mnemonic: str = ""
    end_prices: list[float] = field(default_factory=list)
    pv: list[float] = field(default_factory=list)
    volume: int = 0
    trades: int = 0


def select_files(paths: Iterable[Path], stats: RunStats) -> list[Path]:
    """Keep ``*_BINS_XETRhh.csv``; count everything else as skipped."""
    keep = []
    for p in sorted(paths):
        if pds.XETR_FILE_RE.fullmatch(p.name):
            keep.append(p)
        else:
            stats.skipped_files += 1
            stats.skipped_names.append(p.name)
    return keep


def compute_day(day_dir: Path, day: date) -> tuple[list[DailyPrice], RunStats]:
    """The daily figures of one day's folder of PDS files, sorted by ISIN."""
    stats = RunStats()
    files = select_files((p for p in Path(day_dir).iterdir() if p.is_file()), stats)
    acc: dict[str, _Acc] = {}
    for path in files:
        stats.xetr_files += 1
        data = 0
        with path.open(encoding="utf-8") as fh:  # universal newlines: \n, \r\n, \r
            for raw in fh:
                line = raw.rstrip("\n")
                if not line or line == HEADER:
                    continue
                data += 1
                stats.rows_read += 1
                if not pds.is_valid_line(line, day):
                    stats.rows_malformed += 1
                    continue
                stats.rows_valid += 1
                fields = line.split(",")
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
