"""Hosts as Linux network namespaces, for the chaos suite (run as root).

One run makes five namespaces, all named after the owning process (`afc<pid>-...`):

    afc<pid>-sw   the switch: a bridge `br0` with one port per host (no address, no routes)
    afc<pid>-db   the PostgreSQL host, 10.211.0.10/24 on its `eth0`
    afc<pid>-a    scheduler host node-a, 10.211.0.11/24
    afc<pid>-b    scheduler host node-b, 10.211.0.12/24
    afc<pid>-c    scheduler host node-c, 10.211.0.13/24

Each host's `eth0` is one end of a veth pair whose other end is a port of the bridge in the
switch namespace. The veth pairs are created directly inside the namespaces, so nothing is added
to the root namespace (no interface, no address, no iptables rule): runs of the suite that
overlap in time do not see each other, and the private /24 is reachable only from inside.

Faults are applied inside the hosts' namespaces: iptables rules in their own tables, and
`tc netem` on their `eth0` (or, where the kernel lacks netem, the NFQUEUE delayer in
`nfq_delay.py`). Deleting a namespace deletes its interfaces and rules with it.

Leftovers of a crashed run (its owner pid is gone) are removed by `cleanup_leftovers()`: the
processes still inside those namespaces (started by that run) are killed by pid, the namespaces
deleted, and the run's directory under /tmp removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from localcluster.procfs import alive  # noqa: E402

SUBNET = "10.211.0"
DB_IP = f"{SUBNET}.10"
NODE_IPS = {"node-a": f"{SUBNET}.11", "node-b": f"{SUBNET}.12", "node-c": f"{SUBNET}.13"}
HB_PORT = 7700
PG_PORT = 5432
RUN_DIR_PREFIX = "af-chaos-"
NS_RE = re.compile(r"^afc(\d+)-(sw|db|a|b|c)$")


class NetnsUnavailable(RuntimeError):
    """Namespaces (or veth/bridge) cannot be made here: the suite skips with this message."""


def _run(cmd: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    return res


def attach_host(switch: str, ns: str, port: str, ip: str) -> None:
    """Wires namespace `ns` to the bridge br0 of namespace `switch`: a veth pair, eth0 in `ns`
    with `ip`/24, `port` on the bridge, and loopback up."""
    _run(
        ["ip", "link", "add", "name", "eth0", "netns", ns, "type", "veth"]
        + ["peer", "name", port, "netns", switch]
    )
    _run(["ip", "-n", switch, "link", "set", port, "master", "br0", "up"])
    _run(["ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0"])
    _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    _run(["ip", "-n", ns, "link", "set", "lo", "up"])


def why_unavailable() -> str | None:
    """None when this process can make namespaces, veths and bridges; else the reason."""
    if os.geteuid() != 0:
        return "the chaos suite needs root (network namespaces, veth, iptables)"
    for tool in ("ip", "iptables"):
        if not shutil.which(tool):
            return f"`{tool}` is not installed (Debian: iproute2, iptables)"
    probe = f"afc{os.getpid()}-probe"
    try:
        res = _run(["ip", "netns", "add", probe], check=False)
        if res.returncode != 0:
            return f"cannot create a network namespace: {res.stderr.strip()}"
        res = _run(["ip", "-n", probe, "link", "add", "br0", "type", "bridge"], check=False)
        if res.returncode != 0:
            return f"cannot create a bridge in a namespace: {res.stderr.strip()}"
        res = _run(
            ["ip", "-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1"], check=False
        )
        if res.returncode != 0:
            return f"cannot create a veth pair: {res.stderr.strip()}"
        res = _run(["ip", "netns", "exec", probe, "iptables", "-w", "-L", "OUTPUT", "-n"], check=False)
        if res.returncode != 0:
            return f"iptables does not work inside a namespace: {res.stderr.strip()}"
    finally:
        _run(["ip", "netns", "del", probe], check=False)
    return None


def netns_pids(ns: str) -> list[int]:
    res = _run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in res.stdout.split() if p.strip().isdigit()]


def kill_namespace_processes(ns: str, grace: float = 0.0) -> None:
    """Every process inside our namespace `ns` was started by this suite: end them by pid."""
    pids = netns_pids(ns)
    for pid in pids:
        for sig in (signal.SIGCONT, signal.SIGKILL if not grace else signal.SIGTERM):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    if grace:
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and netns_pids(ns):
            time.sleep(0.05)
        for pid in netns_pids(ns):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and netns_pids(ns):
        time.sleep(0.02)


def cleanup_leftovers(log: bool = True) -> list[str]:
    """Removes the namespaces and run directories of chaos runs whose owner process is gone."""
    removed = []
    res = _run(["ip", "netns", "list"], check=False)
    owners: dict[int, list[str]] = {}
    for line in res.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = NS_RE.match(name) or re.match(r"^afc(\d+)-probe$", name)
        if m:
            owners.setdefault(int(m.group(1)), []).append(name)
    for pid, names in owners.items():
        if pid == os.getpid() or alive(pid):
            continue
        for ns in names:
            kill_namespace_processes(ns)
            _run(["ip", "netns", "del", ns], check=False)
            removed.append(ns)
    tmp = Path("/tmp")
    for d in tmp.glob(RUN_DIR_PREFIX + "*"):
        m = re.match(rf"^{RUN_DIR_PREFIX}(\d+)", d.name)
        if m and int(m.group(1)) != os.getpid() and not alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(str(d))
    if removed and log:
        print(f"chaos: removed leftovers of a crashed run: {' '.join(removed)}", file=sys.stderr)
    return removed


@dataclass
class Net:
    """The five namespaces of one run. `up()` builds them, `down()` removes everything."""

    tag: str = field(default_factory=lambda: f"afc{os.getpid()}")
    hosts: dict[str, str] = field(default_factory=dict)  # host name -> namespace
    ips: dict[str, str] = field(default_factory=dict)  # host name -> address
    netem_kind: str | None = None  # "netem", "nfqueue" or None (decided by impair())
    _delayers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.switch = f"{self.tag}-sw"
        self.hosts = {"db": f"{self.tag}-db"}
        self.ips = {"db": DB_IP}
        for node, ip in NODE_IPS.items():
            self.hosts[node] = f"{self.tag}-{node[-1]}"
            self.ips[node] = ip
        self.run_dir = Path("/tmp") / f"{RUN_DIR_PREFIX}{os.getpid()}"

    # -- build / tear down ---------------------------------------------------------------------
    def up(self) -> Net:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run_dir, 0o755)
        try:
            _run(["ip", "netns", "add", self.switch])
            _run(["ip", "-n", self.switch, "link", "add", "br0", "type", "bridge"])
            _run(["ip", "-n", self.switch, "link", "set", "br0", "up"])
            _run(["ip", "-n", self.switch, "link", "set", "lo", "up"])
            for host, ns in self.hosts.items():
                port = "p-" + (host if host == "db" else host[-1])
                _run(["ip", "netns", "add", ns])
                attach_host(self.switch, ns, port, self.ips[host])
        except Exception:
            self.down()
            raise
        return self

    def down(self) -> None:
        self.stop_delayers()
        for ns in [*self.hosts.values(), self.switch]:
            kill_namespace_processes(ns)
            _run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> Net:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- running things on a host --------------------------------------------------------------
    def cmd(self, host: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.hosts[host], *argv]

    def run(self, host: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run(self.cmd(host, *argv), check=check)

    def iptables(self, host: str, *rule: str) -> None:
        self.run(host, "iptables", "-w", *rule)

    def flush_rules(self, host: str) -> None:
        self.run(host, "iptables", "-w", "-F", "INPUT")
        self.run(host, "iptables", "-w", "-F", "OUTPUT")

    def heal(self) -> None:
        """Removes every partition rule and impairment from every host."""
        self.unimpair()
        for host in self.hosts:
            self.flush_rules(host)

    # -- partitions (silent drops, as a failed switch or a firewall would do) --------------------
    def cut_from_db(self, host: str) -> None:
        self.iptables(host, "-A", "OUTPUT", "-p", "tcp", "-d", DB_IP, "--dport", str(PG_PORT), "-j", "DROP")
        self.iptables(host, "-A", "INPUT", "-p", "tcp", "-s", DB_IP, "--sport", str(PG_PORT), "-j", "DROP")

    def cut_udp_between_nodes(self) -> None:
        for node in NODE_IPS:
            self.iptables(node, "-A", "OUTPUT", "-p", "udp", "--dport", str(HB_PORT), "-j", "DROP")
            self.iptables(node, "-A", "INPUT", "-p", "udp", "--dport", str(HB_PORT), "-j", "DROP")

    def isolate(self, host: str) -> None:
        self.iptables(host, "-A", "OUTPUT", "-o", "eth0", "-j", "DROP")
        self.iptables(host, "-A", "INPUT", "-i", "eth0", "-j", "DROP")

    # -- loss and jitter on every link -----------------------------------------------------------
    def netem_available(self) -> str | None:
        """ "netem" or "nfqueue" (the fallback), or None when neither works here."""
        host = "db"
        res = (
            self.run(host, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "1ms", check=False)
            if shutil.which("tc")
            else None
        )
        if res is not None and res.returncode == 0:
            self.run(host, "tc", "qdisc", "del", "dev", "eth0", "root", check=False)
            return "netem"
        res = self.run(
            host,
            "iptables",
            "-w",
            "-A",
            "OUTPUT",
            "-o",
            "eth0",
            "-j",
            "NFQUEUE",
            "--queue-num",
            "9",
            "--queue-bypass",
            check=False,
        )
        if res.returncode == 0:
            self.run(
                host,
                "iptables",
                "-w",
                "-D",
                "OUTPUT",
                "-o",
                "eth0",
                "-j",
                "NFQUEUE",
                "--queue-num",
                "9",
                "--queue-bypass",
                check=False,
            )
            return "nfqueue"
        return None

    def impair(self, loss_pct: float = 5.0, delay_ms: int = 100, jitter_ms: int = 100) -> str:
        """Loss and delay ± jitter (uniform, as netem) on the egress of every host's eth0, so
        every packet on every link is impaired once per direction. Returns what was used."""
        kind = self.netem_available()
        if kind is None:
            raise NetnsUnavailable("neither tc netem nor iptables NFQUEUE works in this kernel")
        self.netem_kind = kind
        for host in self.hosts:
            if kind == "netem":
                self.run(
                    host,
                    "tc",
                    "qdisc",
                    "add",
                    "dev",
                    "eth0",
                    "root",
                    "netem",
                    "delay",
                    f"{delay_ms}ms",
                    f"{jitter_ms}ms",
                    "loss",
                    f"{loss_pct}%",
                    "limit",
                    "100000",
                )
            else:
                stats = self.run_dir / f"nfq-{host}.json"
                proc = subprocess.Popen(
                    self.cmd(
                        host,
                        sys.executable,
                        str(Path(__file__).with_name("nfq_delay.py")),
                        "--queue",
                        "0",
                        "--loss",
                        str(loss_pct / 100),
                        "--delay-ms",
                        str(delay_ms),
                        "--jitter-ms",
                        str(jitter_ms),
                        "--stats",
                        str(stats),
                    ),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                assert proc.stdout is not None
                line = proc.stdout.readline().decode(errors="replace").strip()
                if line != "ready":
                    proc.kill()
                    proc.wait()
                    raise NetnsUnavailable(f"NFQUEUE delayer failed on {host}: {line}")
                self._delayers.append(proc)
                self.iptables(
                    host, "-A", "OUTPUT", "-o", "eth0", "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"
                )
        return kind

    def unimpair(self) -> dict[str, dict[str, int]]:
        """Removes the impairment; returns the delayer's counters per host (nfqueue only)."""
        if self.netem_kind == "netem":
            for host in self.hosts:
                self.run(host, "tc", "qdisc", "del", "dev", "eth0", "root", check=False)
        stats: dict[str, dict[str, int]] = {}
        if self.netem_kind == "nfqueue":
            for host in self.hosts:
                self.run(
                    host,
                    "iptables",
                    "-w",
                    "-D",
                    "OUTPUT",
                    "-o",
                    "eth0",
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    "0",
                    "--queue-bypass",
                    check=False,
                )
            self.stop_delayers()
            for host in self.hosts:
                f = self.run_dir / f"nfq-{host}.json"
                if f.exists():
                    stats[host] = json.loads(f.read_text())
        self.netem_kind = None
        return stats

    def stop_delayers(self) -> None:
        for proc in self._delayers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._delayers.clear()
