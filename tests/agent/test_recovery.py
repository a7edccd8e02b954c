"""Argument repair and tool calls recovered from content text."""

from __future__ import annotations

import json

import pytest

from agent.recovery import recover_tool_calls, repair_arguments, split_harmony


@pytest.mark.parametrize(
    ("raw", "expected", "repairs"),
    [
        ('{"path": "a.py"}', {"path": "a.py"}, []),
        ("", {}, ["empty_arguments"]),
        ('{"path": "a.py",}', {"path": "a.py"}, ["trailing_comma"]),
        ("{'path': 'a.py'}", {"path": "a.py"}, ["single_quotes"]),
        ('{"path": "a.py"}}', {"path": "a.py"}, ["trailing_text"]),
        ('"{\\"path\\": \\"a.py\\"}"', {"path": "a.py"}, ["double_encoded"]),
        ('```json\n{"path": "a.py"}\n```', {"path": "a.py"}, ["code_fence"]),
        ('Arguments: {"path": "a.py"}', {"path": "a.py"}, ["leading_text"]),
        ('{"path": "a.py", "opts": {"all": true', {"path": "a.py", "opts": {"all": True}}, ["unclosed"]),
    ],
)
def test_repairs(raw: str, expected: dict, repairs: list[str]) -> None:
    assert repair_arguments(raw) == (expected, repairs)


@pytest.mark.parametrize("raw", ['{"path": "a.py", "content": "def f(', "not json at all", "[1, 2]", '"just a string"'])
def test_beyond_repair(raw: str) -> None:
    """A value cut off inside a string must not be 'repaired' into a half-written file."""
    assert repair_arguments(raw) == (None, [])


KNOWN = {"read", "write", "finish"}


@pytest.mark.parametrize(
    ("content", "names", "rest"),
    [
        ('<tool_call>\n{"name": "read", "arguments": {"path": "a"}}\n</tool_call>', ["read"], ""),
        (
            'Reading.\n<tool_call>{"name": "read", "arguments": {"path": "a"}}</tool_call>\n<tool_call>{"name": "finish", "arguments": {}}</tool_call>',
            ["read", "finish"],
            "Reading.",
        ),
        (
            '<tool_calls>\n[{"name": "read", "arguments": {"path": "a"}}, {"name": "write", "arguments": {"path": "b", "content": "x"}}]\n</tool_calls>',
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
    ],
)
def test_recovered_from_content(content: str, names: list[str], rest: str) -> None:
    calls, left = recover_tool_calls(content, KNOWN)
    assert [c.name for c in calls] == names
    assert json.loads(calls[0].arguments) == {"path": "a"}
    assert left == rest


@pytest.mark.parametrize(
    "content",
    [
        "The answer is 42.",
        'An example config:\n```json\n{"name": "my-app", "arguments": ["--fast"]}\n```',  # not a known tool: stays text
        "Use a <b>bold</b> tag.",
    ],
)
def test_plain_answers_stay_text(content: str) -> None:
    assert recover_tool_calls(content, KNOWN) == ([], content)


def test_harmony_channels() -> None:
    assert split_harmony(
        "<|channel|>analysis<|message|>plan<|end|><|start|>assistant<|channel|>final<|message|>Done."
    ) == ("plan", "Done.")
    assert split_harmony("<|channel|>analysis<|message|>only thinking<|end|>") == ("only thinking", "")
    assert split_harmony("plain text") is None
