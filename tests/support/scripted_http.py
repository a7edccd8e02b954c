"""The HTTP side of :class:`tests.support.scripted_server.ScriptedServer`.

Request routing, llama-server-shaped answers (JSON and SSE with chunked transfer encoding,
keep-alive), and the failure modes a spec asks for (delay, hang, dropped connection).
Kept apart from the server's public class, which holds the script and what was recorded.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from tests.support import scripted_wire as wire

if TYPE_CHECKING:
    from tests.support.scripted_server import ScriptedServer, Spec


class Server(ThreadingHTTPServer):
    daemon_threads = True
    scripted: ScriptedServer  # the fake model this server answers for (set by ScriptedServer)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # clients hang up: normal
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
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
        assert isinstance(self.server, Server)
        return self.server.scripted

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
                return self._json(
                    503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
                )
            return self._json(200, {"status": "ok"})
        if path == "/props" and fake.props == "absent":
            return self._json(404, {"detail": "Not Found"})
        if path == "/props" and fake.props == "malformed":
            return self._json(200, ["not", "the", "props", "of", "llama.cpp"])
        if path == "/slots" and fake.props != "ok":
            return self._json(404, {"detail": "Not Found"})
        if path == "/props":
            return self._json(
                200,
                {
                    "default_generation_settings": {"n_ctx": fake.n_ctx_slot},
                    "total_slots": fake.slots,
                    "model_path": fake.model,
                    "build_info": "b0-scripted",
                    "chat_template": fake.chat_template,
                },
            )
        if path in ("/v1/models", "/models"):
            return self._json(
                200, {"object": "list", "data": [{"id": fake.model, "object": "model", "owned_by": "scripted"}]}
            )
        if path == "/slots":
            return self._json(
                200, [{"id": i, "n_ctx": fake.n_ctx_slot, "is_processing": False} for i in range(fake.slots)]
            )
        if path == "/metrics":
            data = fake.metrics_text().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        if path == "/_scripted/requests":  # for tests that run the server as a subprocess
            return self._json(
                200,
                {
                    "requests": fake.requests,
                    "sent": fake.sent,
                    "warnings": fake.warnings,
                    "handle_seconds": fake.handle_seconds,
                },
            )
        return self._json(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})

    def do_POST(self) -> None:
        if self.path.split("?")[0] not in ("/v1/chat/completions", "/chat/completions"):
            return self._json(404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}})
        fake = self.fake
        try:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        except ValueError as exc:
            return self._json(
                400, {"error": {"code": 400, "message": f"invalid JSON: {exc}", "type": "invalid_request_error"}}
            )
        kind = wire.preflight_kind(request)
        if kind is not None:
            answer = (fake.probe or wire.probe_answer(request)) if kind == "probe" else {"content": "",
                                                                                         "finish_reason": "length"}
            fake.preflight.append({"kind": kind, "request": request})
            return self._answer(fake, request, -1, answer, preflight=True)
        index, spec = fake._next(request)
        gate = fake.slot_gate
        if gate is not None:
            gate.acquire()  # a free slot, as llama-server queues requests beyond its slots
        start = time.time()
        try:
            self._answer(fake, request, index, spec)
        finally:
            if gate is not None:
                gate.release()
            fake.handle_seconds.append(time.perf_counter() - self.started)
            fake.record(request, index, start, time.time())

    def _answer(self, fake: ScriptedServer, request: dict[str, Any], index: int, spec: Spec | None,
                preflight: bool = False) -> None:
        sent: list[dict[str, Any]] = [] if preflight else fake.sent  # preflight requests stay out of the script's books
        if fake.latency:
            time.sleep(fake.latency)
        if fake.tools_error and request.get("tools"):
            status, message = fake.tools_error
            sent.append({"status": status, "error": message})
            return self._json(status, {"error": {"code": status, "message": message, "type": "server_error"}})
        if (problem := fake._check(request)) is not None:
            sent.append({"status": problem[0], "error": problem[1]["message"]})
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
        if spec.get("work"):
            time.sleep(float(spec["work"]))
        if spec.get("status", 200) >= 400:
            status, message = int(spec["status"]), spec.get("error", "scripted error")
            sent.append({"status": status, "error": message})
            return self._json(status, {"error": {"code": status, "message": message, "type": "server_error"}})
        usage, timings = wire.accounting(spec, request, index, fake.cache_before(request))
        timings = fake.shape_timings(timings, spec, index)
        fake.cache_after(request, usage.get("prompt_tokens", 0))
        record = {"status": 200, "usage": usage, "timings": timings, "stream": bool(request.get("stream"))}
        if spec.get("drop_after") is not None:
            record["dropped"] = True  # the client never sees this accounting
        sent.append(record)
        if request.get("stream") and not spec.get("ignore_stream"):
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
