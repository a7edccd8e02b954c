"""Fixtures for the agent tests: a workspace, a config written next to it, and a runner that
drives a real :class:`Agent` against a :class:`ScriptedServer` over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent import Agent, AgentLimits, HttpChatClient, RunResult, load_config
from tests.support.scripted_server import ScriptedServer

PROMPT = "You are a test agent.\nTools:\n{{TOOLS}}\nFinish with {{tool:finish}}.\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "solution.py").write_text("def answer():\n    pass\n")
    (ws / "test_solution.py").write_text(
        "from solution import answer\n\ndef test_answer():\n    assert answer() == 42\n"
    )
    return ws


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a config (defaults + overrides) and its prompt into tmp_path; return the path."""

    def make(**keys: Any) -> Path:
        cfg_dir = tmp_path / "cfg"
        cfg_dir.mkdir(exist_ok=True)
        (cfg_dir / "prompt.md").write_text(PROMPT)
        data = {
            "prompt": "prompt.md",
            "model": "test-model",
            "tools": ["read", "write", "edit", "ls", "finish"],
            "max_turns": 10,
            "temperature": 0.0,
            "max_tokens": 512,
            **keys,
        }
        path = cfg_dir / "test-agent.json"
        path.write_text(json.dumps(data))
        return path

    return make


class Harness:
    """Runs one agent against one scripted server; keeps both for assertions."""

    def __init__(self, workspace: Path, log_dir: Path, config_file: Callable[..., Path]) -> None:
        self.workspace, self.log_dir, self.config_file = workspace, log_dir, config_file
        self.server: ScriptedServer | None = None
        self.agent: Agent | None = None
        self.client: HttpChatClient | None = None

    def run(
        self,
        script: Any,
        prompt: str = "Make answer() return 42.",
        *,
        server: dict[str, Any] | None = None,
        client: dict[str, Any] | None = None,
        limits: AgentLimits | None = None,
        continue_session: bool = False,
        session_file: Path | None = None,
        context_window: int | None = None,
        slot: int | None = None,
        **cfg_keys: Any,
    ) -> RunResult:
        if self.server is None:
            self.server = ScriptedServer(script, **(server or {})).start()
        self.client = HttpChatClient(self.server.url, **{"retries": 2, "backoff": 0.01, **(client or {})})
        cfg = load_config(self.config_file(**cfg_keys))
        self.agent = Agent(
            cfg,
            client=self.client,
            workspace=self.workspace,
            log_dir=self.log_dir,
            session_file=session_file,
            limits=limits or AgentLimits(),
            context_window=context_window,
            slot=slot,
        )
        return self.agent.run(prompt, continue_session=continue_session)

    @property
    def requests(self) -> list[dict[str, Any]]:
        assert self.server is not None
        return self.server.requests

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def harness(workspace: Path, tmp_path: Path, config_file: Callable[..., Path]) -> Iterator[Harness]:
    h = Harness(workspace, tmp_path / "logs", config_file)
    yield h
    h.close()


def tool_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["role"] == "tool"]


def assert_well_formed(messages: list[dict[str, Any]]) -> None:
    """Every tool call answered exactly once, in order, before the next non-tool message, and
    every history argument is a JSON object (what llama.cpp and strict templates require)."""
    pending: list[str] = []
    for msg in messages:
        if msg["role"] == "tool":
            assert pending and msg["tool_call_id"] == pending.pop(0), f"unexpected tool result {msg}"
            continue
        assert not pending, f"tool calls {pending} unanswered before {msg['role']}"
        for call in msg.get("tool_calls") or ():
            assert isinstance(json.loads(call["function"]["arguments"]), dict)
            pending.append(call["id"])
    assert not pending


@dataclass
class RealExercise:
    """A real exercise's workspace for a scripted model to solve: ``dst`` is its solution file,
    ``reference`` the dataset's reference solution the model writes."""

    exercise: Any
    conf: Any
    workspace: Path
    dst: str
    reference: str

    def assert_graded_pass(self, dest: Path) -> None:
        """Grade the workspace with the harness's grader in the local sandbox: every test passes."""
        from pytest_localcode.grading import Grader
        from pytest_localcode.sandbox.select import open_factory

        factory = open_factory("local")
        try:
            run = Grader(factory).grade(self.exercise, self.conf, self.workspace, dest)
        finally:
            factory.close()
        assert run.outcome == "pass", run.output[-2000:]
        assert run.executed == run.defined == run.passed > 0


def real_exercise(polyglot: Path, language: str, slug: str, workspace: Path) -> RealExercise:
    from pytest_localcode.exercises import load_exercise
    from pytest_localcode.languages import load_language
    from pytest_localcode.workspace import create_workspace, reference_map

    conf = load_language(language)
    ex = load_exercise(polyglot / language / "exercises" / "practice" / slug, language)
    create_workspace(ex, conf, workspace)
    [(src, dst)] = reference_map(ex, conf)
    return RealExercise(ex, conf, workspace, dst, (ex.path / src).read_text(encoding="utf-8"))


def thirds(text: str) -> tuple[str, str, str]:
    lines = text.splitlines(keepends=True)
    a, b = len(lines) // 3, 2 * len(lines) // 3
    return "".join(lines[:a]), "".join(lines[a:b]), "".join(lines[b:])
