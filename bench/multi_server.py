"""Two model servers in one run: does each exercise stay on one server, is the work split by
slots, and is the throughput about twice one server's?

Scripted servers run as processes of their own (``tests/support/scripted_server.py``), each
answering after a fixed latency (2 s: a model's turn) and serving at most its slots at once, like
llama-server; each keeps a ledger of the requests it served. The model looks around for a few
turns, writes the reference solution and finishes, on real Python exercises graded by their
real tests. Three runs with ``pytest -n 4``, in this order, in one session:

1. one server with 2 slots (the baseline);
2. two servers with 2 slots each (``--server-url`` twice): throughput vs 1 (goal ≥ 1.8x);
3. two servers with 1 and 3 slots: the work each carries (goal: in proportion, 1 : 3).

Everything checked is read from the servers' own ledgers, not from the harness's records:
which server served each exercise's requests (goal: exactly one per exercise) and how many.
Throughput = exercises per minute over the span from the first request to the last; the ratio
of whole pytest runs is printed too (it also pays ~15 s per run for xdist's start-up and the
reports, which is why the default work is 24 turns per exercise, ~5 min for the one-server run).

    .venv/bin/python bench/multi_server.py [--latency 2] [--turns 24] [--exercises a,b,...]   # ~10 min
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.throughput import CONFIG, workload, workload_arguments  # noqa: E402  (the same workload)
from tests.support.server_processes import ServerProcess, scripted_processes  # noqa: E402


def run(label: str, slots: list[int], dataset: Path, exercises: list[str], args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"multi-server-{label}-"))
    ledgers = [work / f"server-{i}.jsonl" for i in range(len(slots))]
    kwargs = {"dataset": str(dataset), "turns": args.turns}
    with scripted_processes(ledgers, slots, factory="tests.support.models:look_around", kwargs=kwargs,
                            latency=args.latency) as servers:
        cmd = [str(ROOT / ".venv" / "bin" / "pytest"), f"--model={CONFIG}", f"--exercises={dataset}",
               f"--run-dir={work / 'run'}", f"--sandbox={args.sandbox}", "--tries=1", f"--max-turns={args.turns + 2}",
               "-q", "-p", "no:cacheprovider", "-n", str(args.workers),
               *(f"--server-url={s.url}" for s in servers), "-k", "python and (" + " or ".join(exercises) + ")"]
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.monotonic() - started
        return measure(label, servers, slots, wall, proc, work)


def measure(label: str, servers: list[ServerProcess], slots: list[int], wall: float, proc: Any,
            work: Path) -> dict[str, Any]:
    entries = [dict(e, server=i) for i, s in enumerate(servers) for e in s.ledger()]
    by_exercise: dict[str, set[int]] = defaultdict(set)
    for e in entries:
        by_exercise[e["exercise"]].add(e["server"])
    span = max(e["end"] for e in entries) - min(e["start"] for e in entries) if entries else 0.0
    exercises = Counter(next(iter(s)) for s in by_exercise.values() if len(s) == 1)
    last = [line for line in proc.stdout.splitlines() if line.strip()][-1:] or [proc.stderr.strip()[-300:]]
    return {
        "label": label, "slots": slots, "wall": wall, "span": span, "rc": proc.returncode, "pytest": last[0],
        "exercises": len(by_exercise), "on_two_servers": sorted(n for n, s in by_exercise.items() if len(s) > 1),
        "exercises_per_server": [exercises[i] for i in range(len(slots))],
        "requests_per_server": [sum(1 for e in entries if e["server"] == i) for i in range(len(slots))],
        "per_minute": len(by_exercise) / span * 60 if span else 0.0, "work": str(work),
    }


def show(r: dict[str, Any]) -> None:
    print(f"{r['label']}: slots {r['slots']}, wall {r['wall']:.1f} s, span {r['span']:.1f} s, "
          f"{r['exercises']} exercises, {r['per_minute']:.2f} exercises/min over the span; per server: exercises "
          f"{r['exercises_per_server']}, requests {r['requests_per_server']}; exercises seen on two servers: "
          f"{len(r['on_two_servers'])}  [{r['pytest']}]", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    workload_arguments(parser, latency=2.0, turns=24)
    parser.add_argument("--workers", type=int, default=4, help="pytest -n (default 4)")
    args = parser.parse_args()
    found = workload(args, "multi_server.py")
    if found is None:
        return 2
    dataset, exercises = found
    one = run("one server", [2], dataset, exercises, args)
    show(one)
    two = run("two servers", [2, 2], dataset, exercises, args)
    show(two)
    weighted = run("1 + 3 slots", [1, 3], dataset, exercises, args)
    show(weighted)
    ratio = two["per_minute"] / one["per_minute"] if one["per_minute"] else 0.0
    wall_ratio = one["wall"] / two["wall"] if two["wall"] else 0.0
    share = weighted["exercises_per_server"][0] / weighted["exercises"] if weighted["exercises"] else 0.0
    sticky = not (one["on_two_servers"] or two["on_two_servers"] or weighted["on_two_servers"])
    print(f"each exercise on exactly one server (all runs, from the ledgers): {'yes' if sticky else 'NO'}")
    print(f"throughput two servers vs one: {ratio:.2f}x over the span, {wall_ratio:.2f}x whole run (goal ≥ 1.8x)")
    print(f"1 + 3 slots: the 1-slot server carried {share:.0%} of the exercises, requests "
          f"{weighted['requests_per_server']} (goal: 25 %)")
    print(json.dumps({"ratio_span": round(ratio, 3), "ratio_wall": round(wall_ratio, 3), "sticky": sticky,
                      "share_1_slot": round(share, 3), "runs": [one, two, weighted]}))
    ok = sticky and all(r["rc"] == 0 and r["exercises"] == len(exercises) for r in (one, two, weighted))
    if not ok:
        print("warning: a run failed or an exercise moved between servers (see the work dirs above)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
