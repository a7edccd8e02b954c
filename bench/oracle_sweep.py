#!/usr/bin/env python3
"""Oracle (or nop) sweep of the whole dataset: verdicts, test counts and wall time per language.

    .venv/bin/python bench/oracle_sweep.py                 # oracle, -n 2, warm caches
    .venv/bin/python bench/oracle_sweep.py --cold          # wipe build caches first
    .venv/bin/python bench/oracle_sweep.py --model nop     # every exercise must fail
    .venv/bin/python bench/oracle_sweep.py --sandbox docker

Prints one line per language (exercises, passed, forged, test names defined / executed — Go's
subtests and table cases included —, summed test seconds) and the total wall time of the pytest
run. Exit status 1 when a verdict is not the expected one: with the oracle every exercise must
pass with exactly the test names it defines executed (none missing, none extra) and none forged.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CACHES_KEPT_COLD = {"cargo-home"}  # prefetched crates are set-up, not a build cache


def wipe_caches() -> None:
    """Empty the build caches of both sandboxes. The Docker one goes whole: the next run re-seeds
    its prefetched crates from the image (its stamp goes with it)."""
    home = Path(os.environ.get("LOCALCODE_HOME", PROJECT / ".localcode"))
    cache = home / "cache"
    for child in cache.iterdir() if cache.is_dir() else []:
        if child.name not in CACHES_KEPT_COLD:
            shutil.rmtree(child, ignore_errors=True)
    shutil.rmtree(home / "cache-docker", ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="oracle", choices=["oracle", "nop"])
    parser.add_argument("--workers", "-n", default="2", help="pytest-xdist workers (default 2)")
    parser.add_argument("--sandbox", default="local")
    parser.add_argument("--cold", action="store_true", help="wipe the build caches first")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -m python)")
    args = parser.parse_args()
    if args.cold:
        wipe_caches()
    run_dir = Path(tempfile.mkdtemp(prefix=f"sweep-{args.model}-"))
    cmd = [
        str(PROJECT / ".venv" / "bin" / "pytest"), "--model", args.model, f"--run-dir={run_dir}",
        f"--sandbox={args.sandbox}", "-q", "-p", "no:cacheprovider", "-n", args.workers, *args.pytest_args,
    ]
    print("$", " ".join(cmd), flush=True)
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True)
    wall = time.monotonic() - started
    tail = [line for line in proc.stdout.splitlines() if line.strip()][-1:]
    print("pytest:", tail[0] if tail else proc.stderr.strip()[-300:])

    rows: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    bad: list[str] = []
    for path in sorted(run_dir.glob("*/*/.aider.results.json")):
        data = json.loads(path.read_text())
        own = data["localcode"]
        last = own["tries"][-1]["tests"] if own["tries"] else {}
        row = rows[own["language"]]
        row["exercises"] += 1
        row["passed"] += own["status"].startswith("pass")
        row["forged"] += own["status"] == "forged"
        row["defined"] += last.get("defined", 0)
        row["executed"] += last.get("executed", 0)
        row["test_seconds"] += sum(t["test_seconds"] for t in own["tries"])
        names_match = (last.get("executed") == last.get("defined") and not last.get("missing")
                       and not last.get("unexpected"))
        ok = own["status"].startswith("pass") and names_match
        if (args.model == "oracle") != ok or own["status"] == "forged":
            reason = last.get("reason", own.get("error"))
            bad.append(f"{own['language']}/{data['testcase']}: {own['status']} ({reason})")

    print(f"\n{'language':12} {'exercises':>9} {'passed':>7} {'forged':>7} {'names defined':>14} "
          f"{'names run':>10} {'test s':>8}")
    total: dict[str, float] = defaultdict(float)
    for language in sorted(rows):
        row = rows[language]
        for key, value in row.items():
            total[key] += value
        print(f"{language:12} {row['exercises']:9.0f} {row['passed']:7.0f} {row['forged']:7.0f} {row['defined']:14.0f} "
              f"{row['executed']:10.0f} {row['test_seconds']:8.1f}")
    print(f"{'total':12} {total['exercises']:9.0f} {total['passed']:7.0f} {total['forged']:7.0f} "
          f"{total['defined']:14.0f} {total['executed']:10.0f} {total['test_seconds']:8.1f}")
    print(f"\nwall time: {wall:.1f} s ({wall / 60:.2f} min) with -n {args.workers}, sandbox {args.sandbox}"
          f"{', cold caches' if args.cold else ''}")
    for line in bad:
        print("UNEXPECTED:", line)
    if args.keep:
        print("run dir:", run_dir)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 1 if bad or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
