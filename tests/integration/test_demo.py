"""The quick demo (`scripts/demo.sh --standin`) brings up a cluster, shows an active node and
tears everything down by itself after --duration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from localcluster.cluster import REPO


def test_demo_runs_and_cleans_up(tmp_path: Path) -> None:
    env = dict(os.environ, AF_DEMO_DIR=str(tmp_path))
    res = subprocess.run([sys.executable, "-m", "localcluster.demo", "--standin", "--duration", "5",
                          "--plain", "--no-dashboard"], capture_output=True, text=True,
                         timeout=120, env=env, check=False, cwd=REPO)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "cluster demo: active node-" in res.stdout
    assert "hears:" in res.stdout
    assert res.stdout.rstrip().endswith("==> done")
    # nothing left behind: no daemon of this demo still runs
    ps = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True,
                        check=False)
    assert ps.stdout.strip() == "", f"left running: {ps.stdout}"
