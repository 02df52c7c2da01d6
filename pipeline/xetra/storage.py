"""Object storage for the pipeline: a local directory (the default, no cloud needed) or any
S3-compatible service through boto3 (AWS, MinIO, moto, ...).

``open_storage(url)`` takes ``/some/dir``, ``file:///some/dir`` or ``s3://bucket/optional/prefix``.
For S3 the endpoint and credentials come from the arguments, else the environment:
``XETRA_S3_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL``), ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION`` (boto3's usual chain). Keys are ``/``-separated
and relative to the URL's root. ``unsigned=True`` sends anonymous, unsigned requests (botocore
``UNSIGNED``), as public buckets such as Deutsche Boerse's ``s3://deutsche-boerse-xetra-pds/``
expect: no credentials are needed or sent.

Keys come from whoever writes the bucket, so they are not trusted: a key that would leave the
folder it is copied or downloaded into (a ``..`` segment, a leading ``/``, an empty or ``.``
segment) is refused with ``UnsafeKeyError`` before anything is written.
"""

from __future__ import annotations

import builtins
import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

Keys = list[str]  # (the classes below have a method named `list`)

PUBLIC_PDS_BUCKET = "deutsche-boerse-xetra-pds"
PUBLIC_PDS_REGION = "eu-central-1"


# The largest object read into memory (get_bytes, copy_prefix): an hour of Xetra trades is a few
# MB and a day's Parquet output less; a bucket someone else can write must not exhaust memory.
MAX_OBJECT_BYTES = 256 * 1024 * 1024


class UnsafeKeyError(ValueError):
    """A key that would resolve outside the folder it is copied or downloaded into."""


class ObjectTooLarge(ValueError):
    """An object larger than the limit it is read with."""


def check_relative_key(rel: str, full_key: str | None = None) -> str:
    """``rel`` (a key below some prefix) if it stays below that prefix, else ``UnsafeKeyError``."""
    shown = full_key if full_key is not None else rel
    if rel == "" or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        raise UnsafeKeyError(f"refusing key {shown!r}: empty, absolute or with a backslash or NUL")
    bad = [seg for seg in rel.split("/") if seg in ("", ".", "..")]
    if bad:
        raise UnsafeKeyError(
            f"refusing key {shown!r}: its path has a {bad[0]!r} segment and could leave its folder"
        )
    return rel


def contained(local_dir: Path, rel: str, full_key: str | None = None) -> Path:
    """``local_dir / rel``, checked to resolve inside ``local_dir`` (symlinks included)."""
    root = Path(local_dir).resolve()
    dest = (root / check_relative_key(rel, full_key)).resolve()
    if root not in dest.parents:
        raise UnsafeKeyError(f"refusing key {full_key or rel!r}: it resolves to {dest}, outside {root}")
    return dest


