"""The agent against a real llama-server and the tiny gemma model (markers ``llama``, ``slow``).

Runs when a llama-server is found (``$LOCALCODE_LLAMA_SERVER``, else what ``./bin/setup``
built) and the model of ``gguf/gemma3-270m`` exists (``$LOCALCODE_HOME/models/gemma-3-270m-q4_k_m.gguf``). It checks
what the scripted server cannot: that llama.cpp accepts our template, few-shot exchange and
history (no HTTP 4xx/5xx), returns structured tool calls, and that our token accounting equals
the server's own ``/metrics`` counters. It asserts structure, never the (tiny) model's wording.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from agent import Agent, HttpChatClient, load_config
from agent.config import state_dir
from pytest_localcode.server.base import ServerError
from pytest_localcode.server.llama import find_llama_server
from tests.agent.conftest import assert_well_formed

pytestmark = [pytest.mark.llama, pytest.mark.slow]


def _model_path() -> Path:
    cfg = load_config("gguf/gemma3-270m")
    raw = cfg.server_config["model_path"].replace("$LOCALCODE_HOME", str(state_dir()))
    return Path(os.path.expandvars(raw)).expanduser()


def _counters(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics").text
    return {k: float(v) for k, v in (line.split() for line in text.splitlines() if line.startswith("llamacpp:"))}


@pytest.fixture(scope="module")
def llama_url():
    try:
        binary = find_llama_server()  # what ./bin/setup built ($LLAMA_SERVER first), as the plugin finds it
    except ServerError:
        binary = ""
    model = _model_path()
    if not (binary and Path(binary).is_file() and model.is_file()):
        pytest.skip("no llama-server or no gemma3-270m model: run ./bin/setup (or set LOCALCODE_LLAMA_SERVER)")
    cfg = load_config("gguf/gemma3-270m")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        binary,
        "-m",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        str(cfg.server_config["context_window"]),
        "-np",
        "1",
        "--metrics",
        "--no-webui",
        "--chat-template-file",
        str(cfg.chat_template_path()),
        *cfg.server_config["extra_args"],
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("llama-server did not become healthy in 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("stream", [True, False])
def test_gemma_makes_structured_tool_calls_and_accounting_matches(llama_url: str, tmp_path: Path, stream: bool) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "two_fer.py").write_text('def two_fer(name="you"):\n    pass\n')
    cfg = load_config("gguf/gemma3-270m", overrides={"stream": stream, "max_turns": 4})
    before = _counters(llama_url)
    with HttpChatClient(llama_url) as client:
        agent = Agent(cfg, client=client, workspace=ws, log_dir=tmp_path / "logs")
        result = agent.run("Implement two_fer(name) in two_fer.py: it returns 'One for <name>, one for me.'")
    after = _counters(llama_url)
    assert result.stop_reason != "error", result.error
    assert result.metrics["http_errors"] == 0 and result.metrics["tool_call_responses"] >= 1
    assert agent.planner.n_ctx == cfg.server_config["context_window"]  # from /props (one slot)
    assert_well_formed(result.messages)
    m = result.metrics
    assert m["prompt_n"] == after["llamacpp:prompt_tokens_total"] - before["llamacpp:prompt_tokens_total"]
    assert m["predicted_n"] == after["llamacpp:tokens_predicted_total"] - before["llamacpp:tokens_predicted_total"]
    assert m["prompt_tokens"] >= m["prompt_n"] and m["completion_tokens"] == m["predicted_n"]


def test_connections_the_server_closes_are_replaced_without_a_retry(llama_url: str) -> None:
    """llama-server closes the connection after each streamed response (without saying so in
    its headers): the next request must go out on a new connection, not fail into a retry."""
    with HttpChatClient(llama_url, retries=0) as client:
        for stream in (True, True, False, True):
            body = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 2, "stream": stream}
            assert client.complete(body).finish_reason in ("length", "stop")
        assert client.attempts == 4
