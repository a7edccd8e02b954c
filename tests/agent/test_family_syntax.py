"""Each model family's raw tool-call syntax reaching the agent as ``content``, as from a server whose
parser failed (no ``tool_calls`` field): the agent reads the calls in the run's syntax and runs them.

The raw replies come from the committed samples rendered from the families' real chat templates
(tests/agent/fixtures/toolcalls/), with this test's own arguments put in their place
(:func:`tests.support.render_toolcalls.reply_like`), never typed by hand per family.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent import Agent, AgentLimits, HttpChatClient, load_config
from agent.syntaxes import SYNTAXES
from tests.agent.conftest import assert_well_formed, real_exercise, thirds
from tests.support.render_toolcalls import FIXTURES, MARKERS, REASONING, load_manifest, reply_like
from tests.support.scripted_server import ScriptedServer

TOOLS = ["read", "write", "edit", "grep", "batch_read", "finish"]  # the samples' tools
TEMPLATES = sorted(FIXTURES.glob("*/*/"))


def family_of(sample_dir: Path) -> str:
    return sample_dir.parent.name


def first_template_of_each_family() -> list[Path]:
    seen: dict[str, Path] = {}
    for entry in load_manifest():
        seen.setdefault(entry["family"], FIXTURES / entry["family"] / Path(entry["template"]).stem)
    return list(seen.values())


def same_family(found: str, family: str) -> bool:
    """Step writes its calls exactly as Qwen3-Coder does: either name is right for either."""
    return found == family or SYNTAXES[found].forms == SYNTAXES[family].forms


def as_content(text: str) -> dict[str, Any]:
    """A reply whose call the server did not parse: all of it is ``content``."""
    return {"content": text, "finish_reason": "stop"}


def run_on(client: HttpChatClient, workspace: Path, logs: Path, config_file: Any, **keys: Any) -> tuple[Any, Agent]:
    """One agent run through ``client``, with the samples' tools and config ``keys``."""
    cfg = load_config(config_file(**{"tools": TOOLS, **keys}))
    agent = Agent(cfg, client=client, workspace=workspace, log_dir=logs, limits=AgentLimits())
    return agent.run("Solve the exercise."), agent


def run_agent(script: Any, workspace: Path, logs: Path, config_file: Any, **keys: Any) -> tuple[Any, Agent]:
    with ScriptedServer(script) as server, HttpChatClient(server.url, retries=0) as client:
        return run_on(client, workspace, logs, config_file, **keys)


@pytest.mark.parametrize("sample_dir", TEMPLATES, ids=lambda p: f"{family_of(p)}-{p.name}")
def test_scripted_model_in_raw_family_syntax_solves_a_real_exercise(
    sample_dir: Path, polyglot: Path, tmp_path: Path, config_file
) -> None:
    """read (with reasoning where the template renders it), write of the first two thirds of the
    reference solution, edit that replaces a marker line with the rest; graded by the real tests."""
    family = family_of(sample_dir)
    ws = tmp_path / "workspace"
    exercise = real_exercise(polyglot, "python", "wordy", ws)
    dst = exercise.dst
    one, two, three = thirds(exercise.reference)
    marker = "# THE REST FOLLOWS\n"
    with_reasoning = (sample_dir / "reasoning.txt").exists()
    script = [
        as_content(reply_like(sample_dir / ("reasoning.txt" if with_reasoning else "one_call.txt"),
                              [("read", {"path": dst})])),
        as_content(reply_like(sample_dir / "code_body.txt", [("write", {"path": dst, "content": one + two + marker})])),
        as_content(reply_like(sample_dir / "edit_typed.txt",
                              [("edit", {"path": dst, "old": marker, "new": three, "all": True, "old_start": 3})])),
        as_content("The parser handles every question the tests ask."),
    ]
    result, _ = run_agent(script, ws, tmp_path / "logs", config_file, tool_syntax=family, native_thinking=True)

    assert result.stop_reason == "answer", result.error
    assert (ws / dst).read_text(encoding="utf-8") == one + two + three  # byte for byte the reference
    m = result.metrics
    assert m["tool_calls"] == {"read": 1, "write": 1, "edit": 1} and m["tool_errors_total"] == 0
    assert m["server_calls"] == 0 and m["recovered_calls"] == 3 and m["incomplete_calls"] == 0
    assert list(m["recovered_by_syntax"]) == [family] and m["recovered_by_syntax"][family] == 3
    assert_well_formed(result.messages)
    first = result.messages[1]
    assert first["tool_calls"][0]["function"]["name"] == "read" and first["tool_calls"][0]["id"]
    expected = json.loads((sample_dir / "reasoning.json").read_text(encoding="utf-8")) if with_reasoning else {}
    if "reasoning" in expected:  # reasoning written in the content fills the message's reasoning
        assert first["reasoning_content"] == REASONING and REASONING not in first["content"]
    exercise.assert_graded_pass(tmp_path / "grade")


