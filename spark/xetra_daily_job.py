"""Daily Xetra figures with Spark DataFrames: PDS files in, one Parquet dataset per trading day out.

    # one day (what the daily DAG runs)
    spark-submit [--master URL] spark/xetra_daily_job.py --date 2019-01-02 \\
        --input <day folder> --output <Parquet folder of the day> [--stats-file stats.json]
    # a backfill: every day of a range in one Spark session and one pass over the files
    spark-submit [--master URL] spark/xetra_daily_job.py --start 2019-01-01 --end 2019-01-31 \\
        --input <root with YYYY-MM-DD/ folders> --output <root; gets YYYY-MM-DD/ folders>

Input: a day's folder of ``YYYY-MM-DD_BINS_XETRhh.csv`` files (anything else, e.g. the Eurex
``..._BINS_XEURhh.csv``, is skipped and counted). The files are RFC 4180 CSV as Deutsche Boerse
writes them: older files quote every string field, newer ones only fields that hold a comma or a
quote; quotes inside a quoted field are doubled; lines end in LF or CRLF. One line is one record
(the PDS never breaks a field over lines). Blank lines and header lines are not data.

A data line is valid when it is well-formed CSV with exactly 14 fields, an ISIN matching
``[A-Z]{2}[A-Z0-9]{9}[0-9]``, a non-empty Mnemonic, Date equal to the day of the file, Time
``HH:MM``, four prices ``[0-9]+(.[0-9]+)?`` with EndPrice > 0, TradedVolume and NumberOfTrades
``[0-9]{1,18}``. Any other data line is malformed, counted under the first rule it breaks:
``fields``, ``isin``, ``mnemonic``, ``date``, ``time``, ``price``, ``volume``, ``trades``.

Never wipe good data: a weekday (Mon-Fri, not a Xetra holiday) whose files give no valid row, or
any day whose malformed share is above ``--max-malformed-share`` (default 0.05), is refused: its
output is not written (an older output stays as it is), the counts are printed, and the exit code
is 3.

Output (per day, overwritten, so a rerun is idempotent): per ISIN, columns trade_date, isin,
mnemonic (largest seen), mean_end_price, vwap (= sum(EndPrice * TradedVolume) /
sum(TradedVolume), null when the volume is 0), total_volume, num_trades, num_bars. Prints one line
``XETRA_STATS {json}`` per day.

This file only needs pyspark: ship it alone to a cluster. Reading ``s3a://`` needs the hadoop-aws
package on the cluster (``--packages org.apache.hadoop:hadoop-aws:<hadoop version>``).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
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
DEFAULT_MAX_MALFORMED_SHARE = 0.05
EXIT_REFUSED = 3
RESULT_SCHEMA = (
    "trade_date DATE, isin STRING, mnemonic STRING, mean_end_price DOUBLE, vwap DOUBLE, "
    "total_volume BIGINT, num_trades BIGINT, num_bars INT"
)


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


def _fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    """(Hadoop FileSystem, Path) for ``path``: local paths, HDFS and s3a:// alike."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), p


def _local_folder(path: str) -> str | None:
    """The local path of ``path`` when it is on the local file system (no scheme, or file:)."""
    from urllib.parse import urlparse

    parsed = urlparse(path)
    if parsed.scheme == "":
        return path
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return parsed.path
    return None


def list_input(spark: SparkSession, input_dir: str, day: date) -> tuple[list[str], list[str]]:
    """(paths of the day's XETR files, names of skipped files) in ``input_dir``. A file whose name
    carries another date than ``day`` is skipped too. Local folders are listed in Python (a month
    of files through py4j costs thousands of round trips), others with Hadoop's FileSystem."""
    import os
    import re

    local = _local_folder(input_dir)
    if local is not None:
        if not os.path.isdir(local):
            raise FileNotFoundError(f"input folder does not exist: {input_dir}")
        keep_local: list[str] = []
        skipped_local: list[str] = []
        with os.scandir(local) as entries:
            for e in entries:
                if not e.is_file():
                    continue
                m = re.fullmatch(XETR_FILE_PATTERN, e.name)
                if m and m.group(1) == day.isoformat():
                    keep_local.append("file://" + os.path.abspath(e.path))
                else:
                    skipped_local.append(e.name)
        return sorted(keep_local), sorted(skipped_local)
    fs, path = _fs(spark, input_dir)
    if not fs.exists(path):
        raise FileNotFoundError(f"input folder does not exist: {input_dir}")
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    pattern = jvm.java.util.regex.Pattern.compile(XETR_FILE_PATTERN)
    keep: list[str] = []
    skipped: list[str] = []
    for status in fs.listStatus(path):
        if not status.isFile():
            continue
        name = status.getPath().getName()
        m = pattern.matcher(name)
        if m.matches() and m.group(1) == day.isoformat():
            keep.append(status.getPath().toString())
        else:
            skipped.append(name)
    return sorted(keep), sorted(skipped)


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


