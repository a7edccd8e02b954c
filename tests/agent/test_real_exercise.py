"""The agent solves a real exercise copy with a scripted model, and the exercise's own tests pass.

The scripted model writes the reference solution in three pieces, one per file tool (``write``,
then ``apply_patch``, then ``edit``), so each tool's output must be exactly right for the real
test suite (run by the harness's grader in the local sandbox) to pass.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent import Agent, AgentLimits, HttpChatClient, load_config
from tests.agent.conftest import assert_well_formed, real_exercise, thirds
from tests.support.scripted_server import ScriptedServer, tool_call

EXERCISE = ("python", "wordy")


def patch(path: str, old: str, new: str) -> str:
    minus = "".join(f"-{line}\n" for line in old.splitlines())
    plus = "".join(f"+{line}\n" for line in new.splitlines())
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n{minus}{plus}*** End Patch\n"


def test_scripted_model_solves_a_real_exercise_through_write_apply_patch_and_edit(
    polyglot: Path, tmp_path: Path, config_file
) -> None:
    language, slug = EXERCISE
    ws = tmp_path / "workspace"
    exercise = real_exercise(polyglot, language, slug, ws)
    dst = exercise.dst
    one, two, three = thirds(exercise.reference)
    assert one and two and three
    script = [
        {"tool_calls": [tool_call("read", {"path": dst})]},
        {"tool_calls": [tool_call("write", {"path": dst, "content": one + "# PART TWO\n"})]},
        {"tool_calls": [tool_call("apply_patch", {"patch": patch(dst, "# PART TWO", two + "# PART THREE")})]},
        {"tool_calls": [tool_call("edit", {"path": dst, "old": "# PART THREE\n", "new": three})]},
        {"tool_calls": [tool_call("finish", {"summary": "solved"})]},
    ]
    cfg = load_config(config_file(tools=["read", "write", "edit", "apply_patch", "finish"]))
    with ScriptedServer(script) as server:
        client = HttpChatClient(server.url, retries=0)
        try:
            result = Agent(cfg, client=client, workspace=ws, log_dir=tmp_path / "logs", limits=AgentLimits()).run(
                f"Solve {slug}."
            )
        finally:
            client.close()
    assert result.stop_reason == "finish", result.error
    assert result.metrics["tool_errors_total"] == 0, json.dumps(result.messages[-4:], indent=1)
    assert result.metrics["tool_calls"] == {"read": 1, "write": 1, "apply_patch": 1, "edit": 1, "finish": 1}
    assert_well_formed(result.messages)
    assert (ws / dst).read_text(encoding="utf-8") == one + two + three  # byte for byte the reference
    exercise.assert_graded_pass(tmp_path / "grade")

