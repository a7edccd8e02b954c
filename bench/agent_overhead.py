"""How much time the agent itself adds per turn, against a zero-latency scripted model.

A turn here is one cycle from sending a request to sending the next one: HTTP round trip,
SSE parsing, accounting, tool execution (a small ``read``), logging and planning the next
request. The scripted server's own time per request (from its request line to its last byte)
is measured on its side and subtracted, so what remains is the harness's share. The server runs
in its own process, as llama-server does (``--inprocess`` shares the GIL with the agent and
inflates the figure). Goal: a median of at most 2 ms per turn.

    .venv/bin/python bench/agent_overhead.py [--turns 300] [--no-stream] [--history 16] [--inprocess]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent import Agent, HttpChatClient, load_config  # noqa: E402
from tests.support.scripted_server import ScriptedServer, tool_call  # noqa: E402

# Two alternating reads, forever: the agent stops at max_turns.
SCRIPT = [{"tool_calls": [tool_call("read", {"path": "a.py"})]}, {"tool_calls": [tool_call("read", {"path": "b.py"})]}]


class _Remote:
    """The scripted server as a child process."""

    def __init__(self, tmp: Path) -> None:
        script = tmp / "script.json"
        script.write_text(json.dumps({"responses": SCRIPT, "repeat": True}))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.scripted_server", "--script", str(script)],
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip().split("=", 1)[1]

    def handle_seconds(self) -> list[float]:
        return httpx.get(self.url + "/_scripted/requests").json()["handle_seconds"]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class _Local:
    def __init__(self, tmp: Path) -> None:
        self.server = ScriptedServer(SCRIPT, repeat=True).start()
        self.url = self.server.url

    def handle_seconds(self) -> list[float]:
        return self.server.handle_seconds

    def stop(self) -> None:
        self.server.stop()


def measure(turns: int, stream: bool, history: int, inprocess: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ws = tmp / "ws"
        ws.mkdir()
        for name in ("a.py", "b.py"):
            (ws / name).write_text("".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(20)))
        sent_at: list[float] = []
        tool_time: list[float] = []

        def on_event(event: dict[str, Any]) -> None:
            if event["event"] == "request":
                sent_at.append(time.perf_counter())
            elif event["event"] == "tool_result":
                tool_time.append(event["duration"])

        cfg = load_config("gguf/qwen3-coder-next-q4km", overrides={
            "max_turns": turns, "stream": stream, "history_max_messages": history, "noop_guard_turns": turns + 1})
        server = (_Local if inprocess else _Remote)(tmp)
        try:
            with HttpChatClient(server.url) as client:
                agent = Agent(cfg, client=client, workspace=ws, log_dir=tmp / "logs", context_window=32768, on_event=on_event)
                started = time.perf_counter()
                result = agent.run("Read the files.")
                wall = time.perf_counter() - started
            handled = server.handle_seconds()
        finally:
            server.stop()
        assert result.stop_reason == "max_turns" and result.metrics["tool_errors_total"] == 0, (result.stop_reason, result.error)
        cycles = [b - a for a, b in zip(sent_at, sent_at[1:])]
        steady = [c - s for c, s in zip(cycles, handled)][5:]  # skip warm-up: first connection, caches
        return {
            "turns": len(cycles),
            "median_ms": statistics.median(steady) * 1000,
            "p90_ms": statistics.quantiles(steady, n=10)[-1] * 1000,
            "tool_median_ms": statistics.median(tool_time) * 1000,
            "server_median_ms": statistics.median(handled) * 1000,
            "wall_s": wall,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--no-stream", action="store_true")
    parser.add_argument("--history", type=int, default=16, help="history_max_messages (0: unlimited)")
    parser.add_argument("--inprocess", action="store_true", help="run the scripted server in this process")
    args = parser.parse_args()
    r = measure(args.turns, not args.no_stream, args.history, args.inprocess)
    mode = ("non-streaming" if args.no_stream else "streaming") + (", in-process server" if args.inprocess else "")
    print(f"agent overhead per turn ({mode}, history {args.history or 'unlimited'}, {r['turns']} turns): "
          f"median {r['median_ms']:.2f} ms, p90 {r['p90_ms']:.2f} ms "
          f"(tool execution {r['tool_median_ms']:.2f} ms of it; server's own time excluded: median "
          f"{r['server_median_ms']:.2f} ms; wall {r['wall_s']:.1f} s)")
    return 0 if r["median_ms"] <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
