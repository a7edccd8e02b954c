"""Confinement: nothing outside the workspace or under a deny pattern is read, written or listed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.tools.globs import Glob

ESCAPES = [
    "/etc/passwd",
    "../outside.txt",
    "src/../../outside.txt",
    "..\\outside.txt",
    "C:\\Windows\\win.ini",
    "c:/outside.txt",
    "%2e%2e%2foutside.txt",
    "src/%2E%2E/%2e%2e/outside.txt",
    "~/outside.txt",
    "~",
    "$HOME/outside.txt",
    "file:///etc/passwd",
    "\\\\server\\share\\x",
]


@pytest.fixture
def outside(ws: Path) -> Path:
    path = ws.parent / "outside.txt"
    path.write_text("host secret\n")
    return path


@pytest.mark.parametrize("raw", ESCAPES)
def test_escapes_are_refused_and_recorded_for_read(box, outside, raw):
    outcome = box.execute("read", {"path": raw})
    assert outcome.is_error and outcome.error_kind == "path_refused", outcome.text
    assert outcome.refused_paths == [raw]
    assert "host secret" not in outcome.text


@pytest.mark.parametrize("raw", ["/etc/x.py", "../outside.txt", "..\\..\\evil.py", "%2e%2e/evil.py"])
def test_escapes_are_refused_for_write_and_nothing_is_created(box, ws, outside, raw):
    outcome = box.execute("write", {"path": raw, "content": "pwned"})
    assert outcome.error_kind == "path_refused" and outcome.refused_paths == [raw]
    assert outside.read_text() == "host secret\n"
    assert not (ws.parent / "evil.py").exists()
    assert outcome.changed_files == []


def test_symlink_to_outside_is_refused(box, ws, outside):
    (ws / "link.txt").symlink_to(outside)
    (ws / "linkdir").symlink_to(ws.parent)
    for raw in ("link.txt", "linkdir/outside.txt"):
        outcome = box.execute("read", {"path": raw})
        assert outcome.error_kind == "path_refused", outcome.text
        assert "host secret" not in outcome.text
        assert outcome.refused_paths == [raw]
    write = box.execute("write", {"path": "link.txt", "content": "x"})
    assert write.error_kind == "path_refused"
    assert outside.read_text() == "host secret\n"


def test_symlink_inside_workspace_is_fine(box, ws):
    (ws / "alias.py").symlink_to(ws / "src" / "util.py")
    assert "X = 1" in box.execute("read", {"path": "alias.py"}).text


def test_absolute_path_inside_workspace_is_accepted_and_shown_relative(box, ws):
    outcome = box.execute("read", {"path": str(ws / "src" / "util.py")})
    assert not outcome.is_error and "X = 1" in outcome.text
    write = box.execute("write", {"path": str(ws / "src" / "new.py"), "content": "Y = 2\n"})
    assert write.text == "ok: created src/new.py (+1 lines)"
    assert write.changed_files == ["src/new.py"]
    assert str(ws) not in write.text


def test_workspace_alias_prefix_maps_to_root(make_box):
    box = make_box(opts={"workspace_aliases": ("/work/calc",)})
    outcome = box.execute("read", {"path": "/work/calc/src/util.py"})
    assert not outcome.is_error and "X = 1" in outcome.text
    sibling = box.execute("read", {"path": "/work/calculator/src/util.py"})
    assert sibling.error_kind == "path_refused"


def test_deny_patterns_refuse_reads_and_are_recorded(box):
    for raw in (".meta/example.py", ".meta", "./.meta/../.meta/example.py"):
        outcome = box.execute("read", {"path": raw})
        assert outcome.error_kind == "path_refused", raw
        assert outcome.refused_paths == [raw]
        assert "reference solution" not in outcome.text
    listing = box.execute("ls", {"path": ".meta"})
    assert listing.error_kind == "path_refused"


def test_denied_entries_are_hidden_from_listings_and_searches(box):
    assert ".meta" not in box.execute("ls", {"depth": 3}).text
    assert ".meta" not in box.execute("glob", {"pattern": "**"}).text
    found = box.execute("grep", {"pattern": "reference solution"})
    assert not found.is_error and "no matches" in found.text
    assert found.refused_paths == []


def test_read_only_paths_refuse_every_kind_of_change(box, ws):
    original = (ws / "tests" / "test_calc.py").read_text()
    attempts = [
        ("write", {"path": "tests/test_calc.py", "content": "x"}),
        ("edit", {"path": "tests/test_calc.py", "old": "add(1, 2) == 3", "new": "True"}),
        ("apply_patch", {"patch": "*** Begin Patch\n*** Delete File: tests/test_calc.py\n*** End Patch"}),
        ("apply_patch", {"patch": "*** Begin Patch\n*** Update File: src/util.py\n-X = 1\n+X = 2\n*** Move to: "
                                  "tests/test_calc.py\n*** End Patch"}),
        ("write", {"path": str(ws / "tests" / "test_calc.py"), "content": "x"}),
    ]
    for tool, args in attempts:
        outcome = box.execute(tool, args)
        assert outcome.error_kind == "read_only", (tool, outcome.text)
        assert "tests/test_calc.py is a test/build file and is read-only" in outcome.text
    assert (ws / "tests" / "test_calc.py").read_text() == original
    assert (ws / "src" / "util.py").read_text() == "X = 1\n"
    assert "assert add" in box.execute("read", {"path": "tests/test_calc.py"}).text


def test_read_only_directory_covers_its_files(make_box, ws):
    box = make_box(read_only=["tests"])
    assert box.execute("write", {"path": "tests/new_test.py", "content": "x"}).error_kind == "read_only"
    assert not (ws / "tests" / "new_test.py").exists()


def test_missing_file_gives_near_matches_not_redirection(box, ws):
    outcome = box.execute("read", {"path": "calc.py"})
    assert outcome.error_kind == "not_found"
    assert outcome.text == "error: not found: calc.py. Did you mean: src/calc.py?"
    edit = box.execute("edit", {"path": "lib/util.py", "old": "X = 1", "new": "X = 9"})
    assert edit.error_kind == "not_found" and "src/util.py" in edit.text
    assert (ws / "src" / "util.py").read_text() == "X = 1\n"


def test_write_to_wrong_directory_creates_the_named_file_not_the_namesake(box, ws):
    outcome = box.execute("write", {"path": "calc.py", "content": "pass\n"})
    assert outcome.text == "ok: created calc.py (+1 lines)"
    assert (ws / "src" / "calc.py").read_text().startswith("def add")


def test_no_absolute_host_path_in_any_output(box, ws):
    texts = [
        box.execute("read", {"path": "nope.py"}).text,
        box.execute("ls", {}).text,
        box.execute("glob", {"pattern": "*.py"}).text,
        box.execute("grep", {"pattern": "def"}).text,
        box.execute("read", {"path": "src"}).text,
        box.execute("edit", {"path": "src/calc.py", "old": "nothing like it", "new": "x"}).text,
    ]
    for text in texts:
        assert str(ws) not in text and os.path.realpath(ws) not in text


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.py", "src/a.py", True),
        ("*.py", "a.py", True),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/sub/a.py", False),
        ("src/**/*.py", "src/a.py", True),
        ("src/**/*.py", "src/x/y/a.py", True),
        ("**/*.py", "a.py", True),
        (".meta/**", ".meta", True),
        (".meta/**", ".meta/x/y", True),
        (".meta/**", "src/.meta", False),
        ("*.{js,ts}", "a/b.ts", True),
        ("[ab].py", "b.py", True),
        ("[!ab].py", "b.py", False),
        ("test_?.py", "test_1.py", True),
    ],
)
def test_glob_dialect(pattern, path, expected):
    assert Glob(pattern).match(path) is expected


def test_new_file_through_symlinked_dir_to_outside_is_refused(box, ws):
    (ws / "out").symlink_to(ws.parent)
    outcome = box.execute("write", {"path": "out/planted.py", "content": "x"})
    assert outcome.error_kind == "path_refused" and outcome.refused_paths == ["out/planted.py"]
    assert not (ws.parent / "planted.py").exists()


def test_windows_separators_inside_the_workspace_work(box):
    outcome = box.execute("read", {"path": "src\\util.py"})
    assert not outcome.is_error and "X = 1" in outcome.text and outcome.refused_paths == []


def test_unexpected_exception_text_has_no_host_path(box, ws, monkeypatch):
    def boom(call, args):
        raise OSError(f"cannot open {ws}/src/util.py")

    monkeypatch.setitem(box._handlers, "read", boom)
    outcome = box.execute("read", {"path": "src/util.py"})
    assert outcome.error_kind == "other"
    assert str(ws) not in outcome.text and "src/util.py" in outcome.text
