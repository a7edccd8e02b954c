"""Constrained calls for tiny models: the GBNF grammar, minimal schemas, and the agent
in ``call_grammar`` mode against a scripted server (the model's call comes back as text)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.config import ConfigError
from agent.grammar import call_grammar
from agent.tools.specs import default_specs
from tests.agent.conftest import assert_well_formed
from tests.support.scripted_server import tool_call

SCHEMAS = [
    {
        "type": "function",
        "function": {
            "name": "write",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                "required": ["path", "content"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read",
            "parameters": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "offset": {"type": "integer"},
                    "mode": {"type": "string", "enum": ["head", "tail"]},
                },
                "required": ["path"],
            },
        },
    },
]


def rules(grammar: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines())


def test_grammar_has_one_alternative_per_tool_in_the_section_syntax() -> None:
    g = rules(call_grammar(SCHEMAS, "section"))
    assert g["root"] == '"<tool_calls>\\n[" (call-write | call-read) "]\\n</tool_calls>"'
    assert g["call-write"].startswith('"{\\"name\\": \\"write\\", \\"arguments\\": " args-write')
    assert g["args-write"] == '"{" "\\"path\\": " path ", " "\\"content\\": " string "}"'
    assert "{1,160}" in g["path"] and g["string"].endswith('char* "\\""')
    for body in g.values():  # every rule referenced is defined
        for ref in re.findall(r"(?<![\"\\\w-])([a-z][a-z0-9-]*)(?![\"\w-])",
                              re.sub(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|\{[0-9,]*\}', "", body)):
            assert ref in g, ref


def test_optional_parameters_are_an_in_order_optional_chain_and_enums_literals() -> None:
    g = rules(call_grammar(SCHEMAS[1:], "tag", max_string=64))
    assert g["root"] == '"<tool_call>\\n" (call-read) "\\n</tool_call>"'
    assert g["args-read"] == '"{" "\\"path\\": " path (", " args-read-opt0)? "}"'
    assert g["args-read-opt0"] == '"\\"offset\\": " integer (", " args-read-opt1)? | args-read-opt1'
    assert g["args-read-opt1"] == '"\\"mode\\": " ("\\"head\\"" | "\\"tail\\"")'


def test_max_string_bounds_strings_and_json_syntax_is_bare() -> None:
    g = rules(call_grammar(SCHEMAS[:1], "json", max_string=300))
    assert g["root"] == "(call-write)"
    assert g["string"].endswith('char{0,300} "\\""')


@pytest.mark.parametrize(
    ("schemas", "syntax", "message"),
    [
        (SCHEMAS, "xml", "call_grammar must be one of"),
        ([], "section", "at least one enabled tool"),
        ([{"name": "f", "parameters": {"properties": {"x": {"type": "array"}}}}], "json", "unsupported type"),
    ],
)
def test_grammar_refuses_what_it_cannot_express(schemas, syntax, message) -> None:
    with pytest.raises(ValueError, match=message):
        call_grammar(schemas, syntax)


def test_minimal_schemas_keep_only_the_essential_parameters_all_required() -> None:
    specs = default_specs()[0]
    edit = specs["edit"].schema("edit", minimal=True)["function"]
    assert edit["parameters"] == {
        "type": "object",
        "properties": {"path": {"type": "string"}, "old": {"type": "string"}, "new": {"type": "string"}},
        "required": ["path", "old", "new"],
    }
    assert edit["description"] == specs["edit"].summary
    read = specs["read"].schema("read", minimal=True)["function"]["parameters"]
    assert read["required"] == list(specs["read"].required) == list(read["properties"])  # default: the required ones


def test_grammar_mode_sends_the_grammar_without_tools_and_executes_the_call_in_text(harness, workspace: Path) -> None:
    write = ('<tool_calls>\n[{"name": "write", "arguments": {"path": "solution.py", '
             '"content": "def answer():\\n    return 42\\n"}}]\n</tool_calls>')
    finish = '<tool_calls>\n[{"name": "finish", "arguments": {"summary": "done"}}]\n</tool_calls>'
    result = harness.run(
        [{"content": write, "finish_reason": "stop"}, {"content": finish, "finish_reason": "stop"}],
        tools=["read", "write", "finish"],
        call_grammar="section",
        minimal_schemas=True,
        grammar_max_string=200,
    )
    assert result.stop_reason == "finish", result.error
    assert "return 42" in (workspace / "solution.py").read_text()
    first = harness.requests[0]
    assert "tools" not in first and "tool_choice" not in first
    assert first["grammar"].startswith('root ::= "<tool_calls>\\n["') and "char{0,200}" in first["grammar"]
    m = result.metrics
    assert (m["model_responses"], m["tool_call_responses"], m["recovered_responses"]) == (2, 2, 2)
    assert result.messages[1]["tool_calls"][0]["function"]["name"] == "write"  # history carries a real call
    assert_well_formed(result.messages)


def test_bad_call_grammar_config_is_a_config_error(harness) -> None:
    with pytest.raises(ConfigError, match="call_grammar"):
        harness.run([], tools=["read", "batch_read", "finish"], call_grammar="section")


def test_auto_call_is_not_counted_as_a_model_tool_call(harness) -> None:
    finish = {"tool_calls": [tool_call("finish", {})]}
    result = harness.run(
        [{"content": "no"}, {"content": "no"}, finish],
        "Fix solution.py please.",
        min_tool_calls=1,
        max_format_retries=1,
        auto_tool_call_on_failure=True,
    )
    m = result.metrics
    assert result.stop_reason == "finish"
    assert (m["model_responses"], m["tool_calls_total"], m["tool_call_responses"]) == (3, 2, 1)

