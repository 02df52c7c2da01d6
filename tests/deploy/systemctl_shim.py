#!/usr/bin/python3
"""`systemctl` for the deploy test's hosts, which run no systemd: starts a unit the way systemd
would, from the installed unit file itself (its User=, Group=, Environment=, EnvironmentFile=,
WorkingDirectory=, UMask=, capabilities, NoNewPrivileges= and ExecStart=), so the test runs
exactly what the package ships. Only what docs/deploy.md uses is implemented:

    systemctl enable --now UNIT     start UNIT (the daemon: in the background, its own session)
    systemctl disable --now UNIT    stop UNIT if this shim started it; a unit it never started
                                    (the old airflow-scheduler.service) is reported and left
    systemctl is-active UNIT        exit 0 while it runs
    systemctl show -p MainPID UNIT  MainPID=N

State (pid, log) lives in $AF_DEPLOY_STATE, a directory the test gives each host. Standard
library only: it runs under the host's /usr/bin/python3 as root.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

UNIT_DIRS = ["/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"]
STATE = Path(os.environ.get("AF_DEPLOY_STATE", "/run/af-deploy-shim"))


def unit_file(unit: str) -> Path | None:
    for d in UNIT_DIRS:
        p = Path(d) / unit
        if p.exists():
            return p
    return None


def directives(text: str) -> dict[str, list[str]]:
    """[Service] directives in order; an empty assignment resets the list, as systemd does."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section != "[Service]" or "=" not in line:
            continue
        k, v = line.split("=", 1)
        if v.strip() == "":
            out[k.strip()] = []
        else:
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def env_file(path: str) -> dict[str, str]:
    optional = path.startswith("-")
    p = Path(path.lstrip("-"))
    if not p.exists():
        if optional:
            return {}
        raise SystemExit(f"systemctl(shim): EnvironmentFile {p} missing")
    env: dict[str, str] = {}
    for line in p.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip().strip('"')
    return env


def caps(values: list[str]) -> str:
    names = [c.lower().removeprefix("cap_") for v in values for c in v.split()]
    return ",".join("+" + n for n in names)


def command_for(unit: str) -> tuple[list[str], dict[str, str], str, int, dict[str, list[str]]]:
    path = unit_file(unit)
    if path is None:
        raise SystemExit(f"Failed to enable unit: Unit file {unit} does not exist.")
    d = directives(path.read_text())
    for dropin in sorted(Path(f"/etc/systemd/system/{unit}.d").glob("*.conf")):
        for k, v in directives(dropin.read_text()).items():
            d[k] = d.get(k, []) + v if v else []
    # systemd's environment for a system service: PATH and the User='s identity.
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for assignment in d.get("Environment", []):
        for word in shlex.split(assignment):
            name, value = word.split("=", 1)
            env[name] = value
    for f in d.get("EnvironmentFile", []):
        env.update(env_file(f))
    argv = shlex.split(d["ExecStart"][-1].lstrip("-@+!"))
    user = d.get("User", ["root"])[-1]
    group = d.get("Group", [user])[-1]
    if user != "root":
        import pwd

        pw = pwd.getpwnam(user)
        env.update({"USER": user, "LOGNAME": user, "HOME": pw.pw_dir, "SHELL": pw.pw_shell})
        setpriv = ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups"]
        if d.get("AmbientCapabilities"):
            ambient = caps(d["AmbientCapabilities"])
            setpriv += [f"--inh-caps={ambient}", f"--ambient-caps={ambient}"]
        if d.get("CapabilityBoundingSet"):
            setpriv += [f"--bounding-set=-all,{caps(d['CapabilityBoundingSet'])}"]
        if d.get("NoNewPrivileges", ["no"])[-1] == "yes":
            setpriv += ["--no-new-privs"]
        argv = [*setpriv, "--", *argv]
    for key in ("StateDirectory", "LogsDirectory"):
        base = "/var/lib" if key == "StateDirectory" else "/var/log"
        for name in d.get(key, []):
            target = Path(base) / name
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["chown", f"{user}:{group}", str(target)], check=True)
    cwd = "/"
    for w in d.get("WorkingDirectory", []):
        if Path(w.lstrip("-")).is_dir():
            cwd = w.lstrip("-")
        elif not w.startswith("-"):
            raise SystemExit(f"systemctl(shim): WorkingDirectory {w} missing")
    umask = int(d.get("UMask", ["0022"])[-1], 8)
    return argv, env, cwd, umask, d


