"""The agent end to end: real tools, real HTTP, a scripted model (done-criterion 1)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from agent import AgentLimits
from tests.agent.conftest import assert_well_formed, tool_messages
from tests.support.scripted_server import tool_call


def test_multi_file_solve(harness, workspace: Path) -> None:
    result = harness.run(
        [
            {
                "content": "Reading first.",
                "tool_calls": [
                    tool_call("read", {"path": "solution.py"}),
                    tool_call("read", {"path": "test_solution.py"}),
                ],
            },
            {"tool_calls": [tool_call("write", {"path": "helpers/consts.py", "content": "ANSWER = 42\n"})]},
            {
                "tool_calls": [
                    tool_call(
                        "edit",
                        {
                            "path": "solution.py",
                            "old": "    pass\n",
                            "new": "    from helpers.consts import ANSWER\n    return ANSWER\n",
                        },
                    )
                ]
            },
            {"tool_calls": [tool_call("finish", {"summary": "answer() returns 42"})]},
        ]
    )
    assert result.stop_reason == "finish", result.error
    assert result.final_text == "answer() returns 42"
    assert (workspace / "helpers/consts.py").read_text() == "ANSWER = 42\n"
    assert "return ANSWER" in (workspace / "solution.py").read_text()
    assert result.changed_files == ["helpers/consts.py", "solution.py"]
    assert result.messages[0] == {"role": "user", "content": "Make answer() return 42."}
    assert result.messages[1]["content"] == "Reading first."  # text beside tool calls is kept
    assert "def test_answer" in tool_messages(result.messages)[1]["content"]
    assert_well_formed(result.messages)
    m = result.metrics
    assert (m["turns"], m["model_responses"], m["tool_call_responses"], m["tool_calls_total"]) == (4, 4, 4, 5)
    assert m["tool_calls"] == {"read": 2, "write": 1, "edit": 1, "finish": 1}
    assert m["tool_errors_total"] == 0
    # every request carried the system prompt with expanded tool names, and the whole history so far
    system = harness.requests[0]["messages"][0]
    assert (
        system["role"] == "system" and "- read(path" in system["content"] and "Finish with finish." in system["content"]
    )
    assert len(harness.requests[3]["messages"]) == 1 + len(result.messages) - 2


def test_batch_with_error_in_the_middle_answers_every_call(harness, workspace: Path) -> None:
    result = harness.run(
        [
            {
                "tool_calls": [
                    tool_call("write", {"path": "a.py", "content": "A = 1\n"}),
                    tool_call("read", {"path": "missing.py"}),
                    tool_call("write", {"path": "b.py", "content": "B = 2\n"}),
                ]
            },
            {"tool_calls": [tool_call("finish", {})]},
        ]
    )
    assert result.stop_reason == "finish"
    assert (workspace / "a.py").exists() and (workspace / "b.py").exists()  # the call after the error ran
    results = tool_messages(result.messages)
    assert [r["tool_call_id"] for r in results[:3]] == [c["id"] for c in result.messages[1]["tool_calls"]]
    assert results[1]["content"].startswith("error:") and not results[2]["content"].startswith("error:")
    assert result.metrics["tool_errors"] == {"not_found": 1}
    assert result.metrics["tool_errors_by_tool"] == {"read": 1}
    assert_well_formed(result.messages)


def test_max_batch_extra_calls_get_an_error_result(harness, workspace: Path) -> None:
    result = harness.run(
        [
            {
                "tool_calls": [
                    tool_call("write", {"path": "a.py", "content": "1\n"}),
                    tool_call("write", {"path": "b.py", "content": "2\n"}),
                ]
            },
            {"tool_calls": [tool_call("finish", {})]},
        ],
        max_batch_tool_calls=1,
    )
    assert (workspace / "a.py").exists() and not (workspace / "b.py").exists()
    second = tool_messages(result.messages)[1]
    assert "at most 1 tool call" in second["content"]
    assert result.metrics["tool_errors"] == {"batch_limit": 1}
    assert harness.requests[0]["parallel_tool_calls"] is False
    assert_well_formed(result.messages)


def test_malformed_json_arguments(harness, workspace: Path) -> None:
    result = harness.run(
        [
            # repairable: trailing comma
            {"tool_calls": [tool_call("write", '{"path": "a.py", "content": "A = 1\\n",}')]},
            # beyond repair: cut off inside a string (a half-written file must not be written)
            {"tool_calls": [tool_call("write", '{"path": "b.py", "content": "def f(')], "finish_reason": "length"},
            {"tool_calls": [tool_call("finish", {})]},
        ]
    )
    assert result.stop_reason == "finish", result.error
    assert (workspace / "a.py").read_text() == "A = 1\n"
    assert not (workspace / "b.py").exists()
    calls = [m["tool_calls"][0] for m in result.messages if m.get("tool_calls")]
    assert json.loads(calls[0]["function"]["arguments"]) == {"path": "a.py", "content": "A = 1\n"}
    assert calls[1]["function"]["arguments"] == "{}"  # valid JSON in history: llama.cpp would answer 500
    broken = tool_messages(result.messages)[1]["content"]
    assert broken.startswith("error: invalid JSON") and "token limit" in broken
    m = result.metrics
    assert m["malformed_responses"] == 1 and m["tool_errors"] == {"invalid_json": 1} and m["length_stops"] == 1
    assert m["tool_call_responses"] == 2  # the repaired call and finish
    assert_well_formed(result.messages)


def test_unknown_tool(harness) -> None:
    result = harness.run(
        [
            {"tool_calls": [tool_call("run_tests", {"cmd": "pytest"})]},
            {"tool_calls": [tool_call("write", {"path": "solution.py", "content": "def answer():\n    return 42\n"})]},
            {"tool_calls": [tool_call("finish", {})]},
        ]
    )
    assert result.stop_reason == "finish"
    text = tool_messages(result.messages)[0]["content"]
    assert "unknown tool 'run_tests'" in text and "read, write, edit, ls, finish" in text
    assert result.metrics["tool_errors"] == {"unknown_tool": 1}
    assert result.metrics["tool_call_responses"] == 2  # the unknown tool is not an executable call


@pytest.mark.parametrize("style", ["tool_call", "tool_calls", "mistral", "fenced", "harmony", "function"])
def test_tool_call_embedded_in_content(harness, workspace: Path, style: str) -> None:
    result = harness.run(
        [
            {
                "call_in_content": {
                    "name": "write",
                    "arguments": {"path": "out.txt", "content": "hello"},
                    "style": style,
                }
            },
            {"call_in_content": {"name": "finish", "arguments": {"summary": "wrote it"}, "style": style}},
        ]
    )
    assert result.stop_reason == "finish", (result.stop_reason, result.error)
    assert (workspace / "out.txt").read_text() == "hello"
    assert result.metrics["recovered_calls"] == 2
    assert result.metrics["tool_call_responses"] == 2
    first = result.messages[1]
    assert first["tool_calls"][0]["function"]["name"] == "write"
    assert "<tool_call" not in first["content"] and "[TOOL_CALLS]" not in first["content"]
    assert_well_formed(result.messages)


@pytest.mark.parametrize("native", [True, False])
def test_reasoning_model(harness, native: bool) -> None:
    result = harness.run(
        [
            {
                "reasoning": "The test wants 42.",
                "tool_calls": [
                    tool_call("write", {"path": "solution.py", "content": "def answer():\n    return 42\n"})
                ],
            },
            {"reasoning": "Done now.", "content": "answer() returns 42."},
        ],
        native_thinking=native,
        think=True,
        think_level="high",
    )
    assert result.stop_reason == "answer"
    assert result.final_text == "answer() returns 42."
    kept = [m.get("reasoning_content") for m in result.messages if m["role"] == "assistant"]
    assert kept == (["The test wants 42.", "Done now."] if native else [None, None])
    sent = harness.requests[1]["messages"][2]
    assert sent["role"] == "assistant" and (sent.get("reasoning_content") == "The test wants 42.") is native
    body = harness.requests[0]
    assert body["reasoning_effort"] == "high" and body["chat_template_kwargs"] == {"enable_thinking": True}


def test_server_500_then_success(harness, workspace: Path) -> None:
    result = harness.run(
        [
            {"status": 500, "error": "slot unavailable"},
            {"tool_calls": [tool_call("write", {"path": "solution.py", "content": "def answer():\n    return 42\n"})]},
            {"tool_calls": [tool_call("finish", {})]},
        ]
    )
    assert result.stop_reason == "finish" and result.error is None
    assert "return 42" in (workspace / "solution.py").read_text()
    assert len(harness.requests) == 3 and harness.requests[0] == harness.requests[1]  # retried as is
    assert result.metrics["model_responses"] == 2 and result.metrics["http_errors"] == 0


def test_server_error_body_is_surfaced(harness) -> None:
    result = harness.run([{"status": 400, "error": "Invalid 'tools': field 'parameters' is wrong"}])
    assert result.stop_reason == "error"
    assert result.error == "HTTP 400: Invalid 'tools': field 'parameters' is wrong"
    assert len(harness.requests) == 1  # a 4xx is not retried
    assert result.metrics["http_errors"] == 1


def test_server_that_hangs_hits_the_deadline(harness) -> None:
    started = time.monotonic()
    result = harness.run(
        [{"tool_calls": [tool_call("read", {"path": "solution.py"})]}, {"hang": True}],
        limits=AgentLimits(max_seconds=1.5),
    )
    elapsed = time.monotonic() - started
    assert result.stop_reason == "deadline"
    assert elapsed < 4.0
    assert result.metrics["model_responses"] == 1
    assert (
        tool_messages(result.messages)[0]["content"].startswith("   1|")
        or "def answer" in tool_messages(result.messages)[0]["content"]
    )


def test_path_traversal_and_symlink_escape_are_refused(harness, workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, workspace / "link")
    result = harness.run(
        [
            {"tool_calls": [tool_call("read", {"path": "../outside/secret.txt"})]},
            {"tool_calls": [tool_call("write", {"path": "link/pwned.py", "content": "x = 1\n"})]},
            {"tool_calls": [tool_call("write", {"path": str(outside / "abs.py"), "content": "x = 1\n"})]},
            {"tool_calls": [tool_call("finish", {})]},
        ]
    )
    assert result.stop_reason == "finish"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]  # nothing written outside
    results = tool_messages(result.messages)
    assert all(r["content"].startswith("error:") for r in results[:3])
    assert "secret" not in results[0]["content"].replace("secret.txt", "")
    assert len(result.refused_paths) == 3 and result.metrics["refused_paths"] == 3
    assert result.metrics["tool_errors"] == {"path_refused": 3}
    assert result.changed_files == []
    events = [json.loads(line) for line in Path(result.log_files["jsonl"]).read_text().splitlines()]
    assert sum(len(e.get("refused_paths") or []) for e in events if e["event"] == "tool_result") == 3


def test_plain_answer_and_max_turns(harness) -> None:
    looping = [
        {"tool_calls": [tool_call("ls", {"path": "."})]},
        {"tool_calls": [tool_call("read", {"path": "solution.py"})]},
    ]
    result = harness.run(looping, server={"repeat": True}, max_turns=5)
    assert result.stop_reason == "max_turns"
    assert result.metrics["turns"] == 5 and len(harness.requests) == 5
    assert_well_formed(result.messages)


def test_repeating_the_same_call_trips_the_noop_guard(harness) -> None:
    result = harness.run(
        [{"tool_calls": [tool_call("read", {"path": "solution.py"})]}], server={"repeat": True}, noop_guard_turns=3
    )
    assert result.stop_reason == "noop_guard"
    assert result.metrics["turns"] == 4  # one call, then three identical repeats


def test_token_limit(harness) -> None:
    result = harness.run(
        [{"tool_calls": [tool_call("ls", {})]}, {"tool_calls": [tool_call("read", {"path": "solution.py"})]}],
        server={"repeat": True},
        limits=AgentLimits(max_total_tokens=1500),
    )
    assert result.stop_reason == "token_limit"
    total = result.metrics["prompt_tokens"] + result.metrics["completion_tokens"]
    assert total >= 1500 and total - harness.server.sent[-1]["usage"]["total_tokens"] < 1500
