"""Two scheduler hosts and a database host made of Linux namespaces, for tests/deploy (root).

Each scheduler host is a network namespace (`afd<pid>-a`, `afd<pid>-b`; eth0 on a bridge in
`afd<pid>-sw`, as localcluster/chaos/netns.py builds them) plus a persistent UTS namespace (its own
`hostname`, short as on EC2: `ip-10-0-0-11`) and a persistent mount namespace in which:

- `/etc` is a copy of this machine's, with the host's own `/etc/hosts` (the canonical name
  first: `10.0.0.11 ip-10-0-0-11.ec2.internal ip-10-0-0-11`, so Airflow's getfqdn and
  gethostname() differ as on EC2), its own users (postinst's adduser writes there) and its own
  `/etc/airflow-failover`;
- `/var/lib/dpkg` is a copy of this machine's, so `dpkg -i` and `dpkg --purge` on each host
  change that host's package database only (the package's files under /usr are shared: both hosts
  install the same files; the machine's own dpkg database is never written);
- `/var/lib/airflow`, `/var/lib/airflow-failover`, `/var/log/airflow`, `/var/log/airflow-failover`
  are the host's own directories, and so is `/var/lib/man-db` (empty: man-db's auto-update off, so
  `dpkg -i` does not rebuild the machine's man index);
- `/opt/airflow/venv` is the repository's `.venv` (Airflow 3 "already installed" there).

The database host `afd<pid>-db` (10.0.0.10, `db1.example.com` in the hosts' /etc/hosts) runs the
test's PostgreSQL. Nothing is added to the root namespace but the namespace files and, where
missing, empty mount points (removed again by `down()`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from localcluster.chaos.netns import attach_host, kill_namespace_processes
from localcluster.pgserver import PgServer

REPO = Path(__file__).resolve().parents[2]
SUBNET = "10.0.0"
DB_IP = f"{SUBNET}.10"
DB_NAME = "db1.example.com"
HOSTS = {
    "host-a": {"ip": f"{SUBNET}.11", "short": "ip-10-0-0-11", "node": "sched-a"},
    "host-b": {"ip": f"{SUBNET}.12", "short": "ip-10-0-0-12", "node": "sched-b"},
}
for _h in HOSTS.values():
    _h["fqdn"] = _h["short"] + ".ec2.internal"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Per-host directories bound over these paths (mount points made on the machine if missing).
PRIVATE_DIRS = [
    "/var/lib/airflow",
    "/var/lib/airflow-failover",
    "/var/log/airflow",
    "/var/log/airflow-failover",
]


def run(
    cmd: list[str], check: bool = True, timeout: float = 120, **kw: object
) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout, **kw)  # type: ignore[call-overload]
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res  # type: ignore[no-any-return]


def why_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the deploy test needs root (namespaces, dpkg -i)"
    for tool in ("ip", "unshare", "nsenter", "setpriv", "dpkg", "cpack", "openssl"):
        if not shutil.which(tool):
            return f"`{tool}` is not installed"
    probe = f"afd{os.getpid()}-probe"
    res = run(["ip", "netns", "add", probe], check=False)
    run(["ip", "netns", "del", probe], check=False)
    if res.returncode != 0:
        return f"cannot create a network namespace: {res.stderr.strip()}"
    return None


class DbServer(PgServer):
    """The test's PostgreSQL on the database host: 10.0.0.10:5432 with password authentication
    (scram) for the hosts' subnet, so a daemon without its password file cannot connect; the
    test itself uses the Unix socket (trust) from the root namespace."""

    def __init__(self, ns: str, base_dir: Path) -> None:
        super().__init__(base_dir=str(base_dir), port=5432)
        self._as_user = ["ip", "netns", "exec", ns, *self._as_user]
        self.psql_host = str(self.root)
        self.psql_timeout = 60.0

    def init(self) -> None:
        super().init()
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write(f"listen_addresses = '{DB_IP}'\npassword_encryption = 'scram-sha-256'\n")
        hba = self.datadir / "pg_hba.conf"
        hba.write_text(
            "local all all trust\n"
            f"host all postgres {SUBNET}.0/24 reject\n"
            f"host all all {SUBNET}.0/24 scram-sha-256\n"
        )


@dataclass
class Hosts:
    venv: Path
    tag: str = field(default_factory=lambda: f"afd{os.getpid()}")
    made_dirs: list[str] = field(default_factory=list)
    keep: Path | None = None  # where down() copies the logs (the daemons', api-servers', PostgreSQL's)

    def __post_init__(self) -> None:
        self.run_dir = Path(f"/tmp/af-deploy-{os.getpid()}")
        self.ns_dir = Path(f"/run/af-deploy-{os.getpid()}")
        self.switch = f"{self.tag}-sw"
        self.netns = {"db": f"{self.tag}-db", **{h: f"{self.tag}-{h[-1]}" for h in HOSTS}}
        self.db: DbServer | None = None

    # -- build ----------------------------------------------------------------------------------
    def up(self) -> Hosts:
        self.run_dir.mkdir(parents=True)
        os.chmod(self.run_dir, 0o755)
        self.ns_dir.mkdir(parents=True)
        # Namespace files must sit on a private mount to be bind-mounted (as `ip netns` does).
        run(["mount", "--bind", str(self.ns_dir), str(self.ns_dir)])
        run(["mount", "--make-private", str(self.ns_dir)])
        run(["ip", "netns", "add", self.switch])
        run(["ip", "-n", self.switch, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.switch, "link", "set", "br0", "up"])
        ips = {"db": DB_IP, **{h: v["ip"] for h, v in HOSTS.items()}}
        for i, (host, ns) in enumerate(self.netns.items()):
            run(["ip", "netns", "add", ns])
            port = f"p{i}"
            attach_host(self.switch, ns, port, ips[host])
        for d in [*PRIVATE_DIRS, "/opt/airflow", "/opt/airflow/venv"]:
            if not Path(d).exists():
                Path(d).mkdir(parents=True)
                self.made_dirs.append(d)
        for host in HOSTS:
            self._make_host(host)
        self.db = DbServer(self.netns["db"], self.run_dir)
        self.db.start()
        return self

    def _hosts_file(self) -> str:
        lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback", f"{DB_IP} {DB_NAME}"]
        lines += [f"{v['ip']} {v['fqdn']} {v['short']}" for v in HOSTS.values()]
        return "\n".join(lines) + "\n"

    def _make_host(self, host: str) -> None:
        h = self.run_dir / host
        h.mkdir()
        run(["cp", "-a", "/etc", str(h / "etc")])
        (h / "etc" / "hosts").unlink(missing_ok=True)
        (h / "etc" / "hosts").write_text(self._hosts_file())
        (h / "etc" / "hostname").write_text(HOSTS[host]["short"] + "\n")
        shutil.rmtree(h / "etc" / "airflow-failover", ignore_errors=True)
        # No man-db index rebuild at each dpkg -i and --purge (a private /var/lib/man-db without
        # auto-update, as man-db/auto-update=false leaves it): 10 s and more per host, not ours.
        (h / "man-db").mkdir()
        run(["cp", "-a", "/var/lib/dpkg", str(h / "dpkg")])
        binds = [(h / "etc", "/etc"), (h / "dpkg", "/var/lib/dpkg"), (h / "man-db", "/var/lib/man-db")]
        for d in PRIVATE_DIRS:
            (h / d.strip("/").replace("/", "-")).mkdir()
            binds.append((h / d.strip("/").replace("/", "-"), d))
        binds.append((self.venv, "/opt/airflow/venv"))
        (self.ns_dir / f"mnt-{host}").touch()
        (self.ns_dir / f"uts-{host}").touch()
        script = f"hostname {HOSTS[host]['short']}\n" + "".join(
            f"mount --bind {src} {dst}\n" for src, dst in binds
        )
        # The venv's interpreter may live under /root (pyenv), which only root may enter: the host
        # gets a root home of its own (as a fresh host has) that lets `airflow` reach it.
        real_python = Path(os.path.realpath(self.venv / "bin" / "python"))
        if str(real_python).startswith("/root/"):
            prefix = real_python.parents[1]  # .../versions/3.11.7
            stage = h / "python-prefix"
            stage.mkdir()
            script += (
                f"mount --bind {prefix} {stage}\n"
                "mount -t tmpfs -o mode=0755 tmpfs /root\n"
                f"mkdir -p {prefix}\nmount --bind {stage} {prefix}\n"
            )
        run(
            [
                "unshare",
                f"--mount={self.ns_dir / f'mnt-{host}'}",
                f"--uts={self.ns_dir / f'uts-{host}'}",
                "--propagation",
                "private",
                "--",
                "sh",
                "-e",
                "-c",
                script,
            ]
        )

    # -- run on a host --------------------------------------------------------------------------
    def enter(self, host: str) -> list[str]:
        return [
            "nsenter",
            f"--net=/run/netns/{self.netns[host]}",
            f"--mount={self.ns_dir / f'mnt-{host}'}",
            f"--uts={self.ns_dir / f'uts-{host}'}",
            "--",
        ]

    def sh(
        self,
        host: str,
        script: str,
        env: dict[str, str] | None = None,
        cwd: str = "/root",
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """`sh -e` as root on the host, with a login-like clean environment."""
        base = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "USER": "root", "LOGNAME": "root"}
        base.update(env or {})
        argv = [*self.enter(host), "env", "-i", *(f"{k}={v}" for k, v in base.items())]
        argv += ["sh", "-e", "-c", f"cd {cwd} 2>/dev/null || cd /\n{script}"]
        return run(argv, check=False, timeout=timeout)

    def popen(self, host: str, argv: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(log, "ab") as f:
            return subprocess.Popen(
                [*self.enter(host), "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv],
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def host_path(self, host: str, path: str) -> Path:
        """Where a host's private path lives, seen from the root namespace."""
        h = self.run_dir / host
        if path.startswith("/etc/"):
            return h / "etc" / path[len("/etc/") :]
        for d in PRIVATE_DIRS:
            if path == d or path.startswith(d + "/"):
                return h / d.strip("/").replace("/", "-") / path[len(d) :].lstrip("/")
        raise ValueError(f"{path} is not private to a host")

    # -- tear down ------------------------------------------------------------------------------
    def down(self) -> None:
        for host in HOSTS:
            if (self.ns_dir / f"mnt-{host}").exists() and (self.run_dir / host / "dpkg").exists():
                kill_namespace_processes(self.netns[host])
                self.sh(host, "dpkg --purge airflow-failover >/dev/null 2>&1 || true", timeout=120)
        for ns in self.netns.values():
            kill_namespace_processes(ns)
        if self.keep is not None:
            for log in self.run_dir.glob("*/shim/*.log"):
                shutil.copy(log, self.keep / f"{log.parent.parent.name}-{log.name}")
            for log in self.run_dir.glob("*.log"):
                shutil.copy(log, self.keep / log.name)
            if self.db is not None and self.db.logfile.exists():
                shutil.copy(self.db.logfile, self.keep / "postgres.log")
        if self.db is not None:
            self.db.destroy()
        for ns in [*self.netns.values(), self.switch]:
            run(["ip", "netns", "del", ns], check=False)
        for host in HOSTS:
            for kind in ("mnt", "uts"):
                run(["umount", str(self.ns_dir / f"{kind}-{host}")], check=False)
        run(["umount", str(self.ns_dir)], check=False)
        shutil.rmtree(self.ns_dir, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        for d in reversed(self.made_dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass
        # The package's shared files when a host's purge could not remove them (a crashed run).
        for leftover in ("/usr/bin/airflow-failover", "/usr/lib/systemd/system/airflow-failover.service"):
            if Path(leftover).exists() and run(["dpkg", "-S", leftover], check=False).returncode != 0:
                Path(leftover).unlink()


def kill_tree(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    time.sleep(0.1)
