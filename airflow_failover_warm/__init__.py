"""Warm standby launcher for Airflow's singletons under airflow-failover (docs/warm-standby.md).

    python -m airflow_failover_warm scheduler|dag-processor|triggerer [airflow options...]

Started by the daemon on a standby with AIRFLOW_FAILOVER_WARM_FD set (its end of a Unix stream
socket, fd 3), it does Airflow's imports for the command, opens no database connection and does
no work, writes ``ready``, and blocks. ``go <term>`` makes it run ``airflow <command>`` in this
same process with AIRFLOW_FAILOVER_TERM set; EOF before go (the daemon stopped it, or died)
makes it exit with status 0. Without AIRFLOW_FAILOVER_WARM_FD it runs the command at once, as
a cold start, so the same command line serves with warm standby on or off.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import time

COMMANDS: dict[str, tuple[str, ...]] = {
    # What `airflow <command>` imports before it touches the database, found by reading
    # airflow/cli/commands/*_command.py of Airflow 3.3: the command module, its job runner and
    # (for the scheduler) the executor and the DAG-file machinery the runner pulls in.
    "scheduler": (
        "airflow.cli.commands.scheduler_command",
        "airflow.jobs.scheduler_job_runner",
        "airflow.executors.local_executor",
        "airflow.utils.serve_logs",
        "airflow.utils.scheduler_health",
    ),
    "dag-processor": (
        "airflow.cli.commands.dag_processor_command",
        "airflow.dag_processing.manager",
        "airflow.dag_processing.processor",
    ),
    "triggerer": (
        "airflow.cli.commands.triggerer_command",
        "airflow.jobs.triggerer_job_runner",
        "airflow.utils.serve_logs",
    ),
}

PROTOCOL_READY = b"ready\n"
GO_PREFIX = "go "


class ProtocolError(Exception):
    """The daemon sent something this launcher does not understand."""


def _title(text: str) -> None:
    """Sets the process title ("airflow scheduler" once it runs, as a cold start shows it).
    SPT_NOENV keeps setproctitle inside the argv area: by default it would also overwrite the
    environment block, and /proc/PID/environ (AIRFLOW_FAILOVER_NODE, read by operators' tools)
    would be lost. The title is then cut at the original command line's length."""
    os.environ["SPT_NOENV"] = "1"
    try:
        import setproctitle

        setproctitle.setproctitle(text)
    except ImportError:  # the title only helps `ps` readers
        pass
    finally:
        os.environ.pop("SPT_NOENV", None)  # not for Airflow's own children


def warm_up(command: str) -> float:
    """Imports what ``airflow <command>`` needs; returns the seconds it took. Opens no
    database connection: importing airflow configures the ORM engine, which connects lazily."""
    t0 = time.monotonic()
    for mod in ("airflow", "airflow.cli.cli_parser", *COMMANDS[command]):
        importlib.import_module(mod)
    from airflow.cli import cli_parser

    cli_parser.get_parser()  # builds the argparse tree (loads the lazy command table)
    from airflow.providers_manager import ProvidersManager

    # Providers' configuration and hooks are discovered from package metadata (no database);
    # `providers_configuration_loaded` does this on every command's start.
    ProvidersManager().initialize_providers_configuration()  # type: ignore[no-untyped-call]
    return time.monotonic() - t0


def parse_go(line: bytes) -> int:
    """``go <term>\\n`` -> the term (a positive integer)."""
    text = line.decode("ascii", errors="replace").strip()
    if not text.startswith(GO_PREFIX):
        raise ProtocolError(f"expected 'go <term>', got {text[:80]!r}")
    term = text[len(GO_PREFIX) :].strip()
    if not term.isdigit() or int(term) <= 0:
        raise ProtocolError(f"bad term in {text[:80]!r}")
    return int(term)


def wait_for_go(fd: int) -> int | None:
    """Writes ready on the channel and blocks; the term of the go, or None on EOF."""
    sock = socket.socket(fileno=fd)
    try:
        sock.sendall(PROTOCOL_READY)
        with sock.makefile("rb") as f:
            line = f.readline()
    finally:
        sock.close()  # after go the channel is done with; EOF from the daemon means nothing then
    if not line:
        return None
    return parse_go(line)


def run_airflow(command: str, args: list[str]) -> int:
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", command, *args]
    _title(" ".join(["airflow", command, *args]))
    result = airflow_main()  # type: ignore[no-untyped-call]
    return int(result) if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(
            f"usage: python -m airflow_failover_warm {{{'|'.join(COMMANDS)}}} [airflow options...]",
            file=sys.stderr,
        )
        return 2
    command, args = argv[0], argv[1:]
    fd_text = os.environ.get("AIRFLOW_FAILOVER_WARM_FD")
    if not fd_text:
        return run_airflow(command, args)  # a cold start: nothing to wait for
    if not fd_text.isdigit():
        print(
            f"airflow_failover_warm: AIRFLOW_FAILOVER_WARM_FD must be a descriptor number, got {fd_text!r}",
            file=sys.stderr,
        )
        return 2
    _title(f"airflow-failover-warm {command} (waiting for go)")
    took = warm_up(command)
    print(
        f"airflow_failover_warm: {command} warm after {took:.2f} s of imports; waiting for go",
        file=sys.stderr,
        flush=True,
    )
    try:
        term = wait_for_go(int(fd_text))
    except ProtocolError as e:
        print(f"airflow_failover_warm: {e}; exiting", file=sys.stderr)
        return 2
    if term is None:
        print("airflow_failover_warm: the daemon closed the channel before go; exiting", file=sys.stderr)
        return 0
    os.environ["AIRFLOW_FAILOVER_TERM"] = str(term)
    os.environ.pop("AIRFLOW_FAILOVER_WARM_FD", None)
    print(f"airflow_failover_warm: go in term {term}: running airflow {command}", file=sys.stderr, flush=True)
    return run_airflow(command, args)
