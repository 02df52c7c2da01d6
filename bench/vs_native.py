#!/usr/bin/env python3
"""airflow-failover side by side with Airflow's own HA and a single supervised scheduler (issue 23):
the same workload on the same throwaway PostgreSQL and the real Airflow 3 from the venv, one
setup after the other in one run.

    .venv/bin/python bench/vs_native.py [--executors local,celery] [--setups single,native,failover]
                                        [--faults host_loss,sigstop] [--json FILE]
    .venv/bin/python bench/vs_native.py --short      (native vs failover, host loss, LocalExecutor,
                                                      10 DAGs: checks the bench works)
    (build/airflow-failover must be built; CeleryExecutor needs rabbitmq-server)

Setups (localcluster/vs_native_setups.py): single (one host, a supervisor restarts its processes),
native (two hosts, a scheduler on each, the dag-processor on host-a, triggerers on both),
failover (two hosts under the daemons, takeover step, warm standby, heartbeats, default lease).

Workload (bench/dags/vs_native_load.py): N DAGs x 10 short tasks every 30 s (paused "at rest",
unpaused "under load": more than two cores can run, so the schedulers are saturated), and one
long task that writes a beat every 0.25 s while it executes.

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
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcluster.airflow_site import REPO, Site, airflow_exe, venv_bin, wait_for
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
from localcluster.vs_native_setups import SETUPS, Setup, make

LOAD_DAG = REPO / "bench" / "dags" / "vs_native_load.py"
FAULTS = ("host_loss", "sigstop")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
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

    def template(self) -> None:
        """One migrated metadata DB, cloned for every setup (a fresh DB each, no migration)."""
        site = Site(self.pg, self.tmp / "template", dbname="vsn_template", dag_files=(LOAD_DAG,))
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
            dag_files=(LOAD_DAG,),
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
                    site.query("SELECT count(*) FROM serialized_dag WHERE dag_id LIKE 'vs_native_%%'")[0][0]
                    >= a.dags + 1
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
            site.query("UPDATE dag SET is_paused = false WHERE dag_id LIKE %s", ("vs\\_native\\_%",))
            # The long DAG is triggered as the load starts; its CLI's start-up is part of the load.
            trig = threading.Thread(
                target=site.airflow,
                args=("dags", "trigger", "vs_native_long", "--run-id", f"long-{setup_name}-{executor}"),
                daemon=True,
            )
            trig.start()
            time.sleep(a.warmup_s)
            say(f"{setup_name}/{executor}: under load for {a.load_s:.0f} s")
            with Window(self.pg, site) as w:
                time.sleep(a.load_s)
            out["load"] = w.result()
            trig.join(timeout=120)
            out["faults"] = {}
            faults = a.faults
            for i, fault in enumerate(faults):
                out["faults"][fault] = self.fault(site, setup, fault, last=i == len(faults) - 1)
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


# -- the table -----------------------------------------------------------------------------------------
def secs(v: float, waited: float) -> str:
    return f"not within {waited:.0f} s" if math.isnan(v) else f"{v:.1f} s"


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| setup | executor | fault (host hit) | scheduling again | long task executing again "
        "| ran twice at once | DAG files parsed again | statements/s rest / load | lock waits: "
        "samples % / most waiting / logged > 1 s | deadlocks | scheduler CPU % rest / load "
        "| TIs queued / done per min under load |"
    )
    lines = [head, "|" + "---|" * 12]
    names = {
        "single": "single, supervised",
        "native": "native HA (2 schedulers)",
        "failover": "airflow-failover",
    }
    for res in results:
        if "error" in res:
            why = res["error"].splitlines()[0][:200]
            lines.append(f"| {names[res['setup']]} | {res['executor']} | failed: {why} |" + " |" * 9)
            continue
        rest, load = res["rest"], res["load"]
        cost = [
            f"{rest['statements_per_s']:.0f} / {load['statements_per_s']:.0f}",
            f"{load['lock_wait_sample_pct']:.0f} % / {load['max_waiting']:.0f} / "
            f"{rest['lock_waits_logged'] + load['lock_waits_logged']:.0f}",
            f"{rest['deadlocks'] + load['deadlocks']:.0f}",
            f"{rest['scheduler_cpu_pct']:.0f} / {load['scheduler_cpu_pct']:.0f}",
            f"{load['tis_queued_per_min']:.0f} / {load['tis_done_per_min']:.0f}",
        ]
        for i, (fault, f) in enumerate(res["faults"].items()):
            task = secs(f["task_s"], f["waited_s"])
            if not math.isnan(f["task_s"]):
                task += f" ({f['task_try']} on {f['task_host']})"
            if res["executor"] == "celery" and f["task_try"] == "same try" and f["task_s"] < 5:
                task = "not interrupted (on the worker)"
            parse = secs(f["parse_s"], f["waited_s"])
            if math.isnan(f["parse_s"]) and not f["parser_left"]:
                parse = "never: no dag-processor left"
            twice = "no" if f["overlap_s"] == 0 else f"YES, {f['overlap_s']:.1f} s"
            fault_txt = {"host_loss": "host loss", "sigstop": "SIGSTOP 30 s"}[fault]
            if res["setup"] == "native" and f["victim"] == "host-b":
                f = {**f, "victim": "host-b, no dag-processor"}
            lines.append(
                f"| {names[res['setup']]} | {res['executor']} | {fault_txt} ({f['victim']}) "
                f"| {secs(f['sched_s'], f['waited_s'])} | {task} "
                f"| {twice} | {parse} | " + " | ".join(cost if i == 0 else ["″"] * len(cost)) + " |"
            )
    return "\n".join(lines)


def source_state() -> str:
    """The commit, taken when the run starts (the checkout may move on while it runs)."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"`{commit}`{' (with uncommitted changes)' if dirty else ''}"


