"""Does ``-n 2`` really double throughput through one shared model server?

A scripted server (one process, ``--slots 2``, a fixed latency per response, 0.5 s by default)
plays a model that looks around a few turns, writes the reference solution and finishes, on a
fixed set of Python exercises. The same selection runs with ``pytest -n 1`` and ``-n 2`` against
the same ``--server-url``; the script's work per item is identical, so the ratio of wall times
shows whether the harness's server path (URL handed to workers, HTTP client, slots) serialises
anything. Python exercises keep test time (~1 s) small next to agent time (turns × latency),
so the figure is about the server path, not about test-runner parallelism on 2 shared cores.

Printed: both wall times (whole pytest run, and the span from the first item's start to the
last item's end), both ratios, and the per-run request counts. Goal: whole-run ratio ≥ 1.8.
The whole run also pays xdist's start-up (workers import and collect: 1.5 s on a quiet machine,
5–8 s on a busy one), which is why the default work is 12 exercises × 24 responses (~2.5 min
at -n 1): the span ratio isolates the server path, the whole-run ratio is what a user sees.

    .venv/bin/python bench/throughput.py [--latency 0.5] [--turns 24] [--exercises a,b,...]   # ~4 min
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_localcode.errors import LocalcodeError  # noqa: E402 - imported after sys.path gets the checkout
from pytest_localcode.exercises import resolve_dataset  # noqa: E402 - imported after sys.path gets the checkout
from pytest_localcode.results import load  # noqa: E402 - imported after sys.path gets the checkout
from tests.support.models import LookAroundModel  # noqa: E402 - imported after sys.path gets the checkout
from tests.support.scripted_server import ScriptedServer  # noqa: E402 - imported after sys.path gets the checkout

CONFIG = ROOT / "tests" / "support" / "agent-configs" / "scripted.json"
EXERCISES = ("proverb", "wordy", "transpose", "pig-latin", "grade-school", "phone-number", "list-ops", "beer-song",
             "variable-length-quantity", "scale-generator", "simple-linked-list", "robot-name")


def run(workers: int, dataset: Path, exercises: list[str], url: str, sandbox: str, turns: int) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix=f"throughput-n{workers}-"))
    selection = "python and (" + " or ".join(exercises) + ")"
    cmd = [str(ROOT / ".venv" / "bin" / "pytest"), "--model", str(CONFIG), f"--exercises={dataset}",
           f"--server-url={url}", f"--run-dir={run_dir}", f"--sandbox={sandbox}", "--tries=1",
           f"--max-turns={turns + 2}", "-q",
           "-p", "no:cacheprovider", "-n", str(workers), "-k", selection]
    started, epoch = time.monotonic(), time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - started
    ended = epoch + wall
    results = [r for r in (load(p.parent) for p in run_dir.glob("python/*/.aider.results.json")) if r is not None]
    first = min((r.started for r in results), default=epoch)
    last_end = max((r.finished for r in results), default=ended)
    span = last_end - first
    solved = sum(1 for r in results if r.solved)
    last = [line for line in proc.stdout.splitlines() if line.strip()][-1:] or [proc.stderr.strip()[-300:]]
    return {"workers": workers, "wall": wall, "span": span, "before": first - epoch, "after": ended - last_end,
            "solved": solved, "items": len(results),
            "agent_s": sum(t.agent_seconds for r in results for t in r.tries),
            "test_s": sum(t.test_seconds for r in results for t in r.tries), "pytest": last[0], "run_dir": str(run_dir)}


def workload_arguments(parser: argparse.ArgumentParser, latency: float, turns: int) -> None:
    """The scripted workload's options (shared with bench/multi_server.py)."""
    parser.add_argument("--latency", type=float, default=latency,
                        help=f"seconds per model response (default {latency})")
    parser.add_argument("--turns", type=int, default=turns, help=f"model responses per exercise (default {turns})")
    parser.add_argument("--exercises", default=",".join(EXERCISES), help="Python exercises (comma-separated)")
    parser.add_argument("--exercises-dir", default=os.environ.get("LOCALCODE_EXERCISES"), help="the dataset")
    parser.add_argument("--sandbox", default="local")


def workload(args: argparse.Namespace, prog: str) -> tuple[Path, list[str]] | None:
    """(dataset, exercises) from the options; None after printing why the dataset is missing."""
    try:
        dataset = resolve_dataset(args.exercises_dir, ROOT)
    except LocalcodeError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None
    return dataset, [e.strip() for e in args.exercises.split(",") if e.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    workload_arguments(parser, latency=0.5, turns=24)
    args = parser.parse_args()
    found = workload(args, "throughput.py")
    if found is None:
        return 2
    dataset, exercises = found
    runs = {}
    for workers in (1, 2):
        model = LookAroundModel(dataset, args.turns)
        with ScriptedServer(model, latency=args.latency, slots=2, repeat=False) as server:
            runs[workers] = run(workers, dataset, exercises, server.url, args.sandbox, args.turns)
            runs[workers]["requests"] = len(server.requests)
        r = runs[workers]
        print(f"-n {workers}: wall {r['wall']:6.1f} s (first item after {r['before']:.1f} s, exit {r['after']:.1f} s "
              f"after the last), items span {r['span']:6.1f} s, {r['solved']}/{r['items']} solved, "
              f"{r['requests']} responses, agent {r['agent_s']:.1f} s, tests {r['test_s']:.1f} s  [{r['pytest']}]",
              flush=True)
    one, two = runs[1], runs[2]
    ratio = one["wall"] / two["wall"] if two["wall"] else 0.0
    span_ratio = one["span"] / two["span"] if two["span"] else 0.0
    ideal = len(exercises) * args.turns * args.latency
    print(f"latency {args.latency}s × {args.turns} responses × {len(exercises)} exercises = {ideal:.1f} s of model "
          "time")
    print(f"speed-up -n 2 vs -n 1: whole run {ratio:.2f}x, items span {span_ratio:.2f}x (goal ≥ 1.8x)")
    print(json.dumps({"wall_n1": round(one["wall"], 2), "wall_n2": round(two["wall"], 2), "ratio": round(ratio, 3),
                      "span_n1": round(one["span"], 2), "span_n2": round(two["span"], 2),
                      "span_ratio": round(span_ratio, 3)}))
    ok = one["solved"] == two["solved"] == len(exercises) and one["requests"] == two["requests"]
    if not ok:
        print("warning: the two runs did not do the same work (see the run dirs above)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
