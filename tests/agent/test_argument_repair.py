"""Broken tool-call arguments are repaired on the path the agent takes: scripted server → loop →
ToolBox (``agent.tools.args``) → the history sent back, which a strict server would refuse if it
held invalid JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agent.conftest import assert_well_formed, tool_messages
from tests.support.scripted_server import tool_call

TOOLS = ["read", "write", "edit", "grep", "ls", "finish"]
# The three inputs small models send that a stricter repair once answered with invalid_json.
REGRESSIONS = [
    ("grep", r'{"pattern": "\s+def"}', {"pattern": r"\s+def"}, "json: invalid escapes"),
    ("read", '{"line_start": ten}', {"line_start": 10}, "json: number words"),
    ("edit", "{'path': 'a.py', 'all': True,}", {"path": "a.py", "all": True}, "json: Python-style dict"),
]


def _events(log_dir: Path, kind: str) -> list[dict]:
    (jsonl,) = log_dir.glob("*.jsonl")
    return [e for e in map(json.loads, jsonl.read_text().splitlines()) if e["event"] == kind]


@pytest.mark.parametrize(("tool", "raw", "parsed", "repair"), REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_the_agent_repairs_the_regression_inputs(harness, tool: str, raw: str, parsed: dict, repair: str) -> None:
    result = harness.run([{"tool_calls": [tool_call(tool, raw)]}, {"tool_calls": [tool_call("finish", {})]}],
                         tools=TOOLS)
    assert result.stop_reason == "finish", result.error
    answer = tool_messages(result.messages)[0]["content"]
    assert "invalid JSON" not in answer
    assert "invalid_json" not in result.metrics["tool_errors"] and result.metrics["malformed_responses"] == 0
    sent_back = harness.requests[1]["messages"][-2]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(sent_back) == parsed  # the repaired arguments, as valid JSON, in the history
    assert repair in _events(harness.log_dir, "tool_call")[0]["repairs"]
    assert_well_formed(result.messages)


def test_the_repaired_calls_do_their_work(harness, workspace: Path) -> None:
    (workspace / "lib.py").write_text("class A:\n    def f(self):\n        return 1\n")
    result = harness.run(
        [
            {"tool_calls": [tool_call("grep", r'{"pattern": "\s+def", "path": "lib.py"}')]},
            {"tool_calls": [tool_call("read", '{"path": "lib.py", "line_start": two, "line_end": three}')]},
            {"tool_calls": [tool_call("edit", "{'path': 'lib.py', 'old': 'return 1', 'new': 'return 2', 'all': "
                                              "True,}")]},
            {"tool_calls": [tool_call("finish", {})]},
        ],
        tools=TOOLS,
    )
    assert result.stop_reason == "finish", result.error
    grep, read, edit = (m["content"] for m in tool_messages(result.messages)[:3])
    assert "lib.py:2:" in grep and "def f(self)" in grep
    assert read.splitlines()[0].strip() == "2|     def f(self):"
    assert not edit.startswith("error") and (workspace / "lib.py").read_text().endswith("return 2\n")
    assert result.metrics["tool_errors_total"] == 0
