"""The event kinds the daemon records, read at import from the one list the C++ compiles in
(``include/af/core/event_kinds.def``), so the dashboard cannot drift from the daemon. The list
reaches the package as its data file ``webapp/event_kinds.def``: in the checkout a symlink to the
C++ list, in a built wheel or a non-editable install a copy of it (setuptools copies a
symlink's target), so no install reads the source tree."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

_ENTRY = re.compile(r'^AF_EVENT_KIND\((\w+), "([^"]*)", "([^"]*)"\)$')


def read_event_kinds(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """kind -> (dashboard category, meaning), in the list's order, from ``path`` or else the
    package's own copy. A line that looks like an entry but does not parse is an error, not a
    kind silently left out."""
    if path is None:
        text = resources.files("webapp").joinpath("event_kinds.def").read_text(encoding="utf-8")
        where = "webapp/event_kinds.def"
    else:
        text = path.read_text(encoding="utf-8")
        where = str(path)
    kinds: dict[str, tuple[str, str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line.startswith("AF_EVENT_KIND("):
            continue
        m = _ENTRY.match(line)
        if not m:
            raise ValueError(f'{where}:{n}: not an AF_EVENT_KIND(kind, "category", "meaning") line')
        if m[1] in kinds:
            raise ValueError(f"{where}:{n}: {m[1]} is listed twice")
        kinds[m[1]] = (m[2], m[3])
    return kinds


EVENT_KINDS: dict[str, tuple[str, str]] = read_event_kinds()
CATEGORY_OF_KIND: dict[str, str] = {k: cat for k, (cat, _) in EVENT_KINDS.items() if cat != "other"}
