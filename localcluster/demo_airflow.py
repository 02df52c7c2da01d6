"""``scripts/demo.sh``'s default: the real system (PostgreSQL, S3, Airflow, N daemons), its start,
its view while it runs and its teardown."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import date, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .airflow_pair import Pair, TakeoverPair
from .airflow_site import Site, airflow_exe, install_migrated_template
from .demo_dashboard import Dashboard
from .demo_report import DAG_ID, backfill_done, build_summary, dag_runs, price_rows, running_tasks, when
from .demo_view import REPO, Progress, Stopped, daemon_status, event_lines, kill_lines, render, sleep_until
from .pgserver import PgServer
from .procs import spawn, stop
from .task_tries import TryWatcher

DBNAME = "airflow"


def sample_days(today: date, n: int) -> list[date]:
    """The last ``n`` weekdays before ``today`` (Xetra trades Monday to Friday)."""
    days: list[date] = []
    d = today - timedelta(days=1)
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    return sorted(days)


class AirflowDemo:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.celery = args.executor == "celery"
        self.pg: PgServer | None = None
        self.s3: Any = None
        self.spark: Any = None  # a SparkCluster with --spark-cluster
        self.broker: Any = None
        self.site: Site | None = None
        self.pair: Pair | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.watcher: TryWatcher | None = None
        self.dashboard = Dashboard(workdir)
        self.days = sample_days(date.today(), args.days)
        self.names = tuple(f"node-{chr(ord('a') + i)}" for i in range(args.nodes))
        self.timings: dict[str, float] = {}
        self.say = Progress()

    # -- start-up --------------------------------------------------------------------------------
    def run(self, deadline: float | None) -> None:
        from .rabbitmq import RabbitMQ
        from .s3server import LAKE_BUCKET, PUBLIC_BUCKET, S3Server

        say = self.say
        say(f"working directory {self.workdir}")
        say("starting a throwaway PostgreSQL")
        self.pg = PgServer()
        self.pg.start()
        if os.environ.get("AF_DEMO_AIRFLOW_SCHEMA"):
            # The tests' shortcut: another server's migrated Airflow schema (migrated_dump), so
            # the site's `airflow db migrate` below becomes a copy of it (Site.migrate).
            install_migrated_template(self.pg, Path(os.environ["AF_DEMO_AIRFLOW_SCHEMA"]))
        if self.celery:
            say("starting a throwaway RabbitMQ (in the background)")
            self.broker = RabbitMQ(self.workdir, dict(os.environ))
            self.broker_starting = self.broker_start_async()
        say("starting the local S3 server (moto)")
        self.s3 = S3Server(self.workdir, dict(os.environ)).start()
        self.s3.create_bucket(PUBLIC_BUCKET)
        self.s3.create_bucket(LAKE_BUCKET)
        if self.args.spark_cluster:
            from .spark_cluster import SparkCluster

            say("starting a Spark standalone master and 2 workers (1 core each)")
            self.spark = SparkCluster(self.workdir / "spark", workers=2, cores=1).start()
            say(f"Spark master {self.spark.master_url}, UI http://127.0.0.1:{self.spark.master_ui_port}")
        n = self.upload_sample(PUBLIC_BUCKET)
        say(
            f"uploaded {n} Xetra PDS files for {', '.join(d.isoformat() for d in self.days)} "
            f"to s3://{PUBLIC_BUCKET}/ (the public bucket's layout)"
        )
        self.site = Site(
            self.pg,
            self.workdir / "airflow",
            dbname=DBNAME,
            # The minutely DAG keeps a task in flight after the backfill's few days are done, so a
            # kill at any moment interrupts one and shows it resume.
            dag_files=(REPO / "dags" / "xetra_daily.py", REPO / "dags" / "minutely_work.py"),
            executor="CeleryExecutor" if self.celery else "LocalExecutor",
            # Airflow's own orphan settings (30 s / 300 s): the daemon closes out the dead
            # node's jobs at takeover, so the new scheduler adopts or resets at once.
            orphan_threshold_s=None,
            orphan_check_s=None,
            extra_env=self.pipeline_env(LAKE_BUCKET, PUBLIC_BUCKET),
        )
        if self.celery:
            self.broker_starting()
            self.site.extra_env.update(self.celery_env())
        say("migrating Airflow's metadata database (airflow db migrate)")
        self.site.migrate()
        say("starting the api-server (shared by every node)")
        self.site.start_shared(dag_processor=False)
        # The takeover step closes out the dead node's scheduler, dag-processor and triggerer
        # jobs (the default: the job types of the processes the daemon manages).
        self.pair = TakeoverPair(
            self.site,
            names=self.names,
            cluster="demo",
            singletons=True,
            heartbeats=True,
            stop_timeout_ms=15000,
            job_types=None,
            warm=self.args.warm,
        )
        say(
            f"starting {len(self.names)} airflow-failover daemons: {', '.join(self.names)}; the active "
            "one runs the scheduler, dag-processor and triggerer"
        )
        self.pair.start()
        if not self.args.no_dashboard:
            self.wait_schema()
            from pipeline.xetra.load import DDL

            self.dashboard.start(self.pg, DBNAME, self.pair.cluster, DDL)
        say("waiting for the api-server and for the dag-processor to parse xetra_daily")
        self.site.wait_ready(timeout=300, dag_id=DAG_ID)
        self.timings["dag_parsed_s"] = say.elapsed()
        if self.celery:
            say("starting a Celery worker (its own process group: a worker host)")
            self.start_worker()
        say(f"backfilling xetra_daily for {self.days[0]} .. {self.days[-1]}")
        # One run at a time: on 2 cores a Spark job alone finishes well before three together.
        self.site.airflow(
            "backfill",
            "create",
            "--dag-id",
            DAG_ID,
            "--from-date",
            self.days[0].isoformat(),
            "--to-date",
            self.days[-1].isoformat(),
            "--max-active-runs",
            "1",
            timeout=180,
        )
        self.watcher = TryWatcher(self.site.conninfo, DAG_ID)
        self.watcher.start()
        while True:
            self.observe()
            self.show()
            if self.args.until_done and backfill_done(self.site):
                self.say("every xetra_daily run has finished (--until-done)")
                raise Stopped("done")
            sleep_until(deadline, 1)

    def broker_start_async(self) -> Callable[[], None]:
        import threading

        errors: list[BaseException] = []

        def go() -> None:
            try:
                self.broker.start()
            except BaseException as e:  # noqa: BLE001 - re-raised in the waiter below
                errors.append(e)

        t = threading.Thread(target=go, daemon=True)
        t.start()

        def wait() -> None:
            t.join()
            if errors:
                raise errors[0]

        return wait

    def upload_sample(self, bucket: str) -> int:
        return upload_sample(self.s3, self.workdir, bucket, self.days, self.args.tickers)

    def pipeline_env(self, lake: str, source: str) -> dict[str, str]:
        assert self.pg is not None
        master = self.spark.master_url if self.spark is not None else None
        return pipeline_env(self.pg, self.s3.endpoint, lake, source, spark_master=master)

    def celery_env(self) -> dict[str, str]:
        assert self.pg is not None
        return {
            "AIRFLOW__CELERY__BROKER_URL": self.broker.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.pg.url(DBNAME),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        }

    def start_worker(self) -> None:
        assert self.site is not None
        env = self.site.env({"AIRFLOW_FAILOVER_NODE": "worker-1"})
        self.worker = spawn(
            [
                str(airflow_exe()),
                "celery",
                "worker",
                "--concurrency",
                "2",
                "--celery-hostname",
                "worker-1@%h",
            ],
            env,
            self.site.logs / "celery-worker.log",
            cwd=self.site.root,
        )

    def wait_schema(self) -> None:
        assert self.pg is not None and self.pair is not None
        deadline = time.monotonic() + 60
        while (
            self.pg.psql(
                "SELECT to_regclass('airflow_failover.commands') IS NOT NULL",
                dbname=DBNAME,
            )
            != "t"
        ):
            for node in self.pair.nodes.values():
                if node.proc is not None and node.proc.poll() is not None:
                    tail = node.log.read_text(errors="replace").splitlines()[-5:]
                    raise RuntimeError(
                        f"{node.name}'s daemon exited with {node.proc.returncode}:\n" + "\n".join(tail)
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the daemons created no schema within 60 s (see {self.pair.nodes[self.names[0]].log})"
                )
            time.sleep(0.2)

    # -- while it runs ---------------------------------------------------------------------------
    def observe(self) -> None:
        if "scheduler_s" not in self.timings and self.site is not None and self.site.live_scheduler_jobs():
            self.timings["scheduler_s"] = self.say.elapsed()
        if "first_prices_s" not in self.timings and self.site is not None and price_rows(self.site) > 0:
            self.timings["first_prices_s"] = self.say.elapsed()

    def show(self) -> None:
        assert self.pair is not None and self.site is not None
        text, _ = daemon_status(self.pair.nodes[self.names[0]].config)
        mode = "CeleryExecutor + RabbitMQ" if self.celery else "LocalExecutor"
        title = (
            f"{time.strftime('%H:%M:%S')}  airflow-failover demo: Airflow {version('apache-airflow')}, "
            f"{mode}, {len(self.names)} scheduler hosts (Ctrl-C to stop)"
        )
        lines = [title, ""]
        lines += text.splitlines()
        try:
            lines += ["", *event_lines(self.pair.events())]
            lines += [
                "",
                f"latest {DAG_ID} runs (logical date, state, scheduler nodes):",
            ]
            for r in dag_runs(self.site):
                lines.append(
                    f"  {str(r['logical_date'])[:10]}  {r['state'] or '-':<8} "
                    f"{' -> '.join(r['nodes']) or '-':<20} {r['run_id']}"
                )
            running = running_tasks(self.site)
            lines.append(
                "running tasks: "
                + (
                    ", ".join(
                        f"{t['task_id']} ({t['dag_id']} {when(t)}) on {t['hostname']}, try {t['try_number']}"
                        for t in running
                    )
                    or "-"
                )
            )
            lines.append(f"price rows loaded: {price_rows(self.site)}")
        except Exception as e:  # noqa: BLE001 - the view must keep going while the DB restarts
            lines.append(f"(database not readable: {e})")
        if self.worker is not None:
            alive = self.worker.poll() is None
            lines.append(f"celery worker-1: {'running, pid ' + str(self.worker.pid) if alive else 'EXITED'}")
        lines += [
            "",
            *self.dashboard.lines(),
            "",
            *kill_lines({n.name: n.proc for n in self.pair.nodes.values()}),
        ]
        render(lines, self.args.plain)

    # -- the end ---------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any] | None:
        if self.site is None or self.pair is None:
            return None
        try:
            # The terms as the schema's term_history() gives them (what `history` prints).
            res = self.pair.cli("history", "--json", "--limit", "1000")
            terms = json.loads(res.stdout)["terms"] if res.returncode == 0 else []
            return build_summary(
                self.site,
                terms,
                self.watcher,
                celery=self.celery,
                names=self.names,
                timings=self.timings,
                workdir=self.workdir,
            )
        except Exception as e:  # noqa: BLE001 - the teardown must still run
            return {"error": f"summary failed: {e}"}

    def teardown_steps(self) -> list[tuple[str, Callable[[], object]]]:
        """In order: nothing may write to a service that is already gone."""
        steps: list[tuple[str, Callable[[], object]]] = []
        if self.watcher is not None:
            steps.append(("the try watcher", self.watcher.stop))
        steps.append(("the dashboard", self.dashboard.stop))
        if self.worker is not None:
            worker = self.worker
            steps.append(("the Celery worker", lambda: stop(worker, timeout=20)))
        if self.pair is not None:
            steps.append(("the daemons", self.stop_daemons))
        if self.site is not None:
            steps.append(("the api-server", self.site.stop))
        if self.broker is not None:
            steps.append(("RabbitMQ", self.broker.stop))
        if self.spark is not None:
            steps.append(("the Spark cluster", self.spark.stop))
        if self.s3 is not None:
            steps.append(("the S3 server", self.s3.stop))
        if self.pg is not None:
            steps.append(("PostgreSQL", self.pg.destroy))
        return steps

    def stop_daemons(self) -> None:
        assert self.pair is not None
        left = self.pair.stop()
        if left:
            print(
                f"==> schedulers still alive after their daemons exited: {left}",
                flush=True,
            )


def upload_sample(s3: Any, workdir: Path, bucket: str, days: list[date], tickers: int) -> int:
    """Generates the days' source files (seeded, so every run has the same data) into ``bucket``."""
    import tempfile

    from pipeline.xetra.generate import generate

    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        generate(Path(tmp), days[0], (days[-1] - days[0]).days + 1, tickers, seed=2019)
        return int(s3.upload_tree(Path(tmp), bucket))


