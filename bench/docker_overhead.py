#!/usr/bin/env python3
"""Per-item cost of the Docker sandbox: create + start + remove one container, and one exec.

    .venv/bin/python bench/docker_overhead.py            # 30 containers
    .venv/bin/python bench/docker_overhead.py -n 50

Opens a sandbox on a scratch directory the way the grader does (``factory.open``), runs ``true``
in it once, closes it, and prints the median and p90 of each phase over ``-n`` containers (goal
for open + close: 0.5 s). Needs the image (bin/setup --docker).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from pytest_localcode.sandbox.docker import DockerSandboxFactory  # noqa: E402 - imported after sys.path gets the checkout


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=30, help="containers (at least 20)")
    args = parser.parse_args()
    factory = DockerSandboxFactory()
    print(factory.describe())
    phases: dict[str, list[float]] = {"open (create + start)": [], "exec true": [], "close (remove)": [],
                                      "open + close": []}
    with tempfile.TemporaryDirectory(prefix="docker-overhead-") as scratch:
        for i in range(max(args.n, 20)):
            item = Path(scratch) / f"item-{i}"
            item.mkdir()
            t0 = time.perf_counter()
            sandbox = factory.open(item, name=f"overhead-{i}")
            t1 = time.perf_counter()
            result = sandbox.exec("true", timeout=30)
            t2 = time.perf_counter()
            sandbox.close()
            t3 = time.perf_counter()
            if result.exit_code != 0:
                print(f"exec failed: {result.output}", file=sys.stderr)
                return 1
            phases["open (create + start)"].append(t1 - t0)
            phases["exec true"].append(t2 - t1)
            phases["close (remove)"].append(t3 - t2)
            phases["open + close"].append((t1 - t0) + (t3 - t2))
    factory.close()
    print(f"\n{'phase':24} {'median s':>9} {'p90 s':>7}   over {max(args.n, 20)} containers")
    for phase, values in phases.items():
        print(f"{phase:24} {statistics.median(values):9.3f} {p90(values):7.3f}")
    overhead = statistics.median(phases["open + close"])
    print(f"\nper-item container overhead (median open + close): {overhead:.3f} s (goal <= 0.5 s)")
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + f" on {os.cpu_count()} CPUs (other work on the machine slows the engine down)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
