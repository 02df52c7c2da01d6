"""A Spark standalone cluster on loopback from the installed PySpark: one master and N workers.

Each is ``pyspark/bin/spark-class org.apache.spark.deploy.{master.Master,worker.Worker}`` (nothing
is downloaded), a process group of its own with its own ports, work dir, log dir and scratch dir
below ``workdir``. Every process carries ``AIRFLOW_FAILOVER_LOCAL_RUN=<run id>`` in its
environment, and so do the executor JVMs that a worker forks for an application: :meth:`stop`
ends the groups, then kills whatever still carries the mark (an executor that outlived its
worker), and :meth:`pids` proves none is left.

    with SparkCluster(tmp, workers=2, cores=1).start() as cluster:
        spark-submit --master cluster.master_url ...
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from .ports import free_tcp_ports
from .procs import RUN_VAR, kill_run, run_pids, spawn, stop

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def spark_home() -> Path:
    """The installed PySpark's directory: its bin/spark-class and jars/ are a Spark distribution."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "bin" / "spark-class").exists():
        raise RuntimeError(f"{home}/bin/spark-class missing: this PySpark is not a full distribution")
    return home


@dataclass
class SparkCluster:
    workdir: Path
    workers: int = 2
    cores: int = 1  # per worker
    memory: str = "1g"  # per worker: what its executors may take together
    run_id: str = field(default_factory=lambda: f"spark-{uuid.uuid4().hex[:12]}")
    master_port: int = 0
    master_ui_port: int = 0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    def _env(self, name: str) -> dict[str, str]:
        home = spark_home()
        own = self.workdir / name
        env = dict(os.environ)
        env.update(
            SPARK_HOME=str(home),
            SPARK_LOCAL_IP="127.0.0.1",
            SPARK_LOG_DIR=str(own / "logs"),
            SPARK_LOCAL_DIRS=str(own / "scratch"),
            SPARK_WORKER_DIR=str(own / "work"),
            SPARK_PID_DIR=str(own),
            # the master's and workers' own heap (default 1g each): they only keep books; the
            # executors get theirs from --memory / spark.executor.memory
            SPARK_DAEMON_MEMORY="256m",
            # The master's REST submission server listens on a fixed port (6066) on which a
            # second cluster (another test, the demo) would collide; spark-submit does not need it.
            SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
        )
        env[RUN_VAR] = self.run_id
        for sub in ("logs", "scratch", "work"):
            (own / sub).mkdir(parents=True, exist_ok=True)
        return env

    def start(self, timeout: float = 180.0) -> SparkCluster:
        """Start the master, then the workers; return when every worker is registered (ALIVE)."""
        cls = str(spark_home() / "bin" / "spark-class")
        ports = free_tcp_ports(2 + 2 * self.workers)
        self.master_port, self.master_ui_port = ports[0], ports[1]
        try:
            self.procs.append(
                spawn(
                    [
                        cls,
                        MASTER_CLASS,
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(self.master_port),
                        "--webui-port",
                        str(self.master_ui_port),
                    ],  # fmt: skip
                    self._env("master"),
                    self.workdir / "master" / "master.log",
                    cwd=self.workdir / "master",
                )
            )
            for i in range(self.workers):
                name = f"worker{i + 1}"
                env = self._env(name)
                self.procs.append(
                    spawn(
                        [
                            cls,
                            WORKER_CLASS,
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(ports[2 + 2 * i]),
                            "--webui-port",
                            str(ports[3 + 2 * i]),
                            "--cores",
                            str(self.cores),
                            "--memory",
                            self.memory,
                            "--work-dir",
                            env["SPARK_WORKER_DIR"],
                            self.master_url,
                        ],  # fmt: skip
                        env,
                        self.workdir / name / f"{name}.log",
                        cwd=self.workdir / name,
                    )
                )
            self._wait_alive(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def state(self) -> dict[str, object]:
        """The master's JSON status (workers, applications), from its web UI."""
        url = f"http://127.0.0.1:{self.master_ui_port}/json/"
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback, our own master)
            data: dict[str, object] = json.load(resp)
            return data

    def _wait_alive(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            for p, name in zip(self.procs, self._names(), strict=True):
                if p.poll() is not None:
                    raise RuntimeError(f"spark {name} exited with {p.returncode}{self._log_tail(name)}")
            try:
                alive = self.state().get("aliveworkers")
                last = f"{alive} of {self.workers} workers alive"
                if alive == self.workers:
                    return
            except OSError as e:
                last = f"master UI: {e}"
            time.sleep(0.5)
        raise RuntimeError(f"spark cluster not up after {timeout:.0f} s ({last}){self._log_tail('master')}")

    def _names(self) -> list[str]:
        return ["master"] + [f"worker{i + 1}" for i in range(self.workers)][: len(self.procs) - 1]

    def _log_tail(self, name: str, lines: int = 20) -> str:
        log = self.workdir / name / f"{name}.log"
        if not log.exists():
            return ""
        return f"\n--- {log} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def pids(self) -> list[int]:
        """Live processes of this cluster: master, workers, executors (found by the run mark)."""
        return run_pids(self.run_id)

    def stop(self) -> list[int]:
        """Stop the workers (they end their executors), then the master; kill what is left.
        Returns the pids that needed SIGKILL (none in a clean shutdown)."""
        for p in reversed(self.procs):
            stop(p, timeout=15)
        self.procs.clear()
        return kill_run(self.run_id)

    def __enter__(self) -> SparkCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
