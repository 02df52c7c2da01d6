"""Starting and stopping the local system's own processes, and proving none is left.

Every process that the local system starts carries ``AIRFLOW_FAILOVER_LOCAL_RUN=<run id>`` in its
environment, and so do their children (Airflow task runners, Erlang helpers that call setsid,
Spark's JVM): the variable passes the daemon's environment allowlist (``AIRFLOW_FAILOVER_*``). At
teardown :func:`kill_run` finds them by that mark, whatever session or process group they moved to.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from .procfs import pids_with_env, session_pids

RUN_VAR = "AIRFLOW_FAILOVER_LOCAL_RUN"


def run_pids(run_id: str) -> list[int]:
    """Live processes whose environment carries ``RUN_VAR=run_id`` (never this process)."""
    return pids_with_env(RUN_VAR, run_id)


def kill_run(run_id: str, grace: float = 5.0) -> list[int]:
    """SIGTERM every process of the run, SIGKILL what is left after ``grace``; returns the pids
    that were still alive when the grace ran out (none, in a clean shutdown)."""
    for pid in run_pids(run_id):
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and run_pids(run_id):
        time.sleep(0.1)
    stubborn = run_pids(run_id)
    for pid in stubborn:
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and run_pids(run_id):
        time.sleep(0.05)
    return stubborn


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def signal_all(pids: list[int] | set[int], sig: int) -> float:
    """``sig`` to every pid at once (gone ones skipped); returns when it was sent."""
    t0 = time.monotonic()
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    return t0


def spawn(
    argv: list[str], env: dict[str, str] | None, log: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """A background process in a session of its own, output appended to ``log``; ``env`` None
    inherits ours."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cwd,
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process's group, then SIGKILL it if it outlives ``timeout``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def wait_port(
    host: str,
    port: int,
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Waits until ``host:port`` accepts TCP connections; fails naming ``what`` and the log tail."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}{_tail(log)}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} not listening on {host}:{port} after {timeout:.0f} s{_tail(log)}")


def _tail(log: Path | None, lines: int = 15) -> str:
    if log is None or not log.exists():
        return ""
    return f"\n--- {log} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def own_host_argv(hostname: str, hosts_file: Path) -> list[str]:
    """A command prefix that runs the rest of the argv as if on a host of its own: UTS and mount
    namespaces in which gethostname() is `hostname` and /etc/hosts is `hosts_file`. The last
    step is an exec, so the pid that runs it is the program's own (a kill -9 hits the program)."""
    return [
        "unshare",
        "--uts",
        "--mount",
        "--",
        "sh",
        "-c",
        'hostname "$0" && mount --bind "$1" /etc/hosts && shift && exec "$@"',
        hostname,
        str(hosts_file),
    ]


def kill_session(sid: int, sig: int = signal.SIGKILL) -> None:
    """``sig`` to every process of session ``sid``, SIGCONT first so a frozen one goes too."""
    for pid in session_pids(sid):
        try:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_sessions(procs: list[subprocess.Popen[bytes]], grace_s: float = 15.0) -> None:
    """SIGTERM each process's group (each a session leader), SIGKILL what is left of its session
    after ``grace_s`` in all, and reap the leaders."""
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        kill_session(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
