"""``scripts/demo.sh``: the whole system on one machine.

By default: a throwaway PostgreSQL (Airflow's metadata, the daemons' schema and the Xetra prices
table in one database), a moto S3 server holding generated Xetra PDS files for the last few
trading days in the public bucket's key layout, N scheduler "hosts" (airflow-failover daemons that
each manage a real ``airflow scheduler``, ``dag-processor`` and ``triggerer``, each recording its
own hostname), one shared api-server, the ``xetra_daily`` DAG backfilling the sample days, the
``minutely_work`` DAG (a ~40 s task every minute, so work is in flight for as long as the demo
runs), and the dashboard. ``--executor celery`` adds a throwaway RabbitMQ and one Celery worker
that stands for a worker host. ``--standin`` is the quick demo: three daemons managing a stand-in scheduler.

Kill the active daemon from another terminal (the view prints the command) and watch another node
take over and the runs finish. Ctrl-C, ``--duration`` or ``--until-done`` (every xetra_daily run
finished) tears everything down; ``--summary FILE``
writes what happened as JSON.

    .venv/bin/python -m localcluster.demo [--nodes 2] [--executor local|celery] [--standin]
        [--duration S] [--until-done] [--plain] [--summary FILE] [--no-dashboard]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .airflow_pair import Pair, TakeoverPair
from .airflow_site import Site, airflow_exe
from .cluster import Cluster, daemon_binary
from .pgserver import PgServer
from .procs import RUN_VAR, kill_run, spawn, stop
from .task_tries import TryWatcher

REPO = Path(__file__).resolve().parents[1]
DAG_ID = "xetra_daily"
MINUTELY_DAG_ID = "minutely_work"
DBNAME = "airflow"


def when(t: dict[str, Any]) -> str:
    """A run's logical date: the day for the daily DAG, the minute for the minutely one."""
    d = str(t["logical_date"])
    return d[:10] if t["dag_id"] == DAG_ID else d[11:16]


class Stopped(Exception):
    """Ctrl-C, SIGTERM or the end of --duration: tear down and report."""


