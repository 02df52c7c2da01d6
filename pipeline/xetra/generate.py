"""Deterministic sample data in the Xetra PDS layout (see ``pipeline.xetra.pds``).

For each calendar day from ``start``: on weekdays one file per hour 07..18 UTC with one-minute bars
for the continuous session (08:00-16:29) and a closing-auction bar at 16:35; the 07, 17 and 18 files
hold only the header, as the PDS does for hours without trading. Weekend days get header-only files.
Weekdays also get a few Eurex files (``_BINS_XEURhh.csv``, other columns) and ``malformed_per_day``
malformed lines spread over the data files. The same seed always gives the same bytes, and a day's
content depends only on (seed, tickers, day), not on how many days are generated.

The lines are what real PDS files hold: RFC 4180 CSV in the style of the file's date (every string
field quoted before ``quote_all_before``, as in files from around 2018; only fields that need it
from then on, as in newer files), names that contain commas (``"LINDE PLC EO 0,001"``) and, among
the synthetic names, doubled quotes. The instruments are real DAX (and two other Xetra)
instruments, SAP SE first, beside synthetic ones.
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

# The date from which the generator writes the newer quoting style. The real switch date in the PDS
# is not known to us (the two example rows are from 2018 and 2022); this one is chosen so that a
# sample from the first days of 2019 (the tests' and the bench's) holds both styles.
QUOTE_ALL_BEFORE = date(2019, 1, 4)
STRING_COLUMNS = frozenset(range(5))  # ISIN, Mnemonic, SecurityDesc, SecurityType, Currency

MALFORMED_KINDS: tuple[str, ...] = (
    "truncated",
    "non_numeric_price",
    "extra_field",
    "negative_volume",
    "empty_isin",
    "wrong_date",
    "garbage",
    "zero_price",
    "unterminated_quote",
)

# Real instruments: ISIN and Xetra mnemonic (check digits verified in the tests), a SecurityDesc
# in Xetra's abbreviated style, and a rough 2019 price level. DLG and NOVC carry the names of the
# two rows copied from real files (with their commas) and those files' SecurityIDs; the other
# SecurityIDs are made up (2506xxx).
REAL_INSTRUMENTS: tuple[tuple[str, str, str, int, float], ...] = (
    ("DE0007164600", "SAP", "SAP SE O.N.", 2506001, 95.0),
    ("GB0059822006", "DLG", "DIALOG SEMICOND.   LS-,10", 2505387, 15.2),
    ("DK0060534915", "NOVC", "NOVO-NORDISK NAM.B DK-,20", 2505141, 40.5),
    ("DE0007236101", "SIE", "SIEMENS AG NA O.N.", 2506002, 98.0),
    ("DE0008404005", "ALV", "ALLIANZ SE NA O.N.", 2506003, 178.0),
    ("DE000BASF111", "BAS", "BASF SE NA O.N.", 2506004, 61.0),
    ("DE000BAY0017", "BAYN", "BAYER AG NA O.N.", 2506005, 62.0),
    ("DE0005557508", "DTE", "DT.TELEKOM AG NA", 2506006, 14.9),
    ("DE0007100000", "DAI", "DAIMLER AG NA O.N.", 2506007, 46.0),
    ("DE000A1EWWW0", "ADS", "ADIDAS AG NA O.N.", 2506008, 183.0),
    ("DE0005140008", "DBK", "DEUTSCHE BANK AG NA O.N.", 2506009, 7.1),
    ("DE0005190003", "BMW", "BAY.MOTOREN WERKE AG ST", 2506010, 71.0),
    ("DE0007664039", "VOW3", "VOLKSWAGEN AG VZO O.N.", 2506011, 140.0),
    ("DE0008430026", "MUV2", "MUENCH.RUECKVERS.VNA O.N.", 2506012, 190.0),
    ("DE0006231004", "IFX", "INFINEON TECH.AG NA O.N.", 2506013, 17.5),
    ("DE0005552004", "DPW", "DEUTSCHE POST AG NA O.N.", 2506014, 24.0),
    ("DE000ENAG999", "EOAN", "E.ON SE NA", 2506015, 8.7),
    ("IE00BZ12WP82", "LIN", "LINDE PLC EO 0,001", 2506016, 137.0),
    ("DE0005810055", "DB1", "DEUTSCHE BOERSE NA O.N.", 2506017, 105.0),
    ("DE0006048432", "HEN3", "HENKEL AG+CO.KGAA VZO", 2506018, 95.0),
    ("DE0006599905", "MRK", "MERCK KGAA O.N.", 2506019, 90.0),
    ("DE0007037129", "RWE", "RWE AG INH O.N.", 2506020, 19.0),
    ("DE0005439004", "CON", "CONTINENTAL AG O.N.", 2506021, 121.0),
    ("DE0005785604", "FRE", "FRESENIUS SE+CO.KGAA O.N.", 2506022, 42.0),
    ("DE0005785802", "FME", "FRESEN.MED.CARE KGAA O.N.", 2506023, 57.0),
    ("DE0005200000", "BEI", "BEIERSDORF AG O.N.", 2506024, 91.0),
    ("DE0006062144", "1COV", "COVESTRO AG O.N.", 2506025, 43.0),
    ("DE0006047004", "HEI", "HEIDELBERGCEMENT AG O.N.", 2506026, 53.0),
    ("DE000A1ML7J1", "VNA", "VONOVIA SE NA O.N.", 2506027, 40.0),
    ("DE0008232125", "LHA", "LUFTHANSA AG VNA O.N.", 2506028, 20.0),
    ("DE0007472060", "WDI", "WIRECARD AG", 2506029, 110.0),
    ("DE000PSM7770", "PSM", "PROSIEBENSAT.1NA O.N.", 2506030, 15.5),
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
    """``X`` and three letters: no real Xetra mnemonic of ``REAL_INSTRUMENTS`` looks like that."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    a, rest = divmod(i, 26 * 26)
    b, c = divmod(rest, 26)
    return "X" + letters[(a + 1) % 26] + letters[b] + letters[c]


