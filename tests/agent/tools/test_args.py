"""Argument parsing: JSON repair, argument-name aliases, coercion and schema validation."""

from __future__ import annotations

import json

import pytest

from agent.tools.args import extract_patch, number_word, parse_json_arguments
from agent.tools.errors import ToolError


@pytest.mark.parametrize(
    ("raw", "repair"),
    [
        ('{"path": "a.py",}', "trailing commas"),
        ("{'path': 'a.py'}", "single quotes"),
        ("{'path': 'a.py', 'all': True}", "Python-style dict"),
        ("{'path': 'a.py', 'x': None,}", "Python-style dict"),
        ('{"path": "a.py"', "missing closing brackets"),
        ('{"paths": ["a.py", "b.py"', "missing closing brackets"),
        ('{"path": "a.py", "opts": {"all": true', "missing closing brackets"),
        ('{"path": "a.py",', "missing closing brackets"),
        ('```json\n{"path": "a.py"}\n```', "code fence around JSON"),
        ('{"path": "a.py"} and then some words', "text around the JSON object"),
        ('{"path": "a.py"}}', "text around the JSON object"),
        ('Arguments: {"path": "a.py"}', "text around the JSON object"),
        ('"{\\"path\\": \\"a.py\\"}"', "double-encoded JSON"),
        ('{"path": "a.py", "line_start": ten}', "number words"),
    ],
)
def test_json_repairs(raw, repair):
    value, repairs = parse_json_arguments(raw)
    assert value.get("path", value.get("paths")) in ("a.py", ["a.py", "b.py"])
    assert repair in repairs


@pytest.mark.parametrize(
    "raw", ['{"content": "print(1)', '{"path": "a.py", "content": "def f(', "{'path': 'a.py', 'content': 'x"]
)
def test_a_string_left_open_is_beyond_repair(raw):
    """The one unclosed-string policy: the call was cut off mid-value; closing the string would
    write half a file as if it were whole."""
    with pytest.raises(ToolError) as info:
        parse_json_arguments(raw)
    assert info.value.kind == "invalid_json"


def test_raw_control_characters_are_accepted_as_a_repair():
    """Python reads a raw newline inside a JSON string; llama.cpp rejects it in history, so the
    arguments count as repaired (and go back to the server re-encoded)."""
    value, repairs = parse_json_arguments('{"content": "a\nb"}')
    assert value == {"content": "a\nb"} and repairs == ["control characters in strings"]
    assert parse_json_arguments('{"content": "a\\nb"}') == ({"content": "a\nb"}, [])


def test_empty_arguments_are_an_empty_object():
    assert parse_json_arguments("  ") == ({}, [])


def test_invalid_escape_is_kept_as_a_backslash():
    value, repairs = parse_json_arguments(r'{"pattern": "\s+def"}')
    assert value == {"pattern": r"\s+def"}
    assert "invalid escapes" in repairs


def test_bare_number_words_are_repaired():
    value, repairs = parse_json_arguments('{"path": "a.py", "line_start": ten, "line_end": twenty-five}')
    assert value == {"path": "a.py", "line_start": 10, "line_end": 25}
    assert "number words" in repairs


def test_hopeless_json_is_invalid_json_with_raw_excerpt():
    with pytest.raises(ToolError) as info:
        parse_json_arguments('path = "a.py"')
    assert info.value.kind == "invalid_json"
    assert "path = " in info.value.message


@pytest.mark.parametrize(
    ("text", "value"),
    [("zero", 0), ("ten", 10), ("Twenty one", 21), ("forty-two", 42), ("a hundred", 100),
     ("two hundred and five", 205), ("banana", None)],
)
def test_number_word(text, value):
    assert number_word(text) == value


def test_extract_patch_from_broken_json_with_escaped_newlines():
    raw = '{"patch": "*** Begin Patch\\n*** Add File: a.py\\n+print(\\"hi\\")\\n*** End Patch", oops'
    assert extract_patch(raw) == '*** Begin Patch\n*** Add File: a.py\n+print("hi")\n*** End Patch'
    assert extract_patch('{"path": 1') is None


# -- through the toolbox ----------------------------------------------------------------------


def test_broken_patch_json_still_applies(box, ws):
    raw = '{"patch": "*** Begin Patch\\n*** Add File: src/new.py\\n+X = 2\\n*** End Patch"'  # missing }
    raw = raw.replace("*** End Patch\"", "*** End Patch\" junk")
    outcome = box.execute("apply_patch", raw)
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "new.py").read_text() == "X = 2\n"
    assert any(r.startswith("json:") for r in outcome.repairs)


