"""The Deutsche Boerse Public Data Set (PDS) layout and the pipeline's validity rules.

One CSV per trading day and hour: ``YYYY-MM-DD/YYYY-MM-DD_BINS_XETRhh.csv`` (Xetra cash market);
the Eurex bucket uses ``..._BINS_XEURhh.csv`` with other columns. Every file starts with a header
line; files for hours without trading hold only the header.

The files are RFC 4180 CSV in two quoting styles: older files (around 2018) quote every string
field (``"GB0059822006","DLG","DIALOG SEMICOND.   LS-,10","Common stock","EUR",2505387,...``),
newer ones quote only a field that holds a comma or a quote
(``DK0060534915,NOVC,"NOVO-NORDISK NAM.B DK-,20",Common stock,EUR,2505141,...``). A quote inside
a quoted field is doubled; lines end in LF or CRLF; one line is one record.

Blank lines and header lines are not data. A data line is *valid* when it is well-formed CSV
with exactly the 14 columns, and: ISIN matches ``[A-Z]{2}[A-Z0-9]{9}[0-9]``; Mnemonic is
non-empty; Date equals the trading day; Time matches ``HH:MM``; the four prices match
``[0-9]+(\\.[0-9]+)?`` and EndPrice > 0; TradedVolume and NumberOfTrades match ``[0-9]{1,18}``.
Anything else is *malformed*: counted (under the first rule it breaks, ``MALFORMED_KINDS``) and
dropped. The Spark job in ``spark/xetra_daily_job.py`` implements the same rules on its own (it
must stay a single file for spark-submit, and it parses with Spark's CSV parser);
``pipeline.xetra.reference`` is the independent pure-Python implementation on the ``csv`` module.
"""

from __future__ import annotations

import re
from datetime import date

XETR_COLUMNS: tuple[str, ...] = (
    "ISIN",
    "Mnemonic",
    "SecurityDesc",
    "SecurityType",
    "Currency",
    "SecurityID",
    "Date",
    "Time",
    "StartPrice",
    "MaxPrice",
    "MinPrice",
    "EndPrice",
    "TradedVolume",
    "NumberOfTrades",
)

# Eurex (derivatives) files share the bucket layout but not the columns; the job must skip them.
XEUR_COLUMNS: tuple[str, ...] = (
    "ISIN",
    "MarketSegment",
    "UnderlyingSymbol",
    "UnderlyingISIN",
    "Currency",
    "SecurityType",
    "MaturityDate",
    "StrikePrice",
    "PutOrCall",
    "MLEG",
    "ContractGenerationNumber",
    "SecurityID",
    "Date",
    "Time",
    "StartPrice",
    "MaxPrice",
    "MinPrice",
    "EndPrice",
    "NumberOfContracts",
    "NumberOfTrades",
)

ISIN_RE = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]")
TIME_RE = re.compile(r"[0-9]{2}:[0-9]{2}")
PRICE_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
INT_RE = re.compile(r"[0-9]{1,18}")

XETR_FILE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})_BINS_XETR(\d{2})\.csv")
XEUR_FILE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})_BINS_XEUR(\d{2})\.csv")


def day_prefix(day: date) -> str:
    """The folder of one trading day, e.g. ``2019-01-02``."""
    return day.isoformat()


def file_name(day: date, hour: int, venue: str = "XETR") -> str:
    """``YYYY-MM-DD_BINS_XETRhh.csv`` (venue ``XETR``) or ``..._XEURhh.csv`` (venue ``XEUR``)."""
    if venue not in ("XETR", "XEUR"):
        raise ValueError(f"unknown venue {venue!r}")
    if not 0 <= hour <= 23:
        raise ValueError(f"hour out of range: {hour}")
    return f"{day.isoformat()}_BINS_{venue}{hour:02d}.csv"


def object_key(day: date, hour: int, venue: str = "XETR") -> str:
    """``YYYY-MM-DD/YYYY-MM-DD_BINS_XETRhh.csv``: the key of one hourly file below a root."""
    return f"{day_prefix(day)}/{file_name(day, hour, venue)}"


def isin_check_digit(body: str) -> int:
    """ISO 6166 check digit of the first 11 characters of an ISIN (letters A=10 .. Z=35, Luhn)."""
    digits = "".join(str(int(c, 36)) for c in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


# The rules in order; a malformed line is counted under the first one it breaks.
MALFORMED_KINDS: tuple[str, ...] = ("fields", "isin", "mnemonic", "date", "time", "price", "volume", "trades")


def row_kind(fields: list[str], day: date) -> str | None:
    """None when one parsed data row is a valid Xetra row for ``day``, else the first broken rule
    (``"fields"`` covers the field count; the CSV syntax is the parser's business)."""
    if len(fields) != len(XETR_COLUMNS):
        return "fields"
    isin, mnemonic, _desc, _stype, _cur, _secid, d, t, sp, maxp, minp, ep, vol, ntr = fields
    if ISIN_RE.fullmatch(isin) is None:
        return "isin"
    if mnemonic == "":
        return "mnemonic"
    if d != day.isoformat():
        return "date"
    if TIME_RE.fullmatch(t) is None:
        return "time"
    if not all(PRICE_RE.fullmatch(p) is not None for p in (sp, maxp, minp, ep)) or float(ep) <= 0.0:
        return "price"
    if INT_RE.fullmatch(vol) is None:
        return "volume"
    if INT_RE.fullmatch(ntr) is None:
        return "trades"
    return None
