"""CPU cost of one streamed chat completion: the agent's client against httpx, same server, same parsing.

Why this exists: agent/http11.py says the agent talks HTTP through ``http.client`` rather than
httpx because httpx costs about twice the CPU per streamed response, which decided whether the
per-turn overhead goal (bench/agent_overhead.py, ≤ 2 ms) is met. This prints both figures.

Both clients send the same 17 KB request body to the scripted server (its own process, as
llama-server is) and feed every SSE line to the same :class:`agent.sse.StreamAccumulator`; the
figure is the median CPU time of the calling thread per request (waiting for the server costs
no CPU, so the server's speed does not enter it).

    .venv/bin/python bench/http_clients.py [--requests 600]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent import HttpChatClient  # noqa: E402
from agent.client import _lines  # noqa: E402
from agent.sse import StreamAccumulator  # noqa: E402
from tests.support.scripted_server import tool_call  # noqa: E402

SCRIPT = {"responses": [{"tool_calls": [tool_call("read", {"path": "a.py"})]}], "repeat": True, "strict": False}
BODY = {
    "model": "m",
    "stream": True,
    "stream_options": {"include_usage": True},
    "messages": [{"role": "user", "content": "def f(x):\n    return x + 1\n" * 70}] * 8,
}


def cpu_ms_per_call(call: Callable[[], None], n: int) -> float:
    times = []
    for _ in range(n):
        started = time.thread_time()
        call()
        times.append(time.thread_time() - started)
    return statistics.median(times[20:]) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "script.json"
        script.write_text(json.dumps(SCRIPT))
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.scripted_server", "--script", str(script)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip().split("=", 1)[1]
            ours = HttpChatClient(url)
            data = ours.encoder.encode(BODY)
            hx = httpx.Client()

            def with_ours() -> None:
                assert ours.complete(BODY).tool_calls

            def with_httpx() -> None:
                acc = StreamAccumulator()
                headers = {"Content-Type": "application/json"}
                with hx.stream("POST", url + "/v1/chat/completions", content=data, headers=headers) as r:
                    for line in _lines(r.iter_bytes()):
                        if not acc.done:
                            acc.feed_line(line)
                assert acc.response().tool_calls

            rounds = {"agent client (http.client)": [], "httpx.Client.stream": []}
            for _ in range(3):  # interleaved, so drifting machine load hits both alike
                rounds["agent client (http.client)"].append(cpu_ms_per_call(with_ours, args.requests))
                rounds["httpx.Client.stream"].append(cpu_ms_per_call(with_httpx, args.requests))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"CPU per streamed completion ({len(data):,}-byte request, median of {args.requests} requests × 3 rounds):")
    for name, figures in rounds.items():
        print(f"  {name:28s} {statistics.median(figures):.2f} ms  (rounds: {', '.join(f'{f:.2f}' for f in figures)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
