"""read, batch_read, write and ls."""

from __future__ import annotations

from pathlib import Path

from agent.tools.fs import MAX_READ_BYTES


def _lines(n: int) -> str:
    return "".join(f"line {i}\n" for i in range(1, n + 1))


# -- read --------------------------------------------------------------------------------------


def test_read_numbered_by_default(box):
    outcome = box.execute("read", {"path": "src/calc.py"})
    assert outcome.text.splitlines()[:2] == ["   1| def add(a, b):", "   2|     return 0"]
    assert outcome.tool == "read" and not outcome.is_error and outcome.changed_files == []


def test_read_raw_by_option_or_argument(make_box, box):
    raw_box = make_box(opts={"read_style": "raw"})
    assert raw_box.execute("read", {"path": "src/util.py"}).text == "X = 1"
    assert box.execute("read", {"path": "src/util.py", "format": "raw"}).text == "X = 1"


def test_read_ranges(box, ws):
    (ws / "long.txt").write_text(_lines(50))
    by_lines = box.execute("read", {"path": "long.txt", "line_start": 10, "line_end": 12}).text.splitlines()
    assert by_lines[:3] == ["  10| line 10", "  11| line 11", "  12| line 12"]
    assert by_lines[3] == "(... 38 more lines; continue with line_start=13)"
    paged = box.execute("read", {"path": "long.txt", "offset": 45, "limit": 2}).text.splitlines()
    assert paged == ["  46| line 46", "  47| line 47", "(... 3 more lines; continue with line_start=48)"]
    tail = box.execute("read", {"path": "long.txt", "offset": 48}).text.splitlines()
    assert tail == ["  49| line 49", "  50| line 50"]
    bad = box.execute("read", {"path": "long.txt", "line_start": 5, "line_end": 2})
    assert bad.error_kind == "invalid_args"


def test_read_past_eof_is_a_note_not_an_error(box):
    outcome = box.execute("read", {"path": "src/util.py", "line_start": 40})
    assert not outcome.is_error
    assert outcome.text == "(past the end: src/util.py has only 1 line; there is no more content)"


def test_read_empty_file_directory_and_missing(box, ws):
    (ws / "empty.py").write_text("")
    assert box.execute("read", {"path": "empty.py"}).text == "(empty.py is empty)"
    directory = box.execute("read", {"path": "src"})
    assert directory.error_kind == "is_directory" and "use ls" in directory.text
    assert box.execute("read", {"path": "nope.txt"}).error_kind == "not_found"


def test_read_cuts_long_lines_and_respects_output_budget(make_box, ws):
    (ws / "wide.txt").write_text("a" * 5000 + "\nshort\n")
    box = make_box(opts={"max_output_chars": 20000})
    text = box.execute("read", {"path": "wide.txt"}).text
    assert "[line cut, 5000 chars]" in text and text.endswith("   2| short")
    (ws / "many.txt").write_text(_lines(3000))
    small = make_box(opts={"max_output_chars": 1000}).execute("read", {"path": "many.txt"})
    assert len(small.text) <= 1000
    assert "characters cut" not in small.text  # cut at a line boundary, with a way to continue
    last = small.text.splitlines()[-1]
    assert last.startswith("(... ") and "continue with line_start=" in last