def _replace_dir(spark: SparkSession, src: str, dst: str) -> None:
    """Move ``src`` to ``dst``, replacing ``dst`` (a Hadoop rename; a copy on s3a)."""
    fs, dst_path = _fs(spark, dst)
    _, src_path = _fs(spark, src)
    if fs.exists(dst_path):
        fs.delete(dst_path, True)
    parent = dst_path.getParent()
    if parent is not None:
        fs.mkdirs(parent)
    if not fs.rename(src_path, dst_path):
        raise OSError(f"could not move {src} to {dst}")


def process(
    spark: SparkSession,
    inputs: dict[date, str],
    outputs: dict[date, str] | None,
    max_malformed_share: float = DEFAULT_MAX_MALFORMED_SHARE,
    staging: str | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[DataFrame, dict[date, JobStats]]:
    """Compute every day of ``inputs`` (day -> folder) in one pass over all their files. With
    ``outputs`` (day -> Parquet folder), write each accepted day there (replacing it) through
    ``staging`` (a scratch folder on the same file system); refused days are not written.
    Returns the figures of the accepted days (with ``_day``) and the counts of every day;
    ``timings`` (if given) receives the seconds of each phase."""
    import time

    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + now - clock[0]
        clock[0] = now

    stats: dict[date, JobStats] = {}
    files: list[str] = []
    for day, folder in sorted(inputs.items()):
        keep, skipped = list_input(spark, folder, day)
        stats[day] = JobStats(trade_date=day.isoformat(), xetr_files=len(keep), skipped_files=len(skipped))
        files += keep
    lap("list")

    if files:
        partials = partial_figures(parse_lines(spark, files)).persist()
        counts = (
            partials.where(F.coalesce(F.col("kind") != "header", F.lit(True)))
            .groupBy("_day", "_file", "kind")
            .agg(F.sum("n").alias("n"))
            .collect()
        )
    else:
        partials = spark.createDataFrame(
            [],
            "_day STRING, _file STRING, kind STRING, isin STRING, n BIGINT, mnemonic STRING, "
            "sum_end DOUBLE, sum_pv DOUBLE, sum_vol BIGINT, sum_ntr BIGINT",
        )
        counts = []
    lap("scan")
    figures = daily_figures(partials).persist()
    isins = figures.groupBy("_day").agg(F.count(F.lit(1)).alias("isins")).collect() if files else []
    lap("figures")

    files_with_data: dict[date, set[str]] = {}
    for row in counts:
        day = date.fromisoformat(row["_day"])
        s = stats[day]
        files_with_data.setdefault(day, set()).add(row["_file"])
        s.rows_read += int(row["n"])
        if row["kind"] is None:
            s.rows_valid += int(row["n"])
        else:
            s.rows_malformed += int(row["n"])
            s.malformed_by_kind[row["kind"]] = s.malformed_by_kind.get(row["kind"], 0) + int(row["n"])
    for row in isins:
        stats[date.fromisoformat(row["_day"])].isins = int(row["isins"])
    for day, s in stats.items():
        s.header_only_files = s.xetr_files - len(files_with_data.get(day, ()))
        s.malformed_by_kind = dict(sorted(s.malformed_by_kind.items()))
        s.refused = refusal(s, max_malformed_share, is_trading_day(day))

    accepted = sorted(d.isoformat() for d, s in stats.items() if s.refused is None)
    result = figures.where(F.col("_day").isin(accepted))
    if outputs is not None and accepted:
        _write(spark, result, [date.fromisoformat(d) for d in accepted], outputs, staging)
    lap("write")
    partials.unpersist()
    figures.unpersist()
    return result, stats


def _write(
    spark: SparkSession, result: DataFrame, days: list[date], outputs: dict[date, str], staging: str | None
) -> None:
    """One folder of Parquet per day: written partitioned by day into ``staging``, then each
    partition moved to its day's output. A day without rows gets an empty dataset (so that
    loading it replaces the day's rows with none)."""
    first = outputs[days[0]].rstrip("/")
    staging = staging or f"{first}._staging-{uuid.uuid4().hex[:12]}"
    fs, staging_path = _fs(spark, staging)
    try:
        (
            result.drop("_day")
            .withColumn("_part", F.col("trade_date").cast("string"))
            .repartition("_part")  # one file per day
            .sortWithinPartitions("isin")
            .write.mode("overwrite")
            .partitionBy("_part")
            .parquet(f"{staging}/days")
        )
        empty_written = False
        for day in days:
            part = f"{staging}/days/_part={day.isoformat()}"
            _, part_path = _fs(spark, part)
            if not fs.exists(part_path):
                if not empty_written:
                    spark.createDataFrame([], RESULT_SCHEMA).coalesce(1).write.mode("overwrite").parquet(
                        f"{staging}/empty"
                    )
                    empty_written = True
                jvm = spark.sparkContext._jvm
                assert jvm is not None
                _, empty_path = _fs(spark, f"{staging}/empty")
                conf = spark.sparkContext._jsc.hadoopConfiguration()
                jvm.org.apache.hadoop.fs.FileUtil.copy(fs, empty_path, fs, part_path, False, conf)
            _replace_dir(spark, part, outputs[day])
    finally:
        fs.delete(staging_path, True)


def run(
    spark: SparkSession,
    input_dir: str,
    output_dir: str | None,
    day: date,
    max_malformed_share: float = DEFAULT_MAX_MALFORMED_SHARE,
    timings: dict[str, float] | None = None,
) -> tuple[DataFrame, JobStats]:
    """One day: its folder in, its Parquet folder out (replaced, unless None). Raises
    ``DayRefused`` (nothing written) when the day is refused."""
    outputs = {day: output_dir} if output_dir is not None else None
    result, stats = process(spark, {day: input_dir}, outputs, max_malformed_share, timings=timings)
    if stats[day].refused is not None:
        raise DayRefused(stats[day])
    return result.drop("_day").orderBy("isin"), stats[day]


def run_range(
    spark: SparkSession,
    input_root: str,
    output_root: str | None,
    start: date,
    end: date,
    max_malformed_share: float = DEFAULT_MAX_MALFORMED_SHARE,
    timings: dict[str, float] | None = None,
) -> tuple[DataFrame, dict[date, JobStats], list[date]]:
    """Every day from ``start`` to ``end`` (inclusive) that has a folder ``input_root/YYYY-MM-DD``,
    in one pass; accepted days are written to ``output_root/YYYY-MM-DD``. Returns the figures,
    the counts per day and the days without a folder."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    root = input_root.rstrip("/")
    fs, root_path = _fs(spark, root)
    if not fs.exists(root_path):
        raise FileNotFoundError(f"input root does not exist: {input_root}")
    present = {s.getPath().getName() for s in fs.listStatus(root_path) if s.isDirectory()}
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    inputs = {d: f"{root}/{d.isoformat()}" for d in days if d.isoformat() in present}
    missing = [d for d in days if d.isoformat() not in present]
    outputs = None
    staging = None
    if output_root is not None:
        out = output_root.rstrip("/")
        outputs = {d: f"{out}/{d.isoformat()}" for d in inputs}
        staging = f"{out}/_staging-{uuid.uuid4().hex[:12]}"
    if not inputs:
        return spark.createDataFrame([], RESULT_SCHEMA), {}, missing
    result, stats = process(spark, inputs, outputs, max_malformed_share, staging, timings)
    return result, stats, missing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--date", type=date.fromisoformat, help="one trading day YYYY-MM-DD")
    ap.add_argument("--start", type=date.fromisoformat, help="first day of a backfill")
    ap.add_argument("--end", type=date.fromisoformat, help="last day of a backfill (inclusive)")
    ap.add_argument("--input", required=True, help="the day's folder (--date) or the root of day folders")
    ap.add_argument("--output", required=True, help="the day's Parquet folder (--date) or their root")
    ap.add_argument("--stats-file", help="also write the counts here as JSON")
    ap.add_argument(
        "--max-malformed-share",
        type=float,
        default=DEFAULT_MAX_MALFORMED_SHARE,
        help="refuse a day whose share of malformed data lines is above this (default 0.05)",
    )
    ap.add_argument("--shuffle-partitions", type=int, default=None, help="default: the cores")
    args = ap.parse_args(argv)
    if (args.date is None) == (args.start is None or args.end is None):
        ap.error("give either --date, or --start and --end")
    if not 0.0 <= args.max_malformed_share <= 1.0:
        ap.error("--max-malformed-share must be between 0 and 1")

    name = f"xetra-daily-{args.date}" if args.date else f"xetra-backfill-{args.start}..{args.end}"
    spark = SparkSession.builder.appName(name).getOrCreate()
    # What is shuffled is small (files x ISINs), so one partition per core is enough, locally and
    # on a cluster alike; the default of 200 costs seconds of empty tasks in local mode.
    partitions = args.shuffle_partitions or max(2, spark.sparkContext.defaultParallelism)
    spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
    missing: list[date] = []
    timings: dict[str, float] = {}
    try:
        if args.date is not None:
            try:
                _, one = run(spark, args.input, args.output, args.date, args.max_malformed_share, timings)
            except DayRefused as e:
                one = e.stats
            stats = {args.date: one}
        else:
            _, stats, missing = run_range(
                spark, args.input, args.output, args.start, args.end, args.max_malformed_share, timings
            )
    finally:
        spark.stop()
    for s in stats.values():
        print("XETRA_STATS " + json.dumps(asdict(s), sort_keys=True), flush=True)
    print("XETRA_TIMING " + " ".join(f"{k}={v:.2f}s" for k, v in timings.items()), flush=True)
    refused = [s for s in stats.values() if s.refused]
    for s in refused:
        print(f"XETRA_REFUSED {s.trade_date}: {s.refused}; nothing of that day was written", flush=True)
    if missing:
        print("XETRA_MISSING " + " ".join(d.isoformat() for d in missing), flush=True)
    if args.stats_file:
        payload: dict[str, Any] = {
            "days": [asdict(s) for s in stats.values()],
            "missing": [d.isoformat() for d in missing],
        }
        if args.date is not None:
            payload.update(asdict(stats[args.date]))  # the day's counts at the top level, as before
        with open(args.stats_file, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, sort_keys=True)
    return EXIT_REFUSED if refused else 0


if __name__ == "__main__":
    sys.exit(main())
