"""The chat client's connection pool: keep-alive reuse, servers that drop idle connections, threads."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from agent import HttpChatClient
from tests.support.scripted_server import ScriptedServer

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


def body(stream: bool = False) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}


def test_one_connection_serves_many_requests_streamed_or_not() -> None:
    with raw_server(100, hang_up_on_next=False) as (url, accepts), HttpChatClient(url) as client:
        for n in range(6):
            assert client.complete(body(stream=n % 2 == 0)).content == "ok"
    assert accepts[0] == 1 and client.attempts == 6


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_retry() -> None:
    """llama-server closes idle keep-alive connections (e.g. while a tool runs tests for a while):
    the next request must go out on a new connection at once, not wait for a retry's backoff."""
    with raw_server(1, hang_up_on_next=False) as (url, accepts), HttpChatClient(url, backoff=5) as client:
        started = time.monotonic()
        for _ in range(3):
            assert client.complete(body()).content == "ok"
            time.sleep(0.05)  # the server's close reaches the idle socket
        assert time.monotonic() - started < 2
    assert accepts[0] == 3 and client.attempts == 3


def test_a_close_that_crosses_the_request_resends_it_on_a_new_connection() -> None:
    with raw_server(1, hang_up_on_next=True) as (url, accepts), HttpChatClient(url, backoff=5) as client:
        started = time.monotonic()
        assert client.complete(body()).content == "ok"
        assert client.complete(body()).content == "ok"  # the pooled connection is hung up on
        assert time.monotonic() - started < 2
    assert accepts[0] == 2 and client.attempts == 2


def test_threads_share_one_client() -> None:
    script = [{"content": "ok"}]
    errors: list[BaseException] = []
    with ScriptedServer(script, repeat=True) as server, HttpChatClient(server.url) as client:

        def work() -> None:
            try:
                for _ in range(10):
                    assert client.complete({**body(), "stream": True}).content == "ok"
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == [] and len(server.requests) == 40
