"""How the transform hands S3 to Spark: when direct I/O is chosen, what goes on the command line
(never the keys), and the pinned s3a jars (pure functions: fast, no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.xetra.spark_submit import (
    ACCESS_KEY_ENV,
    MANIFEST,
    SECRET_KEY_ENV,
    s3a_confs,
    s3a_jars,
    spark_io_mode,
)


@pytest.mark.parametrize(
    ("configured", "lake_is_s3", "master", "want"),
    [
        ("", True, "spark://10.0.0.5:7077", "direct"),  # the default on a cluster with an S3 lake
        ("auto", True, "yarn", "direct"),
        ("auto", True, "local[2]", "stage"),  # local Spark: staging through a temp dir, as before
        ("auto", False, "spark://10.0.0.5:7077", "stage"),  # a folder lake: nothing to read via s3a
        ("stage", True, "spark://10.0.0.5:7077", "stage"),  # an explicit choice wins
        ("direct", True, "local[2]", "direct"),
    ],
)
def test_spark_io_mode(configured: str, lake_is_s3: bool, master: str, want: str) -> None:
    assert spark_io_mode(configured, lake_is_s3, master) == want


def test_spark_io_mode_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="spark_io must be one of"):
        spark_io_mode("s3a", True, "local[2]")
    with pytest.raises(ValueError, match="needs an S3 lake"):
        spark_io_mode("direct", False, "spark://h:7077")


def test_s3a_confs_keep_the_keys_off_the_command_line() -> None:
    args, env = s3a_confs(
        {
            "endpoint_url": "http://127.0.0.1:9000",
            "region": "eu-central-1",
            "access_key": "AKIAEXAMPLE",
            "secret_key": "s3cr3t-value",
        }  # fmt: skip
    )
    joined = " ".join(args)
    assert "s3cr3t-value" not in joined and "AKIAEXAMPLE" not in joined
    assert env == {ACCESS_KEY_ENV: "AKIAEXAMPLE", SECRET_KEY_ENV: "s3cr3t-value"}
    confs = dict(a.split("=", 1) for a in args if a != "--conf")
    assert confs["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert confs["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert confs["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert confs["spark.hadoop.fs.s3a.endpoint.region"] == "eu-central-1"


def test_s3a_jars_setting_and_missing_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert s3a_jars("none") == []
    assert s3a_jars("/a.jar, /b.jar") == ["/a.jar", "/b.jar"]
    monkeypatch.setenv("AF_SPARK_JARS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="s3a jars missing"):
        s3a_jars("")
    names = [ln.split()[1].rsplit("/", 1)[1] for ln in MANIFEST.read_text().splitlines() if ln[:1].isalnum()]
    assert "hadoop-aws-3.5.0.jar" in names and not any("bundle" in n for n in names)
    for n in names:
        (tmp_path / n).write_bytes(b"")
    assert s3a_jars("") == [str(tmp_path / n) for n in names]