class Storage(ABC):
    """A flat key space below one root."""

    url: str

    @abstractmethod
    def list(self, prefix: str = "") -> Keys:
        """Keys below ``prefix`` (recursive), sorted."""

    @abstractmethod
    def get_bytes(self, key: str, max_bytes: int = MAX_OBJECT_BYTES) -> bytes:
        """The object's content; ObjectTooLarge (nothing more read) above ``max_bytes``."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def upload_file(self, local: Path, key: str) -> None: ...

    @abstractmethod
    def download_file(self, key: str, local: Path) -> None: ...

    @abstractmethod
    def delete(self, keys: Keys) -> None: ...

    def exists(self, key: str) -> bool:
        return key in self.list(key)

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        self.delete(keys)
        return len(keys)

    def upload_dir(self, local_dir: Path, prefix: str, replace: bool = True) -> Keys:
        """Upload every file below ``local_dir`` to ``prefix/<relative path>``; with ``replace``,
        first remove keys below ``prefix`` that the folder does not have (so a rerun converges)."""
        prefix = prefix.rstrip("/")
        wanted = {
            f"{prefix}/{p.relative_to(local_dir).as_posix()}": p
            for p in sorted(Path(local_dir).rglob("*"))
            if p.is_file()
        }
        if replace:
            stale = [k for k in self.list(prefix + "/") if k not in wanted]
            self.delete(stale)
        for key, path in wanted.items():
            self.upload_file(path, key)
        return sorted(wanted)

    def download_prefix(self, prefix: str, local_dir: Path) -> builtins.list[Path]:
        """Download every key below ``prefix/`` into ``local_dir`` keeping relative paths. Every
        destination is checked to stay inside ``local_dir`` before the first download."""
        prefix = prefix.rstrip("/") + "/"
        keys = self.list(prefix)
        dests = [contained(Path(local_dir), key[len(prefix) :], key) for key in keys]
        out = []
        for key, dest in zip(keys, dests, strict=True):
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.download_file(key, dest)
            out.append(dest)
        return out


class LocalStorage(Storage):
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if p != self.root and self.root not in p.parents:
            raise ValueError(f"key escapes the storage root: {key!r}")
        return p

    def list(self, prefix: str = "") -> Keys:
        if not self.root.exists():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix))

    def get_bytes(self, key: str, max_bytes: int = MAX_OBJECT_BYTES) -> bytes:
        with self._path(key).open("rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ObjectTooLarge(f"{self.url}/{key}: larger than {max_bytes} bytes")
        return data

    def put_bytes(self, key: str, data: bytes) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)

    def upload_file(self, local: Path, key: str) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copyfile(local, tmp)
        os.replace(tmp, dest)

    def download_file(self, key: str, local: Path) -> None:
        shutil.copyfile(self._path(key), local)

    def delete(self, keys: Keys) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path:
        """Where ``key`` lives on disk (local storage only)."""
        return self._path(key)


class S3Storage(Storage):
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        create_bucket: bool = False,
        unsigned: bool = False,
    ) -> None:
        import boto3  # imported here so that local-only use needs no boto3
        from botocore import UNSIGNED
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        endpoint_url = (
            endpoint_url or os.environ.get("XETRA_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
        )
        kwargs: dict[str, Any] = {}
        if endpoint_url:
            kwargs["endpoint_url"] = endpoint_url
        self.unsigned = unsigned
        if unsigned:  # anonymous: no credentials looked up, no signature sent
            kwargs["config"] = Config(signature_version=UNSIGNED)
        elif access_key and secret_key:
            kwargs["aws_access_key_id"] = access_key
            kwargs["aws_secret_access_key"] = secret_key
        default_region = PUBLIC_PDS_REGION if bucket == PUBLIC_PDS_BUCKET else "us-east-1"
        kwargs["region_name"] = region or os.environ.get("AWS_DEFAULT_REGION") or default_region
        self.client = boto3.client("s3", **kwargs)
        if create_bucket:
            self.ensure_bucket()

    def ensure_bucket(self) -> None:
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            self.client.create_bucket(Bucket=self.bucket)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _rel(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def list(self, prefix: str = "") -> Keys:
        out: Keys = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            out.extend(self._rel(obj["Key"]) for obj in page.get("Contents", []))
        return sorted(out)

    def get_bytes(self, key: str, max_bytes: int = MAX_OBJECT_BYTES) -> bytes:
        obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        body = obj["Body"]
        try:
            # The announced length first, then the bytes read: a server may not tell the truth.
            if int(obj.get("ContentLength") or 0) > max_bytes:
                raise ObjectTooLarge(f"{self.url}/{key}: {obj['ContentLength']} bytes, more than {max_bytes}")
            data = bytes(body.read(max_bytes + 1))
        finally:
            body.close()
        if len(data) > max_bytes:
            raise ObjectTooLarge(f"{self.url}/{key}: larger than {max_bytes} bytes")
        return data

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def upload_file(self, local: Path, key: str) -> None:
        self.client.upload_file(str(local), self.bucket, self._key(key))

    def download_file(self, key: str, local: Path) -> None:
        self.client.download_file(self.bucket, self._key(key), str(local))

    def delete(self, keys: Keys) -> None:
        for i in range(0, len(keys), 1000):
            batch: Any = [{"Key": self._key(k)} for k in keys[i : i + 1000]]
            if batch:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})


def open_storage(url: str, **s3_options: Any) -> Storage:
    """A ``Storage`` for a local path, ``file://`` URL or ``s3://bucket/prefix`` URL."""
    parsed = urlparse(url)
    if parsed.scheme in ("s3", "s3a"):
        if not parsed.netloc:
            raise ValueError(f"no bucket in {url!r}")
        return S3Storage(parsed.netloc, parsed.path, **s3_options)
    if parsed.scheme == "file":
        return LocalStorage(parsed.path)
    if parsed.scheme == "":
        return LocalStorage(url)
    raise ValueError(f"unsupported storage URL {url!r} (use a path, file:// or s3://)")


def copy_prefix(src: Storage, src_prefix: str, dst: Storage, dst_prefix: str) -> Keys:
    """Copy every key below ``src_prefix/`` to ``dst_prefix/`` (same relative keys), replacing
    what was there: the result does not depend on how often it runs. Refuses (``UnsafeKeyError``,
    before copying or deleting anything) when a source key would leave ``dst_prefix/``."""
    src_prefix = src_prefix.rstrip("/") + "/"
    dst_prefix = dst_prefix.rstrip("/") + "/"
    src_keys = src.list(src_prefix)
    wanted = {dst_prefix + check_relative_key(k[len(src_prefix) :], k): k for k in src_keys}
    dst.delete([k for k in dst.list(dst_prefix) if k not in wanted])
    for dkey, skey in wanted.items():
        dst.put_bytes(dkey, src.get_bytes(skey))
    return sorted(wanted)
