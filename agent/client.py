"""The client for ``/v1/chat/completions`` (llama-server, mlx_lm.server, any OpenAI clone).

Why not a bare ``POST``: a local model can think for minutes before the first token, can
be loading (503), can drop the connection, can hang. So: per-read timeouts *and* a caller's total
deadline, retries with backoff for connection errors and 5xx/429 *only before any output arrived*
(a retry after partial output would duplicate work and tokens), and every failure surfaced as a
:class:`ChatError` whose one-line message carries the HTTP status and the server's own error text.
The connections are :mod:`agent.http11`'s (why not httpx: see there).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from agent.http11 import ConnectFailed, ConnectionPool, Exchange
from agent.protocols import ChatError, ChatResponse
from agent.sse import StreamAccumulator, parse_completion

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
        parts.port  # noqa: B018 - raises for a port that is no number
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


class BodyEncoder:
    """JSON request bodies that re-use the encoding of objects sent before.

    Turn after turn the agent sends the same tools list and the same history messages (the
    same objects: history is append-only), plus a few new ones; encoding only what is new
    keeps the per-turn cost flat instead of growing with the transcript. Entries hold a
    reference to their object, so an ``id()`` is never confused with a reused one.
    """

    def __init__(self, limit: int = 20000) -> None:
        self.limit = limit
        self._cache: dict[int, tuple[Any, str]] = {}

    def _cached(self, obj: Any) -> str:
        hit = self._cache.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        text = json.dumps(obj, ensure_ascii=False)
        if len(self._cache) >= self.limit:
            self._cache.clear()
        self._cache[id(obj)] = (obj, text)
        return text

    def encode(self, body: dict[str, Any]) -> bytes:
        parts = []
        for key, value in body.items():
            if key == "messages" and isinstance(value, list):
                text = "[" + ",".join(self._cached(m) for m in value) + "]"
            elif key == "tools":
                text = self._cached(value)
            else:
                text = json.dumps(value, ensure_ascii=False)
            parts.append(json.dumps(key) + ":" + text)
        return ("{" + ",".join(parts) + "}").encode()


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """SSE lines from raw body chunks (lighter than httpx's text and line decoders, which
    cost more than the JSON parsing on a fast local server)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        if b"\n" not in chunk:
            continue
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")


def _json_body(status: int, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        text = body.decode("utf-8", "replace")
        message = f"invalid JSON from server: {one_line(text, 200)}"
        raise ChatError(message, status=status, body=text[:2000], kind="protocol") from exc


class _Retry(Exception):
    """Internal: a failure that may be retried because no output was consumed yet."""

    def __init__(self, error: ChatError) -> None:
        super().__init__(str(error))
        self.error = error


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
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.retries, self.backoff = max(0, retries), backoff
        self.attempts = 0  # total HTTP attempts, for metrics and tests
        self.encoder = BodyEncoder()
        self._headers = {"User-Agent": "localcode", "Content-Type": "application/json", **(headers or {})}
        self._pool = ConnectionPool(self.base_url, connect_timeout=connect_timeout)
        prefix = urlsplit(self.base_url).path  # a server behind a reverse proxy at /llm
        self._chat_path, self._props_path = prefix + "/v1/chat/completions", prefix + "/props"

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> HttpChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def server_props(self) -> dict[str, Any]:
        """``GET /props`` (llama-server: n_ctx per slot, total_slots, build); ``{}`` when absent."""
        try:
            ex = self._pool.request("GET", self._props_path, None, self._headers, timeout=self.connect_timeout)
            try:
                raw = ex.read()
            finally:
                ex.close()
            data = json.loads(raw) if ex.status == 200 else {}
        except (OSError, http.client.HTTPException, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def complete(
        self,
        request: dict[str, Any],
        *,
        deadline: float | None = None,
        on_delta: Callable[[str, str], None] | None = None,
    ) -> ChatResponse:
        attempt = 0
        while True:
            try:
                return self._once(request, deadline, on_delta)
            except _Retry as retry:
                attempt += 1
                wait = self.backoff * 2 ** (attempt - 1)
                if attempt > self.retries or (deadline is not None and time.monotonic() + wait >= deadline):
                    raise retry.error from None
                time.sleep(wait)

    # -- one attempt -------------------------------------------------------------------------
    def _timeouts(self, deadline: float | None) -> tuple[float, float]:
        """(connect, per-read) seconds, both cut to what is left before the deadline."""
        if deadline is None:
            return self.connect_timeout, self.read_timeout
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChatError("deadline reached before the request was sent", kind="timeout")
        return min(self.connect_timeout, left), min(self.read_timeout, left)

    def _once(
        self, request: dict[str, Any], deadline: float | None, on_delta: Callable[[str, str], None] | None
    ) -> ChatResponse:
        connect, read = self._timeouts(deadline)
        self.attempts += 1
        started = time.monotonic()
        acc = StreamAccumulator(on_delta)
        data = self.encoder.encode(request)
        try:
            ex = self._pool.request("POST", self._chat_path, data, self._headers, timeout=read, connect_timeout=connect)
            try:
                resp, first_token = self._read(ex, request, acc, started, deadline)
            finally:
                ex.close()
        except ConnectFailed as exc:
            if exc.timed_out:
                raise _Retry(ChatError(f"connect timeout to {self.base_url}", kind="connection")) from exc
            raise _Retry(
                ChatError(f"cannot connect to {self.base_url}: {one_line(str(exc), 200)}", kind="connection")
            ) from exc
        except TimeoutError as exc:
            waited = time.monotonic() - started
            message = f"no data from the server for {waited:.1f}s (read timeout)"
            raise ChatError(message, kind="timeout") from exc
        except (http.client.HTTPException, OSError) as exc:
            error = ChatError(f"connection lost: {one_line(str(exc) or type(exc).__name__, 200)}", kind="connection")
            if acc.received:
                raise error from exc  # output already consumed: a retry would redo the work
            raise _Retry(error) from exc
        resp.elapsed = time.monotonic() - started
        resp.first_token = first_token
        return resp

    def _read(
        self, ex: Exchange, request: dict[str, Any], acc: StreamAccumulator, started: float, deadline: float | None
    ) -> tuple[ChatResponse, float | None]:
        """The response, and seconds to its first delta (streaming only)."""
        if ex.status >= 400:
            raise self._http_error(ex.status, ex.read().decode("utf-8", "replace"))
        if not request.get("stream") or ex.header("content-type").startswith("application/json"):
            return parse_completion(_json_body(ex.status, ex.read())), None  # also a server ignoring "stream"
        first_token: float | None = None
        for line in _lines(ex.chunks()):
            if acc.done:
                continue  # drain to the end of the body so the connection is reused
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
