"""The Protocol seams: any ChatClient and any ToolBox plug in; their failures never escape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent import Agent, load_config
from agent.protocols import (
    ChatClient,
    ChatError,
    ChatResponse,
    ToolBox,
    ToolCall,
    ToolOutcome,
)


class EchoBox:
    """A one-tool ToolBox; ``explode`` makes execute raise (which a ToolBox must never do). It gets
    the model's raw arguments, as every ToolBox does, and parses them itself."""

    def __init__(self, explode: bool = False) -> None:
        self.explode = explode
        self.calls: list[tuple[str, Any]] = []

    def schemas(self) -> list[dict[str, Any]]:
        params = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
        return [{"type": "function", "function": {"name": "echo", "description": "Echo text.", "parameters": params}}]

    def display_names(self) -> list[str]:
        return ["echo"]

    def execute(self, name: str, arguments: str | dict[str, Any]) -> ToolOutcome:
        args = json.loads(arguments) if isinstance(arguments, str) else arguments
        self.calls.append((name, args))
        if self.explode:
            raise RuntimeError("disk on fire")
        return ToolOutcome(text=f"echo: {args['text']}", tool="echo", finish=args.get("text") == "bye")


class ListClient:
    def __init__(self, responses: list[ChatResponse | Exception]) -> None:
        self.responses = responses
        self.requests: list[dict[str, Any]] = []

    def complete(self, request: dict[str, Any], *, deadline: float | None = None, on_delta: Any = None) -> ChatResponse:
        self.requests.append(request)
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def call(text: str) -> ChatResponse:
    args = json.dumps({"text": text})
    return ChatResponse(tool_calls=[ToolCall(id="", name="echo", arguments=args)], finish_reason="tool_calls")


def agent(config_file, workspace: Path, client: ChatClient, box: ToolBox) -> Agent:
    cfg = load_config(config_file(tools=["read"], prompt="prompt.md"))
    return Agent(cfg, client=client, workspace=workspace, toolbox=box, context_window=4096)


def test_custom_toolbox_and_client(config_file, workspace: Path) -> None:
    box = EchoBox()
    client = ListClient([call("hi"), call("bye")])
    result = agent(config_file, workspace, client, box).run("say hi")
    assert isinstance(box, ToolBox) and isinstance(client, ChatClient)
    assert result.stop_reason == "finish" and box.calls == [("echo", {"text": "hi"}), ("echo", {"text": "bye"})]
    assert client.requests[0]["tools"][0]["function"]["name"] == "echo"
    assert "- echo(text): Echo text." in client.requests[0]["messages"][0]["content"]
    ids = [m["tool_call_id"] for m in result.messages if m["role"] == "tool"]
    assert ids == ["call_1_0", "call_2_0"]  # missing ids are made unique


def test_a_raising_toolbox_becomes_an_error_result(config_file, workspace: Path) -> None:
    client = ListClient([call("hi"), ChatResponse(content="giving up", finish_reason="stop")])
    result = agent(config_file, workspace, client, EchoBox(explode=True)).run("say hi")
    assert result.stop_reason == "answer"
    assert result.messages[2]["content"] == "error: tool echo failed: RuntimeError: disk on fire"
    assert result.metrics["tool_errors"] == {"other": 1}


def test_client_failures_end_the_run_without_raising(config_file, workspace: Path) -> None:
    failing = ListClient([ChatError("HTTP 503: Loading model", status=503, kind="http")])
    result = agent(config_file, workspace, failing, EchoBox()).run("x")
    assert (result.stop_reason, result.error, result.metrics["http_errors"]) == ("error", "HTTP 503: Loading model", 1)
    buggy = ListClient([ValueError("a bug in a client")])
    result = agent(config_file, workspace, buggy, EchoBox()).run("x")
    assert result.stop_reason == "error" and result.error == "internal error: ValueError: a bug in a client"
    assert result.messages == [{"role": "user", "content": "x"}]
