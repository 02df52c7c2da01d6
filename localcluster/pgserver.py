"""A throwaway PostgreSQL server for tests, the demo and benchmarks.

initdb + pg_ctl into a temporary directory, listening on 127.0.0.1 on a free port, trust auth on
loopback. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
(created by Debian's postgresql package).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .ports import free_tcp_port


def _pg_bindir() -> Path:
    for cmd in ("pg_config",):
        exe = shutil.which(cmd)
        if exe:
            out = subprocess.run([exe, "--bindir"], capture_output=True, text=True, check=False)
            cand = Path(out.stdout.strip())
            if (cand / "initdb").exists():
                return cand
    hits = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not hits:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    return Path(hits[-1]).parent


class PgServer:
    """One PostgreSQL cluster in a temp dir. Use as a context manager or call start()/stop()."""

    def __init__(self, base_dir: str | None = None, port: int | None = None) -> None:
        self.bindir = _pg_bindir()
        self.port = port or free_tcp_port()
        self.root = Path(tempfile.mkdtemp(prefix="af-pg-", dir=base_dir))
        self.datadir = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o755)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    # -- lifecycle -----------------------------------------------------------------------------
    def _run(self, *args: str) -> None:
        cmd = self._as_user + [str(self.bindir / args[0]), *args[1:]]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\n"
            )

    def start(self) -> PgServer:
        if not self.datadir.exists():
            self.init()
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-w",
            "-t",
            "30",
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "30", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgServer:  # noqa: PYI034 - start() returns self
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    # -- access --------------------------------------------------------------------------------
    def conninfo(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"

    def url(
        self,
        dbname: str = "postgres",
        user: str = "postgres",
        driver: str = "postgresql",
    ) -> str:
        return f"{driver}://{user}@127.0.0.1:{self.port}/{dbname}"

    # Where psql connects, and how long it may take (None: no limit); a subclass may differ.
    psql_host = "127.0.0.1"
    psql_timeout: float | None = None

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL through psql; returns unaligned, tuples-only output."""
        res = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.psql_host),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                dbname,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=self.psql_timeout,
        )
        if res.returncode != 0:
            raise RuntimeError(f"psql failed: {res.stderr.strip()}")
        return res.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.psql("SELECT 1")
                return
            except RuntimeError:
                time.sleep(0.1)
        raise TimeoutError("PostgreSQL did not become ready")


if __name__ == "__main__":  # manual check: python3 -m localcluster.pgserver
    with PgServer() as pg:
        print(pg.conninfo(), pg.psql("select version()"))
