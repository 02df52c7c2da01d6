"""A throwaway RabbitMQ broker (Debian's rabbitmq-server) for CeleryExecutor.

Everything lives in a temp dir on free loopback ports: its own Erlang port mapper (epmd, run in
the foreground as our child instead of the daemon that Erlang would leave behind), node name,
data and logs. Nothing is installed as a service and nothing outlives :meth:`stop`.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .ports import free_tcp_port
from .procs import spawn, stop, wait_port


def _server_script() -> Path:
    # The /usr/sbin wrapper switches to the rabbitmq user and its system-wide data dir; the
    # script below it runs the broker as whoever calls it, with the paths we give it.
    hits = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server"))
    if not hits:
        raise RuntimeError("rabbitmq-server is not installed (scripts/demo.sh installs it with apt)")
    return Path(hits[-1])


@dataclass
class RabbitMQ:
    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_tcp_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 120) -> RabbitMQ:
        root = self.workdir / "rabbitmq"
        root.mkdir(parents=True, exist_ok=True)
        (root / "enabled_plugins").write_text("[].\n")
        epmd_port, dist_port = free_tcp_port(), free_tcp_port()
        env = {
            **self.env,
            "HOME": str(root),  # the Erlang cookie is written here
            "RABBITMQ_NODENAME": f"af-{uuid.uuid4().hex[:8]}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "ERL_EPMD_PORT": str(epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(root / "pid"),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(root / "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": str(root / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-start_epmd false",
        }
        epmd = shutil.which("epmd") or "/usr/bin/epmd"
        self.procs.append(
            spawn(
                [epmd, "-port", str(epmd_port), "-address", "127.0.0.1"],
                env,
                root / "epmd.log",
            )
        )
        wait_port("127.0.0.1", epmd_port, 20, "epmd", self.procs[-1], root / "epmd.log")
        log = root / "server.log"
        self.procs.append(spawn([str(_server_script())], env, log))
        wait_port("127.0.0.1", self.port, timeout, "RabbitMQ", self.procs[-1], log)
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop(proc, timeout=30)
