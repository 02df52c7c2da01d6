"""The calendar and the counts of a day: when a day's result is refused (used by
``xetra_daily_job.py``). Pure Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

DEFAULT_MAX_MALFORMED_SHARE = 0.05


@dataclass
class JobStats:
    trade_date: str
    xetr_files: int = 0
    header_only_files: int = 0
    skipped_files: int = 0
    rows_read: int = 0
    rows_valid: int = 0
    rows_malformed: int = 0
    malformed_by_kind: dict[str, int] = field(default_factory=dict)
    isins: int = 0
    refused: str | None = None  # why the day was not written, None when it was


class DayRefused(RuntimeError):
    """Raised by ``run`` (one day) when the day is refused; ``stats`` holds the counts."""

    def __init__(self, stats: JobStats) -> None:
        super().__init__(f"{stats.trade_date} refused: {stats.refused}")
        self.stats = stats


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def xetra_holidays(year: int) -> set[date]:
    """Weekdays on which Xetra does not trade: New Year, Good Friday, Easter Monday, Labour Day,
    Christmas Eve, Christmas, Boxing Day, New Year's Eve."""
    easter = _easter(year)
    fixed = {(1, 1), (5, 1), (12, 24), (12, 25), (12, 26), (12, 31)}
    return {date(year, m, d) for m, d in fixed} | {easter - timedelta(days=2), easter + timedelta(days=1)}


def is_trading_day(day: date) -> bool:
    return day.weekday() < 5 and day not in xetra_holidays(day.year)


def refusal(stats: JobStats, max_malformed_share: float, trading_day: bool) -> str | None:
    """Why a day's result must not replace what is there, or None when it may."""
    if stats.rows_read and stats.rows_malformed / stats.rows_read > max_malformed_share:
        share = stats.rows_malformed / stats.rows_read
        return (
            f"{stats.rows_malformed} of {stats.rows_read} data lines malformed ({share:.1%} > "
            f"{max_malformed_share:.1%}; by kind: {stats.malformed_by_kind})"
        )
    if trading_day and stats.rows_valid == 0:
        return (
            f"no valid row on a trading day ({stats.xetr_files} XETR files, "
            f"{stats.header_only_files} header-only, {stats.rows_read} data lines)"
        )
    return None
