"""A real Apache Airflow 3 site under airflow-failover daemons, for the end-to-end tests and the
benchmark (``bench/airflow_failover.py``).

One machine plays two Airflow "hosts": each daemon's scheduler gets its own Airflow hostname
(``[core] hostname_callable`` = ``localcluster.airflow_hostname.node_hostname``, i.e. the daemon's
``AIRFLOW_FAILOVER_NODE``) and its own log-server and health-server ports. What Airflow 3 needs on
every node is started once and shared, to keep the CPU lean on a 2-core box: ONE api-server (UI,
REST and the Execution API that LocalExecutor tasks call) and ONE dag-processor. The metadata DB and
the daemons' schema live in one database on the throwaway PostgreSQL.

Nothing here imports Airflow: every Airflow action is a subprocess with a clean environment, and
every check reads the metadata DB with psycopg2. Every process is started in a new session and
killed by session in ``stop()``, which also catches Airflow 3 task runners that leave their parent's
process group (they call setpgid, never setsid).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2

from .pgserver import PgServer
from .ports import free_tcp_port
from .procfs import args as cmdline
from .procfs import environ_of, proc_stat
from .procs import spawn, stop_sessions

REPO = Path(__file__).resolve().parents[1]

DEMO_DAG = REPO / "dags" / "failover_demo.py"
DAG_ID = "failover_demo"


def venv_bin() -> Path:
    """The pinned venv (``.venv/``) when it exists, else the running interpreter's bin dir."""
    cand = REPO / ".venv" / "bin"
    if (cand / "airflow").exists():
        return cand
    return Path(sys.executable).parent


def airflow_exe() -> Path:
    exe = venv_bin() / "airflow"
    if not exe.exists():
        raise RuntimeError(f"{exe} missing: source scripts/lib/python-env.sh && ensure_python_env")
    return exe


def migrated_template() -> str | None:
    """The name of the migrated template database for the venv's Airflow (None when the venv has
    no Airflow: then every site migrates its own database)."""
    dist = list(venv_bin().parent.glob("lib/python3*/site-packages/apache_airflow_core-*.dist-info"))
    if len(dist) != 1:
        return None
    version = dist[0].name.removeprefix("apache_airflow_core-").removesuffix(".dist-info")
    return "af_migrated_" + "".join(c if c.isalnum() else "_" for c in version)


def migrated_dump(pg: PgServer, workdir: Path) -> Path:
    """The migrated template database of ``pg`` as plain SQL without owners or grants, made
    (with one ``airflow db migrate``) if the server has none yet. Restored with ``psql -f`` by a
    role into an empty database on another server, it gives that role what ``airflow db
    migrate`` would have made, in a second."""
    template = migrated_template()
    if template is None:
        raise RuntimeError(
            f"no Airflow in {venv_bin()}: source scripts/lib/python-env.sh && ensure_python_env"
        )
    if template not in pg.psql("SELECT datname FROM pg_database").split():
        Site(pg, workdir / "template-site", dbname=f"{template}_first").migrate()
    out = workdir / f"{template}.sql"
    _pg_tool(pg, "pg_dump", ["--no-owner", "--no-privileges", "-f", str(out), template], 120)
    return out


def install_migrated_template(pg: PgServer, dump: Path) -> None:
    """Gives ``pg`` the migrated template from another server's dump (``migrated_dump``), so
    its sites skip ``airflow db migrate`` as well."""
    template = migrated_template()
    assert template is not None  # migrated_dump found Airflow
    pg.create_database(template)
    _pg_tool(pg, "psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", template, "-f", str(dump)], 300)


def _pg_tool(pg: PgServer, tool: str, args: list[str], timeout: float) -> None:
    """Runs one of the server's client tools as ``postgres``; its stderr's end in the error."""
    cmd = [str(pg.bindir / tool), "-h", str(pg.psql_host), "-p", str(pg.port), "-U", "postgres"]
    res = subprocess.run(cmd + args, capture_output=True, text=True, check=False, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"{tool} {' '.join(args)} failed: {res.stderr.strip()[-2000:]}")


