"""edit: the matching chain, uniqueness, errors and the result it shows."""

from __future__ import annotations

from pathlib import Path

import pytest

PY = """class Bowling:
    def __init__(self):
        self.rolls = []

    def roll(self, pins):
        pass

    def score(self):
        pass
"""


@pytest.fixture
def bowl(ws: Path) -> Path:
    path = ws / "src" / "bowling.py"
    path.write_text(PY)
    return path


def test_exact_edit_shows_changed_region(box, bowl):
    outcome = box.execute("edit", {"path": "src/bowling.py", "old": "    def roll(self, pins):\n        pass",
                                   "new": "    def roll(self, pins):\n        self.rolls.append(pins)"})
    assert not outcome.is_error, outcome.text
    assert outcome.changed_files == ["src/bowling.py"]
    lines = outcome.text.splitlines()
    assert lines[0] == "ok: edited src/bowling.py: 1 replacement (+1 -1 lines)"
    assert "   6|         self.rolls.append(pins)" in lines
    assert "   3|         self.rolls = []" in lines  # 3 lines of context before
    assert not any(line.startswith("   1|") for line in lines)  # but not the whole file
    assert "self.rolls.append(pins)" in bowl.read_text()


def test_trailing_newline_mismatch(box, ws):
    (ws / "n.txt").write_text("last line")
    outcome = box.execute("edit", {"path": "n.txt", "old": "last line\n", "new": "final line\n"})
    assert not outcome.is_error and (ws / "n.txt").read_text() == "final line"
    assert "without the trailing newline" in outcome.text.splitlines()[0]


def test_unicode_quotes_dashes_and_spaces_are_normalised(box, ws):
    (ws / "q.py").write_text("msg = \u201chello\u201d  # caf\u00e9 \u2014 ok\nx\u00a0= 1\n")
    outcome = box.execute("edit", {"path": "q.py", "old": 'msg = "hello"  # caf\u00e9 - ok', "new": 'msg = "bye"'})
    assert not outcome.is_error, outcome.text
    assert (ws / "q.py").read_text() == 'msg = "bye"\nx\u00a0= 1\n'
    assert "normalising quotes" in outcome.text
    nbsp = box.execute("edit", {"path": "q.py", "old": "x = 1", "new": "x = 2"})
    assert not nbsp.is_error and (ws / "q.py").read_text().endswith("x = 2\n")


def test_trailing_whitespace_is_ignored_line_by_line(box, ws):
    (ws / "t.py").write_text("a = 1   \nb = 2\t\nc = 3\n")
    outcome = box.execute("edit", {"path": "t.py", "old": "a = 1\nb = 2", "new": "a = 10\nb = 20"})
    assert not outcome.is_error, outcome.text
    assert (ws / "t.py").read_text() == "a = 10\nb = 20\nc = 3\n"
    assert "ignoring trailing whitespace" in outcome.text


def test_indentation_is_ignored_and_replacement_reindented(box, bowl):
    old = "def score(self):\n    pass"  # written at column 0, file has it at 4
    new = "def score(self):\n    total = 0\n    for r in self.rolls:\n        total += r\n    return total"
    outcome = box.execute("edit", {"path": "src/bowling.py", "old": old, "new": new})
    assert not outcome.is_error, outcome.text
    assert "ignoring indentation" in outcome.text
    assert bowl.read_text().endswith(
        "    def score(self):\n        total = 0\n        for r in self.rolls:\n            total += r\n"
        "        return total\n"
    )


def test_over_indented_old_is_dedented_consistently(box, ws):
    (ws / "d.py").write_text("if x:\n    y = 1\n    z = 2\n")
    outcome = box.execute("edit", {"path": "d.py", "old": "        y = 1\n        z = 2",
                                   "new": "        y = 1\n        if y:\n            z = 3"})
    assert not outcome.is_error, outcome.text
    assert (ws / "d.py").read_text() == "if x:\n    y = 1\n    if y:\n        z = 3\n"


def test_line_numbers_copied_from_read_are_stripped(box, bowl):
    old = "   5|     def roll(self, pins):\n   6|         pass"
    new = "   5|     def roll(self, pins):\n   6|         self.rolls.append(pins)"
    outcome = box.execute("edit", {"path": "src/bowling.py", "old": old, "new": new})
    assert not outcome.is_error, outcome.text
    assert "line numbers stripped from old and new" in outcome.repairs
    assert "    def roll(self, pins):\n        self.rolls.append(pins)\n" in bowl.read_text()


