"""Local-directory and S3 (moto server on 127.0.0.1) storage behave the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest

from pipeline.xetra.generate import SampleSummary
from pipeline.xetra.storage import (
    PUBLIC_PDS_BUCKET,
    LocalStorage,
    ObjectTooLarge,
    S3Storage,
    Storage,
    UnsafeKeyError,
    contained,
    copy_prefix,
    open_storage,
)
from tests.support.helpers import REPO


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return open_storage(str(tmp_path / "bucket"))
    endpoint = request.getfixturevalue("s3_endpoint")
    s = open_storage(f"s3://b-{uuid.uuid4().hex[:12]}/some/prefix", endpoint_url=endpoint)
    assert isinstance(s, S3Storage)
    s.ensure_bucket()
    return s


def test_put_get_list_delete(store: Storage, tmp_path: Path) -> None:
    store.put_bytes("a/1.csv", b"one")
    store.put_bytes("a/2.csv", b"two")
    store.put_bytes("b/3.csv", b"three")
    assert store.list() == ["a/1.csv", "a/2.csv", "b/3.csv"]
    assert store.list("a/") == ["a/1.csv", "a/2.csv"]
    assert store.get_bytes("a/2.csv") == b"two"
    assert store.exists("b/3.csv") and not store.exists("b/4.csv")
    local = tmp_path / "x.bin"
    store.download_file("b/3.csv", local)
    assert local.read_bytes() == b"three"
    assert store.delete_prefix("a/") == 2
    assert store.list() == ["b/3.csv"]


def test_upload_dir_replaces_and_download_prefix(store: Storage, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "x.parquet").write_bytes(b"x")
    (src / "sub" / "y").write_bytes(b"y")
    store.put_bytes("out/stale.parquet", b"old")
    keys = store.upload_dir(src, "out")
    assert keys == ["out/sub/y", "out/x.parquet"] == store.list("out/")
    got = store.download_prefix("out", tmp_path / "dl")
    assert sorted(p.relative_to(tmp_path / "dl").as_posix() for p in got) == ["sub/y", "x.parquet"]


def test_copy_prefix_is_idempotent(store: Storage, sample: SampleSummary) -> None:
    src = LocalStorage(sample.root)
    day = sample.days[0].day.isoformat()
    store.put_bytes(f"raw/{day}/left-over.csv", b"stale")
    first = copy_prefix(src, day, store, f"raw/{day}")
    second = copy_prefix(src, day, store, f"raw/{day}")
    assert first == second == store.list(f"raw/{day}/")
    assert len(first) == len(list((sample.root / day).iterdir()))
    name = sorted((sample.root / day).iterdir())[1].name
    assert store.get_bytes(f"raw/{day}/{name}") == (sample.root / day / name).read_bytes()


def test_bad_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        open_storage("ftp://host/x")
    with pytest.raises(ValueError):
        open_storage("s3:///nobucket")
    with pytest.raises(ValueError):
        LocalStorage(tmp_path).put_bytes("../escape", b"")
    assert isinstance(open_storage(tmp_path.as_uri()), LocalStorage)


def test_generator_cli_uploads_to_s3(s3_endpoint: str) -> None:
    bucket = f"pds-{uuid.uuid4().hex[:12]}"
    S3Storage(bucket, endpoint_url=s3_endpoint, create_bucket=True)
    env = dict(os.environ, XETRA_S3_ENDPOINT_URL=s3_endpoint)
    cmd = [sys.executable, str(REPO / "scripts" / "make-xetra-sample"), "--out", f"s3://{bucket}/pds",
           "--start", "2019-01-07", "--days", "1", "--tickers", "2", "--quiet"]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    keys = S3Storage(bucket, "pds", endpoint_url=s3_endpoint).list("2019-01-07/")
    assert "2019-01-07/2019-01-07_BINS_XETR08.csv" in keys and len(keys) == 15


@pytest.mark.parametrize(
    "bad",
    ["../escape.csv", "sub/../../escape.csv", "/etc/escape.csv", "./x.csv", "a//b.csv"],
)
def test_keys_that_leave_their_folder_are_refused(
    s3_endpoint: str, tmp_path: Path, sample: SampleSummary, bad: str
) -> None:
    """A source key with ``..`` segments or an absolute remainder (``day//etc/...``) is refused at
    ingest (copy) and at download, before anything is written."""
    src = S3Storage(f"src-{uuid.uuid4().hex[:12]}", endpoint_url=s3_endpoint, create_bucket=True)
    lake = LocalStorage(tmp_path / "lake")
    day = "2019-01-03"
    src.put_bytes(f"{day}/{day}_BINS_XETR08.csv", b"ISIN\n")
    src.put_bytes(f"{day}/{bad}", b"pwned")
    assert f"{day}/{bad}" in src.list(f"{day}/")  # S3 keeps the key as written
    with pytest.raises(UnsafeKeyError, match="refusing key"):
        copy_prefix(src, day, lake, f"raw/{day}")
    assert lake.list() == []  # nothing copied, not even the good file
    dest = tmp_path / "dl" / "in"
    with pytest.raises(UnsafeKeyError, match="refusing key"):
        src.download_prefix(day, dest)
    assert not dest.exists() or list(dest.rglob("*")) == []
    assert not (tmp_path / "dl" / "escape.csv").exists() and not Path("/etc/escape.csv").exists()


def test_contained_follows_symlinks(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "link").symlink_to(tmp_path)
    assert contained(tmp_path / "in", "a/b.csv") == (tmp_path / "in" / "a" / "b.csv").resolve()
    with pytest.raises(UnsafeKeyError, match="outside"):
        contained(tmp_path / "in", "link/x.csv")


def test_public_bucket_layout_read_unsigned(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public PDS bucket's name and key layout on moto, read with no credentials at all: the
    requests carry no signature, and the same read signed fails for lack of credentials."""
    from botocore.exceptions import NoCredentialsError

    from pipeline.xetra.generate import generate

    g = generate(tmp_path / "pds", date(2019, 1, 7), 1, 3, seed=2)
    owner = S3Storage(PUBLIC_PDS_BUCKET, endpoint_url=s3_endpoint, create_bucket=True)
    local = LocalStorage(g.root)
    for key in local.list():
        owner.upload_file(local.local_path(key), key)
    # readable by anyone, as the published bucket is (moto refuses anonymous reads otherwise)
    arn = f"arn:aws:s3:::{PUBLIC_PDS_BUCKET}"
    allow = {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"]}
    policy = {"Version": "2012-10-17", "Statement": [{**allow, "Resource": [arn, f"{arn}/*"]}]}
    owner.client.put_bucket_policy(Bucket=PUBLIC_PDS_BUCKET, Policy=json.dumps(policy))

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    anon = open_storage(f"s3://{PUBLIC_PDS_BUCKET}", endpoint_url=s3_endpoint, unsigned=True)
    assert isinstance(anon, S3Storage)
    headers: list[dict[str, str]] = []
    anon.client.meta.events.register(
        "before-send.s3", lambda request, **_: headers.append(dict(request.headers))
    )
    keys = anon.list("2019-01-07/")
    assert "2019-01-07/2019-01-07_BINS_XETR08.csv" in keys
    assert (
        anon.get_bytes("2019-01-07/2019-01-07_BINS_XETR08.csv")
        == (g.root / "2019-01-07" / "2019-01-07_BINS_XETR08.csv").read_bytes()
    )
    got = copy_prefix(anon, "2019-01-07", LocalStorage(tmp_path / "lake"), "raw/2019-01-07")
    assert len(got) == len(keys)
    assert headers and all("Authorization" not in h for h in headers)

    import boto3

    signed = boto3.session.Session().client("s3", endpoint_url=s3_endpoint, region_name="eu-central-1")
    with pytest.raises(NoCredentialsError):  # (a fresh session: boto3's default one caches keys)
        signed.list_objects_v2(Bucket=PUBLIC_PDS_BUCKET, Prefix="2019-01-07/")


def test_source_settings_for_the_public_bucket(airflow_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """(airflow_home: the settings import Airflow, which must be configured first.)"""
    from pipeline.xetra.config import max_malformed_share, source_s3_options

    monkeypatch.delenv("XETRA_SOURCE_UNSIGNED", raising=False)
    assert source_s3_options(f"s3://{PUBLIC_PDS_BUCKET}").get("unsigned") is True
    # a connection with keys: a mirror under the public name, read signed (the demo's moto bucket)
    conn = {
        "conn_type": "aws",
        "login": "k",
        "password": "s",
        "extra": {"endpoint_url": "http://127.0.0.1:1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_XETRA_SOURCE_S3", json.dumps(conn))
    signed = source_s3_options(f"s3://{PUBLIC_PDS_BUCKET}")
    assert "unsigned" not in signed and signed["access_key"] == "k"
    monkeypatch.delenv("AIRFLOW_CONN_XETRA_SOURCE_S3")
    assert "unsigned" not in source_s3_options("s3://my-own-bucket")
    monkeypatch.setenv("XETRA_SOURCE_UNSIGNED", "true")
    assert source_s3_options("s3://my-own-bucket").get("unsigned") is True
    monkeypatch.setenv("XETRA_SOURCE_UNSIGNED", "false")
    assert "unsigned" not in source_s3_options(f"s3://{PUBLIC_PDS_BUCKET}")
    monkeypatch.setenv("XETRA_SOURCE_UNSIGNED", "maybe")
    with pytest.raises(ValueError, match="source_unsigned must be auto, true or false"):
        source_s3_options(f"s3://{PUBLIC_PDS_BUCKET}")
    monkeypatch.setenv("XETRA_MAX_MALFORMED_SHARE", "5%")
    with pytest.raises(ValueError, match="max_malformed_share must be a number"):
        max_malformed_share()
    monkeypatch.setenv("XETRA_MAX_MALFORMED_SHARE", "0.1")
    assert max_malformed_share() == 0.1


def test_get_bytes_stops_at_the_size_limit(store: Storage) -> None:
    """Attack: an object far larger than anything the pipeline reads (a bucket others can write).
    Read with a limit, it raises instead of loading it all into memory."""
    store.put_bytes("big.csv", b"x" * 4096)
    assert store.get_bytes("big.csv", max_bytes=4096) == b"x" * 4096
    with pytest.raises(ObjectTooLarge, match="4095"):
        store.get_bytes("big.csv", max_bytes=4095)
