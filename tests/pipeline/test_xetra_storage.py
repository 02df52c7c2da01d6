"""Local-directory and S3 (moto server on 127.0.0.1) storage behave the same."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import REPO

from pipeline.xetra.generate import SampleSummary
from pipeline.xetra.storage import LocalStorage, S3Storage, Storage, copy_prefix, open_storage


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
