"""docs/configuration.md documents every key the config parser accepts, and nothing else.

The oracle reads the parser's C++ sources (src/config/*.cpp), with no code shared with the
parser: every `ObjectReader` there reads one JSON object, at a path that is a literal
(`ObjectReader r(j, "lease")`), a function parameter (resolved through every call of that
function: `parse_health(*h, r.key("health"), ...)`) or a local built from literals
(`"processes[" + ... + "]"` is `processes[]`); a key is what such a reader is asked for
(`r.millis("ttl_ms", ...)`, `r.find("warm")`, `checked_name(r, "name")`, `string_array(r,
"command")`, or a loop over literals). A reader or a call the oracle cannot resolve fails the test
instead of being skipped, so a new parser idiom cannot hide a key. Reading files only.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "src" / "config").glob("*.cpp"))
DOC = REPO / "docs" / "configuration.md"

READ_METHODS = ("string", "integer", "millis", "boolean", "find", "require")
FREE_READERS = ("checked_name", "string_array")  # helpers taking (reader, "key")
STR = r'"(?:[^"\\]|\\.)*"'

_FUNC = re.compile(r"^(?![ \t}#/])[\w:<>,*& \t]*?\b(\w+)\(([^()]*)\)\s*(?:const\s*)?\{", re.M)
_READER = re.compile(r"\bObjectReader\s+(\w+)\(([^;]*?)\);")
_LOCAL_STR = re.compile(r"\bconst std::string (\w+) =\s*([^;]+);")
_LOOP = re.compile(r"for \(const char\* (\w+) : \{([^}]*)\}\)")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _body(text: str, open_brace: int) -> str:
    depth = 0
    for i in range(open_brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_brace + 1 : i]
    raise AssertionError("unbalanced braces in src/config")


def _split_args(args: str) -> list[str]:
    out, depth, cur, in_str = [], 0, "", False
    for i, ch in enumerate(args):
        if ch == '"' and (i == 0 or args[i - 1] != "\\"):
            in_str = not in_str
        if not in_str:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif ch == "," and depth == 0:
                out.append(cur.strip())
                cur = ""
                continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _literal(s: str) -> str:
    return bytes(s[1:-1], "utf-8").decode("unicode_escape")


class Oracle:
    def __init__(self) -> None:
        # function name -> (parameter names, body); one definition per name in src/config.
        self.funcs: dict[str, tuple[list[str], str]] = {}
        for src in SOURCES:
            text = _strip_comments(src.read_text())
            for m in _FUNC.finditer(text):
                name = m.group(1)
                if name in ("if", "for", "while", "switch", "catch"):
                    continue
                params = [p.split()[-1].lstrip("*&") for p in _split_args(m.group(2)) if p.strip()]
                self.funcs.setdefault(name, (params, _body(text, m.end() - 1)))

    def _calls_of(self, name: str) -> list[tuple[str, list[str]]]:
        """(caller, arguments) of every call of `name`."""
        out = []
        for caller, (_, body) in self.funcs.items():
            for m in re.finditer(rf"\b{name}\(", body):
                depth, i = 1, m.end()
                while depth:
                    depth += {"(": 1, ")": -1}.get(body[i], 0)
                    i += 1
                out.append((caller, _split_args(body[m.end() : i - 1])))
        return out

    def paths_of_expr(self, func: str, expr: str) -> set[str]:
        """The JSON paths an expression naming a path can have inside `func`."""
        expr = expr.strip()
        if re.fullmatch(STR, expr):
            return {_literal(expr)}
        m = re.fullmatch(rf"(\w+)\.key\(({STR})\)", expr)
        if m:
            return {join(p, _literal(m.group(2))) for p in self.reader_paths(func, m.group(1))}
        params, body = self.funcs[func]
        if re.fullmatch(r"\w+", expr):
            for local in _LOCAL_STR.finditer(body):
                if local.group(1) == expr:
                    parts = re.findall(STR, local.group(2))
                    return {"".join(_literal(p) for p in parts)}
            if expr in params:
                index = params.index(expr)
                paths: set[str] = set()
                for caller, args in self._calls_of(func):
                    paths |= self.paths_of_expr(caller, args[index])
                assert paths, f"{func}: parameter {expr} is never passed a path"
                return paths
        raise AssertionError(f"{func}: cannot tell which JSON path `{expr}` names")

    def reader_paths(self, func: str, var: str) -> set[str]:
        _, body = self.funcs[func]
        for m in _READER.finditer(body):
            if m.group(1) == var:
                args = _split_args(m.group(2))
                assert len(args) == 2, f"{func}: ObjectReader {var}({m.group(2)})"
                return self.paths_of_expr(func, args[1])
        raise AssertionError(f"{func}: {var} is not an ObjectReader")

    def keys(self) -> set[str]:
        keys: set[str] = set()
        readers_seen = 0
        for func, (_, body) in self.funcs.items():
            readers = {m.group(1) for m in _READER.finditer(body)}
            readers_seen += len(readers)
            loops = {
                m.group(1): [_literal(s) for s in re.findall(STR, m.group(2))] for m in _LOOP.finditer(body)
            }
            for var in readers:
                paths = self.reader_paths(func, var)
                calls = [
                    (m.group(2)) for m in re.finditer(rf"\b{var}\.({'|'.join(READ_METHODS)})\(([^,)]*)", body)
                ]
                calls += [
                    m.group(2) for m in re.finditer(rf"\b({'|'.join(FREE_READERS)})\({var},\s*([^,)]*)", body)
                ]
                for arg in calls:
                    arg = arg.strip()
                    if re.fullmatch(STR, arg):
                        names = [_literal(arg)]
                    elif arg in loops:
                        names = loops[arg]
                    else:
                        raise AssertionError(f"{func}: {var} reads a key the oracle cannot name: {arg!r}")
                    keys |= {join(p, n) for p in paths for n in names}
        assert readers_seen >= 10, (
            f"only {readers_seen} ObjectReaders found in src/config: the oracle is blind"
        )
        return keys


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def documented_keys() -> list[str]:
    """The first cell of every table row of the reference tables: one backticked key."""
    keys = []
    for line in DOC.read_text().splitlines():
        m = re.match(r"^\|\s*`([^`]+)`\s*\|", line)
        if m:
            keys.append(m.group(1))
    return keys


def test_oracle_finds_what_it_must() -> None:
    keys = Oracle().keys()
    for known in (
        "cluster",
        "lease.ttl_ms",
        "processes[].user",
        "processes[].group",
        "processes[].health.type",
        "processes[].health.hostname",
        "processes[].warm.watch_paths",
        "airflow.hostnames",
        "airflow.takeover.enabled",
        "hooks.pre_promote.timeout_ms",
        "hooks.on_role_change.command",
    ):
        assert known in keys, known


def test_every_key_the_parser_accepts_is_documented_and_nothing_else() -> None:
    parser = Oracle().keys()
    doc = documented_keys()
    dupes = sorted({k for k in doc if doc.count(k) > 1})
    assert not dupes, f"documented twice in docs/configuration.md: {dupes}"
    missing = sorted(parser - set(doc))
    extra = sorted(set(doc) - parser)
    assert not missing, f"accepted by src/config but not in docs/configuration.md: {missing}"
    assert not extra, f"in docs/configuration.md but not accepted by src/config: {extra}"
