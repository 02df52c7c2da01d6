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

The job is three files: this one, ``xetra_rules.py`` (the rules and figures as DataFrame
expressions) and ``xetra_days.py`` (calendar, counts, refusal); only pyspark is needed. The driver
imports the other two from this file's folder (give them with ``--py-files`` when the driver runs
elsewhere, e.g. in cluster deploy mode); executors run none of our Python. ``s3a://`` needs
hadoop-aws and its AWS SDK jars (``--jars``, see scripts/lib/spark-jars.sh); the keys come from the
environment (``XETRA_S3A_ACCESS_KEY``, ``XETRA_S3A_SECRET_KEY``), never from the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

# The job's other modules sit beside it (spark-submit puts the script's folder on the driver's
# path; loaded by file name, as the tests do, it is added here). Executors run no Python of ours.
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from xetra_days import (  # noqa: E402
    DEFAULT_MAX_MALFORMED_SHARE,
    DayRefused,
    JobStats,
    is_trading_day,
    refusal,
    xetra_holidays,
)
from xetra_rules import (  # noqa: E402
    RESULT_SCHEMA,
    XETR_FILE_PATTERN,
    daily_figures,
    parse_lines,
    partial_figures,
)

__all__ = ["DayRefused", "JobStats", "is_trading_day", "xetra_holidays", "run", "run_range", "main"]
EXIT_REFUSED = 3


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


def _s3a_keys_from_env(spark: SparkSession) -> None:
    """The s3a keys from the environment into the session's Hadoop configuration, which Spark
    ships to the executors (a --conf would show the secret in ps and in the task log)."""
    access, secret = os.environ.get("XETRA_S3A_ACCESS_KEY"), os.environ.get("XETRA_S3A_SECRET_KEY")
    if access and secret:
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        conf.set("fs.s3a.access.key", access)
        conf.set("fs.s3a.secret.key", secret)


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
    _s3a_keys_from_env(spark)
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
