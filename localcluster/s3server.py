"""A local S3-compatible server (the pinned moto server) for the Xetra pipeline.

It holds two buckets: the source in the public Deutsche Boerse bucket's name and key layout
(``deutsche-boerse-xetra-pds/YYYY-MM-DD/YYYY-MM-DD_BINS_XETRhh.csv``) and the pipeline's own lake.
moto keeps everything in memory: nothing outlives the server.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ports import free_tcp_port
from .procs import spawn, stop, wait_port

PUBLIC_BUCKET = "deutsche-boerse-xetra-pds"
LAKE_BUCKET = "xetra-lake"
# moto accepts any credentials; these are what the pipeline's connection is given.
ACCESS_KEY = "local-demo"
SECRET_KEY = "local-demo-secret"
REGION = "eu-central-1"


@dataclass
class S3Server:
    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_tcp_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        moto = Path(sys.executable).parent / "moto_server"
        if not moto.exists():
            raise RuntimeError(f"{moto} missing: the venv lacks moto[server] (run scripts/demo.sh)")
        log = self.workdir / "s3.log"
        self.proc = spawn([str(moto), "-H", "127.0.0.1", "-p", str(self.port)], self.env, log)
        wait_port("127.0.0.1", self.port, 60, "the moto S3 server", self.proc, log)
        return self

    def client(self) -> Any:  # boto3 clients are untyped
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})

    def upload_tree(self, root: Path, bucket: str) -> int:
        """Uploads every file below ``root`` with its relative path as the key; returns the count."""
        client = self.client()
        n = 0
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            client.upload_file(str(path), bucket, path.relative_to(root).as_posix())
            n += 1
        return n

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
