"""apply_patch: format, placement, atomicity, line endings and errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.tools import patch as patch_module
from agent.tools.patch_parse import parse_patch


def P(*lines: str) -> str:
    return "\n".join(["*** Begin Patch", *lines, "*** End Patch"])


def test_update_add_delete_in_one_patch(box, ws):
    patch = P(
        "*** Update File: src/calc.py",
        "@@ def add(a, b):",
        "-    return 0",
        "+    return a + b",
        "*** Add File: src/new.py",
        "+A = 1",
        "+B = 2",
        "*** Delete File: README.md",
    )
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "calc.py").read_text() == (
        "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return 0\n"
    )
    assert (ws / "src" / "new.py").read_text() == "A = 1\nB = 2\n"
    assert not (ws / "README.md").exists()
    assert sorted(outcome.changed_files) == ["README.md", "src/calc.py", "src/new.py"]
    first = outcome.text.splitlines()[0]
    assert first.startswith("ok: patch applied: updated src/calc.py; added src/new.py; deleted README.md.")
    assert "src/calc.py (+1 -1)" in first and "src/new.py (+2 -0)" in first
    assert "   2|     return a + b" in outcome.text


def test_anchor_selects_the_right_one_of_two_equal_contexts(box, ws):
    patch = P("*** Update File: src/calc.py", "@@ def sub(a, b):", "-    return 0", "+    return a - b")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "calc.py").read_text() == (
        "def add(a, b):\n    return 0\n\n\ndef sub(a, b):\n    return a - b\n"
    )


def test_ambiguous_context_without_anchor_is_refused(box, ws):
    before = (ws / "src" / "calc.py").read_text()
    patch = P("*** Update File: src/calc.py", "@@", "-    return 0", "+    return 1")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert outcome.error_kind == "patch_context_not_unique" and "lines 2, 6" in outcome.text
    assert (ws / "src" / "calc.py").read_text() == before


def test_hunks_apply_in_order_with_a_cursor(box, ws):
    patch = P(
        "*** Update File: src/calc.py",
        "@@ def add(a, b):",
        "-    return 0",
        "+    return a + b",
        "@@",
        "-    return 0",
        "+    return a - b",
    )
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    text = (ws / "src" / "calc.py").read_text()
    assert "return a + b" in text and "return a - b" in text


def test_atomic_second_file_fails_first_untouched(box, ws):
    calc_before = (ws / "src" / "calc.py").read_text()
    patch = P(
        "*** Update File: src/calc.py",
        "@@ def add(a, b):",
        "-    return 0",
        "+    return a + b",
        "*** Add File: src/added.py",
        "+NEW = True",
        "*** Update File: src/util.py",
        "-Y = 1",
        "+Y = 2",
    )
    outcome = box.execute("apply_patch", {"patch": patch})
    assert outcome.is_error and outcome.error_kind == "patch_context_not_found"
    assert "hunk 1 of src/util.py" in outcome.text and "  Y = 1" in outcome.text
    assert (ws / "src" / "calc.py").read_text() == calc_before
    assert not (ws / "src" / "added.py").exists()
    assert outcome.changed_files == []


def test_atomic_rollback_when_a_write_fails(box, ws, monkeypatch):
    real_write = patch_module.write_text
    calls = []

    def flaky(target, text):
        calls.append(target.rel)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied")
        real_write(target, text)

    monkeypatch.setattr(patch_module, "write_text", flaky)
    patch = P("*** Update File: src/util.py", "-X = 1", "+X = 2", "*** Add File: src/b.py", "+b")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert outcome.error_kind == "other" and "no file was changed" in outcome.text
    assert (ws / "src" / "util.py").read_text() == "X = 1\n"
    assert not (ws / "src" / "b.py").exists()


def test_missing_end_patch_and_code_fences_are_tolerated(box, ws):
    patch = "```\n*** Begin Patch\n*** Update File: src/util.py\n-X = 1\n+X = 3\n```"
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "util.py").read_text() == "X = 3\n"
    assert "patch: missing '*** End Patch'" in outcome.repairs


def test_heredoc_wrapper_and_missing_begin(box, ws):
    patch = "apply_patch <<'EOF'\n*** Update File: src/util.py\n-X = 1\n+X = 4\n*** End Patch\nEOF"
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "util.py").read_text() == "X = 4\n"


def test_unified_diff_is_accepted(box, ws):
    diff = "--- a/src/util.py\n+++ b/src/util.py\n@@ -1 +1 @@\n-X = 1\n+X = 5\n"
    outcome = box.execute("apply_patch", {"patch": diff})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "util.py").read_text() == "X = 5\n"
    assert "patch: unified diff read as a patch" in outcome.repairs


def test_move_to(box, ws):
    patch = P("*** Update File: src/util.py", "*** Move to: lib/util2.py", "-X = 1", "+X = 6")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert not (ws / "src" / "util.py").exists()
    assert (ws / "lib" / "util2.py").read_text() == "X = 6\n"
    assert sorted(outcome.changed_files) == ["lib/util2.py", "src/util.py"]


def test_crlf_and_missing_final_newline_are_preserved(box, ws):
    (ws / "dos.txt").write_bytes(b"one\r\ntwo\r\nthree")
    outcome = box.execute("apply_patch", {"patch": P("*** Update File: dos.txt", " one", "-two", "+TWO", " three")})
    assert not outcome.is_error, outcome.text
    assert (ws / "dos.txt").read_bytes() == b"one\r\nTWO\r\nthree"


def test_whitespace_loose_context_keeps_file_lines_and_reindents(box, ws):
    (ws / "k.py").write_text("class A:\n    def f(self):\n        return 1\n")
    patch = P("*** Update File: k.py", " def f(self):", "-    return 1", "+    x = 2", "+    return x")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert (ws / "k.py").read_text() == "class A:\n    def f(self):\n        x = 2\n        return x\n"


def test_pure_addition_after_anchor_and_at_end(box, ws):
    patch = P("*** Update File: src/calc.py", "@@ def add(a, b):", "+    # adds", "@@", "+# end")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    text = (ws / "src" / "calc.py").read_text()
    assert text.startswith("def add(a, b):\n    # adds\n    return 0\n")
    assert text.endswith("    return 0\n# end\n")


def test_unknown_anchor_is_ignored_with_a_repair(box, ws):
    patch = P("*** Update File: src/util.py", "@@ def nothing_like_this():", "-X = 1", "+X = 7")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert any("anchor not found" in r for r in outcome.repairs)


@pytest.mark.parametrize(
    ("patch", "kind"),
    [
        ("just some text", "patch_invalid"),
        (P("garbage before header"), "patch_invalid"),
        (P("*** Update File: src/util.py", " X = 1"), "patch_invalid"),
        (P("*** Delete File: src/util.py", "+oops"), "patch_invalid"),
        (P("*** Update File: src/missing.py", "-a", "+b"), "not_found"),
        (P("*** Delete File: nothing.py"), "not_found"),
        (P("*** Update File: src/util.py", "-X = 1", "+X = 1"), "no_change"),
        (P("*** Update File: ../evil.py", "-a", "+b"), "path_refused"),
        (P("*** Add File: /tmp/evil.py", "+a"), "path_refused"),
        (P("*** Update File: src", "-a", "+b"), "is_directory"),
    ],
)
def test_errors(box, ws, patch, kind):
    before = {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()}
    outcome = box.execute("apply_patch", {"patch": patch})
    assert outcome.is_error and outcome.error_kind == kind, outcome.text
    assert {p: p.read_bytes() for p in ws.rglob("*") if p.is_file()} == before
    if kind == "path_refused":
        assert outcome.refused_paths


def test_not_found_file_suggests_near_matches(box):
    outcome = box.execute("apply_patch", {"patch": P("*** Update File: calc.py", "-a", "+b")})
    assert outcome.error_kind == "not_found" and "src/calc.py" in outcome.text


def test_context_not_found_shows_closest_region(box, ws):
    patch = P("*** Update File: src/calc.py", " def sub(a, b):", "-    return 1", "+    return 2")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert outcome.error_kind == "patch_context_not_found"
    assert "lines 5-6" in outcome.text and "   5| def sub(a, b):" in outcome.text


def test_parse_keeps_ops_and_anchor():
    repairs: list[str] = []
    changes = parse_patch(P("*** Update File: a.py", "@@ -3,2 +3,2 @@ def f():", " x", "-y", "+z", "*** End of File"),
                          repairs)
    hunk = changes[0].hunks[0]
    assert hunk.anchor == "def f():" and hunk.eof
    assert hunk.ops == [(" ", "x"), ("-", "y"), ("+", "z")]
    assert repairs == []


def test_add_existing_file_replaces_it(box, ws):
    outcome = box.execute("apply_patch", {"patch": P("*** Add File: src/util.py", "+X = 9")})
    assert not outcome.is_error and "replaced src/util.py" in outcome.text
    assert (ws / "src" / "util.py").read_text() == "X = 9\n"
    assert os.path.exists(ws / "src" / "util.py")


def test_patch_on_new_file_then_update_in_same_patch(box, ws: Path):
    patch = P("*** Add File: n.py", "+a = 1", "+b = 2", "*** Update File: n.py", "-b = 2", "+b = 3")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert (ws / "n.py").read_text() == "a = 1\nb = 3\n"


def test_anchor_repeated_as_first_context_line(box, ws):
    patch = P("*** Update File: src/calc.py", "@@ def sub(a, b):", " def sub(a, b):", "-    return 0",
              "+    return a - b")
    outcome = box.execute("apply_patch", {"patch": patch})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "calc.py").read_text().endswith("def sub(a, b):\n    return a - b\n")
    assert outcome.repairs == []
