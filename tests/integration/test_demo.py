"""The quick demo (`scripts/demo.sh --standin`) brings up a cluster, shows an active node and
tears everything down by itself after --duration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from localcluster.cluster import REPO


def test_demo_runs_and_cleans_up(tmp_path: Path) -> None:
    env = dict(os.environ, AF_DEMO_DIR=str(tmp_path))
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "localcluster.demo",
            "--standin",
            "--duration",
            "5",
            "--plain",
            "--no-dashboard",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "cluster demo: active node-" in res.stdout
    assert "hears:" in res.stdout
    assert res.stdout.rstrip().endswith("==> done")
    # nothing left behind: no daemon of this demo still runs
    ps = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False)
    assert ps.stdout.strip() == "", f"left running: {ps.stdout}"


def test_ctrl_c_tears_the_demo_down(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) once the cluster is up: the same teardown as --duration, nothing left."""
    env = dict(os.environ, AF_DEMO_DIR=str(tmp_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "localcluster.demo", "--standin", "--plain", "--no-dashboard"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("cluster demo: active node-"):
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, "".join(seen) + out
    assert out.rstrip().endswith("==> done")
    # Every process the demo started inherits AF_DEMO_DIR: none may remain.
    left = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _environ_has(p, tmp_path)]
    assert not left, f"left running: {left}"


def _environ_has(proc_dir: Path, mark: Path) -> bool:
    try:
        return str(mark).encode() in (proc_dir / "environ").read_bytes()
    except OSError:
        return False
