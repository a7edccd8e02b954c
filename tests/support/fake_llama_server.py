"""A stand-in ``llama-server`` executable for lifecycle tests (no model, no compiler needed).

It accepts llama-server's command line, records it (``$FAKE_LLAMA_ARGV_LOG``, one JSON line per
start), and then, depending on ``$FAKE_LLAMA_MODE``:

* ``serve`` (default): serves a :class:`ScriptedServer` on ``--host``/``--port`` whose script is
  ``$FAKE_LLAMA_SCRIPT`` (``module:attr``, called with ``$FAKE_LLAMA_DATASET`` when set), with
  ``--parallel`` slots and ``$FAKE_LLAMA_LATENCY`` seconds per response;
* ``exit``: prints a few log lines and exits with status 3 during start-up;
* ``die-once``: like ``serve``, but the first start exits after ``$FAKE_LLAMA_DIE_AFTER``
  seconds (a crash mid-run); later starts serve normally.

Run as ``python -m tests.support.fake_llama_server --model M --port P ...``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from tests.support.scripted_server import ScriptedServer


def main() -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--model", "-m")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--parallel", "-np", type=int, default=1)
    parser.add_argument("--version", action="store_true")
    args, _ = parser.parse_known_args()
    if args.version:
        print("version: 0 (fake llama-server for tests)")
        return 0
    log = os.environ.get("FAKE_LLAMA_ARGV_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(json.dumps({"pid": os.getpid(), "argv": sys.argv[1:]}) + "\n")
    mode = os.environ.get("FAKE_LLAMA_MODE", "serve")
    print(f"fake llama-server: loading model {args.model}", flush=True)
    if mode == "exit":
        print("error: failed to load model: unsupported GGUF version", flush=True)
        print("main: exiting due to model loading error", flush=True)
        return 3
    module, _, attr = os.environ.get("FAKE_LLAMA_SCRIPT", "tests.support.models:ReferenceModel").partition(":")
    factory = getattr(importlib.import_module(module), attr)
    dataset = os.environ.get("FAKE_LLAMA_DATASET")
    script = factory(Path(dataset)) if dataset else factory
    latency = float(os.environ.get("FAKE_LLAMA_LATENCY", "0"))
    server = ScriptedServer(script, host=args.host, port=args.port, slots=args.parallel, latency=latency,
                            repeat=True).start()
    print(f"main: server is listening on http://{args.host}:{args.port}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    if mode == "die-once":
        marker = Path(os.environ["FAKE_LLAMA_ARGV_LOG"] + ".died")
        if not marker.exists():
            marker.write_text("1")
            done.wait(float(os.environ.get("FAKE_LLAMA_DIE_AFTER", "3")))
            print("GGML_ASSERT: simulated crash", flush=True)
            os._exit(134)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
