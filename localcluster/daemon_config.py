"""The daemon's configuration file, typed: the one place the local system writes it.

Every cluster of the local system (stand-ins on loopback, stand-ins in network namespaces, real
Airflow schedulers) describes its nodes with :class:`DaemonConfig` and writes them with
:meth:`DaemonConfig.write`; the key names and shapes of docs/configuration.md live here only.
A section the builder has no field for goes into ``extra`` (merged last, so a test can also
override a whole section on purpose and say why).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _present(**items: Any) -> dict[str, Any]:
    """The items that are set: a key left None is not written (the daemon's default applies)."""
    return {k: v for k, v in items.items() if v is not None}


@dataclass
class Process:
    """One entry of ``processes``."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    stop_timeout_ms: int | None = None
    health: dict[str, Any] | None = None
    warm: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "command": list(self.command),
            **_present(
                env=self.env or None, stop_timeout_ms=self.stop_timeout_ms, health=self.health, warm=self.warm
            ),
        }


@dataclass
class Supervision:
    restart_backoff_initial_ms: int = 200
    crash_loop_limit: int = 3
    crash_loop_window_ms: int = 30000

    def to_json(self) -> dict[str, Any]:
        return {
            "restart_backoff_initial_ms": self.restart_backoff_initial_ms,
            "crash_loop_limit": self.crash_loop_limit,
            "crash_loop_window_ms": self.crash_loop_window_ms,
        }


@dataclass
class Heartbeat:
    listen: str
    peers: dict[str, str]
    secret_file: Path
    interval_ms: int = 200

    def to_json(self) -> dict[str, Any]:
        return {
            "listen": self.listen,
            "peers": dict(self.peers),
            "interval_ms": self.interval_ms,
            "secret_file": str(self.secret_file),
        }


def heartbeat_mesh(addrs: dict[str, str], secret_file: Path, node: str) -> Heartbeat:
    """Node ``node``'s heartbeat section in a mesh where every node listens on ``addrs[node]``."""
    return Heartbeat(addrs[node], {n: a for n, a in addrs.items() if n != node}, secret_file)


@dataclass
class Lease:
    """The ``lease`` section; a field left None is the daemon's default (or derived from ttl_ms
    by the daemon's rule, docs/design.md)."""

    ttl_ms: int | None = None
    renew_interval_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return _present(ttl_ms=self.ttl_ms, renew_interval_ms=self.renew_interval_ms)


@dataclass
class DaemonConfig:
    cluster: str
    node_id: str
    conninfo: str
    processes: list[Process]
    supervision: Supervision | None = field(default_factory=Supervision)
    heartbeat: Heartbeat | None = None
    lease: Lease | None = None  # None: no section, the daemon's defaults
    priority: int | None = None
    fencing: dict[str, Any] | None = None
    airflow: dict[str, Any] | None = None
    hooks: dict[str, Any] | None = None
    metrics_listen: str | None = None
    log_level: str | None = "info"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "cluster": self.cluster,
            "node_id": self.node_id,
            "database": {"conninfo": self.conninfo},
            "processes": [p.to_json() for p in self.processes],
            **_present(
                supervision=self.supervision.to_json() if self.supervision else None,
                heartbeat=self.heartbeat.to_json() if self.heartbeat else None,
                log={"level": self.log_level} if self.log_level else None,
                lease=self.lease.to_json() if self.lease else None,
                priority=self.priority,
                fencing=self.fencing,
                airflow=self.airflow,
                hooks=self.hooks,
                metrics={"listen": self.metrics_listen} if self.metrics_listen else None,
            ),
        }
        cfg.update(self.extra)
        return cfg

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_json(), indent=2))
        return path


def observer(cluster: str, conninfo: str) -> DaemonConfig:
    """A config for the CLI only (status, events): no process it could start, no heartbeats."""
    return DaemonConfig(
        cluster, "observer", conninfo, [Process("scheduler", ["true"])], supervision=None, log_level=None
    )


@functools.cache
def daemon_lease_defaults(binary: Path) -> tuple[int, int]:
    """(ttl_ms, renew_interval_ms) the daemon uses without a ``lease`` section, asked from the
    binary itself (``check-config`` prints the effective timings): the harness sizes its waits
    by them without restating the daemon's defaults."""
    with tempfile.TemporaryDirectory(prefix="af-defaults-") as tmp:
        cfg = Path(tmp) / "config.json"
        DaemonConfig("defaults", "probe", "dbname=probe", [Process("probe", ["/bin/true"])]).write(cfg)
        res = subprocess.run(
            [str(binary), "--config", str(cfg), "check-config", "--syntax-only"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    m = re.search(r"lease ttl (\d+) ms, renew every (\d+) ms", res.stdout)
    if m is None:
        raise RuntimeError(f"{binary} check-config printed no lease timings:\n{res.stdout}{res.stderr}")
    return int(m.group(1)), int(m.group(2))
