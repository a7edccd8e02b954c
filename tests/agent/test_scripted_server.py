"""The scripted server behaves like llama-server where the agent depends on it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.scripted_server import ScriptedServer, tool_call

ROOT = Path(__file__).resolve().parents[2]


def chat(url: str, **body: object) -> httpx.Response:
    return httpx.post(
        url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], **body}, timeout=10
    )


def call_msg(args: str, answered: bool = True) -> list[dict]:
    msgs = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "a", "type": "function", "function": {"name": "write", "arguments": args}}],
        },
    ]
    return msgs + ([{"role": "tool", "tool_call_id": "a", "content": "ok"}] if answered else [])


def test_history_rules_like_llama_cpp() -> None:
    with ScriptedServer([{"content": "fine"}], repeat=True) as server:
        assert chat(server.url, messages=call_msg('{"path": "a"}')).status_code == 200
        broken = chat(server.url, messages=call_msg('{"path": "a'))
        assert (
            broken.status_code == 500
            and "Failed to parse tool call arguments as JSON" in broken.json()["error"]["message"]
        )
        orphan = chat(server.url, messages=call_msg("{}", answered=False) + [{"role": "user", "content": "next"}])
        assert orphan.status_code == 500 and "have no tool result" in orphan.text
        assert chat(server.url, tool_choice={"type": "function", "function": {"name": "w"}}).status_code == 200
        assert server.warnings == ["Wrong type supplied for parameter 'tool_choice': type must be string; using auto"]
    with ScriptedServer([{"content": "x"}], strict=False) as lax:
        assert (
            chat(lax.url, messages=call_msg("{}", answered=False) + [{"role": "user", "content": "n"}]).status_code
            == 200
        )


def test_callable_script_exhaustion_and_loading() -> None:
    seen: list[int] = []

    def script(request: dict) -> dict | None:
        seen.append(len(request["messages"]))
        return {"content": f"n={len(seen)}"} if len(seen) < 3 else None

    with ScriptedServer(script) as server:
        assert chat(server.url).json()["choices"][0]["message"]["content"] == "n=1"
        assert chat(server.url).json()["choices"][0]["message"]["content"] == "n=2"
        exhausted = chat(server.url)
        assert exhausted.status_code == 500 and "script exhausted after 2 responses" in exhausted.text
    with ScriptedServer([{"content": "ready"}], loading=0.3) as server:
        assert httpx.get(server.url + "/health").status_code == 503
        assert chat(server.url).status_code == 503
        time.sleep(0.35)
        assert httpx.get(server.url + "/health").json() == {"status": "ok"}


def test_streamed_shape() -> None:
    with ScriptedServer([{"content": "hello", "tool_calls": [tool_call("ls", {"path": "."})], "ping": 1}]) as server:
        r = chat(server.url, stream=True, stream_options={"include_usage": True})
    lines = [ln for ln in r.text.splitlines() if ln]
    assert lines[0] == ": ping" and lines[-1] == "data: [DONE]"
    chunks = [json.loads(ln[6:]) for ln in lines[1:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert chunks[-1]["choices"] == [] and "usage" in chunks[-1] and "timings" in chunks[-1]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    header = next(c for c in chunks if c["choices"] and "tool_calls" in c["choices"][0]["delta"])
    assert header["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "ls", "arguments": ""}


def test_latency_and_accounting_are_deterministic() -> None:
    with (
        ScriptedServer([{"content": "a"}], repeat=True, latency=0.1) as one,
        ScriptedServer([{"content": "a"}], repeat=True) as two,
    ):
        started = time.monotonic()
        first = chat(one.url).json()
        assert time.monotonic() - started >= 0.1
        assert first["usage"] == chat(two.url).json()["usage"]
        assert min(one.handle_seconds) >= 0.1


def test_standalone_process(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"responses": [{"content": "from a file"}], "n_ctx": 4096, "slots": 2}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.scripted_server", "--script", str(script), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("SCRIPTED_SERVER_URL=http://127.0.0.1:")
        url = line.split("=", 1)[1]
        assert chat(url).json()["choices"][0]["message"]["content"] == "from a file"
        assert httpx.get(url + "/props").json()["default_generation_settings"]["n_ctx"] == 2048
        assert len(httpx.get(url + "/slots").json()) == 2
        assert httpx.get(url + "/v1/models").json()["data"][0]["id"] == "scripted-model"
        recorded = httpx.get(url + "/_scripted/requests").json()
        assert recorded["requests"][0]["messages"][0]["content"] == "hi" and recorded["sent"][0]["status"] == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0


@pytest.mark.parametrize("style", ["tool_call", "tool_calls", "mistral", "fenced", "harmony", "function"])
def test_call_in_content_styles_render(style: str) -> None:
    with ScriptedServer([{"call_in_content": {"name": "read", "arguments": {"path": "a"}, "style": style}}]) as server:
        msg = chat(server.url).json()["choices"][0]["message"]
    assert "read" in msg["content"] and "tool_calls" not in msg
