"""A scripted stand-in for llama-server: real HTTP on 127.0.0.1, canned model responses.

The project's shared fake model. Tests drive the agent (and the harness) over real sockets, so
the httpx client, SSE parsing, timeouts and retries are exercised exactly as against llama.cpp::

    from tests.support.scripted_server import ScriptedServer, tool_call

    with ScriptedServer([
        {"tool_calls": [tool_call("write", {"path": "a.py", "content": "x = 1\\n"})]},
        {"content": "done"},
    ]) as server:
        client = HttpChatClient(server.url)
        ...
        assert len(server.requests) == 2

A *script* is a list of response specs (consumed one per chat request; ``repeat=True`` cycles)
or a callable ``script(request_dict) -> spec`` (return ``None`` to end). Spec keys, all optional:

``content``, ``reasoning`` (sent as ``reasoning_content``), ``tool_calls`` (list of
:func:`tool_call`; ``arguments`` may be a raw broken string), ``finish_reason`` (default
``tool_calls``/``stop``), ``usage`` / ``timings`` (override the computed numbers; ``timings:
False`` omits them, as MLX does), ``status`` + ``error`` (an HTTP error with llama.cpp's error
body), ``delay`` (seconds before answering), ``hang`` (never answer: ``True`` until the server
stops, or a number of seconds, then drop), ``drop_after`` (close the connection after N stream
chunks), ``call_in_content`` (``{"name", "arguments", "style"}``: a tool call leaked into
``content``; styles in :func:`scripted_wire.content_call`), ``ping`` (N ``: ping`` lines first),
``usage_in_finish_chunk``, ``chunk_size`` (characters per streamed delta), ``chunk_delay``
(seconds between streamed chunks: a slow decoder).

Like llama-server it answers 400 ``exceed_context_size_error`` when the prompt exceeds the slot
context (``n_ctx`` / ``slots``), 500 on a tool call whose arguments are not valid JSON in the
history, and (``strict=True``, like strict chat templates) 500 on a tool call without a tool
result. It ignores a non-string ``tool_choice`` (recorded in ``warnings``). Usage and timings
are deterministic (see :mod:`tests.support.scripted_wire`); what was sent is in ``sent``.

Run standalone: ``python -m tests.support.scripted_server --script FILE.json --port N``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import scripted_wire as wire
from tests.support.scripted_wire import tool_call

__all__ = ["ScriptedServer", "tool_call"]

Spec = dict[str, Any]
Script = Sequence[Spec] | Callable[[dict[str, Any]], Spec | None]


class ScriptedServer:
    """One fake llama-server. Attributes tests read: ``requests``, ``sent``, ``warnings``,
    ``handle_seconds`` (server-side time per chat request, for overhead benchmarks)."""

    def __init__(
        self,
        script: Script = (),
        *,
        n_ctx: int = 32768,
        slots: int = 1,
        model: str = "scripted-model",
        latency: float = 0.0,
        repeat: bool = False,
        strict: bool = True,
        loading: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.script, self.repeat, self.strict = script, repeat, strict
        self.n_ctx, self.slots, self.model, self.latency = n_ctx, slots, model, latency
        self.requests: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.handle_seconds: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last_prompt = 0
        self._ready_at = time.monotonic() + loading
        self._httpd = _Server((host, port), _Handler)
        self._httpd.scripted = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def chat_url(self) -> str:
        return self.url + "/v1/chat/completions"

    @property
    def n_ctx_slot(self) -> int:
        return self.n_ctx // max(1, self.slots)

    def start(self) -> ScriptedServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- accounting helpers for tests --------------------------------------------------------
    def totals(self) -> dict[str, float]:
        """Sums over every successful response sent: usage fields and timings fields."""
        out = dict.fromkeys(("prompt_tokens", "completion_tokens", "cached_tokens", "prompt_n", "prompt_ms", "predicted_n", "predicted_ms"), 0)
        for s in self.sent:
            if s.get("dropped"):
                continue
            usage, timings = s.get("usage") or {}, s.get("timings") or {}
            out["prompt_tokens"] += usage.get("prompt_tokens", 0)
            out["completion_tokens"] += usage.get("completion_tokens", 0)
            out["cached_tokens"] += (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
            for key in ("prompt_n", "prompt_ms", "predicted_n", "predicted_ms"):
                out[key] += timings.get(key, 0)
        return out

    # -- script ------------------------------------------------------------------------------
    def _next(self, request: dict[str, Any]) -> tuple[int, Spec | None]:
        with self._lock:
            index = len(self.requests)
            self.requests.append(request)
        if callable(self.script):
            return index, self.script(request)
        if index < len(self.script):
            return index, self.script[index]
        if self.repeat and self.script:
            return index, self.script[index % len(self.script)]
        return index, None

    def _check(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """An error llama-server itself would answer with, else None."""
        if time.monotonic() < self._ready_at:
            return 503, {"code": 503, "message": "Loading model", "type": "unavailable_error"}
        choice = request.get("tool_choice")
        if choice is not None and not isinstance(choice, str):
            self.warnings.append("Wrong type supplied for parameter 'tool_choice': type must be string; using auto")
        if self.strict and (problem := wire.history_error(request)):
            return 500, {"code": 500, "message": problem, "type": "server_error"}
        prompt = wire.prompt_tokens_of(request)
        if prompt > self.n_ctx_slot:
            return 400, {
                "code": 400,
                "type": "exceed_context_size_error",
                "message": f"request ({prompt} tokens) exceeds the available context size ({self.n_ctx_slot} tokens), try increasing it",
                "n_prompt_tokens": prompt,
                "n_ctx": self.n_ctx_slot,
            }
        return None

    def metrics_text(self) -> str:
        t = self.totals()
        rows = [
            ("prompt_tokens_total", "counter", t["prompt_n"]),
            ("prompt_seconds_total", "counter", t["prompt_ms"] / 1000),
            ("tokens_predicted_total", "counter", t["predicted_n"]),
            ("tokens_predicted_seconds_total", "counter", t["predicted_ms"] / 1000),
            ("n_requests_total", "counter", len(self.requests)),
            ("requests_processing", "gauge", 0),
        ]
        return "".join(f"# TYPE llamacpp:{n} {kind}\nllamacpp:{n} {v}\n" for n, kind, v in rows)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # clients hang up: normal
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted-llama/0"

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle + delayed ACK stall every response split over two writes by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def parse_request(self) -> bool:
        self.started = time.perf_counter()  # the request line has arrived: server time starts
        return super().parse_request()

    @property
    def fake(self) -> ScriptedServer:
        return self.server.scripted  # type: ignore[attr-defined]

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        fake, path = self.fake, self.path.split("?")[0]
        if path == "/health":
            if time.monotonic() < fake._ready_at:
                return self._json(503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})
            return self._json(200, {"status": "ok"})
        if path == "/props":
            return self._json(200, {
                "default_generation_settings": {"n_ctx": fake.n_ctx_slot},
                "total_slots": fake.slots,
                "model_path": fake.model,
                "build_info": "b0-scripted",
                "chat_template": "",
            })
        if path in ("/v1/models", "/models"):
            return self._json(200, {"object": "list", "data": [{"id": fake.model, "object": "model", "owned_by": "scripted"}]})
        if path == "/slots":
            return self._json(200, [{"id": i, "n_ctx": fake.n_ctx_slot, "is_processing": False} for i in range(fake.slots)])
        if path == "/metrics":
            data = fake.metrics_text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if path == "/_scripted/requests":  # for tests that run the server as a subprocess
            return self._json(200, {"requests": fake.requests, "sent": fake.sent, "warnings": fake.warnings,
                                    "handle_seconds": fake.handle_seconds})
        return self._json(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})

    def do_POST(self) -> None:
        if self.path.split("?")[0] not in ("/v1/chat/completions", "/chat/completions"):
            return self._json(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})
        fake = self.fake
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        except ValueError as exc:
            return self._json(400, {"error": {"code": 400, "message": f"invalid JSON: {exc}", "type": "invalid_request_error"}})
        index, spec = fake._next(request)
        try:
            self._answer(fake, request, index, spec)
        finally:
            fake.handle_seconds.append(time.perf_counter() - self.started)

    def _answer(self, fake: ScriptedServer, request: dict[str, Any], index: int, spec: Spec | None) -> None:
        if fake.latency:
            time.sleep(fake.latency)
        if (problem := fake._check(request)) is not None:
            fake.sent.append({"status": problem[0], "error": problem[1]["message"]})
            return self._json(problem[0], {"error": problem[1]})
        if spec is None:
            message = f"scripted server: script exhausted after {index} responses"
            fake.sent.append({"status": 500, "error": message})
            return self._json(500, {"error": {"code": 500, "message": message, "type": "server_error"}})
        if spec.get("hang"):
            fake._stop.wait(None if spec["hang"] is True else float(spec["hang"]))
            self.close_connection = True
            return None
        if spec.get("delay"):
            time.sleep(float(spec["delay"]))
        if spec.get("status", 200) >= 400:
            status, message = int(spec["status"]), spec.get("error", "scripted error")
            fake.sent.append({"status": status, "error": message})
            return self._json(status, {"error": {"code": status, "message": message, "type": "server_error"}})
        usage, timings = wire.accounting(spec, request, index, fake._last_prompt)
        fake._last_prompt = usage.get("prompt_tokens", 0)
        record = {"status": 200, "usage": usage, "timings": timings, "stream": bool(request.get("stream"))}
        if spec.get("drop_after") is not None:
            record["dropped"] = True  # the client never sees this accounting
        fake.sent.append(record)
        if request.get("stream"):
            include = bool((request.get("stream_options") or {}).get("include_usage"))
            return self._stream(spec, wire.render_chunks(spec, index, fake.model, usage, timings, include))
        body = json.dumps(wire.render_json(spec, index, fake.model, usage, timings)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if spec.get("drop_after") is not None:
            self.wfile.write(body[: len(body) // 2])
            return self._drop()
        self.wfile.write(body)
        return None

    def _stream(self, spec: Spec, chunks: list[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(text: str) -> None:
            data = text.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        for _ in range(int(spec.get("ping", 0))):
            emit(": ping\n\n")
        drop_after = spec.get("drop_after")
        pause = float(spec.get("chunk_delay", 0))
        for n, chunk in enumerate(chunks):
            if drop_after is not None and n >= int(drop_after):
                return self._drop()
            if pause and n:
                time.sleep(pause)
            emit(f"data: {json.dumps(chunk)}\n\n")
        emit("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        return None

    def _drop(self) -> None:
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True


def _load_script(args: argparse.Namespace) -> tuple[Script, dict[str, Any]]:
    if args.callable:
        module, _, attr = args.callable.partition(":")
        return getattr(importlib.import_module(module), attr), {}
    with open(args.script, encoding="utf-8") as fh:
        data = json.load(fh)
    if isinstance(data, list):
        return data, {}
    options = {k: data[k] for k in ("n_ctx", "slots", "model", "latency", "repeat", "strict", "loading") if k in data}
    return data.get("responses", []), options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.scripted_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--script", help="JSON file: a list of response specs, or {responses: [...], n_ctx, slots, model, latency, repeat, strict}")
    parser.add_argument("--callable", help="module:attr of a script callable(request) -> spec")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, help="seconds added to every chat response")
    parser.add_argument("--n-ctx", type=int)
    parser.add_argument("--slots", type=int)
    parser.add_argument("--repeat", action="store_true", help="cycle the script instead of failing when exhausted")
    args = parser.parse_args(argv)
    if not args.script and not args.callable:
        parser.error("one of --script or --callable is required")
    script, options = _load_script(args)
    for key, value in (("latency", args.latency), ("n_ctx", args.n_ctx), ("slots", args.slots)):
        if value is not None:
            options[key] = value
    if args.repeat:
        options["repeat"] = True
    server = ScriptedServer(script, host=args.host, port=args.port, **options).start()
    print(f"SCRIPTED_SERVER_URL={server.url}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
