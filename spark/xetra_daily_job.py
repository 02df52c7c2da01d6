"""Daily Xetra figures with Spark DataFrames: one trading day's PDS files in, one Parquet dataset out.

    spark-submit [--master URL] spark/xetra_daily_job.py --date 2019-01-02 \\
        --input <dir or s3a://bucket/raw/2019-01-02> --output <dir or s3a://.../2019-01-02> \\
        [--stats-file stats.json]

Input: the day's folder of ``YYYY-MM-DD_BINS_XETRhh.csv`` files (any other file, e.g. the Eurex
``..._BINS_XEURhh.csv``, is skipped). Lines are split on ``,``; blank lines and header lines are
ignored; a data line is valid when it has no ``"``, exactly 14 fields, an ISIN matching
``[A-Z]{2}[A-Z0-9]{9}[0-9]``, a non-empty Mnemonic, Date equal to ``--date``, Time ``HH:MM``, four
prices ``[0-9]+(.[0-9]+)?`` with EndPrice > 0, and TradedVolume / NumberOfTrades ``[0-9]{1,18}``.
Other data lines are malformed: counted and dropped.

Output (overwritten, so a rerun is idempotent): per ISIN, columns trade_date, isin, mnemonic
(largest seen), mean_end_price, vwap (= sum(EndPrice * TradedVolume) / sum(TradedVolume), null
when the volume is 0), total_volume, num_trades, num_bars. Prints one line ``XETRA_STATS {json}``.

This file only needs pyspark: ship it alone to a cluster. Reading ``s3a://`` needs the hadoop-aws
package on the cluster (``--packages org.apache.hadoop:hadoop-aws:<hadoop version>``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from datetime import date
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
HEADER = ",".join(COLUMNS)
XETR_FILE_PATTERN = r"\d{4}-\d{2}-\d{2}_BINS_XETR\d{2}\.csv"
PRICE_RE = r"^[0-9]+(\.[0-9]+)?$"
INT_RE = r"^[0-9]{1,18}$"


@dataclass
class JobStats:
    trade_date: str
    xetr_files: int
    header_only_files: int
    skipped_files: int
    rows_read: int
    rows_valid: int
    rows_malformed: int
    isins: int


def list_input(spark: SparkSession, input_dir: str) -> tuple[list[str], list[str]]:
    """(XETR file paths, names of skipped files) in ``input_dir``, via Hadoop's FileSystem API so
    that local paths, HDFS and s3a:// all work."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    path = jvm.org.apache.hadoop.fs.Path(input_dir)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[union-attr]
    if not fs.exists(path):
        raise FileNotFoundError(f"input folder does not exist: {input_dir}")
    keep: list[str] = []
    skipped: list[str] = []
    pattern = jvm.java.util.regex.Pattern.compile(XETR_FILE_PATTERN)
    for status in fs.listStatus(path):
        if not status.isFile():
            continue
        name = status.getPath().getName()
        if pattern.matcher(name).matches():
            keep.append(status.getPath().toString())
        else:
            skipped.append(name)
    return sorted(keep), sorted(skipped)