def _synthetic_desc(i: int, etf: bool) -> str:
    if etf:
        return f"SAMPLE ETF {i:03d} UCITS"
    if i % 5 == 2:
        return f"SAMPLE CORP {i:03d} NAM. EO -,50"  # a nominal value with a comma, as real names have
    if i % 7 == 3:
        return f'SAMPLE "Q" CORP {i:03d}'  # a quote: doubled inside the quoted field
    return f"SAMPLE CORP {i:03d} AG NA O.N."


def default_real_count(tickers: int) -> int:
    """How many of ``tickers`` are real instruments unless told: about half, at least SAP."""
    return min(len(REAL_INSTRUMENTS), (tickers + 1) // 2)


def make_instruments(tickers: int, seed: int, real: int | None = None) -> list[Instrument]:
    """``tickers`` instruments: the first ``real`` of ``REAL_INSTRUMENTS`` (default: about half,
    SAP SE first) and synthetic ones with valid ISIN check digits; deterministic by seed."""
    real = default_real_count(tickers) if real is None else real
    if not 0 <= real <= min(tickers, len(REAL_INSTRUMENTS)):
        raise ValueError(f"real must be between 0 and {min(tickers, len(REAL_INSTRUMENTS))}, not {real}")
    rng = random.Random(f"xetra-instruments:{seed}")
    out: list[Instrument] = []
    for isin, mnemonic, desc, security_id, price in REAL_INSTRUMENTS[:real]:
        out.append(
            Instrument(
                isin=isin,
                mnemonic=mnemonic,
                desc=desc,
                security_type="Common stock",
                security_id=security_id,
                base_price=price,
                liquidity=rng.uniform(0.6, 0.98),  # DAX stocks trade in most minutes
            )
        )
    for i in range(tickers - real):
        body = f"DE000{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{i:05d}"
        isin = body + str(pds.isin_check_digit(body))
        mnemonic = _mnemonic(i)
        etf = rng.random() < 0.15
        desc = _synthetic_desc(i, etf)
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


# Data lines of a real PDS day. One published load of real files (qiushiyan/xetra readme.md, the
# source DataFrame of a run from 2021-09-16: "193,095 rows", 3,050 ISINs after aggregation) gives
# about 190,000; whether that frame held one day or two is not stated, so the real figure is
# between ~95,000 and ~195,000 (2021; earlier years had fewer instruments). The larger is used:
# it errs on the side of more work. The ISIN count is not matched (the generator's instruments
# trade in more minutes than most real ones, so ~600 of them make the lines of ~3,000 real ones).
REAL_DAY_ROWS = 190_000


def expected_day_rows(instruments: list[Instrument]) -> float:
    """Mean data lines per trading day for these instruments (one bar per traded minute)."""
    return len(_minutes()) * sum(i.liquidity for i in instruments)


def real_size_tickers(seed: int = 1, rows: int = REAL_DAY_ROWS) -> int:
    """The smallest ticker count whose trading days hold ``rows`` data lines on average."""
    lo, hi = 1, 20_000
    while lo < hi:
        mid = (lo + hi) // 2
        if expected_day_rows(make_instruments(mid, seed)) >= rows:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _fmt_price(p: float) -> str:
    return f"{p:.2f}" if p >= 1.0 else f"{p:.4f}"


def _minutes() -> list[tuple[int, int]]:
    mins = [divmod(m, 60) for m in range(SESSION_START_MIN, SESSION_END_MIN)]
    return mins + [CLOSING_AUCTION]


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def format_row(fields: list[str], quote_all: bool) -> str:
    """One CSV line as the PDS writes it: with ``quote_all`` every string column quoted (older
    files), else only a field that holds a comma, a quote or a line break (newer files)."""
    out = []
    for i, f in enumerate(fields):
        if (quote_all and i in STRING_COLUMNS) or any(c in f for c in ',"\r\n'):
            out.append(_quote(f))
        else:
            out.append(f)
    return ",".join(out)


def _day_rows(day: date, instruments: list[Instrument], rng: random.Random) -> dict[int, list[list[str]]]:
    """Valid rows (lists of fields) per hour for one trading day."""
    by_hour: dict[int, list[list[str]]] = {h: [] for h in HOURS}
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
                [
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
                ]
            )
    return by_hour


