"""Working time vs waiting time: four workers share a scripted server with two slots, so requests
queue, and --agent-timeout lies between an exercise's working time and its wall time.

    .venv/bin/python bench/working_time.py [--checkout DIR] [--timeout 8] [--work 1.0] [--looks 4]

Each exercise is ``looks`` reads, a write of the reference solution and a finish, every response
taking ``work`` seconds of the server's own time (reported in its timings); the server serves two
requests at once and the others wait for a slot before any byte, as llama-server does. The run
goes through the pytest of ``--checkout`` (default: this one; a worktree of main shows the
behaviour before), and the script prints, per exercise, how its try stopped, its agent (wall)
seconds, and the working and waiting seconds where the checkout reports them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.benchmark_runs import exercise_paths  # noqa: E402 - needs the checkout on sys.path
from tests.support.datasets import real_dataset  # noqa: E402 - needs the checkout on sys.path
from tests.support.models import ChattyModel  # noqa: E402 - needs the checkout on sys.path
from tests.support.scripted_server import ScriptedServer  # noqa: E402 - needs the checkout on sys.path

FOUR = ["python/proverb", "python/wordy", "python/transpose", "python/pig-latin"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--timeout", type=float, default=8.0, help="--agent-timeout, seconds")
    parser.add_argument("--work", type=float, default=1.0, help="server seconds per response")
    parser.add_argument("--looks", type=int, default=4, help="reads before the write")
    args = parser.parse_args(argv)
    checkout = args.checkout.resolve()
    dataset = real_dataset()
    run_dir = Path(tempfile.mkdtemp(prefix="working-time-")) / "run"
    model = ChattyModel(dataset, args.looks, args.work)
    with ScriptedServer(model, slots=2, limit_slots=True) as server:
        cmd = [str(checkout / ".venv" / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q",
               f"--model={checkout / 'tests/support/agent-configs/scripted.json'}", f"--exercises={dataset}",
               f"--server-url={server.url}", f"--run-dir={run_dir}", "--sandbox=local", "--tries=1", "-n", "4",
               f"--agent-timeout={args.timeout}", *exercise_paths(dataset, FOUR)]
        proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True, timeout=1800)
    print(f"checkout {checkout}: exit {proc.returncode}; {len(FOUR)} exercises × {args.looks + 2} responses × "
          f"{args.work} s of server work, 4 workers, 2 slots, --agent-timeout {args.timeout}")
    summary = json.loads((run_dir / "summary.json").read_text())
    print(f"{'exercise':20} {'stop':10} {'agent s':>8} {'working s':>10} {'waiting s':>10}")
    for name in FOUR:
        data = json.loads((run_dir / name / ".aider.results.json").read_text())["localcode"]
        row = summary["exercises"][name]
        working, waiting = row.get("working_seconds"), row.get("waiting_seconds")
        print(f"{name:20} {data['tries'][0]['stop_reason']:10} {row['agent_seconds']:8.1f} "
              f"{'-' if working is None else f'{working:.1f}':>10} {'-' if waiting is None else f'{waiting:.1f}':>10}")
    total = summary["total"]
    if "waiting_seconds" in total:
        print(f"total: agent {total['agent_seconds']:.1f} s = working {total['working_seconds']:.1f} s + waiting "
              f"{total['waiting_seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
