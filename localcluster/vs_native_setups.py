"""The three ways to run Airflow 3 that ``bench/vs_native.py`` compares, behind one interface:

- ``single``: one host runs the scheduler, dag-processor and triggerer; a supervisor restarts a
  process that exits, after 1 s (systemd ``Restart=always``). It survives the host's faults here,
  so "host loss" is a crash of every Airflow process restarted in place: the best case of a single
  host (a real host loss leaves it down until the machine is back).
- ``native``: Airflow's active-active HA: host-a runs a scheduler, the dag-processor and a
  triggerer, host-b a scheduler and a triggerer. Nothing restarts a lost host during a trial.
- ``failover``: two airflow-failover daemons (default lease, heartbeats on, the takeover step for
  every job type they manage) each managing the scheduler, dag-processor and triggerer as warm
  standbys (``python -m airflow_failover_warm``), as docs/warm-standby.md recommends.
"""

from __future__ import annotations

import signal
from typing import Any

from .airflow_pair import TakeoverPair
from .airflow_site import Site, wait_for
from .daemon_config import Process
from .native_ha import Host, pair_host_pids
from .procs import signal_all

SETUPS = ("single", "native", "failover")


class VsPair(TakeoverPair):
    """The daemons' processes also get the workload's settings (``VS_NATIVE_*``), which the
    Pair's environment allowlist leaves out."""

    def processes(self, name: str) -> list[Process]:
        procs = super().processes(name)
        extra = {k: v for k, v in self.site.env().items() if k.startswith("VS_NATIVE_")}
        for proc in procs:
            proc.env.update(extra)
            # The run's mark (localcluster.procs.RUN_VAR) reaches them through the daemon's own
            # environment; the config may not set the daemon's reserved names.
            for k in [k for k in proc.env if k.startswith("AIRFLOW_FAILOVER_")]:
                del proc.env[k]
        return procs


class Setup:
    """One way of running the site's Airflow processes, and its faults."""

    name = ""
    schedulers = 1

    def __init__(self, site: Site, local_executor: bool) -> None:
        self.site = site
        self.local = local_executor

    def start(self) -> None:
        raise NotImplementedError

    def victim(self, long_try: dict[str, Any] | None) -> str:
        """The host a fault hits: the one whose scheduler runs (and, with LocalExecutor, executes
        the long task)."""
        raise NotImplementedError

    def pids(self, host: str) -> set[int]:
        raise NotImplementedError

    def lose(self, host: str, pids: set[int]) -> None:
        """SIGKILL of ``pids`` (found beforehand: finding them takes a while on a loaded box,
        and the fault's clock starts at the signal)."""
        signal_all(pids, signal.SIGKILL)

    def parser_left(self, host: str) -> bool:
        """Whether a dag-processor can run anywhere once ``host`` is gone."""
        return True

    def restore(self, host: str) -> None:
        """After a host loss: the host back (a standby again, for the daemons)."""

    def stop(self) -> None:
        raise NotImplementedError

    def diagnose(self) -> str:
        return self.site.diagnose()


class Single(Setup):
    name = "single"

    def __init__(self, site: Site, local_executor: bool) -> None:
        super().__init__(site, local_executor)
        self.host = Host(site, "host-a", supervise=True)

    def start(self) -> None:
        self.host.start()

    def victim(self, long_try: dict[str, Any] | None) -> str:
        return "host-a"

    def pids(self, host: str) -> set[int]:
        return self.host.pids()

    def lose(self, host: str, pids: set[int]) -> None:
        self.host.lose(pids)

    def restore(self, host: str) -> None:
        wait_for(self.host.running, 60, "the supervisor to restart host-a's processes")

    def stop(self) -> None:
        self.host.stop()


class Native(Setup):
    name = "native"
    schedulers = 2

    def __init__(self, site: Site, local_executor: bool) -> None:
        super().__init__(site, local_executor)
        self.hosts = {
            "host-a": Host(site, "host-a"),
            "host-b": Host(site, "host-b", roles=("scheduler", "triggerer")),
        }

    def start(self) -> None:
        for h in self.hosts.values():
            h.start()

    def victim(self, long_try: dict[str, Any] | None) -> str:
        if self.local and long_try and long_try["hostname"] in self.hosts:
            return str(long_try["hostname"])
        return "host-a"

    def pids(self, host: str) -> set[int]:
        return self.hosts[host].pids()

    def lose(self, host: str, pids: set[int]) -> None:
        self.hosts[host].lose(pids)

    def parser_left(self, host: str) -> bool:
        return any("dag-processor" in h.roles for n, h in self.hosts.items() if n != host)

    def restore(self, host: str) -> None:
        self.hosts[host].start()

    def stop(self) -> None:
        for h in self.hosts.values():
            h.stop()


class Failover(Setup):
    name = "failover"

    def __init__(self, site: Site, local_executor: bool) -> None:
        super().__init__(site, local_executor)
        self.pair = VsPair(site, singletons=True, heartbeats=True, job_types=None, warm=True)

    def warm_ready(self, node: str) -> int:
        return sum(1 for e in self.pair.events() if e["node_id"] == node and e["kind"] == "warm_ready")

    def start(self) -> None:
        self.pair.start(["node-a"])
        wait_for(
            lambda: self.alive() and self.pair.active() == "node-a",
            120,
            "node-a active",
            diagnose=self.pair.diagnose,
        )
        self.pair.start(["node-b"])
        wait_for(lambda: self.warm_ready("node-b"), 180, "node-b's warm standby", diagnose=self.pair.diagnose)

    def alive(self) -> bool:
        for name, node in self.pair.nodes.items():
            if node.proc is not None and node.proc.poll() is not None:
                raise AssertionError(
                    f"daemon {name} exited with {node.proc.returncode}\n{self.pair.diagnose()}"
                )
        return True

    def victim(self, long_try: dict[str, Any] | None) -> str:
        active = wait_for(self.pair.active, 30, "an active node", diagnose=self.pair.diagnose)
        return str(active)

    def pids(self, host: str) -> set[int]:
        return pair_host_pids(self.pair, host)

    def lose(self, host: str, pids: set[int]) -> None:
        daemon = self.pair.nodes[host].proc
        assert daemon is not None and daemon.pid in pids, f"{host}'s daemon is not among {pids}"
        signal_all(pids, signal.SIGKILL)
        daemon.wait(timeout=10)

    def restore(self, host: str) -> None:
        before = self.warm_ready(host)
        self.pair.start([host])
        wait_for(
            lambda: self.warm_ready(host) > before,
            180,
            f"{host} back as a warm standby",
            diagnose=self.pair.diagnose,
        )

    def stop(self) -> None:
        leftover = self.pair.stop()
        if leftover:
            raise AssertionError(f"schedulers outlived their daemons: {leftover}")

    def diagnose(self) -> str:
        return self.pair.diagnose()


def make(name: str, site: Site, local_executor: bool) -> Setup:
    classes: dict[str, type[Setup]] = {"single": Single, "native": Native, "failover": Failover}
    return classes[name](site, local_executor)
