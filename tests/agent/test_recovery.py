"""Tool calls recovered from content text (their arguments are repaired by the tools: test_args)."""

from __future__ import annotations

import json

import pytest

from agent.recovery import calls_from_content, split_harmony


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
    ],
)
def test_recovered_from_content(content: str, names: list[str], rest: str) -> None:
    calls, left = calls_from_content(content, KNOWN)
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
    assert calls_from_content(content, KNOWN) == ([], content)


def test_harmony_channels() -> None:
    assert split_harmony(
        "<|channel|>analysis<|message|>plan<|end|><|start|>assistant<|channel|>final<|message|>Done."
    ) == ("plan", "Done.")
    assert split_harmony("<|channel|>analysis<|message|>only thinking<|end|>") == ("only thinking", "")
    assert split_harmony("plain text") is None


def test_a_broken_object_in_content_is_repaired_by_the_one_pipeline() -> None:
    """Bare JSON cut off by a stop word, with a Python-style value: the tools' repair stages apply."""
    calls, left = calls_from_content('{"name": "read", "arguments": {"path": "a", "all": True}', KNOWN)
    assert [c.name for c in calls] == ["read"] and json.loads(calls[0].arguments) == {"path": "a", "all": True}
    assert left == ""
    cut, _ = calls_from_content('{"name": "write", "arguments": {"path": "a", "content": "def f(', KNOWN)
    assert cut == []  # a string left open is beyond repair: no half-written call