def parse_lines(spark: SparkSession, files: list[str], day: date) -> DataFrame:
    """One row per data line: the 14 fields (null where missing), ``_file`` and ``_valid``."""
    raw = (
        spark.read.text(files)
        .select(F.col("value").alias("line"), F.col("_metadata.file_path").alias("_file"))
        .where((F.col("line") != "") & (F.col("line") != HEADER))
    )
    parts = F.split(F.col("line"), ",", -1)
    fields = [F.get(parts, i).alias(name) for i, name in enumerate(COLUMNS)]  # null if missing
    df = raw.select("line", "_file", F.size(parts).alias("_nfields"), *fields)

    def matches(col: str, regex: str) -> Column:
        return F.col(col).rlike(regex)

    valid = (
        ~F.col("line").contains('"')
        & (F.col("_nfields") == len(COLUMNS))
        & matches("ISIN", r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
        & (F.col("Mnemonic") != "")
        & (F.col("Date") == day.isoformat())
        & matches("Time", r"^[0-9]{2}:[0-9]{2}$")
        & matches("StartPrice", PRICE_RE)
        & matches("MaxPrice", PRICE_RE)
        & matches("MinPrice", PRICE_RE)
        & matches("EndPrice", PRICE_RE)
        & (F.col("EndPrice").try_cast("double") > 0)
        & matches("TradedVolume", INT_RE)
        & matches("NumberOfTrades", INT_RE)
    )
    return df.withColumn("_valid", F.coalesce(valid, F.lit(False)))


def daily_figures(rows: DataFrame, day: date) -> DataFrame:
    """Aggregate valid rows to one row per ISIN."""
    good = rows.where(F.col("_valid")).select(
        "ISIN",
        "Mnemonic",
        F.col("EndPrice").cast("double").alias("end"),
        F.col("TradedVolume").cast("long").alias("vol"),
        F.col("NumberOfTrades").cast("long").alias("ntr"),
    )
    agg = good.groupBy("ISIN").agg(
        F.max("Mnemonic").alias("mnemonic"),
        F.avg("end").alias("mean_end_price"),
        F.sum(F.col("end") * F.col("vol")).alias("_pv"),
        F.sum("vol").alias("total_volume"),
        F.sum("ntr").alias("num_trades"),
        F.count(F.lit(1)).cast("int").alias("num_bars"),
    )
    return agg.select(
        F.lit(day).alias("trade_date"),
        F.col("ISIN").alias("isin"),
        "mnemonic",
        "mean_end_price",
        F.when(F.col("total_volume") > 0, F.col("_pv") / F.col("total_volume")).alias("vwap"),
        "total_volume",
        "num_trades",
        "num_bars",
    ).orderBy("isin")


def run(spark: SparkSession, input_dir: str, output_dir: str | None, day: date) -> tuple[DataFrame, JobStats]:
    """Compute one day; write Parquet to ``output_dir`` (overwrite) unless it is None."""
    files, skipped = list_input(spark, input_dir)
    if files:
        rows = parse_lines(spark, files, day).persist()
        per_file = (
            rows.groupBy("_file")
            .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("_valid").cast("long")).alias("ok"))
            .collect()
        )
        rows_read = sum(int(r["n"]) for r in per_file)
        rows_valid = sum(int(r["ok"] or 0) for r in per_file)
        files_with_data = len(per_file)
        result = daily_figures(rows, day)
    else:
        rows = None
        rows_read = rows_valid = files_with_data = 0
        result = daily_figures(
            spark.createDataFrame(
                [],
                "ISIN string, Mnemonic string, EndPrice string, "
                "TradedVolume string, NumberOfTrades string, _valid boolean",
            ),
            day,
        )
    if output_dir is not None:
        result.coalesce(1).write.mode("overwrite").parquet(output_dir)
        isins = spark.read.parquet(output_dir).count()
    else:
        isins = result.count()
    if rows is not None:
        rows.unpersist()
    stats = JobStats(
        trade_date=day.isoformat(),
        xetr_files=len(files),
        header_only_files=len(files) - files_with_data,
        skipped_files=len(skipped),
        rows_read=rows_read,
        rows_valid=rows_valid,
        rows_malformed=rows_read - rows_valid,
        isins=isins,
    )
    return result, stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--date", required=True, type=date.fromisoformat, help="trading day YYYY-MM-DD")
    ap.add_argument("--input", required=True, help="folder of the day's PDS files")
    ap.add_argument("--output", required=True, help="Parquet output folder for the day")
    ap.add_argument("--stats-file", help="also write the run's counts here as JSON")
    ap.add_argument("--shuffle-partitions", type=int, default=None)
    args = ap.parse_args(argv)

    builder = SparkSession.builder.appName(f"xetra-daily-{args.date.isoformat()}")
    if args.shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
    spark = builder.getOrCreate()
    try:
        _, stats = run(spark, args.input, args.output, args.date)
    finally:
        spark.stop()
    payload: dict[str, Any] = asdict(stats)
    print("XETRA_STATS " + json.dumps(payload, sort_keys=True), flush=True)
    if args.stats_file:
        with open(args.stats_file, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
