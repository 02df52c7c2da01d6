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
import signal
import sys
import time
import uuid
from pathlib import Path

from .demo_airflow import AirflowDemo
from .demo_standin import StandinDemo
from .demo_view import Stopped
from .procs import RUN_VAR, kill_run


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


if __name__ == "__main__":
    sys.exit(main())