def test_not_found_shows_closest_region_not_whole_file(box, ws):
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(40))
    (ws / "big.py").write_text(body)
    outcome = box.execute("edit", {"path": "big.py", "old": "def f17(x):\n    return x - 17", "new": "pass"})
    assert outcome.is_error and outcome.error_kind == "old_string_not_found"
    assert "lines 52-53" in outcome.text
    assert "  52| def f17(x):" in outcome.text
    assert "def f3(x)" not in outcome.text and "def f30(x)" not in outcome.text
    assert (ws / "big.py").read_text() == body


def test_not_found_with_nothing_similar(box):
    outcome = box.execute("edit", {"path": "src/util.py", "old": "completely unrelated text here", "new": "x"})
    assert outcome.error_kind == "old_string_not_found" and "Nothing in the file looks similar" in outcome.text


def test_ambiguous_match_is_refused_with_count_and_lines(box, ws):
    original = (ws / "src" / "calc.py").read_text()
    outcome = box.execute("edit", {"path": "src/calc.py", "old": "    return 0", "new": "    return a + b"})
    assert outcome.is_error and outcome.error_kind == "old_string_not_unique"
    assert "2 times" in outcome.text and "lines 2, 6" in outcome.text
    assert (ws / "src" / "calc.py").read_text() == original


def test_loose_matchers_never_pick_one_of_several(box, ws):
    (ws / "i.py").write_text("if a:\n    go()\nif b:\n        go()\n")
    outcome = box.execute("edit", {"path": "i.py", "old": "go()\n", "new": "stop()\n"})
    assert outcome.error_kind == "old_string_not_unique"


def test_old_start_picks_among_matches(box, ws):
    outcome = box.execute("edit", {"path": "src/calc.py", "old": "    return 0", "new": "    return a - b",
                                   "old_start": 6})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "calc.py").read_text() == (
        "def add(a, b):\n    return 0\n\n\ndef sub(a, b):\n    return a - b\n"
    )


def test_all_replaces_every_occurrence(box, ws):
    outcome = box.execute("edit", {"path": "src/calc.py", "old": "return 0", "new": "return None", "all": True})
    assert outcome.text.startswith("ok: edited src/calc.py: 2 replacements (+2 -2 lines)")
    assert (ws / "src" / "calc.py").read_text().count("return None") == 2


def test_line_range_mode(box, ws):
    outcome = box.execute("edit", {"path": "src/calc.py", "old_start": 5, "old_end": 6,
                                   "new": "def sub(a, b):\n    return a - b\n"})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "calc.py").read_text().endswith("def sub(a, b):\n    return a - b\n")
    bad = box.execute("edit", {"path": "src/calc.py", "old_start": 50, "new": "x"})
    assert bad.error_kind == "invalid_args"
    missing = box.execute("edit", {"path": "src/calc.py", "new": "x"})
    assert missing.error_kind == "missing_arg"


def test_no_change_cases(box, ws):
    same = box.execute("edit", {"path": "src/util.py", "old": "X = 1", "new": "X = 1"})
    assert same.error_kind == "no_change"
    (ws / "w.py").write_text("x\u00a0= 1\n")
    result_same = box.execute("edit", {"path": "w.py", "old": "x = 1", "new": "x\u00a0= 1"})
    assert result_same.error_kind == "no_change" and "unchanged" in result_same.text
    assert result_same.changed_files == []


def test_deletion_exact_is_literal_and_loose_removes_whole_lines(box, ws):
    (ws / "del.py").write_text("keep1\n    drop me\nkeep2\n")
    exact = box.execute("edit", {"path": "del.py", "old": "drop me\n", "new": ""})
    assert not exact.is_error, exact.text
    assert (ws / "del.py").read_text() == "keep1\n    keep2\n"  # exactly what was asked
    (ws / "del2.py").write_text("keep1\n    drop me\nkeep2\n")
    loose = box.execute("edit", {"path": "del2.py", "old": "drop me  \n", "new": ""})
    assert not loose.is_error, loose.text
    assert (ws / "del2.py").read_text() == "keep1\nkeep2\n"


def test_crlf_file_is_matched_and_kept_crlf(box, ws):
    (ws / "dos.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    outcome = box.execute("edit", {"path": "dos.py", "old": "a = 1\nb = 2", "new": "a = 1\nb = 3"})
    assert not outcome.is_error, outcome.text
    assert (ws / "dos.py").read_bytes() == b"a = 1\r\nb = 3\r\n"


def test_edit_empty_file_with_empty_old(box, ws):
    (ws / "e.py").write_text("")
    assert not box.execute("edit", {"path": "e.py", "old": "", "new": "x = 1\n"}).is_error
    assert (ws / "e.py").read_text() == "x = 1\n"
    refused = box.execute("edit", {"path": "e.py", "old": "", "new": "y"})
    assert refused.error_kind == "invalid_args"
