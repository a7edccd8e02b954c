"""A stand-in ``llama-server`` executable for lifecycle tests (no model, no compiler needed).

It accepts llama-server's command line, records it (``$FAKE_LLAMA_ARGV_LOG``, one JSON line per
start, with the ``CUDA_VISIBLE_DEVICES`` it was given), and then, depending on ``$FAKE_LLAMA_MODE``:

* ``serve`` (default): serves a :class:`ScriptedServer` on ``--host``/``--port`` whose script is
  ``$FAKE_LLAMA_SCRIPT`` (``module:attr``, called with ``$FAKE_LLAMA_DATASET`` when set), with
  ``--parallel`` slots, the context ``--ctx-size``/``--kv-unified-per-slot`` give, the ``--model``
  path as its model, and ``$FAKE_LLAMA_LATENCY`` seconds per response;
* ``exit``: prints a few log lines and exits with status 3 during start-up;
* ``die-once``: like ``serve``, but the first start crashes (exit 134, as on a GGML_ASSERT) when
  its ``$FAKE_LLAMA_DIE_AT``-th chat request (default 1) arrives; later starts serve normally;
* ``die-always``: every start crashes at its ``$FAKE_LLAMA_DIE_AT``-th chat request.

Starts after the first answer 503 "Loading model" for ``$FAKE_LLAMA_RESTART_LOADING`` seconds
(default 0), like a real server loading weights; tests use it to outlast the client's own
connection retries so the harness's re-run path is what recovers. ``$FAKE_LLAMA_REQUEST_LOG``
gets one JSON line per chat request: ``{"pid", "n", "exercise", "try", "step"}`` (exercise as
``language/slug``; step = assistant turns so far in the try), so a test can tell a fresh re-run
of an exercise (step 0) from a client's retry of the same request.

A crash by request count rather than by time keeps the tests deterministic on a loaded machine.
Run as ``python -m tests.support.fake_llama_server --model M --port P ...``;
:mod:`tests.support.fake_mlx_server` reuses :func:`serve` for ``mlx_lm.server``.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.scripted_server import ScriptedServer


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--model", "-m")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--parallel", "-np", type=int, default=1)
    parser.add_argument("--ctx-size", "-c", type=int, default=0)
    parser.add_argument("--kv-unified-per-slot", type=int, default=0)
    parser.add_argument("--version", action="store_true")
    args, _ = parser.parse_known_args(argv)
    return args


def record_start(argv: list[str]) -> int:
    """Append this start to the argv log; returns how many starts the log holds now."""
    log = os.environ.get("FAKE_LLAMA_ARGV_LOG")
    if not log:
        return 1
    with open(log, "a") as fh:
        fh.write(json.dumps({"pid": os.getpid(), "argv": argv, "cuda": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\n")
    with open(log) as fh:
        return sum(1 for line in fh if line.strip())


def load_script() -> Any:
    module, _, attr = os.environ.get("FAKE_LLAMA_SCRIPT", "tests.support.models:ReferenceModel").partition(":")
    factory = getattr(importlib.import_module(module), attr)
    dataset = os.environ.get("FAKE_LLAMA_DATASET")
    return factory(Path(dataset)) if dataset else factory


def counted(script: Any, server_box: list[ScriptedServer], die_at: int | None) -> Any:
    """Wrap the script: log each chat request, crash the process at request ``die_at``."""
    from tests.support.models import task_of

    counter = itertools.count(1)
    request_log = os.environ.get("FAKE_LLAMA_REQUEST_LOG")

    def wrapped(request: dict[str, Any]) -> Any:
        server = server_box[0]
        if time.monotonic() < server._ready_at:
            return {}  # still "loading": the server answers 503 whatever we return
        number = next(counter)
        language, slug, try_number, steps = task_of(request)
        if request_log:
            entry = {"pid": os.getpid(), "n": number, "exercise": f"{language}/{slug}", "try": try_number,
                     "step": steps}
            with open(request_log, "a") as fh:
                fh.write(json.dumps(entry) + "\n")
        if die_at is not None and number >= die_at:
            print(f"GGML_ASSERT: simulated crash at request {number}", flush=True)
            os._exit(134)
        return script(request)

    return wrapped


def serve(args: argparse.Namespace, starts: int, *, health: bool = True) -> int:
    """Serve until SIGTERM/SIGINT; ``health=False`` answers 404 on /health and /props (MLX has neither)."""
    mode = os.environ.get("FAKE_LLAMA_MODE", "serve")
    die = mode == "die-always" or (mode == "die-once" and starts == 1)
    die_at = int(os.environ.get("FAKE_LLAMA_DIE_AT", "1")) if die else None
    loading = float(os.environ.get("FAKE_LLAMA_RESTART_LOADING", "0")) if starts > 1 else 0.0
    latency = float(os.environ.get("FAKE_LLAMA_LATENCY", "0"))
    box: list[ScriptedServer] = []
    script = counted(load_script(), box, die_at)
    # the context as llama-server sizes it: -c split between the slots, or the per-slot size given
    n_ctx = getattr(args, "kv_unified_per_slot", 0) * args.parallel or getattr(args, "ctx_size", 0) or 32768
    server = ScriptedServer(script, host=args.host, port=args.port, slots=args.parallel, latency=latency,
                            repeat=True, loading=loading, model=args.model or "scripted-model", n_ctx=n_ctx,
                            props="ok" if health else "absent")
    if not health:
        server._httpd.RequestHandlerClass = _no_health_handler()
    box.append(server)
    server.start()
    print(f"main: server is listening on http://{args.host}:{args.port} (start {starts}, mode {mode})", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0


def _no_health_handler() -> type:
    from tests.support.scripted_http import Handler

    class NoHealth(Handler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/health":
                return self._json(404, {"detail": "Not Found"})
            return super().do_GET()

    return NoHealth


HELP = """usage: llama-server [options] (stand-in for tests)
-c,    --ctx-size N
-np,   --parallel N
-kvu,  --kv-unified, -no-kvu, --no-kv-unified
--kv-unified-per-slot N
--cache-idle-slots, --no-cache-idle-slots
"""


def main() -> int:
    if "--help" in sys.argv[1:]:
        print(HELP)
        return 0
    args = parse(sys.argv[1:])
    if args.version:
        print("version: 0 (fake llama-server for tests)")
        return 0
    starts = record_start(sys.argv[1:])
    print(f"fake llama-server: loading model {args.model}", flush=True)
    if os.environ.get("FAKE_LLAMA_MODE") == "exit":
        print("error: failed to load model: unsupported GGUF version", flush=True)
        print("main: exiting due to model loading error", flush=True)
        return 3
    return serve(args, starts)


if __name__ == "__main__":
    sys.exit(main())
