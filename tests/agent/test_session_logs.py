"""Sessions (try 2 continues try 1, keyed by the caller's file) and the log files of a run."""

from __future__ import annotations

import json
from pathlib import Path

from agent.logs import default_session_file, load_session
from tests.agent.conftest import assert_well_formed
from tests.support.scripted_server import tool_call

WRITE = tool_call("write", {"path": "solution.py", "content": "def answer():\n    return 41\n"})
FIX = tool_call("edit", {"path": "solution.py", "old": "41", "new": "42"})


def test_try_two_continues_try_one(harness, tmp_path: Path) -> None:
    session = tmp_path / "sessions" / "python-answer.json"
    first = harness.run(
        [
            {"tool_calls": [WRITE]},
            {"tool_calls": [tool_call("finish", {})]},
            {"tool_calls": [FIX]},
            {"tool_calls": [tool_call("finish", {"summary": "fixed"})]},
        ],
        session_file=session,
    )
    assert first.stop_reason == "finish" and session.is_file()
    saved = json.loads(session.read_text())
    assert saved["messages"] == first.messages and saved["workspace"] == str(harness.workspace)
    second = harness.run(None, "Tests failed: expected 42, got 41.", continue_session=True, session_file=session)
    assert second.stop_reason == "finish" and second.final_text == "fixed"
    assert second.messages[: len(first.messages)] == first.messages
    assert second.messages[len(first.messages)] == {"role": "user", "content": "Tests failed: expected 42, got 41."}
    assert "return 42" in (harness.workspace / "solution.py").read_text()
    sent = harness.requests[2]["messages"]
    assert sent[1]["content"] == "Make answer() return 42." and len(sent) == 1 + len(first.messages) + 1
    assert load_session(session) == second.messages
    assert_well_formed(second.messages)
    # metrics are per try
    assert second.metrics["turns"] == 2 and second.metrics["tool_calls"] == {"edit": 1, "finish": 1}


def test_without_continue_a_session_starts_fresh(harness, tmp_path: Path) -> None:
    session = tmp_path / "s.json"
    harness.run([{"content": "one"}, {"content": "two"}], session_file=session)
    again = harness.run(None, "second prompt", session_file=session)
    assert [m["content"] for m in again.messages] == ["second prompt", "two"]


def test_sessions_are_keyed_by_workspace(tmp_path: Path) -> None:
    a = default_session_file(tmp_path, tmp_path / "python" / "two-fer", "gguf/glm-4.7-flash")
    b = default_session_file(tmp_path, tmp_path / "go" / "two-fer", "gguf/glm-4.7-flash")
    assert a != b and a.name == b.name == "gguf_glm-4.7-flash.json"
    assert load_session(tmp_path / "missing.json") == []
    (tmp_path / "broken.json").write_text("{half")
    assert load_session(tmp_path / "broken.json") == []


def test_log_files(harness) -> None:
    result = harness.run(
        [
            {"content": "Reading.", "tool_calls": [tool_call("read", {"path": "solution.py"})]},
            {"tool_calls": [tool_call("finish", {"summary": "done"})]},
        ]
    )
    files = result.log_files
    assert set(files) == {"jsonl", "log", "raw", "history"}
    names = [Path(p).name for p in files.values()]
    assert all(n[:4].isdigit() and n[4] == "-" and "_localcode_test-agent" in n for n in names)  # timestamp first
    records = [json.loads(line) for line in Path(files["jsonl"]).read_text().splitlines()]
    kinds = [r["event"] for r in records]
    assert kinds[0] == "session_start" and kinds[-1] == "stop"
    for kind in ("request", "response", "tool_call", "tool_result", "usage"):
        assert kind in kinds
    assert records[-1]["stop_reason"] == "finish" and records[-1]["metrics"] == result.metrics
    raw = json.loads(Path(files["raw"]).read_text())
    assert raw == harness.requests[-1]  # the exact last payload
    history = json.loads(Path(files["history"]).read_text())
    assert history[0]["role"] == "system" and history[1:] == result.messages
    text = Path(files["log"]).read_text()
    assert (
        ">>> TOOL CALL: read" in text
        and "=== [0] SYSTEM ===" in text
        and text.rstrip().endswith(f"END ({len(history)} messages)")
    )


def test_on_event_receives_every_event_and_a_broken_callback_is_harmless(harness, workspace, tmp_path) -> None:
    from agent import Agent, HttpChatClient, load_config
    from tests.support.scripted_server import ScriptedServer

    seen: list[str] = []

    def broken(event: dict) -> None:
        seen.append(event["event"])
        raise RuntimeError("callback bug")

    cfg = load_config(harness.config_file())
    with ScriptedServer([{"tool_calls": [tool_call("finish", {})]}]) as server, HttpChatClient(server.url) as client:
        result = Agent(cfg, client=client, workspace=workspace, log_dir=tmp_path / "l2", on_event=broken).run("go")
    assert result.stop_reason == "finish"
    assert seen[0] == "session_start" and seen[-1] == "stop" and "tool_result" in seen
    assert "on_event_error" in Path(result.log_files["jsonl"]).read_text()
