"""Deterministic sample data in the Xetra PDS layout (see ``pipeline.xetra.pds``).

For each calendar day from ``start``: on weekdays one file per hour 07..18 UTC with one-minute bars
for the continuous session (08:00-16:29) and a closing-auction bar at 16:35; the 07, 17 and 18 files
hold only the header, as the PDS does for hours without trading. Weekend days get header-only files.
Weekdays also get a few Eurex files (``_BINS_XEURhh.csv``, other columns) and ``malformed_per_day``
malformed lines spread over the data files. The same seed always gives the same bytes, and a day's
content depends only on (seed, tickers, day), not on how many days are generated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from pipeline.xetra import pds

HOURS = range(7, 19)  # files per day: XETR07 .. XETR18
SESSION_START_MIN = 8 * 60  # 08:00 UTC
SESSION_END_MIN = 16 * 60 + 30  # continuous trading up to 16:29
CLOSING_AUCTION = (16, 35)
XEUR_HOURS = (8, 12, 16)

MALFORMED_KINDS: tuple[str, ...] = (
    "truncated",
    "non_numeric_price",
    "extra_field",
    "negative_volume",
    "empty_isin",
    "wrong_date",
    "garbage",
    "zero_price",
)


@dataclass(frozen=True)
class Instrument:
    isin: str
    mnemonic: str
    desc: str
    security_type: str
    security_id: int
    base_price: float
    liquidity: float  # probability that the instrument trades in a given minute


@dataclass
class DaySummary:
    day: date
    xetr_files: int = 0
    header_only_files: int = 0
    xeur_files: int = 0
    data_rows: int = 0  # valid rows written
    malformed_rows: int = 0
    malformed_kinds: list[str] = field(default_factory=list)


@dataclass
class SampleSummary:
    root: Path
    instruments: list[Instrument]
    days: list[DaySummary]

    @property
    def data_rows(self) -> int:
        return sum(d.data_rows for d in self.days)

    @property
    def malformed_rows(self) -> int:
        return sum(d.malformed_rows for d in self.days)


def _mnemonic(i: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    a, rest = divmod(i, 26 * 26)
    b, c = divmod(rest, 26)
    return letters[(a + 1) % 26] + letters[b] + letters[c]


def make_instruments(tickers: int, seed: int) -> list[Instrument]:
    """``tickers`` synthetic instruments with valid ISIN check digits, deterministic by seed."""
    rng = random.Random(f"xetra-instruments:{seed}")
    out: list[Instrument] = []
    for i in range(tickers):
        body = f"DE000{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{i:05d}"
        isin = body + str(pds.isin_check_digit(body))
        mnemonic = _mnemonic(i)
        etf = rng.random() < 0.15
        desc = f"SAMPLE {'ETF' if etf else 'CORP'} {i:03d} {'UCITS' if etf else 'AG NA O.N.'}"
        out.append(
            Instrument(
                isin=isin,
                mnemonic=mnemonic,
                desc=desc,
                security_type="ETF" if etf else "Common stock",
                security_id=2504000 + i * 7,
                base_price=round(rng.lognormvariate(3.5, 1.0), 2) + 1.0,
                liquidity=rng.uniform(0.15, 0.95),
            )
        )
    return out


def _fmt_price(p: float) -> str:
    return f"{p:.2f}" if p >= 1.0 else f"{p:.4f}"


def _minutes() -> list[tuple[int, int]]:
    mins = [divmod(m, 60) for m in range(SESSION_START_MIN, SESSION_END_MIN)]
    return mins + [CLOSING_AUCTION]


def _day_rows(day: date, instruments: list[Instrument], rng: random.Random) -> dict[int, list[str]]:
    """Valid CSV lines per hour for one trading day."""
    by_hour: dict[int, list[str]] = {h: [] for h in HOURS}
    prices = {ins.isin: ins.base_price * rng.uniform(0.9, 1.1) for ins in instruments}
    for hh, mm in _minutes():
        for ins in instruments:
            if rng.random() >= ins.liquidity:
                continue
            start = prices[ins.isin]
            steps = [start * (1.0 + rng.gauss(0.0, 0.0015)) for _ in range(3)]
            end = max(steps[-1], 0.01)
            prices[ins.isin] = end
            hi = max(start, end, *steps)
            lo = max(min(start, end, *steps), 0.01)
            trades = rng.randint(1, 40)
            volume = sum(rng.randint(1, 800) for _ in range(trades))
            by_hour[hh].append(
                ",".join(
                    (
                        ins.isin,
                        ins.mnemonic,
                        ins.desc,
                        ins.security_type,
                        "EUR",
                        str(ins.security_id),
                        day.isoformat(),
                        f"{hh:02d}:{mm:02d}",
                        _fmt_price(start),
                        _fmt_price(hi),
                        _fmt_price(lo),
                        _fmt_price(end),
                        str(volume),
                        str(trades),
                    )
                )
            )
    return by_hour


def _malformed(kind: str, good: str, day: date) -> str:
    f = good.split(",")
    if kind == "truncated":
        return ",".join(f[:-3])
    if kind == "non_numeric_price":
        f[11] = "n/a"
    elif kind == "extra_field":
        f.append("EXTRA")
    elif kind == "negative_volume":
        f[12] = "-" + f[12]
    elif kind == "empty_isin":
        f[0] = ""
    elif kind == "wrong_date":
        f[6] = (day - timedelta(days=1)).isoformat()
    elif kind == "garbage":
        return "#### transfer interrupted ####"
    elif kind == "zero_price":
        f[11] = "0.00"
    else:
        raise ValueError(kind)
    return ",".join(f)


def _xeur_lines(day: date, hour: int, rng: random.Random) -> list[str]:
    lines = []
    for k in range(rng.randint(1, 4)):
        mm = rng.randint(0, 59)
        p = round(rng.uniform(10000, 12000), 1)
        lines.append(
            ",".join(
                (
                    f"DE000C{rng.randint(100000, 999999)}",
                    "FDAX",
                    "DAX",
                    "DE0008469008",
                    "EUR",
                    "FUT",
                    "20190315",
                    "",
                    "",
                    "",
                    "0",
                    str(3000000 + k),
                    day.isoformat(),
                    f"{hour:02d}:{mm:02d}",
                    f"{p:.1f}",
                    f"{p + 5:.1f}",
                    f"{p - 5:.1f}",
                    f"{p + 1:.1f}",
                    str(rng.randint(1, 90)),
                    str(rng.randint(1, 20)),
                )
            )
        )
    return lines


def generate_day(
    root: Path,
    day: date,
    instruments: list[Instrument],
    seed: int,
    malformed_per_day: int = 3,
    xeur: bool = True,
) -> DaySummary:
    """Write one day's files below ``root/YYYY-MM-DD/``; returns what was written."""
    rng = random.Random(f"xetra-day:{seed}:{len(instruments)}:{day.isoformat()}")
    summary = DaySummary(day=day)
    day_dir = root / pds.day_prefix(day)
    day_dir.mkdir(parents=True, exist_ok=True)
    header = ",".join(pds.XETR_COLUMNS)
    trading = day.weekday() < 5
    by_hour = _day_rows(day, instruments, rng) if trading else {h: [] for h in HOURS}
    summary.data_rows = sum(len(v) for v in by_hour.values())

    if trading and malformed_per_day > 0:
        data_hours = [h for h in HOURS if by_hour[h]]
        offset = rng.randrange(len(MALFORMED_KINDS))  # kinds rotate, so 8 lines cover all kinds
        for n in range(malformed_per_day):
            kind = MALFORMED_KINDS[(offset + n) % len(MALFORMED_KINDS)]
            hour = rng.choice(data_hours)
            rows = by_hour[hour]
            bad = _malformed(kind, rng.choice(rows), day)
            rows.insert(rng.randint(0, len(rows)), bad)
            summary.malformed_rows += 1
            summary.malformed_kinds.append(kind)

    for hour in HOURS:
        lines = [header, *by_hour[hour]]
        (day_dir / pds.file_name(day, hour)).write_text("\n".join(lines) + "\n", encoding="utf-8")
        summary.xetr_files += 1
        if not by_hour[hour]:
            summary.header_only_files += 1

    if trading and xeur:
        xeur_header = ",".join(pds.XEUR_COLUMNS)
        for hour in XEUR_HOURS:
            lines = [xeur_header, *_xeur_lines(day, hour, rng)]
            (day_dir / pds.file_name(day, hour, "XEUR")).write_text("\n".join(lines) + "\n", encoding="utf-8")
            summary.xeur_files += 1
    return summary


def generate(
    root: Path,
    start: date,
    days: int,
    tickers: int,
    seed: int = 1,
    malformed_per_day: int = 3,
    xeur: bool = True,
) -> SampleSummary:
    """Generate ``days`` calendar days from ``start`` for ``tickers`` instruments below ``root``."""
    if days < 1 or tickers < 1:
        raise ValueError("days and tickers must be >= 1")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    instruments = make_instruments(tickers, seed)
    summaries = [
        generate_day(root, start + timedelta(days=i), instruments, seed, malformed_per_day, xeur)
        for i in range(days)
    ]
    return SampleSummary(root=root, instruments=instruments, days=summaries)