class Progress:
    """``==> [ 12.3s] what`` lines: the demo's start-up takes minutes on 2 cores, so every step
    says what it waits for."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, what: str) -> None:
        print(f"==> [{time.monotonic() - self.t0:6.1f}s] {what}", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="scripts/demo.sh",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--nodes",
        type=int,
        default=None,
        help="scheduler hosts (default 2; stand-in: 3)",
    )
    ap.add_argument(
        "--executor",
        choices=("local", "celery"),
        default="local",
        help="LocalExecutor (default) or CeleryExecutor with RabbitMQ and one worker host",
    )
    ap.add_argument(
        "--standin",
        action="store_true",
        help="the quick demo: a stand-in scheduler, no Airflow",
    )
    ap.add_argument(
        "--duration",
        type=float,
        default=0,
        help="stop after N seconds (0: run until Ctrl-C)",
    )
    ap.add_argument(
        "--warm",
        action="store_true",
        help="warm standby (docs/warm-standby.md): each standby pre-starts the scheduler, "
        "dag-processor and triggerer with Airflow imported (about 140 MB each per standby)",
    )
    ap.add_argument(
        "--plain",
        action="store_true",
        help="print the view without clearing the screen (logs)",
    )
    ap.add_argument(
        "--until-done",
        action="store_true",
        help="stop once every xetra_daily run (the backfill and the scheduled one) has finished, "
        "with --duration as a cap: for scripts and CI",
    )
    ap.add_argument(
        "--spark-cluster",
        action="store_true",
        help="run the pipeline's Spark job on a standalone master + 2 workers (s3a:// in and out)",
    )
    ap.add_argument("--summary", type=Path, help="write a JSON summary here when the demo stops")
    ap.add_argument("--no-dashboard", action="store_true", help="do not start the web dashboard")
    ap.add_argument("--days", type=int, default=3, help="trading days of sample data (default 3)")
    ap.add_argument(
        "--tickers",
        type=int,
        default=12,
        help="synthetic instruments beside the real ones",
    )
    args = ap.parse_args(argv)
    if args.nodes is None:
        args.nodes = 3 if args.standin else 2
    if not 1 <= args.nodes <= 26:
        ap.error("--nodes must be between 1 and 26")
    if args.days < 1:
        ap.error("--days must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = uuid.uuid4().hex[:12]
    # Every process this demo starts carries the mark, so teardown finds even those that left
    # their session (Erlang helpers, Airflow task runners).
    os.environ[RUN_VAR] = run_id
    base = Path(os.environ.get("AF_DEMO_DIR", "/tmp/airflow-failover-demo"))
    workdir = base / f"run-{time.strftime('%Y%m%d-%H%M%S')}-{run_id[:4]}"
    workdir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.duration if args.duration else None

    def on_signal(signum: int, frame: object) -> None:
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    demo: StandinDemo | AirflowDemo = (StandinDemo if args.standin else AirflowDemo)(args, workdir)
    try:
        demo.run(deadline)
    except Stopped:
        pass
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the teardown
        print("\n==> stopping everything", flush=True)
        summary = demo.summary()
        for name, step in demo.teardown_steps():
            try:
                step()
            except Exception as e:  # noqa: BLE001 - every other step must still run
                print(f"==> stopping {name} failed: {e}", flush=True)
        left = kill_run(run_id)
        if left:
            print(f"==> killed {len(left)} leftover process(es): {left}", flush=True)
        if args.summary and summary is not None:
            args.summary.write_text(json.dumps(summary, indent=2, default=str) + "\n")
            print(f"==> summary in {args.summary}", flush=True)
        print("==> done", flush=True)
    return 0


def sleep_until(deadline: float | None, seconds: float) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise Stopped("duration")
    time.sleep(seconds if deadline is None else max(0.0, min(seconds, deadline - time.monotonic())))
    if deadline is not None and time.monotonic() >= deadline:
        raise Stopped("duration")


def daemon_status(config: Path) -> tuple[str, dict[str, Any]]:
    """`airflow-failover status` as text (for the view) and JSON (for the demo's own logic)."""
    text = subprocess.run(
        [str(daemon_binary()), "status", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    js = subprocess.run(
        [str(daemon_binary()), "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    try:
        parsed = dict(json.loads(js.stdout))
    except json.JSONDecodeError:
        parsed = {}
    return (text.stdout or text.stderr).rstrip(), parsed


def render(lines: list[str], plain: bool) -> None:
    if not plain:
        sys.stdout.write("\x1b[H\x1b[2J")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def kill_lines(procs: dict[str, subprocess.Popen[bytes] | None]) -> list[str]:
    out = ["try it, in another terminal:"]
    for name, proc in procs.items():
        if proc is not None and proc.poll() is None:
            out.append(f"  kill -9 {proc.pid}    # {name}'s daemon")
    return out


def event_lines(events: list[dict[str, Any]]) -> list[str]:
    return ["latest events:"] + [
        f"  {str(e['at'])[11:23]}  {e['node_id']:<8} term {e['term']:<3} {e['kind']}: {e['detail']}"
        for e in events[-8:]
    ]


class Dashboard:
    """The web dashboard beside the cluster, logged in to the database as its least-privilege
    role, with a random login shown in the view (or AF_DASHBOARD_USER / _PASSWORD / _PORT)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.note = ""

    def start(self, pg: PgServer, dbname: str, cluster: str, prices_ddl: str | None = None) -> None:
        import importlib.util

        if importlib.util.find_spec("dash") is None:
            self.note = "dashboard: not started (no dash in this Python; run scripts/demo.sh)"
            return
        if prices_ddl:  # the role may read the prices table only if it exists when granted
            pg.psql(prices_ddl, dbname=dbname)
        # Its own least-privilege role (with the prices table), allowed by the daemons' init-db
        # to read this cluster and send terminate to it only.
        webapp = [sys.executable, "-m", "webapp"]
        grant = ["grant-role", "--conninfo", pg.conninfo(dbname)]
        subprocess.run(webapp + grant, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        admin = self.workdir / "init-db-dashboard.json"
        admin.write_text(json.dumps({
            "cluster": cluster, "node_id": "init", "database": {"conninfo": pg.conninfo(dbname)},
            "processes": [{"name": "x", "command": ["true"]}],
        }))  # fmt: skip
        init_db = [str(daemon_binary()), "init-db", "--config", str(admin)]
        subprocess.run([*init_db, "--dashboard-role", "af_dashboard"], check=True, stdout=subprocess.DEVNULL)
        user = os.environ.get("AF_DASHBOARD_USER") or "admin"
        password = secrets.token_urlsafe(9)
        password_file = self.workdir / "dashboard.password"
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        port = os.environ.get("AF_DASHBOARD_PORT") or "8050"
        log = self.workdir / "dashboard.log"
        serve = [
            "--conninfo",
            pg.conninfo(dbname, user="af_dashboard"),
            "--cluster",
            cluster,
            "--user",
            user,
            "--password-file",
            str(password_file),
            "--port",
            port,
        ]
        self.proc = spawn(webapp + serve, dict(os.environ), log, cwd=REPO)
        self.note = f"dashboard: http://127.0.0.1:{port}/  (log in as {user} / {password}; log {log})"

    def lines(self) -> list[str]:
        if self.proc is not None and self.proc.poll() is not None:
            return [
                f"dashboard: exited with {self.proc.returncode}"
                f" (port taken? see {self.workdir}/dashboard.log)"
            ]
        return [self.note] if self.note else []

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


# -- the quick demo ------------------------------------------------------------------------------
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


# -- the real system -----------------------------------------------------------------------------
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
        self.pg.create_database(DBNAME)
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
            if self.args.until_done and self.backfill_done():
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
        import tempfile

        from pipeline.xetra.generate import generate

        first = self.days[0]
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            generate(
                Path(tmp),
                first,
                (self.days[-1] - first).days + 1,
                self.args.tickers,
                seed=2019,
            )
            return int(self.s3.upload_tree(Path(tmp), bucket))

    def pipeline_env(self, lake: str, source: str) -> dict[str, str]:
        from .s3server import ACCESS_KEY, REGION, SECRET_KEY

        assert self.pg is not None
        s3_conn = {
            "conn_type": "aws",
            "login": ACCESS_KEY,
            "password": SECRET_KEY,
            "extra": {"endpoint_url": self.s3.endpoint, "region_name": REGION},
        }
        pg_conn = {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": self.pg.port,
            "login": "postgres",
            "schema": DBNAME,
        }
        env = {
            "AIRFLOW_VAR_XETRA_SOURCE_URL": f"s3://{source}",
            "AIRFLOW_VAR_XETRA_LAKE_URL": f"s3://{lake}",
            "AIRFLOW_CONN_XETRA_S3": json.dumps(s3_conn),
            "AIRFLOW_CONN_XETRA_POSTGRES": json.dumps(pg_conn),
        }
        if self.spark is not None:  # spark_io stays auto: direct (s3a://) on a cluster
            env["AIRFLOW_VAR_XETRA_SPARK_MASTER"] = self.spark.master_url
            env["AIRFLOW_VAR_XETRA_SPARK_CONF"] = "spark.executor.memory=512m"
        return env

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
        if "first_prices_s" not in self.timings and self.price_rows() > 0:
            self.timings["first_prices_s"] = self.say.elapsed()

    def backfill_done(self) -> bool:
        assert self.site is not None
        rows = self.site.query(
            "SELECT count(*), count(*) FILTER (WHERE state IN ('success', 'failed'))"
            " FROM dag_run WHERE dag_id = %s",
            (DAG_ID,),
        )
        total, finished = rows[0]
        return bool(total) and total == finished

    def price_rows(self) -> int:
        assert self.site is not None
        try:
            rows = self.site.query("SELECT count(*) FROM xetra_daily_price")
        except Exception:  # noqa: BLE001 - the table appears with the first load
            return 0
        return int(rows[0][0])

    def dag_runs(self, limit: int = 6) -> list[dict[str, Any]]:
        """The latest runs with the nodes whose schedulers queued their tasks, in order."""
        assert self.site is not None
        rows = self.site.query(
            "SELECT r.run_id, r.logical_date, r.state, r.end_date,"
            " (SELECT array_agg(h ORDER BY t) FROM (SELECT j.hostname AS h, min(x.queued_dttm) AS t"
            "   FROM (SELECT queued_by_job_id, queued_dttm FROM task_instance"
            "          WHERE dag_id = r.dag_id AND run_id = r.run_id"
            "         UNION ALL SELECT queued_by_job_id, queued_dttm FROM task_instance_history"
            "          WHERE dag_id = r.dag_id AND run_id = r.run_id) x"
            "   JOIN job j ON j.id = x.queued_by_job_id GROUP BY j.hostname) q)"
            " FROM dag_run r WHERE r.dag_id = %s ORDER BY r.logical_date DESC LIMIT %s",
            (DAG_ID, limit),
        )
        return [
            {
                "run_id": r[0],
                "logical_date": r[1],
                "state": r[2],
                "end_date": r[3],
                "nodes": r[4] or [],
            }
            for r in rows
        ]

    def running_tasks(self) -> list[dict[str, Any]]:
        """Every running task of every DAG, with the host it runs on."""
        assert self.site is not None
        rows = self.site.query(
            "SELECT ti.task_id, r.logical_date, ti.hostname, ti.try_number, ti.dag_id"
            " FROM task_instance ti"
            " JOIN dag_run r ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id"
            " WHERE ti.state = 'running' ORDER BY ti.start_date",
        )
        return [
            dict(
                zip(
                    ("task_id", "logical_date", "hostname", "try_number", "dag_id"),
                    r,
                    strict=True,
                )
            )
            for r in rows
        ]

    def tasks_across(self, at: datetime) -> list[dict[str, Any]]:
        """Every try that was running at ``at`` (a failover), with how its task instance ended."""
        assert self.site is not None
        rows = self.site.query(
            "SELECT t.task_id, t.run_id, t.try_number, t.hostname, ti.state, ti.try_number"
            " FROM (SELECT dag_id, run_id, task_id, map_index, try_number, hostname, start_date, end_date"
            "         FROM task_instance_history UNION ALL"
            "       SELECT dag_id, run_id, task_id, map_index, try_number, hostname, start_date, end_date"
            "         FROM task_instance) t"
            " JOIN task_instance ti USING (dag_id, run_id, task_id, map_index)"
            " WHERE t.dag_id = %s AND t.start_date <= %s AND (t.end_date IS NULL OR t.end_date >= %s)"
            " ORDER BY t.start_date",
            (DAG_ID, at, at),
        )
        keys = (
            "task_id",
            "run_id",
            "try_number",
            "hostname",
            "final_state",
            "final_try_number",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def show(self) -> None:
        assert self.pair is not None
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
            for r in self.dag_runs():
                lines.append(
                    f"  {str(r['logical_date'])[:10]}  {r['state'] or '-':<8} "
                    f"{' -> '.join(r['nodes']) or '-':<20} {r['run_id']}"
                )
            running = self.running_tasks()
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
            lines.append(f"price rows loaded: {self.price_rows()}")
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
            return self._summary()
        except Exception as e:  # noqa: BLE001 - the teardown must still run
            return {"error": f"summary failed: {e}"}

    def _summary(self) -> dict[str, Any]:
        assert self.site is not None and self.pair is not None
        res = self.pair.cli("history", "--json", "--limit", "1000")
        failovers = failovers_from_terms(json.loads(res.stdout)["terms"] if res.returncode == 0 else [])
        first_failover = datetime.fromisoformat(str(failovers[0]["at"])) if failovers else None
        runs = self.site.query(
            "SELECT state, end_date FROM dag_run WHERE dag_id IN (%s, %s)", (DAG_ID, MINUTELY_DAG_ID)
        )
        counts = {"success": 0, "failed": 0, "running": 0, "success_after_failover": 0}
        for state, end in runs:
            if state in counts:
                counts[state] += 1
            if state == "success" and first_failover is not None and end is not None and end > first_failover:
                counts["success_after_failover"] += 1
        overlaps = self.watcher.stop() if self.watcher is not None else []
        jobs = self.site.query("SELECT hostname, job_type, state, start_date FROM job ORDER BY id")
        return {
            "airflow_version": version("apache-airflow"),
            "executor": "CeleryExecutor" if self.celery else "LocalExecutor",
            "nodes": list(self.names),
            "failovers": failovers,
            "dag_runs": counts,
            "price_rows": self.price_rows(),
            "task_overlaps": len(overlaps),
            "task_overlap_details": overlaps,
            "tries_watched": self.watcher.tries_seen if self.watcher is not None else 0,
            "scheduler_jobs": [
                {"hostname": h, "state": st, "start_date": sd}
                for h, jt, st, sd in jobs
                if jt == "SchedulerJob"
            ],
            "tasks_across_failovers": [
                self.tasks_across(datetime.fromisoformat(str(f["at"]))) for f in failovers
            ],
            "timings_s": {k: round(v, 1) for k, v in self.timings.items()},
            "workdir": str(self.workdir),
        }

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


def failovers_from_terms(terms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each term (`airflow-failover history --json`, the schema's term_history()) won by a node
    other than the previous term's holder: ``{at, from, to, term}``."""
    return [
        {"at": t["start"], "from": p["holder"], "to": t["holder"], "term": t["term"]}
        for p, t in zip(terms, terms[1:], strict=False)
        if t["holder"] != p["holder"]
    ]


if __name__ == "__main__":
    sys.exit(main())
