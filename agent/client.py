"""The client for ``/v1/chat/completions`` (llama-server, mlx_lm.server, any OpenAI clone), on httpx.

Why not a bare ``POST``: a local model can think for minutes before the first token, can be
loading (503), can drop the connection, can hang. So: per-read timeouts *and* a caller's total
deadline, retries with backoff for connection errors and 5xx/429 *only before any output arrived*
(a retry after partial output would duplicate work and tokens), and every failure surfaced as a
:class:`ChatError` whose one-line message carries the HTTP status and the server's own error text.

Keep-alive with llama-server: it closes the connection after every streamed response without
announcing it, and closes idle connections after 5 s. httpx drops a pooled connection whose
socket reads EOF before reusing it, and this client expires idle ones after 4 s; what is left is
the close that crosses a request on the wire. A reused connection that fails before any response
byte was, almost always, closed by the server while it sat idle, so the request reached no
handler: it is sent once more at once, on a new connection, without counting as a retry.

Working deadlines (``working_deadline=True``, what the harness uses): a server shared by several
workers queues a request until a slot is free, and that wait is not the agent's time. So the time a
request waits for its first byte (queued, or in prefill) moves the deadline on for that request,
bounded only by the read timeout; once bytes flow, generation is cut at the moved deadline. The
agent then counts exactly what was waiting (its round trip minus the server's own timings) and
moves its next deadline by that much (see :meth:`agent.loop.RunState.wall_deadline`).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from agent.protocols import ChatError, ChatResponse
from agent.wire import BodyEncoder, StreamAccumulator, parse_completion, sse_lines

KEEPALIVE_EXPIRY = 4.0  # seconds an idle connection is kept: below llama-server's 5 s
_OVERFLOW_MARKERS = (
    "exceed_context_size_error",
    "exceeds the available context size",
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "prompt is too long",
)


def normalize_base_url(url: str) -> str:
    """``http://h:p``, ``http://h:p/v1`` and ``http://h:p/v1/chat/completions`` → ``http://h:p``.

    Raises ValueError (one line naming the URL and the expected form) for a URL no request
    could go to, so a typo is reported where it was typed, not as a failure of every exercise.
    """
    given = url
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    for suffix in ("/chat/completions", "/v1"):
        if url.endswith(suffix):
            url = url[: -len(suffix)].rstrip("/")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is no number
        problem = "" if parts.scheme in ("http", "https") and parts.hostname else "needs an http(s) scheme and a host"
    except ValueError as exc:
        problem = str(exc)
    if problem:
        raise ValueError(f"server URL {given!r} is not valid ({problem}); give http://HOST:PORT")
    return url


def one_line(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_message(body: str) -> str:
    """The server's own words: ``error.message`` of a JSON body, else the text itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return one_line(body) or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            return one_line(str(err.get("message") or json.dumps(err)))
        return one_line(str(err))
    return one_line(body)


def is_context_overflow(body: str) -> bool:
    low = body.lower()
    return any(marker in low for marker in _OVERFLOW_MARKERS)


def props_of(client: object) -> dict[str, Any]:
    """``/props`` (llama-server); ``{}`` when the client cannot ask (any ChatClient without
    ``server_props``) or the request fails."""
    props_fn = getattr(client, "server_props", None)
    if props_fn is None:
        return {}
    try:
        props = props_fn() or {}
    except Exception:  # noqa: BLE001 - props are optional: a failure means "unknown"
        return {}
    return props if isinstance(props, dict) else {}


def context_of(props: dict[str, Any]) -> int | None:
    """The per-slot context window a ``/props`` document states, or None when it does not say."""
    settings = props.get("default_generation_settings")
    for n_ctx in (settings.get("n_ctx") if isinstance(settings, dict) else None, props.get("n_ctx")):
        if isinstance(n_ctx, int) and not isinstance(n_ctx, bool) and n_ctx > 0:
            return n_ctx
    return None


def chat_template_of(props: dict[str, Any]) -> str | None:
    """The chat template the server renders requests with tools through (the GGUF's tool-use
    template where it has one, else ``chat_template``), or None when ``/props`` does not say."""
    for key in ("chat_template_tool_use", "chat_template"):
        if isinstance(props.get(key), str) and props[key]:
            return str(props[key])
    return None


def _json_body(r: httpx.Response) -> Any:
    try:
        return json.loads(r.content)
    except ValueError as exc:
        message = f"invalid JSON from server: {one_line(r.text, 200)}"
        raise ChatError(message, status=r.status_code, body=r.text[:2000], kind="protocol") from exc


class _Retry(Exception):
    """Internal: a failure that may be retried because no output was consumed yet."""

    def __init__(self, error: ChatError) -> None:
        super().__init__(str(error))
        self.error = error


class _Resend(_Retry):
    """Internal: a reused connection failed before any response: resend at once (see the module)."""


