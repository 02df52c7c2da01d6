"""The shape of the generated Xetra sample every pipeline test reads (the ``sample`` fixture)."""

from __future__ import annotations

from datetime import date

SAMPLE_START = date(2019, 1, 3)  # Thursday: Thu, Fri trade; Sat is header-only
SAMPLE_DAYS = 3
SAMPLE_TICKERS = 8
SAMPLE_SEED = 42
SAMPLE_MALFORMED = 9  # per trading day: every malformed kind appears
