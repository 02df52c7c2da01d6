"""The rules of a valid PDS line and the figures, as Spark DataFrame expressions (used by
``xetra_daily_job.py``; see its docstring for the rules in words). Only pyspark is needed."""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

COLUMNS = (
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
CORRUPT = "_corrupt"
# Every field a string: the job, not the CSV reader, decides what a valid number is.
SCHEMA = ", ".join(f"`{c}` STRING" for c in COLUMNS) + f", `{CORRUPT}` STRING"
CSV_OPTIONS = {
    "sep": ",",
    "quote": '"',
    "escape": '"',  # RFC 4180 doubles quotes; Spark's default escape is a backslash
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT,  # set when a line has not exactly 14 fields
}
# The univocity parser lets a quote after a closed quoted field, a quote inside an unquoted field
# or an unterminated quoted last field through; RFC 4180 does not. This is the grammar of a
# well-formed line (possessive quantifiers, so long garbage lines cannot make the matcher
# backtrack or recurse deeply).
RFC4180_LINE = r'^(?:"(?:[^"]++|"")*+"|[^",]*+)(?:,(?:"(?:[^"]++|"")*+"|[^",]*+))*+$'
XETR_FILE_PATTERN = r"(\d{4}-\d{2}-\d{2})_BINS_XETR\d{2}\.csv"
PRICE_RE = r"^[0-9]+(\.[0-9]+)?$"
INT_RE = r"^[0-9]{1,18}$"
KINDS = ("fields", "isin", "mnemonic", "date", "time", "price", "volume", "trades")
RESULT_SCHEMA = (
    "trade_date DATE, isin STRING, mnemonic STRING, mean_end_price DOUBLE, vwap DOUBLE, "
    "total_volume BIGINT, num_trades BIGINT, num_bars INT"
)


def parse_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """One row per non-blank line of ``files``: ``_file``, ``kind`` (null when valid, ``header``
    for a header line, else the first rule broken) and the fields the figures need.

    Shaped for speed: each line is parsed once (no filter between the parse and its uses, which
    the optimizer would push below the parse and so parse twice); a valid line costs two regular
    expressions (the ISIN, and one over the numeric fields joined), the rule-by-rule checks run
    only for the rare invalid line; the file's day is compared by substring, not extracted."""
    # The driver has listed the files already; above this threshold Spark would list them again
    # with a distributed job of one task per file (seconds in local mode for a month of files).
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", str(max(32, len(files) + 1)))
    raw = spark.read.text(files).select(
        F.col("value").alias("line"), F.col("_metadata.file_path").alias("_file")
    )
    parsed = raw.where(F.col("line") != "").select(
        "line", "_file", F.from_csv("line", SCHEMA, CSV_OPTIONS).alias("r")
    )
    r = {c: F.col(f"r.{c}") for c in (*COLUMNS, CORRUPT)}

    def ok(col: Column, regex: str) -> Column:
        return F.coalesce(col.rlike(regex), F.lit(False))

    is_header = r[CORRUPT].isNull()
    for c in COLUMNS:
        is_header = is_header & F.coalesce(r[c] == c, F.lit(False))
    well_formed = r[CORRUPT].isNull() & (~F.col("line").contains('"') | F.col("line").rlike(RFC4180_LINE))
    # The file's name starts with its day (list_input keeps only those), so a Date equal to the day
    # is a 10-character Date that, between "/" and "_BINS_XETR", is in the path.
    same_day = F.coalesce(
        (F.length(r["Date"]) == 10)
        & F.col("_file").contains(F.concat(F.lit("/"), r["Date"], F.lit("_BINS_XETR"))),
        F.lit(False),
    )
    price_ok = (
        ok(r["StartPrice"], PRICE_RE)
        & ok(r["MaxPrice"], PRICE_RE)
        & ok(r["MinPrice"], PRICE_RE)
        & ok(r["EndPrice"], PRICE_RE)
        & F.coalesce(r["EndPrice"].try_cast("double") > 0, F.lit(False))
    )
    checks: list[tuple[str, Column]] = [
        ("fields", well_formed),
        ("isin", ok(r["ISIN"], r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")),
        ("mnemonic", F.coalesce(r["Mnemonic"] != "", F.lit(False))),
        ("date", same_day),
        ("time", ok(r["Time"], r"^[0-9]{2}:[0-9]{2}$")),
        ("price", price_ok),
        ("volume", ok(r["TradedVolume"], INT_RE)),
        ("trades", ok(r["NumberOfTrades"], INT_RE)),
    ]
    # The same numeric rules as one expression over the joined fields (a null field drops out of
    # concat_ws, and the pattern then fails), for the common case.
    numeric = F.concat_ws(
        ",",
        *(
            # Time, the four prices, volume and trades: the file's columns after Date, in order.
            r[c]
            for c in COLUMNS[COLUMNS.index("Time") :]
        ),
    )
    p, i = PRICE_RE.strip("^$"), INT_RE.strip("^$")
    all_ok = (
        well_formed
        & ok(r["ISIN"], r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
        & F.coalesce(r["Mnemonic"] != "", F.lit(False))
        & same_day
        & numeric.rlike(f"^[0-9]{{2}}:[0-9]{{2}},{p},{p},{p},{p},{i},{i}$")
        & F.coalesce(r["EndPrice"].try_cast("double") > 0, F.lit(False))
    )
    kind: Any = F.when(is_header, F.lit("header")).when(all_ok, F.lit(None).cast("string"))
    for name, passed in checks:  # the first broken rule names the kind
        kind = kind.when(~passed, F.lit(name))
    return parsed.select(
        "_file",
        kind.alias("kind"),
        r["ISIN"].alias("ISIN"),
        r["Mnemonic"].alias("Mnemonic"),
        r["EndPrice"].try_cast("double").alias("end"),
        r["TradedVolume"].try_cast("long").alias("vol"),
        r["NumberOfTrades"].try_cast("long").alias("ntr"),
    )


def partial_figures(rows: DataFrame) -> DataFrame:
    """Per (file, kind, and ISIN and Mnemonic of valid rows): line count and the sums the figures
    need, plus ``_day`` from the file name. Small (files x ISINs), so it is computed once and both
    the counts and the figures come from it. (Grouping by Mnemonic rather than taking max() keeps
    the aggregation a hash aggregation: max() of a string would make it sort every line.)"""
    valid = F.col("kind").isNull()
    agg = rows.groupBy(
        "_file",
        "kind",
        F.when(valid, F.col("ISIN")).alias("isin"),
        F.when(valid, F.col("Mnemonic")).alias("mnemonic"),
    ).agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(F.when(valid, F.col("end"))).alias("sum_end"),
        F.sum(F.when(valid, F.col("end") * F.col("vol"))).alias("sum_pv"),
        F.sum(F.when(valid, F.col("vol"))).alias("sum_vol"),
        F.sum(F.when(valid, F.col("ntr"))).alias("sum_ntr"),
    )
    return agg.withColumn("_day", F.regexp_extract("_file", XETR_FILE_PATTERN + "$", 1))


def daily_figures(partials: DataFrame) -> DataFrame:
    """One row per (day, ISIN) from the partial sums, with a ``_day`` string column."""
    agg = (
        partials.where(F.col("kind").isNull())
        .groupBy("_day", "isin")
        .agg(
            F.max("mnemonic").alias("mnemonic"),
            F.sum("sum_end").alias("sum_end"),
            F.sum("n").alias("n"),
            F.sum("sum_pv").alias("sum_pv"),
            F.sum("sum_vol").alias("total_volume"),
            F.sum("sum_ntr").alias("num_trades"),
        )
    )
    return agg.select(
        "_day",
        F.to_date("_day").alias("trade_date"),
        "isin",
        "mnemonic",
        (F.col("sum_end") / F.col("n")).alias("mean_end_price"),
        F.when(F.col("total_volume") > 0, F.col("sum_pv") / F.col("total_volume")).alias("vwap"),
        F.col("total_volume").cast("long").alias("total_volume"),
        F.col("num_trades").cast("long").alias("num_trades"),
        F.col("n").cast("int").alias("num_bars"),
    )
