"""``scripts/demo.sh --standin``: the quick demo, daemons managing a stand-in scheduler."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cluster import Cluster
from .demo_dashboard import Dashboard
from .demo_view import Progress, daemon_status, event_lines, kill_lines, render, sleep_until
from .pgserver import PgServer


class StandinDemo:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.pg: PgServer | None = None
        self.cluster: Cluster | None = None
        self.dashboard = Dashboard(workdir)

    def run(self, deadline: float | None) -> None:
        say = Progress()
        say("starting a throwaway PostgreSQL")
        self.pg = PgServer()
        self.pg.start()
        self.cluster = Cluster(
            self.pg,
            self.workdir / "cluster",
            size=self.args.nodes,
            tick_ms=1000,
            heartbeats=True,
            name="demo",
        )
        say(f"starting {self.args.nodes} daemons managing a stand-in scheduler (logs in {self.workdir})")
        self.cluster.start()
        if not self.args.no_dashboard:
            self.wait_schema()
            self.dashboard.start(self.pg, "postgres", self.cluster.name)
        while True:
            self.show()
            sleep_until(deadline, 1)

    def wait_schema(self) -> None:
        assert self.pg is not None
        deadline = time.monotonic() + 30  # the daemons create the schema as they start
        while self.pg.psql("SELECT to_regclass('airflow_failover.commands') IS NOT NULL") != "t":
            if time.monotonic() > deadline:
                raise RuntimeError("the daemons created no schema within 30 s (see the node logs)")
            time.sleep(0.2)

    def show(self) -> None:
        assert self.cluster is not None
        text, _ = daemon_status(self.cluster.nodes["node-a"].config)
        lines = [
            time.strftime("%H:%M:%S") + "  airflow-failover demo, stand-in scheduler (Ctrl-C to stop)",
            "",
        ]
        lines += text.splitlines()
        try:
            lines += ["", *event_lines(self.cluster.events())]
        except RuntimeError:
            pass
        lines += [
            "",
            *self.dashboard.lines(),
            "",
            *kill_lines({n.name: n.proc for n in self.cluster.nodes.values()}),
        ]
        render(lines, self.args.plain)

    def summary(self) -> dict[str, Any] | None:
        return None

    def teardown_steps(self) -> list[tuple[str, Callable[[], object]]]:
        steps: list[tuple[str, Callable[[], object]]] = [("the dashboard", self.dashboard.stop)]
        if self.cluster is not None:
            steps.append(("the daemons", self.cluster.stop_all))
        if self.pg is not None:
            steps.append(("PostgreSQL", self.pg.destroy))
        return steps