def pipeline_env(
    pg: PgServer, s3_endpoint: str, lake: str, source: str, spark_master: str | None = None
) -> dict[str, str]:
    """The Xetra DAG's variables and connections, as environment variables for Airflow."""
    from .s3server import ACCESS_KEY, REGION, SECRET_KEY

    s3_conn = {
        "conn_type": "aws",
        "login": ACCESS_KEY,
        "password": SECRET_KEY,
        "extra": {"endpoint_url": s3_endpoint, "region_name": REGION},
    }
    pg_conn = {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": pg.port,
        "login": "postgres",
        "schema": DBNAME,
    }
    env = {
        "AIRFLOW_VAR_XETRA_SOURCE_URL": f"s3://{source}",
        "AIRFLOW_VAR_XETRA_LAKE_URL": f"s3://{lake}",
        "AIRFLOW_CONN_XETRA_S3": json.dumps(s3_conn),
        "AIRFLOW_CONN_XETRA_POSTGRES": json.dumps(pg_conn),
    }
    if spark_master is not None:  # spark_io stays auto: direct (s3a://) on a cluster
        env["AIRFLOW_VAR_XETRA_SPARK_MASTER"] = spark_master
        env["AIRFLOW_VAR_XETRA_SPARK_CONF"] = "spark.executor.memory=512m"
    return env