def settings(
    args: argparse.Namespace, started: str, results: list[dict[str, Any]], pg_version: str, source: str
) -> str:
    version = subprocess.run(
        [str(venv_bin() / "python"), "-c", "import airflow; print(airflow.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    loads = "; ".join(
        f"{r['setup']}/{r['executor']} {r.get('load_avg_start', '?')} → {r.get('load_avg_end', '?')}"
        for r in results
    )
    return "\n".join(
        [
            f"- date {started}, commit {source}, "
            f"Apache Airflow {version}, PostgreSQL {pg_version}, {os.cpu_count()} cores",
            f"- command: `.venv/bin/python bench/vs_native.py {' '.join(sys.argv[1:])}`; daemon binary "
            f"{os.environ.get('AIRFLOW_FAILOVER_BIN', 'build/airflow-failover')}",
            f"- workload: {args.dags} DAGs x 10 short tasks every 30 s, one long task; at rest "
            f"{args.rest_s:.0f} s, under load {args.load_s:.0f} s after {args.warmup_s:.0f} s of warm-up; "
            f"each fault measured for up to {args.trial_s:.0f} s; one trial per setup, executor and fault",
            "- airflow-failover: daemon defaults (ttl_ms 1300), heartbeats on, takeover step for the "
            "scheduler, dag-processor and triggerer jobs, warm standby for all three",
            "- Airflow, every setup: parallelism 4 per scheduler, task_instance_heartbeat_timeout 30 s, "
            "min_file_process_interval 30 s, orphan settings at Airflow's defaults (30 s / 300 s); "
            "Celery: one worker host (never faulted), concurrency 4, RabbitMQ",
            f"- load average (1/5/15 min) at the start and end of each setup: {loads}",
        ]
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", action="store_true", help="native vs failover, host loss, local, 10 DAGs")
    ap.add_argument("--setups", default=",".join(SETUPS))
    ap.add_argument("--executors", default="local,celery")
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--dags", type=int, default=50)
    ap.add_argument("--rest-s", type=float, default=20.0)
    ap.add_argument("--warmup-s", type=float, default=20.0)
    ap.add_argument("--load-s", type=float, default=45.0)
    # Long enough for Airflow's orphan check (every 300 s) to reset a lost peer's task.
    ap.add_argument("--trial-s", type=float, default=360.0, help="longest wait for a fault's figures")
    ap.add_argument("--json", type=Path, help="write every figure as JSON (after each setup)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory (logs, beats)")
    ap.add_argument("--table-from", type=Path, help="print the table of a JSON file and exit")
    args = ap.parse_args()
    if args.table_from:
        print(table(json.loads(args.table_from.read_text())))
        return 0
    if args.short:
        args.setups, args.executors, args.faults, args.dags = "native,failover", "local", "host_loss", 10
        args.rest_s, args.warmup_s, args.load_s, args.trial_s = 8.0, 5.0, 12.0, 45.0
    for key, allowed in (("setups", SETUPS), ("executors", tuple(EXECUTORS)), ("faults", FAULTS)):
        vals = [v for v in getattr(args, key).split(",") if v]
        bad = sorted(set(vals) - set(allowed))
        if bad or not vals:
            ap.error(f"--{key}: unknown {bad or 'empty'}; choose from {list(allowed)}")
        setattr(args, key, vals)
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
