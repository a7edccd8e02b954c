"""Tool calls the agent reads from content text, and the text around them (the loop's side of
agent/syntaxes.py: its arguments are repaired by the tools, test_args)."""

from __future__ import annotations

import json

import pytest

from agent.syntaxes import SYNTAXES, parse_content, split_text, to_tool_calls
from agent.tools.args import parse_json_arguments

KNOWN = {"read", "write", "finish"}


@pytest.mark.parametrize(
    ("content", "names", "rest"),
    [
        ('<tool_call>\n{"name": "read", "arguments": {"path": "a"}}\n</tool_call>', ["read"], ""),
        (
            'Reading.\n<tool_call>{"name": "read", "arguments": {"path": "a"}}</tool_call>\n<tool_call>{"name": '
            '"finish", "arguments": {}}</tool_call>',
            ["read", "finish"],
            "Reading.",
        ),
        (
            '<tool_calls>\n[{"name": "read", "arguments": {"path": "a"}}, {"name": "write", "arguments": {"path": '
            '"b", "content": "x"}}]\n</tool_calls>',
            ["read", "write"],
            "",
        ),
        ('[TOOL_CALLS][{"name": "read", "arguments": {"path": "a"}}]', ["read"], ""),
        ('[TOOL_CALLS]read[ARGS]{"path": "a"}', ["read"], ""),
        ('<|channel|>commentary to=functions.read <|constrain|>json<|message|>{"path": "a"}<|call|>', ["read"], ""),
        ("<tool_call>\n<function=read>\n<parameter=path>\na\n</parameter>\n</function>\n</tool_call>", ["read"], ""),
        ('I will read it.\n```json\n{"name": "read", "arguments": {"path": "a"}}\n```', ["read"], "I will read it."),
        ('{"name": "read", "parameters": {"path": "a"}}', ["read"], ""),
        ('<tool_call>\n{"name": "read", "arguments": {"path": "a"}}', ["read"], ""),  # unclosed tag: cut by a stop word
        ("<tool_call>read<arg_key>path</arg_key><arg_value>a</arg_value></tool_call>", ["read"], ""),
    ],
)
def test_recovered_from_content(content: str, names: list[str], rest: str) -> None:
    for prefer in (None, *SYNTAXES):
        parsed = parse_content(content, (), prefer, KNOWN)
        assert parsed is not None, prefer
        calls = to_tool_calls(parsed)
        assert [c.name for c in calls] == names
        assert json.loads(calls[0].arguments) == {"path": "a"}
        assert parsed.text == rest and parsed.incomplete is None


@pytest.mark.parametrize(
    "content",
    [
        "The answer is 42.",
        'An example config:\n```json\n{"name": "my-app", "arguments": ["--fast"]}\n```',  # not a known tool: stays text
        "Use a <b>bold</b> tag.",
        'Call it as {"name": "read", "arguments": {"path": "a"}} and then go on.',  # shown in prose, mid-sentence
    ],
)
def test_plain_answers_stay_text(content: str) -> None:
    for prefer in (None, *SYNTAXES):
        assert parse_content(content, (), prefer, KNOWN) is None
        assert split_text(content, prefer) == ("", content)


def test_harmony_channels() -> None:
    leak = "<|channel|>analysis<|message|>plan<|end|><|start|>assistant<|channel|>final<|message|>Done."
    for prefer in (None, "harmony", "glm"):
        assert split_text(leak, prefer) == ("plan", "Done.")
        assert split_text("<|channel|>analysis<|message|>only thinking<|end|>", prefer) == ("only thinking", "")
        assert split_text("<|channel|>final<|message|>All done.<|return|>", prefer) == ("", "All done.")


def test_reasoning_tags_around_an_answer() -> None:
    assert split_text("<think>The stub is empty.</think>\n\nIt returns 42.", "glm") == ("The stub is empty.",
                                                                                        "It returns 42.")
    # a closing tag alone ends reasoning only for a family whose prompt opens it
    assert split_text("plan\n</think>\nDone.", "qwen3_coder") == ("plan", "Done.")
    assert split_text("Close it with </think> then.", "llama3") == ("", "Close it with </think> then.")


def test_a_broken_object_in_content_is_repaired_by_the_one_pipeline() -> None:
    """Bare JSON cut off by a stop word, with a Python-style value: handed on as text, the tools'
    repair stages make it a call."""
    parsed = parse_content('{"name": "read", "arguments": {"path": "a", "all": True}', (), None, KNOWN)
    assert parsed is not None and [c.name for c in parsed.calls] == ["read"] and parsed.text == ""
    (call,) = to_tool_calls(parsed)
    assert parse_json_arguments(call.arguments)[0] == {"path": "a", "all": True}
    cut = parse_content('{"name": "write", "arguments": {"path": "a", "content": "def f(', (), None, KNOWN)
    assert cut is not None and cut.calls == [] and cut.incomplete == "write"  # no half-written call