def pid_of(unit: str) -> int | None:
    f = STATE / f"{unit}.pid"
    if not f.exists():
        return None
    pid = int(f.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    # A zombie (killed, not yet reaped) is not running.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return None if stat.rsplit(")", 1)[1].split()[0] == "Z" else pid


def start(unit: str) -> None:
    if pid_of(unit):
        return
    argv, env, cwd, umask, d = command_for(unit)
    STATE.mkdir(parents=True, exist_ok=True)
    notify: socket.socket | None = None
    if d.get("Type", ["simple"])[-1] == "notify":
        # As systemd: `start` returns once the service says READY=1 (or fails, or times out).
        path = STATE / f"{unit}.notify"
        path.unlink(missing_ok=True)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(path))
        os.chmod(path, 0o777)  # the daemon is not root
        env["NOTIFY_SOCKET"] = str(path)
    log = open(STATE / f"{unit}.log", "ab")  # the journal's stand-in
    log.write(f"-- shim: starting {shlex.join(argv)} (cwd {cwd}, umask {umask:04o})\n".encode())
    log.flush()
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: os.umask(umask),  # noqa: PLW1509 - before exec, in the child only
    )
    (STATE / f"{unit}.pid").write_text(str(proc.pid))
    (STATE / f"{unit}.argv").write_text(shlex.join(argv) + "\n" + repr(sorted(env.items())) + "\n")
    if notify is None:
        return
    timeout = float(d.get("TimeoutStartSec", ["90s"])[-1].rstrip("s"))
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"Job for {unit} failed: the process exited with status {proc.returncode}")
        notify.settimeout(0.2)
        try:
            msg = notify.recv(4096).decode(errors="replace")
        except TimeoutError:
            continue
        fields = dict(line.split("=", 1) for line in msg.splitlines() if "=" in line)
        status = fields.get("STATUS", status)
        if fields.get("READY") == "1":
            print(f"{unit}: READY; STATUS: {status}")
            drain_notifications(notify, STATE / f"{unit}.status", proc.pid)
            return
    raise SystemExit(f"Job for {unit} failed: no READY=1 within {timeout:.0f} s (STATUS: {status})")


def drain_notifications(sock: socket.socket, status_file: Path, pid: int) -> None:
    """Keeps reading the notifications in a child of our own (as systemd keeps listening), so the
    daemon's later STATUS= sends never block and `systemctl status` can show the last one."""
    if os.fork() != 0:
        return
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the caller waits for EOF on our stdout: let go of it
        os.dup2(devnull, fd)
    sock.settimeout(1.0)
    while True:
        try:
            msg = sock.recv(4096).decode(errors="replace")
        except TimeoutError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            continue
        for line in msg.splitlines():
            if line.startswith("STATUS="):
                status_file.write_text(line[len("STATUS=") :] + "\n")


def stop(unit: str) -> None:
    pid = pid_of(unit)
    if pid is None:
        print(f"systemctl(shim): {unit} is not running here (nothing to stop)")
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and pid_of(unit):
        time.sleep(0.1)


def main(args: list[str]) -> int:
    args = [a for a in args if a not in ("--no-pager", "--quiet", "-q")]
    if len(args) >= 3 and args[0] in ("enable", "disable") and args[1] == "--now":
        for unit in args[2:]:
            unit = unit if "." in unit else unit + ".service"
            if args[0] == "enable":
                start(unit)
            else:
                stop(unit)
        return 0
    if len(args) == 2 and args[0] == "is-active":
        unit = args[1] if "." in args[1] else args[1] + ".service"
        running = pid_of(unit) is not None
        print("active" if running else "inactive")
        return 0 if running else 3
    if len(args) == 4 and args[:3] == ["show", "-p", "MainPID"]:
        unit = args[3] if "." in args[3] else args[3] + ".service"
        print(f"MainPID={pid_of(unit) or 0}")
        return 0
    print(f"systemctl(shim): not implemented: {shlex.join(args)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
