"""build_toolbox, display names, schemas, dispatch and the ToolOutcome contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.protocols import ToolBox, ToolOutcome
from agent.tools import TOOL_NAMES, ToolOptions, UnknownToolError, build_toolbox, resolve_tool_name
from agent.tools.registry import clean_tool_name
from agent.tools.specs import SPEC_DIR, load_specs


def test_every_tool_has_a_spec_and_the_toolbox_is_a_ToolBox(box):
    specs, _ = load_specs()
    assert set(specs) == set(TOOL_NAMES)
    assert isinstance(box, ToolBox)
    assert box.display_names() == list(TOOL_NAMES)


def test_schemas_are_openai_tool_entries_in_config_order(make_box):
    box = make_box(["write", "read"])
    schemas = box.schemas()
    assert [s["function"]["name"] for s in schemas] == ["write", "read"]
    write = schemas[0]
    assert write["type"] == "function"
    params = write["function"]["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["path", "content"]
    assert params["properties"]["content"]["description"]
    assert len(write["function"]["description"]) > 40


def test_compact_schemas_drop_parameter_descriptions(make_box):
    full = make_box(["apply_patch"]).schemas()[0]["function"]
    compact = make_box(["apply_patch"], opts={"compact_schemas": True}).schemas()[0]["function"]
    assert "\n" not in compact["description"]
    assert len(compact["description"]) < len(full["description"])
    assert all("description" not in p for p in compact["parameters"]["properties"].values())
    assert "description" in full["parameters"]["properties"]["patch"]


def test_listed_alias_becomes_display_name_and_canonical_still_dispatches(make_box):
    box = make_box(["read_file", "finish"])
    assert box.display_names() == ["read_file", "finish"]
    assert box.schemas()[0]["function"]["name"] == "read_file"
    exact = box.execute("read_file", {"path": "README.md"})
    assert exact.tool == "read" and not exact.is_error and exact.repairs == []
    other = box.execute("open_file", {"path": "README.md"})
    assert other.tool == "read" and not other.is_error
    assert other.repairs == ["tool name 'open_file' -> 'read_file'"]


def test_tool_name_style_alias_uses_first_alias_unless_listed_differently(make_box):
    box = make_box(["read", "edit_file", "grep"], opts={"tool_name_style": "alias"})
    assert box.display_names() == ["read_file", "edit_file", "grep"]


def test_tool_aliases_option_sets_display_and_is_validated(make_box):
    box = make_box(["read", "write"], opts={"tool_aliases": {"write": "create_file"}})
    assert box.display_names() == ["read", "create_file"]
    with pytest.raises(ValueError, match="not an alias"):
        make_box(["read"], opts={"tool_aliases": {"read": "write_file"}})
    with pytest.raises(UnknownToolError):
        make_box(["read"], opts={"tool_aliases": {"nope": "read"}})


def test_unknown_config_names_raise_one_line_value_error(ws):
    with pytest.raises(ValueError) as info:
        build_toolbox(["read", "teleport"], workspace=ws)
    message = str(info.value)
    assert "teleport" in message and "apply_patch" in message and "\n" not in message
    with pytest.raises(ValueError, match="listed twice"):
        build_toolbox(["read", "read_file"], workspace=ws)


def test_invalid_options_are_rejected():
    with pytest.raises(ValueError):
        ToolOptions(read_style="hashline")
    with pytest.raises(ValueError):
        ToolOptions(shell_timeout=601)
    with pytest.raises(ValueError):
        ToolOptions(tool_name_style="upper")


def test_duplicate_alias_across_spec_files_is_detected(tmp_path: Path):
    for name in ("read", "write"):
        shutil.copy(SPEC_DIR / f"{name}.json", tmp_path / f"{name}.json")
    load_specs(tmp_path)  # fine as shipped
    spec = json.loads((tmp_path / "write.json").read_text())
    spec["aliases"].append("Open-File")  # read's alias, different spelling
    (tmp_path / "write.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="Open-File.*already used by .read"):
        load_specs(tmp_path)


def test_spec_with_required_param_missing_from_properties_is_rejected(tmp_path: Path):
    spec = json.loads((SPEC_DIR / "read.json").read_text())
    spec["parameters"]["required"] = ["nope"]
    (tmp_path / "read.json").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="nope"):
        load_specs(tmp_path)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("read", "read"),
        ("  READ_FILE  ", "READ_FILE"),
        ("read<|channel|>commentary", "read"),
        ("functions.apply_patch", "apply_patch"),
        ("write\nsome junk", "write"),
        ("finish()", "finish"),
    ],
)
def test_clean_tool_name(raw, expected):
    assert clean_tool_name(raw) == expected


def test_resolve_tool_name():
    assert resolve_tool_name("Read_File") == "read"
    assert resolve_tool_name("apply-patch") == "apply_patch"
    assert resolve_tool_name("askAgent") == "ask_agent"
    assert resolve_tool_name("functions.list_dir") == "ls"
    assert resolve_tool_name("teleport") is None


def test_leaked_template_tokens_in_name_still_dispatch(box):
    outcome = box.execute("read<|channel|>commentary to=functions.read", {"path": "README.md"})
    assert outcome.tool == "read" and not outcome.is_error
    assert outcome.repairs and outcome.repairs[0].startswith("tool name")


def test_unknown_and_disabled_and_empty_tool_names(make_box):
    box = make_box(["read", "finish"])
    unknown = box.execute("teleport", {})
    assert (unknown.is_error, unknown.error_kind, unknown.tool) == (True, "unknown_tool", "")
    assert "read, finish" in unknown.text
    disabled = box.execute("bash", {"command": "ls"})
    assert disabled.error_kind == "unknown_tool" and "not enabled" in disabled.text
    assert disabled.repairs == []
    empty = box.execute("", {})
    assert empty.error_kind == "unknown_tool" and "missing tool name" in empty.text


def test_execute_never_raises_on_handler_crash(box, monkeypatch):
    def boom(call, args):
        raise KeyError("kaboom")

    monkeypatch.setitem(box._handlers, "read", boom)
    outcome = box.execute("read", {"path": "README.md"})
    assert isinstance(outcome, ToolOutcome)
    assert (outcome.is_error, outcome.error_kind, outcome.tool) == (True, "other", "read")
    assert "kaboom" in outcome.text


def test_execute_never_raises_on_garbage_arguments(box):
    for args in (None, 42, ["a"], "{{{", "\x00"):
        outcome = box.execute("read", args)  # type: ignore[arg-type]  # wrong types on purpose
        assert outcome.is_error and outcome.error_kind in {"invalid_json", "missing_arg", "invalid_args"}


def test_every_output_is_capped_with_a_marker(ws, make_box):
    (ws / "big.txt").write_text("".join(f"line {i} " + "x" * 80 + "\n" for i in range(3000)))
    box = make_box(["grep"], opts={"max_output_chars": 2000})
    outcome = box.execute("grep", {"pattern": "line", "max_results": 500})
    assert len(outcome.text) <= 2000
    assert "characters cut ...]" in outcome.text
    assert outcome.text.startswith("big.txt:1:line 0")
    assert "(stopped after 500 matches" in outcome.text  # the tail is kept


def test_duration_is_measured(box):
    outcome = box.execute("read", {"path": "README.md"})
    assert 0 < outcome.duration < 1