def _malformed(kind: str, good: list[str], day: date, quote_all: bool) -> str:
    """One malformed line of ``kind`` made from a valid row, in the day's quoting style."""
    f = list(good)
    if kind == "truncated":
        return format_row(f[:-3], quote_all)
    if kind == "garbage":
        return "#### transfer interrupted ####"
    if kind == "unterminated_quote":  # the name's closing quote lost: the field runs to the line end
        line = format_row(f[:2], quote_all) + ',"' + f[2].replace('"', '""') + ","
        return line + format_row(f[3:], quote_all)
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
    elif kind == "zero_price":
        f[11] = "0.00"
    else:
        raise ValueError(kind)
    return format_row(f, quote_all)


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
    quote_all_before: date = QUOTE_ALL_BEFORE,
) -> DaySummary:
    """Write one day's files below ``root/YYYY-MM-DD/``; returns what was written."""
    rng = random.Random(f"xetra-day:{seed}:{len(instruments)}:{day.isoformat()}")
    summary = DaySummary(day=day)
    day_dir = root / pds.day_prefix(day)
    day_dir.mkdir(parents=True, exist_ok=True)
    header = ",".join(pds.XETR_COLUMNS)  # the header is never quoted, in either style
    quote_all = day < quote_all_before
    trading = day.weekday() < 5
    rows = _day_rows(day, instruments, rng) if trading else {h: [] for h in HOURS}
    by_hour = {h: [format_row(r, quote_all) for r in rows[h]] for h in HOURS}
    summary.data_rows = sum(len(v) for v in by_hour.values())

    if trading and malformed_per_day > 0:
        data_hours = [h for h in HOURS if by_hour[h]]
        offset = rng.randrange(len(MALFORMED_KINDS))  # kinds rotate, so enough lines cover all kinds
        for n in range(malformed_per_day):
            kind = MALFORMED_KINDS[(offset + n) % len(MALFORMED_KINDS)]
            hour = rng.choice(data_hours)
            bad = _malformed(kind, rng.choice(rows[hour]), day, quote_all)
            lines = by_hour[hour]
            lines.insert(rng.randint(0, len(lines)), bad)
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
    *,
    quote_all_before: date = QUOTE_ALL_BEFORE,
    real: int | None = None,
) -> SampleSummary:
    """Generate ``days`` calendar days from ``start`` for ``tickers`` instruments below ``root``
    (``real`` of them real instruments, default about half; see ``make_instruments``)."""
    if days < 1 or tickers < 1:
        raise ValueError("days and tickers must be >= 1")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    instruments = make_instruments(tickers, seed, real)
    summaries = [
        generate_day(
            root, start + timedelta(days=i), instruments, seed, malformed_per_day, xeur, quote_all_before
        )
        for i in range(days)
    ]
    return SampleSummary(root=root, instruments=instruments, days=summaries)
