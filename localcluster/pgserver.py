"""A throwaway PostgreSQL server for tests, the demo and benchmarks.

initdb + pg_ctl into a temporary directory, listening on 127.0.0.1 on a free port, trust auth on
loopback. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
(created by Debian's postgresql package). A server can also be made a streaming replica of
another (`init_replica_of`: pg_basebackup -R), promoted, and killed outright (`kill9`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .ports import free_tcp_port
from .procfs import alive, descendants


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
        # extra environment of the server's processes (e.g. libfaketime for a clock fault)
        self.env: dict[str, str] = {}
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root, 0o755)
            self._as_user = ["runuser", "-u", "postgres", "--"]

    # -- lifecycle -----------------------------------------------------------------------------
    def _run(self, *args: str) -> None:
        cmd = self._as_user + [str(self.bindir / args[0]), *args[1:]]
        env = {**os.environ, **self.env} if self.env else None
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
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

    def _own_settings(self) -> str:
        """Settings that make a copied data directory this server's (the last setting wins)."""
        return f"\nport = {self.port}\nunix_socket_directories = '{self.root}'\n"

    def init_replica_of(self, primary: PgServer, host: str | None = None) -> None:
        """This server's data directory as an asynchronous streaming replica of `primary`
        (pg_basebackup -R writes primary_conninfo and standby.signal). It connects to
        `host` (default: the primary's Unix socket directory) on the primary's port."""
        self._run(
            "pg_basebackup",
            "-D",
            str(self.datadir),
            "-h",
            host or str(primary.root),
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-X",
            "stream",
            "-R",
            "--no-sync",
            "-c",
            "fast",
        )
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write(self._own_settings())

    def is_in_recovery(self) -> bool:
        return self.psql("SELECT pg_is_in_recovery()") == "t"

    def promote(self) -> None:
        """pg_ctl promote, waiting until the server accepts writes."""
        self._run("pg_ctl", "-D", str(self.datadir), "-w", "-t", "30", "promote")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pm = self.postmaster_pid()
        return pm is not None and alive(pm)

    def kill9(self) -> None:
        """SIGKILL to the postmaster and every child at once: the server is gone as in a power
        loss of its host (no shutdown checkpoint, sockets reset by the kernel)."""
        pm = self.postmaster_pid()
        if pm is None:
            return
        pids = [pm, *descendants(pm)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.02)

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
            self.kill9()  # a server whose pg_ctl stop fails (half started, already killed)
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
