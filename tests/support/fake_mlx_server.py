"""A stand-in ``mlx_lm.server`` (Apple Silicon only in reality) for lifecycle tests on Linux.

Like the real one it takes ``--model``, ``--host``, ``--port`` (plus whatever the config's
``extra_args`` add) and answers ``/v1/models`` but **not** ``/health`` — so a harness that
polled ``/health`` for MLX would never see it ready. It refuses llama.cpp-only flags
(``--parallel``, ``--jinja``, ``-c``…) the way argparse in mlx_lm does, so a command built
for the wrong server fails loudly. Same environment as :mod:`tests.support.fake_llama_server`
(``FAKE_LLAMA_ARGV_LOG``, ``FAKE_LLAMA_SCRIPT``, ``FAKE_LLAMA_DATASET``…).
"""

from __future__ import annotations

import argparse
import sys

from tests.support.fake_llama_server import record_start, serve

LLAMA_ONLY = ("--parallel", "-np", "--jinja", "-c", "--ctx-size", "--kv-unified", "--chat-template-file", "--alias")


def main() -> int:
    argv = sys.argv[1:]
    parser = argparse.ArgumentParser(prog="mlx_lm.server")
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args, unknown = parser.parse_known_args(argv)
    wrong = [a for a in unknown if a in LLAMA_ONLY]
    if wrong:
        parser.error(f"unrecognized arguments: {' '.join(wrong)}")
    args.parallel = 1
    starts = record_start(argv)
    print(f"fake mlx_lm.server: loading {args.model}", flush=True)
    return serve(args, starts, health=False)


if __name__ == "__main__":
    sys.exit(main())