class HttpChatClient:
    """Satisfies :class:`agent.protocols.ChatClient`; one instance per worker (thread-safe).

    Proxy settings from the environment are not used: a local model server is reached directly.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
        retries: int = 3,
        backoff: float = 0.5,
        headers: dict[str, str] | None = None,
        working_deadline: bool = False,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.working_deadline = working_deadline  # see the module docstring
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.retries, self.backoff = max(0, retries), backoff
        self.attempts = 0  # total HTTP attempts (resends included), for metrics and tests
        self.encoder = BodyEncoder()
        self._chat_url = self.base_url + "/v1/chat/completions"  # a server behind a proxy at /llm keeps its prefix
        # TCP_NODELAY: a request goes out as two writes (head, body); with Nagle's algorithm the body
        # waits for the server's delayed ACK of the head, milliseconds on every turn
        transport = httpx.HTTPTransport(
            limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=KEEPALIVE_EXPIRY),
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )
        self._http = httpx.Client(
            headers={"User-Agent": "localcode", "Content-Type": "application/json", **(headers or {})},
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            transport=transport,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def server_props(self) -> dict[str, Any]:
        """``GET /props`` (llama-server: n_ctx per slot, total_slots, build); ``{}`` when absent."""
        data = self.fetch_json("/props")
        return data if isinstance(data, dict) else {}

    def fetch_json(self, path: str) -> Any:
        """``GET`` a JSON endpoint of the server (``/props``, ``/slots``, ``/v1/models``): the parsed
        body, or None when it is absent, unreachable or not JSON."""
        try:
            r = self._http.get(self.base_url + path, timeout=self.connect_timeout)
            return r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def complete(
        self,
        request: dict[str, Any],
        *,
        deadline: float | None = None,
        on_delta: Callable[[str, str], None] | None = None,
    ) -> ChatResponse:
        attempt, resent = 0, False
        while True:
            try:
                return self._once(request, deadline, on_delta)
            except _Retry as retry:
                if isinstance(retry, _Resend) and not resent:
                    resent = True
                    continue
                attempt += 1
                wait = self.backoff * 2 ** (attempt - 1)
                if attempt > self.retries or (deadline is not None and time.monotonic() + wait >= deadline):
                    raise retry.error from None
                time.sleep(wait)

    # -- one attempt -------------------------------------------------------------------------
    def _timeout(self, deadline: float | None) -> httpx.Timeout:
        """Connect and per-read timeouts, both cut to what is left before the deadline (a working
        deadline does not bound the wait for the first byte: see the module docstring)."""
        if deadline is None:
            return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChatError("deadline reached before the request was sent", kind="timeout")
        if self.working_deadline:
            return httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
        return httpx.Timeout(min(self.read_timeout, left), connect=min(self.connect_timeout, left))

    def _once(
        self, request: dict[str, Any], deadline: float | None, on_delta: Callable[[str, str], None] | None
    ) -> ChatResponse:
        timeout = self._timeout(deadline)
        self.attempts += 1
        started = time.monotonic()
        acc = StreamAccumulator(on_delta)
        connected: list[bool] = []  # a new connection was made for this attempt
        responded = False

        def trace(event: str, _info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.started":
                connected.append(True)

        try:
            with self._http.stream("POST", self._chat_url, content=self.encoder.encode(request), timeout=timeout,
                                   extensions={"trace": trace}) as r:
                responded = True
                resp, first_token = self._read(r, request, acc, started, deadline)
        except httpx.ConnectTimeout as exc:
            raise _Retry(ChatError(f"connect timeout to {self.base_url}", kind="connection")) from exc
        except httpx.ConnectError as exc:
            raise _Retry(
                ChatError(f"cannot connect to {self.base_url}: {one_line(str(exc), 200)}", kind="connection")
            ) from exc
        except httpx.TimeoutException as exc:
            waited = time.monotonic() - started
            raise ChatError(f"no data from the server for {waited:.1f}s (read timeout)", kind="timeout") from exc
        except httpx.TransportError as exc:
            error = ChatError(f"connection lost: {one_line(str(exc) or type(exc).__name__, 200)}", kind="connection")
            if acc.received:
                raise error from exc  # output already consumed: a retry would redo the work
            if not responded and not connected:
                raise _Resend(error) from exc
            raise _Retry(error) from exc
        resp.elapsed = time.monotonic() - started
        resp.first_token = first_token
        return resp

    def _read(
        self, r: httpx.Response, request: dict[str, Any], acc: StreamAccumulator, started: float,
        deadline: float | None,
    ) -> tuple[ChatResponse, float | None]:
        """The response, and seconds to its first delta (streaming only)."""
        if r.status_code >= 400:
            r.read()
            raise self._http_error(r.status_code, r.text)
        if not request.get("stream") or r.headers.get("content-type", "").startswith("application/json"):
            r.read()  # also a server that ignores "stream": one plain completion
            return parse_completion(_json_body(r)), None
        first_token: float | None = None
        waiting = deadline is not None and self.working_deadline  # move the deadline by the wait, once
        for line in sse_lines(r.iter_bytes()):
            if acc.done:
                continue  # drain to the end of the body so the connection is reused
            if waiting and deadline is not None:
                deadline += time.monotonic() - started
                waiting = False
            acc.feed_line(line)
            if first_token is None and acc.received:
                first_token = time.monotonic() - started
            if deadline is not None and not acc.done and time.monotonic() > deadline:
                raise ChatError("deadline reached while the model was still generating", kind="timeout")
        if not acc.done and acc.finish_reason is None:
            raise ChatError("stream ended before the response was complete", kind="connection")
        return acc.response(), first_token

    def _http_error(self, status: int, body: str) -> Exception:
        message = f"HTTP {status}: {error_message(body)}"
        kind = "context_overflow" if status in (400, 413, 500) and is_context_overflow(body) else "http"
        error = ChatError(message, status=status, body=body[:4000], kind=kind)
        if kind == "http" and (status >= 500 or status == 429):
            return _Retry(error)
        return error
