"""The event kinds the daemon records, read at import from the one list the C++ compiles in
(``include/af/core/event_kinds.def``), so the dashboard cannot drift from the daemon."""

from __future__ import annotations

import re
from pathlib import Path

DEF_FILE = Path(__file__).resolve().parent.parent / "include" / "af" / "core" / "event_kinds.def"

_ENTRY = re.compile(r'^AF_EVENT_KIND\((\w+), "([^"]*)", "([^"]*)"\)$')


def read_event_kinds(path: Path = DEF_FILE) -> dict[str, tuple[str, str]]:
    """kind -> (dashboard category, meaning), in the list's order. A line that looks like an
    entry but does not parse is an error, not a kind silently left out."""
    kinds: dict[str, tuple[str, str]] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line.startswith("AF_EVENT_KIND("):
            continue
        m = _ENTRY.match(line)
        if not m:
            raise ValueError(f'{path}:{n}: not an AF_EVENT_KIND(kind, "category", "meaning") line')
        if m[1] in kinds:
            raise ValueError(f"{path}:{n}: {m[1]} is listed twice")
        kinds[m[1]] = (m[2], m[3])
    return kinds


EVENT_KINDS: dict[str, tuple[str, str]] = read_event_kinds()
CATEGORY_OF_KIND: dict[str, str] = {k: cat for k, (cat, _) in EVENT_KINDS.items() if cat != "other"}
