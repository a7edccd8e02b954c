"""glob, grep and search."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def tree(ws: Path) -> Path:
    (ws / "src" / "pkg").mkdir()
    (ws / "src" / "pkg" / "deep.py").write_text("def deep():\n    return 'Needle'\n")
    (ws / "src" / "app.js").write_text("const needle = 1;\n")
    (ws / "node_modules" / "lib").mkdir(parents=True)
    (ws / "node_modules" / "lib" / "index.js").write_text("needle\n")
    (ws / "target").mkdir()
    (ws / "target" / "out.py").write_text("needle\n")
    return ws


def test_glob_name_pattern_is_recursive_everywhere(box, tree):
    outcome = box.execute("glob", {"pattern": "*.py"})
    assert outcome.text.splitlines() == ["src/calc.py", "src/pkg/deep.py", "src/util.py", "tests/test_calc.py"]


def test_glob_path_patterns_and_search_dir(box, tree):
    assert box.execute("glob", {"pattern": "src/*.py"}).text.splitlines() == ["src/calc.py", "src/util.py"]
    assert box.execute("glob", {"pattern": "src/**/*.py"}).text.splitlines() == [
        "src/calc.py", "src/pkg/deep.py", "src/util.py",
    ]
    # Relative to path, results still shown from the workspace root.
    assert box.execute("glob", {"pattern": "pkg/*.py", "path": "src"}).text == "src/pkg/deep.py"
    assert box.execute("glob", {"pattern": "*.{js,md}"}).text.splitlines() == ["README.md", "src/app.js"]


def test_glob_default_and_no_results_and_errors(box, tree):
    everything = box.execute("glob", {}).text.splitlines()
    assert "README.md" in everything and "node_modules/lib/index.js" not in everything
    assert "target/out.py" not in everything
    none = box.execute("glob", {"pattern": "*.rs"})
    assert not none.is_error and none.text == "no files found matching '*.rs' in the workspace"
    assert box.execute("glob", {"pattern": "*", "path": "nowhere"}).error_kind == "not_found"
    assert box.execute("glob", {"pattern": "*", "path": "README.md"}).error_kind == "invalid_args"
    escape = box.execute("glob", {"pattern": "../*"})
    assert escape.error_kind == "path_refused" and escape.refused_paths == ["../*"]


def test_glob_truncates_at_100(box, ws):
    (ws / "many").mkdir()
    for i in range(130):
        (ws / "many" / f"f{i:03}.txt").write_text("")
    lines = box.execute("glob", {"pattern": "*.txt"}).text.splitlines()
    assert len(lines) == 101 and lines[-1].startswith("(results truncated at 100")


def test_glob_does_not_follow_symlinks_out(box, ws, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.py").write_text("x")
    (ws / "out").symlink_to(outside)
    (ws / "out_file.py").symlink_to(outside / "secret.py")
    text = box.execute("glob", {"pattern": "**/*.py"}).text
    assert "secret.py" not in text and "out_file.py" not in text


def test_grep_regex_literal_include_and_case(box, tree):
    regex = box.execute("grep", {"pattern": r"def \w+\(a"})
    assert regex.text.splitlines() == ["src/calc.py:1:def add(a, b):", "src/calc.py:5:def sub(a, b):"]
    literal = box.execute("grep", {"pattern": "add(1, 2)", "literal": True})
    assert literal.text == "tests/test_calc.py:5:    assert add(1, 2) == 3"
    include = box.execute("grep", {"pattern": "needle", "include": "*.js", "ignore_case": True})
    assert include.text == "src/app.js:1:const needle = 1;"
    case = box.execute("grep", {"pattern": "needle", "ignore_case": True, "include": "*.py"})
    assert case.text == "src/pkg/deep.py:2:    return 'Needle'"


def test_grep_on_single_file_and_missing_path(box, tree):
    assert box.execute("grep", {"pattern": "return", "path": "src/calc.py"}).text.splitlines() == [
        "src/calc.py:2:    return 0", "src/calc.py:6:    return 0",
    ]
    assert box.execute("grep", {"pattern": "x", "path": "nope"}).error_kind == "not_found"


def test_grep_invalid_regex(box):
    outcome = box.execute("grep", {"pattern": "foo(("})
    assert outcome.is_error and outcome.error_kind == "invalid_regex" and "literal=true" in outcome.text
    assert not box.execute("grep", {"pattern": "foo((", "literal": True}).is_error


def test_grep_max_results_and_no_matches(box, ws):
    (ws / "rep.txt").write_text("hit\n" * 20)
    limited = box.execute("search", {"pattern": "hit", "max_results": 5}).text.splitlines()
    assert limited[:5] == [f"rep.txt:{i}:hit" for i in range(1, 6)]
    assert limited[5] == "(stopped after 5 matches; narrow the pattern, path or include)"
    none = box.execute("grep", {"pattern": "zebra"})
    assert not none.is_error and none.text == "no matches for 'zebra' in the workspace"


def test_grep_skips_binary_files(box, ws):
    (ws / "blob.bin").write_bytes(b"\x00needle\x00")
    assert "blob.bin" not in box.execute("grep", {"pattern": "needle"}).text


def test_search_aliases_match_grep_semantics(box, tree):
    outcome = box.execute("search_text", {"query": "Needle", "literal_text": True})
    assert outcome.tool == "search" and outcome.text == "src/pkg/deep.py:2:    return 'Needle'"
    assert "arg alias 'query' -> 'pattern'" in outcome.repairs


def test_glob_absolute_pattern_inside_workspace_is_made_relative(box, ws):
    outcome = box.execute("glob", {"pattern": f"{ws}/src/*.py"})
    assert outcome.text.splitlines() == ["src/calc.py", "src/util.py"]
    assert str(ws) not in outcome.text
    outside = box.execute("glob", {"pattern": "/etc/*"})
    assert outside.error_kind == "path_refused" and outside.refused_paths == ["/etc/*"]
