"""One list of event kinds (include/af/core/event_kinds.def): the docs' table, the daemon's
sources and the dashboard all take exactly that list. The list is read here with its own
small parser, not with the dashboard's, so a bug there cannot hide here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from webapp import event_kinds, model

ROOT = Path(__file__).resolve().parents[2]
DEF = ROOT / "include" / "af" / "core" / "event_kinds.def"


def listed() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in DEF.read_text().splitlines():
        if line.startswith("AF_EVENT_KIND("):
            name, category = (part.strip().strip('"') for part in line[14:].split(",")[:2])
            out[name] = category
    return out


def test_the_list_is_not_empty_and_has_the_kinds_everyone_relies_on() -> None:
    kinds = listed()
    assert len(kinds) >= 30
    for k in ("became_active", "stepped_down", "fenced", "lease_lost", "daemon_died"):
        assert k in kinds


def test_docs_table_names_exactly_the_listed_kinds() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("### Event kinds", 1)[1].split("\n## ", 1)[0]
    in_docs = re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE)
    assert len(in_docs) == len(set(in_docs)), "a kind is documented twice"
    assert set(in_docs) == set(listed())


def test_every_kind_the_sources_record_is_listed() -> None:
    recorded: set[str] = set()
    for path in (ROOT / "src").rglob("*.cpp"):
        src = path.read_text()
        # The core: note(EventKind::x, ...); the shell, the worker, the guard: record(..., "x", ...)
        recorded |= set(re.findall(r"EventKind::([a-z_]+)", src))
        recorded |= set(re.findall(r"record\([^;]*?\"([a-z_]+)\"", src, re.DOTALL))
        # SQL that writes an event row itself (command_sql.cpp): ... term, 'kind', ...
        recorded |= set(re.findall(r"term, '([a-z_]+)'", src))
    # The daemon picks the hook event's kind with a conditional before recording it.
    for path in (ROOT / "src" / "daemon").glob("*.cpp"):
        recorded |= set(re.findall(r'"(hook_[a-z]+)"', path.read_text()))
    assert {"daemon_died", "command_stale", "fenced_database", "hook_failed", "became_active"} <= recorded
    assert recorded - set(listed()) == set(), "recorded but not on the list"


def test_dashboard_takes_the_list() -> None:
    kinds = listed()
    assert set(event_kinds.EVENT_KINDS) == set(kinds)
    for kind, category in kinds.items():
        assert model.category(kind) == category, kind
    assert set(model.CATEGORY_COLOR) >= set(kinds.values())


def test_a_malformed_entry_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "kinds.def"
    bad.write_text('AF_EVENT_KIND(x, "other")\n')
    try:
        event_kinds.read_event_kinds(bad)
    except ValueError as e:
        assert "kinds.def:1" in str(e)
    else:
        raise AssertionError("a malformed entry was accepted")


def test_a_non_editable_install_imports_the_kinds(tmp_path: Path) -> None:
    """The package as setuptools builds it for a wheel (build_py: the modules and the package
    data of pyproject.toml), installed apart from any checkout, reads the kinds from its own
    data: nothing in it points back at the source tree. build_py, not `pip wheel`: no network
    and no `wheel` package needed, and it is the step that fills a wheel."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    # symlinks=True: the build itself must turn the link into the list's text.
    shutil.copytree(ROOT / "webapp", src / "webapp", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (src / "include" / "af" / "core").mkdir(parents=True)
    shutil.copy(DEF, src / "include" / "af" / "core")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q",
                    "build_py", "--build-lib", str(site)], cwd=src, check=True,
                   capture_output=True)  # fmt: skip
    shutil.rmtree(src)  # the install must not need the tree it was built from
    probe = "import webapp, webapp.event_kinds as k; print(webapp.__file__); print(len(k.EVENT_KINDS))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert Path(out[0]).is_relative_to(site), out
    assert int(out[1]) == len(listed())
