"""HttpChatClient over real HTTP: streaming and not, retries, timeouts, error bodies."""

from __future__ import annotations

import json
import time

import pytest

from agent import HttpChatClient
from agent.client import error_message, is_context_overflow, normalize_base_url
from agent.protocols import ChatError
from agent.sse import StreamAccumulator, parse_completion
from tests.support.scripted_server import ScriptedServer, tool_call


def body(stream: bool = True, **extra: object) -> dict:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        **({"stream_options": {"include_usage": True}} if stream else {}),
        **extra,
    }


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.0.0.1:8080/",
        "http://127.0.0.1:8080/v1",
        "http://127.0.0.1:8080/v1/chat/completions",
        "127.0.0.1:8080/v1/",
    ],
)
def test_base_url_forms(url: str) -> None:
    assert normalize_base_url(url) == "http://127.0.0.1:8080"


@pytest.mark.parametrize("url", ["http://127.0.0.1:notaport", "http://[::1", "ftp://host:1", "http://:8080"])
def test_a_url_no_request_could_go_to_is_refused_at_once(url: str) -> None:
    with pytest.raises(ValueError, match=r"server URL .* is not valid \(.+\); give http://HOST:PORT$"):
        HttpChatClient(url)


@pytest.mark.parametrize("stream", [True, False])
def test_complete_assembles_content_reasoning_and_tool_calls(stream: bool) -> None:
    spec = {
        "content": "Let me write.",
        "reasoning": "thinking hard " * 5,
        "chunk_size": 3,
        "tool_calls": [
            tool_call("write", {"path": "a.py", "content": "x = '\"quoted\"'\n"}),
            tool_call("finish", {}, id="fin"),
        ],
    }
    deltas: list[tuple[str, str]] = []
    with ScriptedServer([spec]) as server, HttpChatClient(server.url + "/v1") as client:
        resp = client.complete(body(stream), on_delta=lambda k, t: deltas.append((k, t)))
    assert resp.content == "Let me write." and resp.reasoning == "thinking hard " * 5
    assert [(c.id, c.name) for c in resp.tool_calls] == [("call_0_0", "write"), ("fin", "finish")]
    assert json.loads(resp.tool_calls[0].arguments) == {"path": "a.py", "content": "x = '\"quoted\"'\n"}
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == server.sent[0]["usage"] and resp.timings == server.sent[0]["timings"]
    assert resp.elapsed > 0 and resp.request_id == "chatcmpl-scripted-0"
    if stream:
        assert "".join(t for k, t in deltas if k == "content") == "Let me write."
        assert resp.first_token is not None and resp.first_token <= resp.elapsed
    else:
        assert deltas == [] and resp.first_token is None


def test_stream_parser_tolerates_pings_events_and_fork_shapes() -> None:
    acc = StreamAccumulator()
    for line in [
        ": ping",
        "",
        "event: message",
        'data: {"choices":[{"delta":{"role":"assistant","content":null}}]}',
        'data: {"choices":[{"delta":{"reasoning":"r1"}}]}',
        'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"x","function":{"name":"ls","arguments":"{\\"pa"}}]}}]}',
        'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\\": \\".\\"}"}}]}}]}',
        'data: {"choices":[{"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5},"timings":{"prompt_n":5}}',
        "data: [DONE]",
    ]:
        acc.feed_line(line)
    resp = acc.response()
    assert acc.done and resp.reasoning == "r1" and resp.tool_calls[0].arguments == '{"path": "."}'
    assert resp.usage == {"prompt_tokens": 5} and resp.timings == {"prompt_n": 5}
    with pytest.raises(ChatError, match="mid-stream: boom"):
        StreamAccumulator().feed_line('data: {"error": {"message": "boom"}}')


def test_tool_call_deltas_without_index() -> None:
    acc = StreamAccumulator()
    for delta in ({"id": "a", "function": {"name": "read", "arguments": '{"pa'}}, {"function": {"arguments": 'th": 1}'}},
                  {"id": "b", "function": {"name": "ls", "arguments": "{}"}}):  # fmt: skip
        acc.feed_chunk({"choices": [{"delta": {"tool_calls": [delta]}}]})
    calls = acc.response().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [("a", "read", '{"path": 1}'), ("b", "ls", "{}")]


def test_a_server_that_ignores_stream_is_understood() -> None:
    spec = {"content": "plain", "tool_calls": [tool_call("ls", {})], "ignore_stream": True}
    with ScriptedServer([spec]) as server, HttpChatClient(server.url) as client:
        resp = client.complete(body(stream=True))
    assert resp.content == "plain" and resp.tool_calls[0].name == "ls" and resp.usage == server.sent[0]["usage"]


