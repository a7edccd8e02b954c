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
``usage_in_finish_chunk``, ``ignore_stream`` (answer JSON even to a streaming request), ``chunk_size``
(characters per streamed delta), ``chunk_delay``
(seconds between streamed chunks: a slow decoder).

``work`` (seconds the request keeps its slot, reported as the server's own prompt and generation
time in ``timings``: a request that waits for a slot shows the wait as round trip minus timings).

``limit_slots=True`` makes it serve at most ``slots`` chat requests at once, the others waiting
for a free slot, as llama-server does (otherwise it answers every request at once).

The harness's preflight requests (marked by :mod:`agent.probe`) never reach the script and are
not in ``requests``/``sent``/the ledger (they are in ``preflight``): the probe is answered with a
call to the offered tool (``probe=SPEC`` replaces that answer: a hang, an error, text), the warm-up
with one token. Misbehaviours for the preflight's checks: ``tools_error=(status, message)``
answers every request carrying ``tools`` with that error (a chat template that cannot render
them), ``props="absent"`` or ``"malformed"`` (a server without llama.cpp's ``/props``),
``timings=False`` (no ``timings`` in any response, as MLX). For health checks: ``slow_after=N``
and ``slow_factor=F`` report every script response after the N-th F times slower; ``jitter=J``
scales each response's timings by a random factor in [1-J, 1+J] (seeded by ``jitter_seed``).
``ledger=PATH`` appends one JSON line per chat request — ``{"port", "pid", "n", "exercise",
"try", "step", "start", "end"}`` (exercise ``language/slug`` from the harness's task prompt) —
so tests of several servers can check from each server's own record which requests it served.

Its prefix cache is one figure per slot (``id_slot``; unpinned requests share one): a request finds
what its slot's previous request left (``clears_idle_slots=True``: only if no other slot worked
since, as llama-server with a unified KV cache and ``--cache-idle-slots``).

Like llama-server it answers 400 ``exceed_context_size_error`` when the prompt exceeds the slot
context (``n_ctx`` / ``slots``), 500 on a tool call whose arguments are not valid JSON in the
history, and (``strict=True``, like strict chat templates) 500 on a tool call without a tool
result. It ignores a non-string ``tool_choice`` (recorded in ``warnings``). Usage and timings
are deterministic (see :mod:`tests.support.scripted_wire`); what was sent is in ``sent``.

Run standalone: ``python -m tests.support.scripted_server --script FILE.json --port N``, or with
``--callable module:attr --callable-kwargs JSON`` to build the script by calling ``attr(**kwargs)``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.support import scripted_wire as wire
from tests.support.scripted_http import Handler, Server
from tests.support.scripted_wire import tool_call

__all__ = ["ScriptedServer", "solution_script", "tool_call"]

Spec = dict[str, Any]
Script = Sequence[Spec] | Callable[[dict[str, Any]], Spec | None]


def solution_script(files: dict[str, str], summary: str = "done") -> list[Spec]:
    """A model that writes ``files`` (workspace-relative path → content), then calls finish."""
    writes = [{"tool_calls": [tool_call("write", {"path": path, "content": text})]} for path, text in files.items()]
    return [*writes, {"tool_calls": [tool_call("finish", {"summary": summary})]}]


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
        limit_slots: bool = False,
        ledger: str | None = None,
        chat_template: str = "",
        probe: Spec | None = None,
        tools_error: tuple[int, str] | None = None,
        props: str = "ok",
        timings: bool = True,
        slow_after: int | None = None,
        slow_factor: float = 1.0,
        jitter: float = 0.0,
        jitter_seed: int | None = None,
        clears_idle_slots: bool = False,
    ) -> None:
        self.script, self.repeat, self.strict = script, repeat, strict
        self.probe, self.tools_error, self.props, self.timings = probe, tools_error, props, timings
        self.slow_after, self.slow_factor = slow_after, slow_factor
        self.jitter, self._random = jitter, random.Random(jitter_seed)
        self.clears_idle_slots = clears_idle_slots
        self.chat_template = chat_template  # what /props reports (the agent detects the call syntax from it)
        self.preflight: list[dict[str, Any]] = []  # {"kind": "probe" | "warm_up", "request": …}
        self.n_ctx, self.slots, self.model, self.latency = n_ctx, slots, model, latency
        self.requests: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.handle_seconds: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._slot_cache: dict[Any, int] = {}  # id_slot (None: unpinned) → prompt tokens its cache holds
        self._ready_at = time.monotonic() + loading
        self.slot_gate = threading.Semaphore(max(1, slots)) if limit_slots else None
        self.ledger = ledger
        self._httpd = Server((host, port), Handler)
        self._httpd.scripted = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def chat_url(self) -> str:
        return self.url + "/v1/chat/completions"

    @property
    def n_ctx_slot(self) -> int:
        return self.n_ctx // max(1, self.slots)

    def start(self) -> ScriptedServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-server", daemon=True
        )
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

    def record(self, request: dict[str, Any], index: int, start: float, end: float) -> None:
        """One ledger line for a chat request (see the module docstring)."""
        if not self.ledger:
            return
        from tests.support.models import task_of

        language, slug, try_number, steps = task_of(request)
        entry = {"port": self._httpd.server_address[1], "pid": os.getpid(), "n": index,
                 "exercise": f"{language}/{slug}", "try": try_number, "step": steps, "start": start, "end": end}
        with self._lock, open(self.ledger, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    # -- accounting helpers for tests --------------------------------------------------------
    def totals(self) -> dict[str, float]:
        """Sums over every successful response sent: usage fields and timings fields."""
        out: dict[str, float] = dict.fromkeys(
            (
                "prompt_tokens",
                "completion_tokens",
                "cached_tokens",
                "prompt_n",
                "prompt_ms",
                "predicted_n",
                "predicted_ms",
            ),
            0,
        )
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

    def cache_before(self, request: dict[str, Any]) -> int:
        """The prefix cache this request finds: what its slot (``id_slot``) held after its last
        request; with ``clears_idle_slots``, the other slots lose theirs (llama.cpp with a unified KV
        cache and ``--cache-idle-slots``)."""
        slot = request.get("id_slot")
        with self._lock:
            if self.clears_idle_slots:
                self._slot_cache = {k: v for k, v in self._slot_cache.items() if k == slot}
            return self._slot_cache.get(slot, 0)

    def cache_after(self, request: dict[str, Any], prompt_tokens: int) -> None:
        with self._lock:
            self._slot_cache[request.get("id_slot")] = prompt_tokens

    def shape_timings(self, timings: dict[str, Any] | None, spec: Spec, index: int) -> dict[str, Any] | None:
        """The timings a response reports: none (``timings=False``), the spec's ``work`` as the
        server's own time, slowed after ``slow_after`` responses, jittered."""
        if timings is None or not self.timings:
            return None
        if spec.get("work"):  # prompt and generation took the work's seconds between them
            timings = wire.scale_timings(timings, float(spec["work"]) * 1000 / (timings["prompt_ms"]
                                                                                + timings["predicted_ms"]))
        factor = self.slow_factor if self.slow_after is not None and index >= self.slow_after else 1.0
        if self.jitter:
            with self._lock:
                factor *= self._random.uniform(1 - self.jitter, 1 + self.jitter)
        return wire.scale_timings(timings, factor) if factor != 1.0 else timings

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
                "message": f"request ({prompt} tokens) exceeds the available context size ({self.n_ctx_slot} tokens), "
                           "try increasing it",
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


def _load_script(args: argparse.Namespace) -> tuple[Script, dict[str, Any]]:
    if args.callable:
        module, _, attr = args.callable.partition(":")
        script = getattr(importlib.import_module(module), attr)
        return (script(**json.loads(args.callable_kwargs)) if args.callable_kwargs else script), {}
    with open(args.script, encoding="utf-8") as fh:
        data = json.load(fh)
    if isinstance(data, list):
        return data, {}
    options = {k: data[k] for k in ("n_ctx", "slots", "model", "latency", "repeat", "strict", "loading") if k in data}
    return data.get("responses", []), options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.scripted_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--script",
        help="JSON file: a list of response specs, or {responses: [...], n_ctx, slots, model, latency, repeat, strict}",
    )
    parser.add_argument("--callable", help="module:attr of a script callable(request) -> spec")
    parser.add_argument("--callable-kwargs", help="JSON object: the script is attr(**kwargs) (a factory)")
    parser.add_argument("--limit-slots", action="store_true", help="serve at most --slots requests at once")
    parser.add_argument("--ledger", help="append one JSON line per chat request to this file")
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
    server = ScriptedServer(script, host=args.host, port=args.port, limit_slots=args.limit_slots, ledger=args.ledger,
                            **options).start()
    print(f"SCRIPTED_SERVER_URL={server.url}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