def test_read_refuses_huge_and_binary_files(box, ws):
    (ws / "huge.txt").write_text("x" * (MAX_READ_BYTES + 1))
    assert box.execute("read", {"path": "huge.txt"}).error_kind == "too_large"
    (ws / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    assert box.execute("read", {"path": "blob.bin"}).error_kind == "binary_file"


def test_read_keeps_crlf_out_of_the_view(box, ws):
    (ws / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    assert box.execute("read", {"path": "dos.txt", "format": "raw"}).text == "one\ntwo"


# -- batch_read --------------------------------------------------------------------------------


def test_batch_read_shows_each_file_and_inline_errors(box):
    outcome = box.execute("batch_read", {"paths": ["src/util.py", "missing.py", "README.md"]})
    assert not outcome.is_error
    assert "=== src/util.py ===\n   1| X = 1" in outcome.text
    assert "=== missing.py ===\nerror: not found: missing.py" in outcome.text
    assert "=== README.md ===\n   1| # Calc" in outcome.text


def test_batch_read_all_failing_is_an_error_and_refusals_are_recorded(box):
    outcome = box.execute("batch_read", {"paths": ["/etc/passwd", ".meta/example.py"]})
    assert outcome.is_error and outcome.error_kind == "path_refused"
    assert outcome.refused_paths == ["/etc/passwd", ".meta/example.py"]


# -- write -------------------------------------------------------------------------------------


def test_write_creates_parents_and_reports_lines(box, ws):
    outcome = box.execute("write", {"path": "pkg/sub/mod.py", "content": "a\nb\nc\n"})
    assert outcome.text == "ok: created pkg/sub/mod.py (+3 lines)"
    assert outcome.changed_files == ["pkg/sub/mod.py"]
    assert (ws / "pkg" / "sub" / "mod.py").read_text() == "a\nb\nc\n"


def test_write_update_counts_come_from_a_real_diff(box, ws):
    (ws / "f.txt").write_text("a\nb\nc\nd\n")
    # Same line count, two lines changed: a line-count difference would say +0 -0.
    outcome = box.execute("write", {"path": "f.txt", "content": "a\nB\nc\nD\n"})
    assert outcome.text == "ok: updated f.txt (+2 -2 lines, now 4 lines)"


def test_write_noop_then_repeated_noop(box, ws):
    first = box.execute("write", {"path": "src/util.py", "content": "X = 1\n"})
    assert not first.is_error and first.text == "ok: no changes - src/util.py already has this content"
    assert first.changed_files == []
    second = box.execute("write", {"path": "src/util.py", "content": "X = 1\n"})
    assert second.is_error and second.error_kind == "repeated_noop"
    assert "call finish" in second.text
    # A real change resets the streak.
    box.execute("write", {"path": "src/util.py", "content": "X = 2\n"})
    again = box.execute("write", {"path": "src/util.py", "content": "X = 2\n"})
    assert not again.is_error


def test_write_refuses_directories_and_files_as_parents(box):
    assert box.execute("write", {"path": "src", "content": "x"}).error_kind == "is_directory"
    outcome = box.execute("write", {"path": "README.md/inner.txt", "content": "x"})
    assert outcome.is_error and outcome.error_kind == "invalid_args"


def test_write_keeps_content_bytes_exactly(box, ws):
    box.execute("write", {"path": "dos.txt", "content": "a\r\nb\r\n"})
    assert (ws / "dos.txt").read_bytes() == b"a\r\nb\r\n"
    box.execute("write", {"path": "uni.txt", "content": "caf\u00e9 \u2014 \u201cq\u201d"})
    assert (ws / "uni.txt").read_text(encoding="utf-8") == "caf\u00e9 \u2014 \u201cq\u201d"


# -- ls ----------------------------------------------------------------------------------------


def test_ls_marks_directories_and_skips_junk(box, ws: Path):
    for junk in ("node_modules", "__pycache__", ".git", "build", "target"):
        (ws / junk).mkdir()
        (ws / junk / "x").write_text("x")
    outcome = box.execute("ls", {})
    assert outcome.text.splitlines() == ["src/", "tests/", "README.md"]


def test_ls_depth_tree_and_subdirectory(box, ws):
    (ws / "src" / "pkg").mkdir()
    (ws / "src" / "pkg" / "m.py").write_text("")
    tree = box.execute("ls", {"path": ".", "depth": 3}).text.splitlines()
    assert tree == ["src/", "  pkg/", "    m.py", "  calc.py", "  util.py", "tests/", "  test_calc.py", "README.md"]
    assert box.execute("ls", {"path": "src"}).text.splitlines() == ["pkg/", "calc.py", "util.py"]


def test_ls_empty_missing_and_file(box, ws):
    (ws / "empty").mkdir()
    assert box.execute("ls", {"path": "empty"}).text == "(empty is an empty directory)"
    missing = box.execute("ls", {"path": "srcs"})
    assert missing.error_kind == "not_found"
    assert box.execute("ls", {"path": "README.md"}).text == "README.md"


def test_ls_hides_symlinks_leading_out(box, ws):
    (ws / "escape").symlink_to(ws.parent)
    (ws / "inside").symlink_to(ws / "src")
    names = box.execute("ls", {}).text.splitlines()
    assert "escape" not in "".join(names) and "inside/" in names