def test_non_streamed_parser_variants() -> None:
    resp = parse_completion(
        {
            "choices": [
                {
                    "message": {
                        "content": None,
                        "thinking": {"content": "t"},
                        "tool_calls": [{"function": {"name": "ls", "arguments": {"path": "."}}}],
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
    )
    assert resp.content == "" and resp.reasoning == "t"
    assert resp.tool_calls[0].id == "call_0" and json.loads(resp.tool_calls[0].arguments) == {"path": "."}
    with pytest.raises(ChatError, match="no choices") as info:
        parse_completion({"error": "x"})
    assert info.value.kind == "protocol"


def test_5xx_and_429_are_retried_with_backoff_4xx_are_not() -> None:
    script = [{"status": 503, "error": "Loading model"}, {"status": 429, "error": "slow down"}, {"content": "ok"}]
    with ScriptedServer(script) as server, HttpChatClient(server.url, retries=3, backoff=0.05) as client:
        started = time.monotonic()
        assert client.complete(body()).content == "ok"
        assert time.monotonic() - started >= 0.05 + 0.1  # backoff doubles
        assert client.attempts == 3
    with (
        ScriptedServer([{"status": 404, "error": "no such model"}]) as server,
        HttpChatClient(server.url, retries=3) as client,
    ):
        with pytest.raises(ChatError) as info:
            client.complete(body())
        assert client.attempts == 1
    assert str(info.value) == "HTTP 404: no such model" and info.value.status == 404 and info.value.kind == "http"
    assert json.loads(info.value.body)["error"]["message"] == "no such model"


def test_retries_give_up_with_the_last_error() -> None:
    with (
        ScriptedServer([{"status": 500, "error": "boom"}], repeat=True) as server,
        HttpChatClient(server.url, retries=2, backoff=0.01) as client,
    ):
        with pytest.raises(ChatError, match=r"^HTTP 500: boom$"):
            client.complete(body(False))
        assert len(server.requests) == 3


def test_connection_refused_is_retried_then_reported() -> None:
    with ScriptedServer([]) as server:
        url = server.url
    with HttpChatClient(url, retries=1, backoff=0.01, connect_timeout=1) as client:
        with pytest.raises(ChatError, match="cannot connect") as info:
            client.complete(body())
        assert info.value.kind == "connection" and client.attempts == 2


def test_drop_before_output_is_retried_after_output_is_not() -> None:
    script = [{"content": "partial answer here", "drop_after": 0}, {"content": "second try"}]
    with ScriptedServer(script) as server, HttpChatClient(server.url, retries=2, backoff=0.01) as client:
        assert client.complete(body()).content == "second try"
    with ScriptedServer([{"content": "partial answer here", "drop_after": 3}, {"content": "never"}]) as server:
        with HttpChatClient(server.url, retries=2, backoff=0.01) as client, pytest.raises(ChatError) as info:
            client.complete(body())
        assert info.value.kind == "connection" and len(server.requests) == 1


def test_read_timeout_and_deadline() -> None:
    with (
        ScriptedServer([{"hang": True}, {"hang": True}]) as server,
        HttpChatClient(server.url, read_timeout=0.3, retries=3) as client,
    ):
        started = time.monotonic()
        with pytest.raises(ChatError) as info:
            client.complete(body())
        assert info.value.kind == "timeout" and time.monotonic() - started < 1.5  # a hang is not retried
        started = time.monotonic()
        with pytest.raises(ChatError) as info:
            HttpChatClient(server.url, read_timeout=60).complete(body(), deadline=time.monotonic() + 0.4)
        assert info.value.kind == "timeout" and time.monotonic() - started < 1.5
    with pytest.raises(ChatError, match="deadline reached before"):
        HttpChatClient("http://127.0.0.1:9").complete(body(), deadline=time.monotonic() - 1)


def test_slow_stream_stops_at_the_deadline() -> None:
    """Each chunk arrives well within the read timeout; only the total deadline can stop it."""
    slow = {"content": "x" * 100, "chunk_size": 1, "chunk_delay": 0.05}
    with ScriptedServer([slow, {"content": "fast"}]) as server, HttpChatClient(server.url, read_timeout=5) as client:
        started = time.monotonic()
        with pytest.raises(ChatError, match="still generating") as info:
            client.complete(body(), deadline=time.monotonic() + 0.5)
        assert info.value.kind == "timeout" and 0.4 < time.monotonic() - started < 1.5
        assert client.complete(body(), deadline=time.monotonic() + 5).content == "fast"


def test_context_overflow_is_classified() -> None:
    with ScriptedServer([], n_ctx=64) as server, HttpChatClient(server.url) as client:
        with pytest.raises(ChatError) as info:
            client.complete(body(messages=[{"role": "user", "content": "word " * 200}]))
    err = info.value
    assert err.kind == "context_overflow" and err.status == 400
    assert "exceeds the available context size (64 tokens)" in str(err)
    assert json.loads(err.body)["error"]["n_ctx"] == 64
    assert is_context_overflow('{"error": {"code": "context_length_exceeded"}}') and not is_context_overflow(
        "bad request"
    )
    assert error_message("<html>502 Bad Gateway</html>\n") == "<html>502 Bad Gateway</html>"


def test_server_props() -> None:
    with (
        ScriptedServer([], n_ctx=8192, slots=2) as server,
        HttpChatClient(server.url + "/v1/chat/completions") as client,
    ):
        props = client.server_props()
    assert props["default_generation_settings"]["n_ctx"] == 4096 and props["total_slots"] == 2
    assert HttpChatClient("http://127.0.0.1:9", connect_timeout=0.5).server_props() == {}
