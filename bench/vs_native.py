#!/usr/bin/env python3
"""airflow-failover side by side with Airflow's own HA and a single supervised scheduler (issue 23):
the same workload on the same throwaway PostgreSQL and the real Airflow 3 from the venv, one
setup after the other in one run.

    .venv/bin/python bench/vs_native.py [--executors local,celery] [--setups single,native,failover]
                                        [--faults host_loss,sigstop] [--json FILE]
    .venv/bin/python bench/vs_native.py --short      (defaults: native vs failover, host loss,
                                                      LocalExecutor, 4 DAGs: checks the bench works)
    (build/airflow-failover must be built; CeleryExecutor needs rabbitmq-server)

Setups (localcluster/vs_native_setups.py): single (one host, a supervisor restarts its processes),
native (two hosts, a scheduler on each, the dag-processor on host-a, triggerers on both),
failover (two hosts under the daemons, takeover step, warm standby, heartbeats, default lease).

Workload (bench/dags/vs_native_load.py): N DAGs x 10 short tasks every 30 s (paused "at rest",
unpaused "under load": more than two cores can run, so the schedulers are saturated), and one
long task that writes a beat every 0.25 s while it executes; plus one run of the project's Xetra
DAG (dags/xetra_daily.py, one small day from a moto S3 server, Spark local[2]: bench/vs_native_xetra.py)
triggered as the load starts, waited for after the faults, which must succeed.

Per setup and executor: a window at rest, then one under load, each measuring database statements
per second (pg_stat_statements), lock waits (pg_locks sampled twice a second: % of samples with a
waiting lock, most waiters at once; lock waits over deadlock_timeout, deadlocks and NOWAIT failures
in the server log; pg_stat_database.deadlocks), the schedulers' CPU (/proc) and task instances
queued per minute. Then, under load, each fault hits the host that runs the scheduler (with
LocalExecutor the one running the long task): host_loss (every process of the host SIGKILLed) and
sigstop (every process of the host SIGSTOPped for 30 s, then SIGCONT). Measured from the fault:
the first task instance queued by a scheduler (scheduling again), the long task executing again
(its first beat), whether two tries of it executed at once (beats of two tries in one 0.5 s slot),
and the DAG files parsed again (dag.last_parsed_time).

Airflow settings for all setups: localcluster.airflow_site.Site's (parallelism 4 per scheduler,
task_instance_heartbeat_timeout 30 s, min_file_process_interval 30 s) and Airflow's own orphan
settings (scheduler_health_check_threshold 30 s, orphaned_tasks_check_interval 300 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import vs_native_xetra as xetra
from vs_native_args import EXECUTORS, parse_args
from vs_native_report import settings, source_state, table

from localcluster.airflow_site import REPO, Site, airflow_exe, wait_for
from localcluster.cluster import daemon_binary
from localcluster.native_ha import celery_worker
from localcluster.pgserver import PgServer
from localcluster.procs import RUN_VAR, kill_run, signal_all, stop
from localcluster.vs_native_measure import (
    Window,
    enable_statements,
    first_parse_after,
    first_queued_after,
    overlap_seconds,
    read_beats,
    running_long_try,
    wait_until,
)
from localcluster.vs_native_setups import Setup, make

LOAD_DAG = REPO / "bench" / "dags" / "vs_native_load.py"
FREEZE_S = 30.0
NAN = float("nan")


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_avg() -> str:
    a = os.getloadavg()
    return f"{a[0]:.1f} {a[1]:.1f} {a[2]:.1f}"


class Bench:
    def __init__(self, args: argparse.Namespace, pg: PgServer, tmp: Path) -> None:
        self.args = args
        self.pg = pg
        self.tmp = tmp
        self.run_id = uuid.uuid4().hex[:12]
        self.broker: Any = None
        self.xetra: xetra.XetraSource | None = None

    def dag_files(self) -> tuple[Path, ...]:
        return (LOAD_DAG,) if self.args.no_xetra else (LOAD_DAG, xetra.DAG_FILE)

    def template(self) -> None:
        """One migrated metadata DB, cloned for every setup (a fresh DB each, no migration)."""
        site = Site(self.pg, self.tmp / "template", dbname="vsn_template", dag_files=self.dag_files())
        site.migrate()

    def site(self, setup: str, executor: str) -> Site:
        dbname = f"vsn_{setup}_{executor}"
        self.pg.psql(f"CREATE DATABASE {dbname} TEMPLATE vsn_template")
        root = self.tmp / f"{setup}-{executor}"
        beats = root / "beats"
        beats.mkdir(parents=True)
        extra = {
            RUN_VAR: self.run_id,
            "VS_NATIVE_DIR": str(beats),
            "VS_NATIVE_DAGS": str(self.args.dags),
            "VS_NATIVE_LONG_SECONDS": "1800",
            **(self.xetra.env if self.xetra is not None else {}),
        }
        if executor == "celery":
            extra.update(
                AIRFLOW__CELERY__BROKER_URL=self.broker.url,
                AIRFLOW__CELERY__RESULT_BACKEND="db+" + self.pg.url(dbname),
                AIRFLOW__CELERY__WORKER_CONCURRENCY="4",
                AIRFLOW__OPERATORS__DEFAULT_QUEUE=dbname,
            )
        return Site(
            self.pg,
            root,
            dbname=dbname,
            dag_files=self.dag_files(),
            executor=EXECUTORS[executor],
            orphan_threshold_s=None,
            orphan_check_s=None,
            extra_env=extra,
        )

    # -- one setup -----------------------------------------------------------------------------------
    def run_setup(self, setup_name: str, executor: str) -> dict[str, Any]:
        a = self.args
        out: dict[str, Any] = {"setup": setup_name, "executor": executor, "load_avg_start": load_avg()}
        site = self.site(setup_name, executor)
        setup = make(setup_name, site, executor == "local")
        worker = None
        try:
            t0 = time.monotonic()
            site.start_shared(dag_processor=False)
            if executor == "celery":
                worker = celery_worker(site, site.dbname)
            setup.start()
            site.wait_ready(timeout=300, dag_id="vs_native_long")
            wait_for(
                lambda: (
                    site.query(
                        "SELECT count(*) FROM serialized_dag "
                        "WHERE dag_id LIKE 'vs\\_native\\_%%' OR dag_id = %s",
                        (xetra.DAG_ID,),
                    )[0][0]
                    >= a.dags + 1 + (0 if a.no_xetra else 1)
                ),
                300,
                "every DAG serialized",
                every=0.5,
                diagnose=setup.diagnose,
            )
            wait_for(
                lambda: len(site.live_scheduler_jobs()) >= setup.schedulers,
                180,
                f"{setup.schedulers} live scheduler(s)",
                every=0.5,
                diagnose=setup.diagnose,
            )
            out["start_s"] = time.monotonic() - t0
            say(f"{setup_name}/{executor}: up in {out['start_s']:.0f} s; at rest for {a.rest_s:.0f} s")
            with Window(self.pg, site) as w:
                time.sleep(a.rest_s)
            out["rest"] = w.result()
            # The long DAG and one Xetra day are triggered as the load starts; their CLIs' start-up is
            # part of the load. The Xetra run exists before its DAG is unpaused (see vs_native_xetra).
            xetra_run = f"xetra-{setup_name}-{executor}"
            site.query("UPDATE dag SET is_paused = false WHERE dag_id LIKE %s", ("vs\\_native\\_%",))
            trigs = [
                threading.Thread(
                    target=site.airflow,
                    args=("dags", "trigger", "vs_native_long", "--run-id", f"long-{setup_name}-{executor}"),
                    daemon=True,
                )
            ]
            if not a.no_xetra:
                trigs.append(threading.Thread(target=xetra.trigger, args=(site, xetra_run), daemon=True))
            for trig in trigs:
                trig.start()
            time.sleep(a.warmup_s)
            say(f"{setup_name}/{executor}: under load for {a.load_s:.0f} s")
            with Window(self.pg, site) as w:
                time.sleep(a.load_s)
            out["load"] = w.result()
            for trig in trigs:
                trig.join(timeout=120)
            out["faults"] = {}
            faults = a.faults
            for i, fault in enumerate(faults):
                out["faults"][fault] = self.fault(site, setup, fault, last=i == len(faults) - 1)
            if not a.no_xetra:
                say(f"{setup_name}/{executor}: waiting for the Xetra run (up to {a.xetra_wait_s:.0f} s)")
                out["xetra"] = xetra.result(site, xetra_run, a.xetra_wait_s)
                say(f"{setup_name}/{executor}: Xetra {json.dumps(out['xetra'], default=str)}")
            out["load_avg_end"] = load_avg()
            out["overlap_total_s"] = overlap_seconds(read_beats(site))
            return out
        finally:
            try:
                setup.stop()
            finally:
                if worker is not None:
                    stop(worker, timeout=20)
                site.stop()
                kill_run(self.run_id)

    def fault(self, site: Site, setup: Setup, fault: str, last: bool) -> dict[str, Any]:
        a = self.args
        long_try = wait_until(lambda: running_long_try(site), 240)
        victim = setup.victim(long_try)
        overlap_before = overlap_seconds(read_beats(site))
        pids = setup.pids(victim)
        t_fault = site.db_now()
        wall = time.time()
        mono = time.monotonic()
        timer = None
        if fault == "host_loss":
            setup.lose(victim, pids)
        else:
            signal_all(pids, signal.SIGSTOP)
            timer = threading.Timer(FREEZE_S, signal_all, (pids, signal.SIGCONT))
            timer.start()
        # A beat being written as the signal lands may still reach the file.
        wall_done = time.time() + 0.3
        say(f"{setup.name}: {fault} of {victim} (long task on {long_try and long_try['hostname']})")
        parser_left = fault == "sigstop" or setup.parser_left(victim)
        got: dict[str, Any] = {}
        while time.monotonic() - mono < a.trial_s:
            if "sched" not in got:
                q = first_queued_after(site, t_fault)
                if q is not None:
                    got["sched"] = (q - t_fault).total_seconds()
            if "parse" not in got:
                p = first_parse_after(site, t_fault)
                if p is not None:
                    got["parse"] = (p - t_fault).total_seconds()
            if "task" not in got:
                later = [b for b in read_beats(site) if b["t"] > wall_done]
                if later:
                    first = min(later, key=lambda b: b["t"])
                    got["task"] = first["t"] - wall
                    same = long_try is not None and first["try"] == long_try["try_number"]
                    got["task_try"] = "same try" if same else f"try {first['try']}"
                    got["task_host"] = first["node"]
            need = {"sched", "task"} | ({"parse"} if parser_left else set())
            thawed = timer is None or time.monotonic() - mono > FREEZE_S + 10
            if need <= got.keys() and thawed:
                break
            time.sleep(0.25)
        if timer is not None:
            timer.join()
        time.sleep(3)  # beats written just after the end of the window
        waited = time.monotonic() - mono
        r = {
            "victim": victim,
            "long_task_on": long_try["hostname"] if long_try else None,
            "sched_s": got.get("sched", NAN),
            "task_s": got.get("task", NAN),
            "task_try": got.get("task_try", ""),
            "task_host": got.get("task_host", ""),
            "parse_s": got.get("parse", NAN),
            "parser_left": parser_left,
            "waited_s": waited,
            "overlap_s": overlap_seconds(read_beats(site)) - overlap_before,
            "load_avg": load_avg(),
        }
        say(f"{setup.name}: {fault}: {json.dumps(r, default=str)}")
        if fault == "host_loss" and not last:
            setup.restore(victim)
            wait_for(
                lambda: len(site.live_scheduler_jobs()) >= setup.schedulers,
                180,
                "the schedulers back after the restore",
                every=0.5,
                diagnose=setup.diagnose,
            )
        return r


def main() -> int:
    args = parse_args(sys.argv[1:], __doc__)
    # A wrapper's SIGTERM (a CI timeout, `timeout`, kill) unwinds like Ctrl-C, so the finally
    # blocks below stop every Airflow, daemon and Spark process of the run instead of orphaning them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.table_from:
        print(table(json.loads(args.table_from.read_text())))
        return 0
    if "failover" in args.setups:
        daemon_binary()
    airflow_exe()
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    source = source_state()
    say(f"load average at start: {load_avg()}; {os.cpu_count()} cores")
    results: list[dict[str, Any]] = []
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="af-vs-native-"))
    try:
        pg = PgServer()
        pg.init()
        with open(pg.datadir / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write(
                "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.max = 10000\n"
                "log_lock_waits = on\n"
            )
        pg.start()
        pg_version = pg.psql("SHOW server_version")
        bench = Bench(args, pg, tmp)
        try:
            enable_statements(pg)
            if not args.no_xetra:
                say("starting the S3 server with the Xetra day")
                bench.xetra = xetra.XetraSource(pg, tmp)
                bench.xetra.start({k: v for k, v in os.environ.items() if k != RUN_VAR})
            if "celery" in args.executors:
                from localcluster.rabbitmq import RabbitMQ

                bench.broker = RabbitMQ(tmp, {k: v for k, v in os.environ.items() if k != RUN_VAR})
                bench.broker.start()
            say("migrating the template metadata DB")
            bench.template()
            for executor in args.executors:
                for setup in args.setups:
                    try:
                        results.append(bench.run_setup(setup, executor))
                    except Exception as e:  # noqa: BLE001 - one broken setup must not lose the rest
                        say(f"{setup}/{executor} FAILED: {e}")
                        results.append({"setup": setup, "executor": executor, "error": str(e)[:3000]})
                    if args.json:
                        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        finally:
            if bench.broker is not None:
                bench.broker.stop()
            if bench.xetra is not None:
                bench.xetra.stop()
            kill_run(bench.run_id)
            pg.destroy()
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    say(f"done in {time.monotonic() - t0:.0f} s")
    print(table(results))
    print()
    print(settings(args, started, results, pg_version, source))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
