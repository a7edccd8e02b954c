"""What a server says about itself, the tool-call probe, the warm-up, and ``localcode --check``.

Against the scripted server over real HTTP: its probe answer is a structured call unless a test
gives it another (a call in some family's raw text, prose, an error, a hang).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import Agent, HttpChatClient, load_config
from agent.probe import (
    PROBE_MARK,
    WARM_UP_MARK,
    explain_chat_error,
    probe_tool_calls,
    read_facts,
    warm_up,
)
from agent.protocols import ChatError
from tests.support.scripted_server import ScriptedServer


@pytest.fixture
def agent_for(workspace: Path, config_file):
    """An Agent of a written config against a server (the client is closed by the server's test)."""

    def make(server: ScriptedServer, **keys) -> Agent:
        client = HttpChatClient(server.url, retries=0, read_timeout=keys.pop("read_timeout", 30))
        return Agent(load_config(config_file(**keys)), client=client, workspace=workspace)

    return make


def test_facts_of_a_llama_server() -> None:
    with ScriptedServer(n_ctx=8192, slots=2, model="/models/m.gguf") as server, HttpChatClient(server.url) as client:
        facts = read_facts(client)
    assert (facts.props, facts.n_ctx_slot, facts.total_slots, facts.model_path) == ("ok", 4096, 2, "/models/m.gguf")
    assert facts.llama and facts.model_names == ["/models/m.gguf"] and facts.build == "b0-scripted"


@pytest.mark.parametrize("props", ["absent", "malformed"])
def test_facts_of_a_server_without_props_are_unknown(props: str) -> None:
    with ScriptedServer(props=props) as server, HttpChatClient(server.url) as client:
        facts = read_facts(client)
    assert facts.props == props and not facts.llama
    assert (facts.n_ctx_slot, facts.total_slots, facts.model_path) == (None, None, None)
    assert facts.model_names == ["scripted-model"]  # /v1/models still names it


def test_probe_structured_call(agent_for) -> None:
    with ScriptedServer() as server:
        agent = agent_for(server)
        result = probe_tool_calls(agent, slot=1)
        request = server.preflight[0]["request"]
    assert (result.outcome, result.called, result.tool, result.arguments_ok) == ("structured", "read", "read", True)
    assert [t["function"]["name"] for t in request["tools"]] == ["read"]  # one tool, as the agent shows it
    assert request["tool_choice"] == "required" and request["id_slot"] == 1
    assert PROBE_MARK in request["messages"][0]["content"]
    assert not server.requests  # the script never saw it


@pytest.mark.parametrize(("style", "syntax"), [("tool_call", "hermes"), ("function", "qwen3_coder"),
                                               ("mistral", "mistral"), ("tool_calls", "tool_calls")])
def test_probe_call_recovered_from_text(agent_for, style: str, syntax: str) -> None:
    reply = {"content": "", "call_in_content": {"name": "read", "arguments": {"path": "README.md"}, "style": style}}
    with ScriptedServer(probe=reply) as server:
        result = probe_tool_calls(agent_for(server))
    assert (result.outcome, result.syntax, result.called, result.arguments_ok) == ("recovered", syntax, "read", True)
    assert f"syntax {syntax}" in result.describe()


def test_probe_without_a_call(agent_for) -> None:
    with ScriptedServer(probe={"content": "I would rather chat.", "finish_reason": "stop"}) as server:
        result = probe_tool_calls(agent_for(server))
    assert result.outcome == "none" and result.called is None
    assert result.describe() == "no tool call (finish_reason stop): 'I would rather chat.'"


def test_probe_with_a_call_grammar_sends_the_grammar_and_reads_the_text(agent_for) -> None:
    with ScriptedServer() as server:
        agent = agent_for(server, call_grammar="section", tools=["read", "write", "finish"])
        result = probe_tool_calls(agent)
        request = server.preflight[0]["request"]
    assert "tools" not in request and "<tool_calls>" in request["grammar"]
    assert (result.outcome, result.syntax) == ("recovered", "tool_calls")


def test_template_error_is_one_line_with_the_fix(agent_for) -> None:
    message = "Failed to apply the chat template: tools are not supported"
    with ScriptedServer(tools_error=(500, message)) as server, pytest.raises(ChatError) as info:
        probe_tool_calls(agent_for(server))
    text = explain_chat_error(info.value)
    assert message in text and "--jinja" in text and "chat_template_file" in text and "\n" not in text


def test_chat_that_never_answers_is_a_timeout(agent_for) -> None:
    with ScriptedServer(probe={"hang": True}) as server, pytest.raises(ChatError) as info:
        probe_tool_calls(agent_for(server, read_timeout=0.5))
    assert info.value.kind == "timeout"
    explained = explain_chat_error(info.value, timeout=0.5)
    assert "answers /health but did not answer a chat request within 0.5 s" in explained


def test_warm_up_sends_the_agents_prefix_to_the_slot(agent_for) -> None:
    with ScriptedServer() as server:
        agent = agent_for(server)
        warm_up(agent, slot=3)
        request = server.preflight[0]["request"]
    assert request["messages"][:-1] == agent.prefix() and request["messages"][-1]["content"] == WARM_UP_MARK
    assert request["max_tokens"] == 1 and request["id_slot"] == 3 and request["tools"] == agent.schemas


def _check(server: ScriptedServer, cfg: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOCALCODE_HOME": str(tmp_path / "home")}
    exe = Path(sys.executable).with_name("localcode")
    return subprocess.run([str(exe), "--agent", str(cfg), "--url", server.url, "--check"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_check_exit_codes(tmp_path: Path, config_file) -> None:
    cfg = config_file()
    with ScriptedServer(n_ctx=16384, slots=2, model="/m/x.gguf") as server:
        ok = _check(server, cfg, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "context per slot 8192, slots 2, model /m/x.gguf" in ok.stdout
    assert "structured tool call (the server parsed it): read" in ok.stdout
    with ScriptedServer(probe={"content": "no"}) as server:
        none = _check(server, cfg, tmp_path)
    assert none.returncode == 3 and "no tool call" in none.stdout
    with ScriptedServer(tools_error=(400, "template cannot render tools")) as server:
        bad = _check(server, cfg, tmp_path)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "--jinja" in bad.stderr
    assert json.loads(json.dumps(bad.stderr))  # one printable line


@pytest.mark.parametrize("family", ["qwen3_coder", "step"])
def test_probe_reads_a_call_in_the_text_in_the_runs_own_syntax_first(agent_for, family: str) -> None:
    """Qwen3-Coder and Step write the same XML-ish calls: the probe names the family the run will read."""
    text = "<tool_call>\n<function=finish>\n<parameter=summary>\ndone\n</parameter>\n</function>\n</tool_call>"
    with ScriptedServer(probe={"content": text, "finish_reason": "stop"}) as server:
        agent = agent_for(server, tool_syntax=family)
        result = probe_tool_calls(agent)
    assert agent.syntax == family
    assert (result.outcome, result.syntax, result.called) == ("recovered", family, "finish")
