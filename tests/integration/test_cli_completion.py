"""The bash completion offers each command the options its --help lists, no more and no fewer,
and completes a command line in a real bash."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from localcluster.cluster import daemon_binary

COMPLETION = Path(__file__).resolve().parents[2] / "packaging" / "airflow-failover.bash-completion"


def complete(words: str) -> set[str]:
    script = (
        f"source {COMPLETION}\n"
        f"COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n"
        "_airflow_failover; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def help_options(*cmd: str) -> set[str]:
    text = subprocess.run(
        [str(daemon_binary()), *cmd, "--help"], capture_output=True, text=True, check=True
    ).stdout
    opts = set(re.findall(r"^\s+(?:-\w,)?(--[\w-]+)", text, re.M))
    return opts | {"--help"}


def test_completion_matches_each_commands_help() -> None:
    top = subprocess.run([str(daemon_binary()), "--help"], capture_output=True, text=True, check=True).stdout
    commands = re.findall(r"^  ([a-z][\w-]+)  ", top.split("ubcommands:", 1)[1], re.M)
    assert set(commands) <= complete("airflow-failover ''"), commands
    for cmd in commands:
        argv = ["events", "prune"] if cmd == "events" else [cmd]
        offered = {w for w in complete("airflow-failover " + " ".join(argv) + " ''") if w.startswith("-")}
        assert offered == help_options(*argv), argv