@pytest.mark.parametrize("run_syntax", list(SYNTAXES))
def test_a_file_body_holding_every_familys_markers_is_written_intact(run_syntax: str, tmp_path: Path,
                                                                     config_file) -> None:
    """Whichever family the run prefers, a write in any family's syntax of a body holding every
    family's call markers as text makes exactly one call, and the file on disk is that body."""
    script = [reply for sample_dir in TEMPLATES
              for reply in ({**as_content((sample_dir / "markers_body.txt").read_text(encoding="utf-8")),
                             "chunk_size": 256}, as_content("Noted."))]
    with ScriptedServer(script) as server, HttpChatClient(server.url, retries=0) as client:
        results = []
        for sample_dir in TEMPLATES:
            ws = tmp_path / sample_dir.parent.name / sample_dir.name
            ws.mkdir(parents=True)
            results.append(run_on(client, ws, tmp_path / "logs", config_file, tool_syntax=run_syntax)[0])
    for sample_dir, result in zip(TEMPLATES, results, strict=True):
        ws = tmp_path / sample_dir.parent.name / sample_dir.name
        where = f"{sample_dir.name} read with {run_syntax} preferred"
        assert result.stop_reason == "answer", (where, result.error)
        assert (ws / "notes" / "markers.txt").read_text(encoding="utf-8") == MARKERS, where
        assert result.metrics["tool_calls"] == {"write": 1}, where
        [(found, calls)] = result.metrics["recovered_by_syntax"].items()
        assert calls == 1 and same_family(found, family_of(sample_dir)), where


@pytest.mark.parametrize("sample_dir", first_template_of_each_family(), ids=family_of)
def test_a_call_cut_off_by_max_tokens_is_a_format_retry_not_an_answer(sample_dir: Path, tmp_path: Path,
                                                                      config_file) -> None:
    family = family_of(sample_dir)
    body = "def answer():\n    return 42\n" * 20
    whole = reply_like(sample_dir / "code_body.txt", [("write", {"path": "solution.py", "content": body})])
    cut = whole[: whole.index(body) + len(body) // 2] if body in whole else whole[: len(whole) // 2]
    script = [{"content": cut, "finish_reason": "length"}, as_content(whole), as_content("Done.")]
    ws = tmp_path / "ws"
    ws.mkdir()
    result, _ = run_agent(script, ws, tmp_path / "logs", config_file, tool_syntax=family, max_format_retries=1)

    assert result.stop_reason == "answer", result.error
    assert (ws / "solution.py").read_text(encoding="utf-8") == body  # never half a file
    m = result.metrics
    assert (m["incomplete_calls"], m["format_retries"], m["tool_calls"]) == (1, 1, {"write": 1})
    feedback = [msg["content"] for msg in result.messages if msg["role"] == "user"][1]
    assert "cut off by the token limit" in feedback and "not run" in feedback


def test_the_calls_before_a_cut_off_call_run_and_the_model_hears_of_the_rest(tmp_path: Path, config_file) -> None:
    sample_dir = FIXTURES / "glm" / "GLM-4.7-Flash"
    read = reply_like(sample_dir / "one_call.txt", [("read", {"path": "a.py"})])
    write = reply_like(sample_dir / "code_body.txt", [("write", {"path": "b.py", "content": "x = 1\n" * 50})])
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("A = 1\n")
    script = [{"content": read + write[: len(write) // 2], "finish_reason": "length"}, as_content("Done.")]
    result, _ = run_agent(script, ws, tmp_path / "logs", config_file, tool_syntax="glm", max_format_retries=1)

    assert result.metrics["tool_calls"] == {"read": 1} and not (ws / "b.py").exists()
    assert result.metrics["incomplete_calls"] == 1 and result.metrics["format_retries"] == 1
    assert "cut off by the token limit" in result.messages[3]["content"]  # after the read's result
    assert_well_formed(result.messages)


def test_server_parsed_and_recovered_calls_are_counted_apart(tmp_path: Path, config_file) -> None:
    from tests.support.scripted_server import tool_call

    sample_dir = FIXTURES / "minimax" / "MiniMax-M2"
    script = [
        {"tool_calls": [tool_call("write", {"path": "a.py", "content": "A = 1\n"})]},
        as_content(reply_like(sample_dir / "code_body.txt", [("write", {"path": "b.py", "content": "B = 2\n"})])),
        as_content("Done."),
    ]
    ws = tmp_path / "ws"
    ws.mkdir()
    result, _ = run_agent(script, ws, tmp_path / "logs", config_file, tool_syntax="minimax")
    m = result.metrics
    assert (m["server_calls"], m["recovered_calls"], m["recovered_by_syntax"]) == (1, 1, {"minimax": 1})
    assert (ws / "a.py").read_text() == "A = 1\n" and (ws / "b.py").read_text() == "B = 2\n"
