"""bench/vs_native.py's options: the full run's defaults and the short run's (``--short`` changes
only the defaults, so an option given explicitly still wins)."""

from __future__ import annotations

import argparse
from pathlib import Path

from localcluster.vs_native_setups import SETUPS

FAULTS = ("host_loss", "sigstop")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}

FULL = {
    "setups": ",".join(SETUPS),
    "executors": "local,celery",
    "faults": ",".join(FAULTS),
    "dags": 50,
    "rest_s": 20.0,
    "warmup_s": 20.0,
    "load_s": 45.0,
    # Long enough for Airflow's orphan check (every 300 s) to reset a lost peer's task.
    "trial_s": 360.0,
    # A Xetra task killed with its host waits for the orphan check, then the DAG's retry delays.
    "xetra_wait_s": 900.0,
}
# --short only changes these defaults: an option given explicitly still wins.
SHORT = {
    **FULL,
    "setups": "native,failover",
    "executors": "local",
    "faults": "host_loss",
    "dags": 4,
    "rest_s": 5.0,
    "warmup_s": 5.0,
    "load_s": 8.0,
    "trial_s": 45.0,
    "xetra_wait_s": 600.0,
}


def parse_args(argv: list[str], doc: str | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--short", action="store_true", help="defaults: native vs failover, host loss, local, 4 DAGs"
    )
    ap.add_argument("--setups")
    ap.add_argument("--executors")
    ap.add_argument("--faults")
    ap.add_argument("--dags", type=int)
    ap.add_argument("--rest-s", type=float)
    ap.add_argument("--warmup-s", type=float)
    ap.add_argument("--load-s", type=float)
    ap.add_argument("--trial-s", type=float, help="longest wait for a fault's figures")
    ap.add_argument("--no-xetra", action="store_true", help="leave the Xetra DAG out of the workload")
    ap.add_argument(
        "--xetra-wait-s", type=float, help="longest wait, after the faults, for the Xetra run to end"
    )
    ap.add_argument("--json", type=Path, help="write every figure as JSON (after each setup)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory (logs, beats)")
    ap.add_argument("--table-from", type=Path, help="print the table of a JSON file and exit")
    args = ap.parse_args(argv)
    for key, default in (SHORT if args.short else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    for key, allowed in (("setups", SETUPS), ("executors", tuple(EXECUTORS)), ("faults", FAULTS)):
        vals = [v for v in getattr(args, key).split(",") if v]
        bad = sorted(set(vals) - set(allowed))
        if bad or not vals:
            ap.error(f"--{key}: unknown {bad or 'empty'}; choose from {list(allowed)}")
        setattr(args, key, vals)
    for key in ("dags", "rest_s", "warmup_s", "load_s", "trial_s", "xetra_wait_s"):
        if getattr(args, key) <= 0:
            ap.error(f"--{key.replace('_', '-')}: must be positive, got {getattr(args, key)}")
    return args