# -- processes ---------------------------------------------------------------------------------------
def scheduler_leaders(cluster: str) -> list[tuple[int, str]]:
    """Live ``airflow scheduler`` process-group leaders started by a daemon of ``cluster``, as
    (pid, node). A scheduler's own children (executor workers, log server) are not leaders."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        st = proc_stat(pid)
        if not st or st[0] in ("Z", "X") or st[2] != pid:
            continue
        # A process title (setproctitle: Airflow's, or the warm launcher's after go, "airflow
        # scheduler") is one string with spaces; a warm launcher before go is titled
        # "airflow-failover-warm scheduler (waiting for go)" and is no scheduler.
        words = " ".join(cmdline(pid)).split()
        if not any(a.endswith("airflow") for a in words[:2]) or "scheduler" not in words:
            continue
        env = environ_of(pid)
        if env.get("AIRFLOW_FAILOVER_CLUSTER") == cluster:
            out.append((pid, env.get("AIRFLOW_FAILOVER_NODE", "?")))
    return sorted(out)


def wait_for(
    pred: Callable[[], Any],
    timeout: float,
    what: str,
    every: float = 0.2,
    diagnose: Callable[[], str] | None = None,
) -> Any:
    """Polls ``pred`` until it returns something truthy; on timeout fails naming what it waited
    for, the last value seen and the diagnosis."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(every)
    extra = diagnose() if diagnose else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})\n{extra}")


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"--- {path.name}: (no file)"
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {path.name} (tail)\n" + "\n".join(text)