def test_arg_aliases_are_remapped_and_recorded(box, ws):
    outcome = box.execute("edit", {"file_path": "src/util.py", "old_string": "X = 1", "new_string": "X = 2"})
    assert not outcome.is_error, outcome.text
    assert (ws / "src" / "util.py").read_text() == "X = 2\n"
    assert "arg alias 'file_path' -> 'path'" in outcome.repairs
    assert "arg alias 'old_string' -> 'old'" in outcome.repairs


def test_canonical_key_wins_over_alias(box):
    outcome = box.execute("read", {"path": "README.md", "file": "src/util.py"})
    assert "# Calc" in outcome.text
    assert "arg 'file' dropped: 'path' already given" in outcome.repairs


def test_integer_coercion_from_strings_floats_and_words(box):
    outcome = box.execute("read", {"path": "src/calc.py", "line_start": "2", "line_end": 3.0})
    lines = outcome.text.splitlines()
    assert lines[0] == "   2|     return 0" and lines[1] == "   3| "
    assert lines[2] == "(... 3 more lines; continue with line_start=4)"
    words = box.execute("read", {"path": "src/calc.py", "line_start": "five", "limit": "one"})
    assert words.text.strip().startswith("5|")
    bad = box.execute("read", {"path": "src/calc.py", "line_start": "soon"})
    assert bad.error_kind == "invalid_args" and "whole number" in bad.text


def test_boolean_and_array_coercion(box, ws):
    (ws / "src" / "dup.py").write_text("a\na\n")
    outcome = box.execute("edit", {"path": "src/dup.py", "old": "a", "new": "b", "all": "true"})
    assert not outcome.is_error and (ws / "src" / "dup.py").read_text() == "b\nb\n"
    batch = box.execute("batch_read", {"paths": "README.md"})
    assert not batch.is_error and "=== README.md ===" in batch.text
    assert "arg 'paths' wrapped in a list" in batch.repairs
    json_list = box.execute("batch_read", {"paths": json.dumps(["README.md", "src/util.py"])})
    assert "=== src/util.py ===" in json_list.text


def test_bare_value_for_single_required_param(box):
    outcome = box.execute("read", '"README.md"')
    assert not outcome.is_error and "# Calc" in outcome.text
    assert "bare str used as 'path'" in outcome.repairs


def test_unknown_argument_lists_valid_params_and_example(box):
    outcome = box.execute("read", {"path": "README.md", "explanation": "because"})
    assert outcome.error_kind == "invalid_args"
    assert "'explanation'" in outcome.text
    assert "valid: path, line_start?, line_end?, offset?, limit?, format?" in outcome.text
    assert 'Example: read({"path": "src/main.py"})' in outcome.text
    assert "\n" not in outcome.text


def test_missing_required_argument_is_reported(box):
    outcome = box.execute("write", {"path": "src/x.py"})
    assert outcome.error_kind == "missing_arg"
    assert "'content'" in outcome.text and "Example: write(" in outcome.text
    empty = box.execute("read", {"path": "  "})
    assert empty.error_kind == "missing_arg"


def test_type_enum_and_range_checks(box):
    assert box.execute("write", {"path": "a", "content": True}).error_kind == "invalid_args"
    enum = box.execute("read", {"path": "README.md", "format": "fancy"})
    assert enum.error_kind == "invalid_args" and "numbered, raw" in enum.text
    too_many = box.execute("batch_read", {"paths": [f"f{i}" for i in range(11)]})
    assert too_many.error_kind == "invalid_args" and "at most 10" in too_many.text
    low = box.execute("read", {"path": "README.md", "limit": 0})
    assert low.error_kind == "invalid_args" and "at least 1" in low.text


def test_optional_null_arguments_are_ignored(box):
    outcome = box.execute("read", {"path": "README.md", "limit": None, "offset": None})
    assert not outcome.is_error


def test_json_content_object_is_serialised_for_write(box, ws):
    outcome = box.execute("write", {"path": "data.json", "content": {"a": 1}})
    assert not outcome.is_error
    assert json.loads((ws / "data.json").read_text()) == {"a": 1}
    assert "arg 'content' serialised as JSON text" in outcome.repairs


def test_null_and_empty_arguments_mean_no_arguments(box):
    for raw in ("null", "", "  ", None):
        outcome = box.execute("ls", raw)
        assert not outcome.is_error, (raw, outcome.text)
        assert "src/" in outcome.text


def test_python_literal_repair_reports_only_itself():
    value, repairs = parse_json_arguments("{'path': 'a.py', 'all': True,}")
    assert value == {"path": "a.py", "all": True}
    assert repairs == ["Python-style dict"]
