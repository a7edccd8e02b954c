"""HttpChatClient over real HTTP: streaming and not, retries, timeouts, error bodies, keep-alive."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from agent import HttpChatClient
from agent.client import chat_template_of, context_of, error_message, is_context_overflow, normalize_base_url
from agent.protocols import ChatError
from agent.wire import StreamAccumulator, parse_completion
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
        'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"x",'
        '"function":{"name":"ls","arguments":"{\\"pa"}}]}}]}',
        'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"th\\": \\".\\"}"}}]}}]}',
        'data: {"choices":[{"delta":{},"finish_reason":"tool_calls"}],'
        '"usage":{"prompt_tokens":5},"timings":{"prompt_n":5}}',
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
    for delta in ({"id": "a", "function": {"name": "read", "arguments": '{"pa'}},
                  {"function": {"arguments": 'th": 1}'}},
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


# -- keep-alive and llama-server's connection habits, against a raw socket server ---------------
ANSWER = json.dumps({"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]}).encode()
JSON_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(ANSWER),
    ANSWER,
)
EVENTS = [
    b'data: {"choices": [{"delta": {"content": "o"}}]}\n\n',
    b'data: {"choices": [{"delta": {"content": "k"}, "finish_reason": "stop"}]}\n\n',
    b"data: [DONE]\n\n",
]
SSE_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in EVENTS)
    + b"0\r\n\r\n"
)


def _read_request(conn: socket.socket, buf: bytes) -> tuple[bytes | None, bytes]:
    """(the request's body, or None when the client hung up; what is left over)."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None, b""
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    fields = (line.partition(b":") for line in head.split(b"\r\n")[1:])
    length = next(int(value) for name, _, value in fields if name.strip().lower() == b"content-length")
    while len(rest) < length:
        rest += conn.recv(65536)
    return rest[:length], rest[length:]


@contextmanager
def raw_server(answers_per_connection: int, *, hang_up_on_next: bool) -> Iterator[tuple[str, list[int]]]:
    """Answers ``answers_per_connection`` requests per connection, then either closes at once
    (an idle-timeout close) or waits for the next request and closes without answering it
    (the close crossed the request on the wire). Yields the URL and the count of accepts."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepts = [0]

    def serve(conn: socket.socket) -> None:
        buf = b""
        with conn:
            for _ in range(answers_per_connection):
                request, buf = _read_request(conn, buf)
                if request is None:
                    return
                conn.sendall(SSE_RESPONSE if json.loads(request).get("stream") else JSON_RESPONSE)
            if hang_up_on_next:
                _read_request(conn, buf)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepts[0] += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepts
    finally:
        listener.close()


def test_one_keepalive_connection_serves_many_requests_streamed_or_not() -> None:
    with raw_server(100, hang_up_on_next=False) as (url, accepts), HttpChatClient(url) as client:
        for n in range(6):
            assert client.complete(body(stream=n % 2 == 0)).content == "ok"
    assert accepts[0] == 1 and client.attempts == 6


@pytest.mark.parametrize("stream", [False, True])
def test_a_connection_the_server_closed_is_replaced_without_a_retry(stream: bool) -> None:
    """llama-server closes the connection after every streamed response without announcing it,
    and idle keep-alive connections after 5 s: the next request must go out on a new connection
    at once, not wait for a retry's backoff."""
    with raw_server(1, hang_up_on_next=False) as (url, accepts), HttpChatClient(url, backoff=5) as client:
        started = time.monotonic()
        for _ in range(3):
            assert client.complete(body(stream)).content == "ok"
            time.sleep(0.05)  # the server's close reaches the idle socket
        assert time.monotonic() - started < 2
    assert accepts[0] == 3 and client.attempts == 3


@pytest.mark.parametrize("stream", [False, True])
def test_a_close_that_crosses_the_request_resends_it_on_a_new_connection(stream: bool) -> None:
    """The server closes a pooled connection just as the next request goes out on it (it reads
    the request, then hangs up): the request is sent again at once on a new connection, once."""
    with raw_server(1, hang_up_on_next=True) as (url, accepts), HttpChatClient(url, backoff=5) as client:
        started = time.monotonic()
        assert client.complete(body(stream)).content == "ok"
        assert client.complete(body(stream)).content == "ok"  # the pooled connection is hung up on
        assert time.monotonic() - started < 2
    assert accepts[0] == 2 and client.attempts == 3  # the resend is an attempt, not a retry


def test_a_new_connection_that_drops_the_request_is_retried_with_backoff() -> None:
    """Only a *reused* connection's failure is resent at once: on a fresh one it is a real error."""
    with raw_server(0, hang_up_on_next=True) as (url, accepts), HttpChatClient(url, retries=1, backoff=0.3) as client:
        started = time.monotonic()
        with pytest.raises(ChatError) as info:
            client.complete(body(False))
        assert time.monotonic() - started >= 0.3 and info.value.kind == "connection"
    assert accepts[0] == 2 and client.attempts == 2


def test_an_idle_connection_is_not_kept_past_the_servers_keepalive() -> None:
    """llama-server closes idle connections after 5 s; the client lets them go before that."""
    from agent.client import KEEPALIVE_EXPIRY

    assert 0 < KEEPALIVE_EXPIRY < 5


def test_threads_share_one_client() -> None:
    script = [{"content": "ok"}]
    errors: list[BaseException] = []
    with ScriptedServer(script, repeat=True) as server, HttpChatClient(server.url) as client:

        def work() -> None:
            try:
                for _ in range(10):
                    assert client.complete(body(True)).content == "ok"
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == [] and len(server.requests) == 40


@pytest.mark.parametrize(("props", "n_ctx"), [
    ({"default_generation_settings": {"n_ctx": 4096}, "n_ctx": 8192}, 4096),  # per slot first
    ({"default_generation_settings": {"n_ctx": 0}, "n_ctx": 8192}, 8192),
    ({"default_generation_settings": "not a dict", "n_ctx": 2048}, 2048),
    ({"default_generation_settings": {"n_ctx": True}}, None),  # a bool is not a size
    ({"n_ctx": "4096"}, None),
    ({}, None),
])
def test_context_of_a_props_document(props: dict, n_ctx: int | None) -> None:
    assert context_of(props) == n_ctx


def test_chat_template_of_prefers_the_tool_use_template() -> None:
    assert chat_template_of({"chat_template": "plain", "chat_template_tool_use": "tools"}) == "tools"
    assert chat_template_of({"chat_template": "plain", "chat_template_tool_use": ""}) == "plain"
    assert chat_template_of({"chat_template": 3}) is None