# -- the Airflow site --------------------------------------------------------------------------------
@dataclass
class Site:
    """AIRFLOW_HOME, metadata DB, the shared api-server and dag-processor."""

    pg: PgServer
    root: Path
    dbname: str = "airflow_e2e"
    task_seconds: float = 3.0
    api_port: int = field(default_factory=free_tcp_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    dag_files: tuple[Path, ...] = (DEMO_DAG,)
    executor: str = "LocalExecutor"
    # How soon a new scheduler reclaims a dead one's tasks. The e2e tests shorten Airflow's
    # defaults (30 s threshold, 300 s check); None keeps Airflow's own value.
    orphan_threshold_s: int | None = 15
    orphan_check_s: int | None = 5
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.home = self.root / "airflow-home"
        self.dags = self.root / "dags"
        self.demo_dir = self.root / "demo"
        self.logs = self.root / "logs"
        for d in (self.home, self.dags, self.demo_dir, self.logs):
            d.mkdir(exist_ok=True)
        for dag_file in self.dag_files:
            shutil.copy(dag_file, self.dags / dag_file.name)
        self.jwt_secret = secrets.token_hex(32)
        self.api_secret = secrets.token_hex(32)

    @property
    def conninfo(self) -> str:
        return self.pg.conninfo(self.dbname)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A clean environment: the caller's minus every AIRFLOW* variable, plus this site's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env["PATH"] = f"{venv_bin()}:{env.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONPATH"] = str(REPO)
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=self.pg.url(self.dbname, driver="postgresql+psycopg2"),
            AIRFLOW__CORE__EXECUTOR=self.executor,
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags),
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
            AIRFLOW__CORE__HOSTNAME_CALLABLE="localcluster.airflow_hostname.node_hostname",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{self.api_port}/execution/",
            AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{self.api_port}",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.api_port),
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API__SECRET_KEY=self.api_secret,
            AIRFLOW__API_AUTH__JWT_SECRET=self.jwt_secret,
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="30",
            AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="1",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="30",
            FAILOVER_DEMO_DIR=str(self.demo_dir),
            FAILOVER_DEMO_TASK_SECONDS=str(self.task_seconds),
        )
        # After a failover the new scheduler must reclaim the dead node's running task: it resets
        # task instances of scheduler jobs whose heartbeat is older than the threshold, in a
        # check that runs every orphaned_tasks_check_interval (300 s by default).
        if self.orphan_threshold_s is not None:
            env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD"] = str(self.orphan_threshold_s)
        if self.orphan_check_s is not None:
            env["AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL"] = str(self.orphan_check_s)
        env.update(self.extra_env)
        if extra:
            env.update(extra)
        return env

    # -- lifecycle ---------------------------------------------------------------------------------
    def airflow(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [str(airflow_exe()), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
        if res.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} failed ({res.returncode}):\n"
                f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
            )
        return res

    def migrate(self) -> None:
        """``airflow db migrate``, run once per PostgreSQL server and Airflow version: the first
        new site's freshly migrated database is kept as a template, and every later new site's
        database is a copy of it (``CREATE DATABASE ... TEMPLATE``: about a second, where the
        migration costs half a minute of 2 cores). Nothing a site sets changes what the migration
        writes (the site's settings are all in its environment). A database that exists already is
        migrated as before."""
        existing = self.pg.psql("SELECT datname FROM pg_database").split()
        template = migrated_template()
        if self.dbname in existing or template is None:
            if self.dbname not in existing:
                self.pg.create_database(self.dbname)
            self.airflow("db", "migrate", timeout=300)
            return
        if template in existing:
            self.pg.psql(f'CREATE DATABASE "{self.dbname}" TEMPLATE "{template}"')
            return
        self.pg.create_database(self.dbname)
        self.airflow("db", "migrate", timeout=300)
        # Copied before anything else connects to it: a template must have no other session.
        self.pg.psql(f'CREATE DATABASE "{template}" TEMPLATE "{self.dbname}"')

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        proc = spawn(argv, env or self.env(), self.logs / f"{name}.log", cwd=self.root)
        self.procs[name] = proc
        return proc

    def start_shared(self, dag_processor: bool = True) -> None:
        """One api-server and (unless the daemons manage it) one dag-processor: in a real
        deployment they run on every node."""
        af = str(airflow_exe())
        self.spawn(
            "api-server",
            [
                af,
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--workers",
                "1",
            ],
        )
        if dag_processor:
            self.spawn("dag-processor", [af, "dag-processor"])

    def wait_ready(self, timeout: float = 180, dag_id: str = DAG_ID) -> None:
        """The api-server answers and the demo DAG is serialized (parsed by the dag-processor)."""
        import urllib.request

        def api_up() -> bool:
            self.check_shared_alive()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.api_port}/api/v2/version", timeout=2
                ) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_for(
            api_up,
            timeout,
            f"the api-server on 127.0.0.1:{self.api_port}",
            every=0.5,
            diagnose=self.diagnose,
        )

        def dag_parsed() -> bool:
            self.check_shared_alive()
            return bool(self.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)))

        wait_for(
            dag_parsed,
            timeout,
            f"the dag-processor to serialize {dag_id}",
            every=0.5,
            diagnose=self.diagnose,
        )

    @contextlib.contextmanager
    def running(self) -> Iterator[Site]:
        """Migrated, with its shared api-server and dag-processor up and the DAG parsed; stopped
        on the way out whatever happened."""
        try:
            self.migrate()
            self.start_shared()
            self.wait_ready()
            yield self
        finally:
            self.stop()

    def check_shared_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}\n{self.diagnose()}")

    def stop(self) -> None:
        stop_sessions(list(self.procs.values()))

    # -- the metadata DB ---------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(self.conninfo, connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, tuple(params))
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def db_now(self) -> Any:
        return self.query("SELECT clock_timestamp()")[0][0]

    def scheduler_jobs(self) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT id, hostname, state, start_date, end_date, latest_heartbeat, "
            "extract(epoch FROM clock_timestamp() - latest_heartbeat) FROM job "
            "WHERE job_type = 'SchedulerJob' ORDER BY id"
        )
        keys = (
            "id",
            "hostname",
            "state",
            "start_date",
            "end_date",
            "latest_heartbeat",
            "age_s",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def live_scheduler_jobs(self, max_age_s: float = 15.0) -> list[dict[str, Any]]:
        return [j for j in self.scheduler_jobs() if j["state"] == "running" and float(j["age_s"]) < max_age_s]

    def trigger(self, run_id: str) -> None:
        self.airflow("dags", "trigger", DAG_ID, "--run-id", run_id)

    def dag_run_state(self, run_id: str) -> str | None:
        rows = self.query(
            "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s",
            (DAG_ID, run_id),
        )
        return rows[0][0] if rows else None

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        """Every try of every task of a run: task_instance_history (earlier tries) and the current
        task_instance rows."""
        cols = "task_id, try_number, state, hostname, pid, start_date, end_date"
        rows = self.query(
            f"SELECT {cols}, 'history' FROM task_instance_history WHERE dag_id = %s AND run_id = %s "
            f"UNION ALL SELECT {cols}, 'current' FROM task_instance WHERE dag_id = %s AND run_id = %s "
            "ORDER BY 1, 2",
            (DAG_ID, run_id, DAG_ID, run_id),
        )
        keys = (
            "task_id",
            "try_number",
            "state",
            "hostname",
            "pid",
            "start_date",
            "end_date",
            "source",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def demo_records(self) -> list[dict[str, Any]]:
        path = self.demo_dir / "records.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def diagnose(self) -> str:
        parts = [tail(self.logs / f"{name}.log") for name in self.procs]
        try:
            parts.append("--- scheduler jobs\n" + "\n".join(map(str, self.scheduler_jobs())))
        except Exception as e:  # noqa: BLE001 - diagnosis must not raise
            parts.append(f"--- scheduler jobs: {e}")
        return "\n".join(parts)
