"""The stand-in scheduler's records (scripts/standin-scheduler, chaos/standin_writer.py): every
life of a stand-in, read back from the JSON lines it appends, and the guarantees checked on them."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .procfs import alive, cmdline

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "scripts" / "standin-scheduler"


@dataclass
class Instance:
    """One life of a stand-in scheduler, from its records."""

    node: str
    term: int
    pid: int
    start: float
    end: float
    stopped_cleanly: bool = False


def records(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    out = []
    # The stand-ins append while we read: the last line may be half written (no newline yet).
    # Only complete lines count; it is read whole next time.
    for line in log.read_text().split("\n")[:-1]:
        if line.strip():
            out.append(json.loads(line))
    return out


def instances(recs: list[dict[str, Any]]) -> list[Instance]:
    lives: dict[tuple[str, int, int], Instance] = {}
    for r in recs:
        key = (r["node"], r["term"], r["pid"])
        inst = lives.get(key)
        if inst is None:
            inst = lives[key] = Instance(r["node"], r["term"], r["pid"], r["mono"], r["mono"])
        inst.end = max(inst.end, r["mono"])
        if r["ev"] == "stop":
            inst.stopped_cleanly = True
    return sorted(lives.values(), key=lambda i: i.start)


def live(lives: list[Instance], name: str) -> list[Instance]:
    """The lives still running: alive, and (pid reuse guard) still a stand-in called ``name``."""
    return [i for i in lives if any(name.encode() in a for a in cmdline(i.pid)) and alive(i.pid)]


def overlap_problems(recs: list[dict[str, Any]]) -> list[str]:
    """Never two schedulers alive at once: exact through the lock file, and double-checked from
    the records (each life ends at its last record, so a gap shorter than a tick could hide
    from this second check, not from the first)."""
    out = [f"two schedulers alive at once: {r}" for r in recs if r["ev"] == "overlap"]
    for a, b in itertools.pairwise(instances(recs)):
        if b.start <= a.end:
            out.append(
                f"{b.node} (term {b.term}) started at {b.start:.3f} before {a.node} (term "
                f"{a.term}) ended at {a.end:.3f}"
            )
    return out


def term_problems(lives: list[Instance], won: list[int]) -> list[str]:
    """Terms only grow along the lives, a new node never runs under an old term, and every
    won term (``became_active`` events in order) is new."""
    terms = [i.term for i in lives]
    for a, b in itertools.pairwise(lives):
        if b.term < a.term:
            return [f"term went back: {terms}"]
        if b.node != a.node and b.term <= a.term:
            return [f"a new node ran under an old term: {terms}"]
    if won != sorted(won) or len(won) != len(set(won)):
        return [f"terms won: {won}"]
    return []
