"""docs/deploy.md as steps: each fenced code block preceded by `<!-- deploy-test: WHERE -->`
(WHERE: host-a, host-b, both, db), and `<!-- deploy-test: copy host-x:PATH host-y:PATH -->`
directives, in the order they appear. Untagged blocks are illustrations and are not run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
WHERE = ("host-a", "host-b", "both", "db")

_TAG = re.compile(r"<!--\s*deploy-test:\s*(.+?)\s*-->")
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Step:
    where: str  # host-a, host-b, both, db, or copy
    lang: str  # sh, sql ("" for copy)
    text: str  # the block's text, or "host-a:/path host-b:/path" for copy
    line: int  # where it starts in the guide, for messages


def steps(text: str | None = None) -> list[Step]:
    lines = (text if text is not None else GUIDE.read_text()).splitlines()
    out: list[Step] = []
    pending: tuple[str, int] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        tag = _TAG.search(line)
        if tag:
            words = tag.group(1).split()
            if words[0] == "copy":
                if len(words) != 3:
                    raise ValueError(f"docs/deploy.md:{i + 1}: copy needs a source and a target")
                out.append(Step("copy", "", " ".join(words[1:]), i + 1))
            elif words[0] in WHERE and len(words) == 1:
                pending = (words[0], i + 1)
            else:
                raise ValueError(f"docs/deploy.md:{i + 1}: unknown tag {tag.group(1)!r}")
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            if pending is not None:
                if not lines[i + 1 : j]:
                    raise ValueError(f"docs/deploy.md:{i + 1}: empty tagged block")
                out.append(Step(pending[0], fence.group(1), "\n".join(lines[i + 1 : j]) + "\n", i + 2))
                pending = None
            i = j + 1
            continue
        if pending is not None and line.strip() and not line.startswith("<!--"):
            raise ValueError(f"docs/deploy.md:{pending[1]}: a tag must come right before its code block")
        i += 1
    return out
