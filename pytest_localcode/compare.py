"""Compare two runs: ``python -m pytest_localcode.compare RUN_A RUN_B``.

Reads each run's per-exercise result files (not ``summary.json``, which a killed or partial run
lacks) and aggregates them with the same code as the reports. Deltas are computed on the
exercises both runs have, so a partial run is compared like for like; exercises present in only
one run are counted, not mixed in. Prints per-language pass@1 / pass@2 / tokens / time deltas and
the exercises that flipped between solved and unsolved, either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_localcode.report.summary import summarize
from pytest_localcode.results import RESULTS_FILE, ExerciseResult, load


class CompareError(Exception):
    """A run directory that cannot be compared; the message is the one line the user sees."""


@dataclass
class Run:
    path: Path
    results: dict[str, ExerciseResult]  # "lang/exercise" -> result
    unreadable: int

    @property
    def models(self) -> str:
        return ", ".join(sorted({r.model for r in self.results.values()})) or "?"


def load_run(path: Path, label: str) -> Run:
    """Every readable result file of a run directory (``<run>/<lang>/<exercise>/.aider.results.json``)."""
    if not path.exists():
        raise CompareError(f"{label} {path}: no such directory")
    if not path.is_dir():
        raise CompareError(f"{label} {path}: not a directory")
    found: dict[str, ExerciseResult] = {}
    unreadable = 0
    for file in sorted(path.glob(f"*/*/{RESULTS_FILE}")):
        result = load(file.parent)
        if result is None:
            unreadable += 1
        else:
            found[result.name] = result
    if not found:
        detail = f" ({unreadable} unreadable result files)" if unreadable else ""
        raise CompareError(f"{label} {path}: not a localcode run directory: no "
                           f"<language>/<exercise>/{RESULTS_FILE}{detail}")
    return Run(path, found, unreadable)


def flips(a: Run, b: Run, common: list[str]) -> dict[str, list[str]]:
    """Common exercises solved in one run only (either way), and those solved on another try."""
    out: dict[str, list[str]] = {"gained": [], "lost": [], "other_try": []}
    for name in common:
        ra, rb = a.results[name], b.results[name]
        if ra.solved != rb.solved:
            key = "gained" if rb.solved else "lost"
        elif ra.solved and ra.status != rb.status:
            key = "other_try"
        else:
            continue
        out[key].append(f"{name} ({ra.status} → {rb.status})")
    return out


def compare(a: Run, b: Run) -> dict[str, Any]:
    """Both runs aggregated on their common exercises, and the flips."""
    common = sorted(set(a.results) & set(b.results))
    sa = summarize([a.results[n] for n in common])
    sb = summarize([b.results[n] for n in common])
    return {
        "common": len(common),
        "only_a": sorted(set(a.results) - set(b.results)),
        "only_b": sorted(set(b.results) - set(a.results)),
        "a": sa,
        "b": sb,
        **flips(a, b, common),
    }


def _tokens_per_exercise(g: dict[str, Any]) -> float:
    return (g["prompt_tokens"] + g["completion_tokens"]) / g["exercises"] if g["exercises"] else 0.0


def _row(name: str, ga: dict[str, Any], gb: dict[str, Any]) -> str:
    tok_a, tok_b = _tokens_per_exercise(ga), _tokens_per_exercise(gb)
    tok_pct = f"{(tok_b - tok_a) / tok_a * 100:+.0f}%" if tok_a else "n/a"
    cells = [
        f"{name:<11}",
        f"{ga['exercises']:>4}",
        f"{ga['pass_rate_1']:>5.1f} → {gb['pass_rate_1']:>5.1f} ({gb['pass_rate_1'] - ga['pass_rate_1']:+6.1f})",
        f"{ga['pass_rate_2']:>5.1f} → {gb['pass_rate_2']:>5.1f} ({gb['pass_rate_2'] - ga['pass_rate_2']:+6.1f})",
        f"{tok_a:>8,.0f} → {tok_b:>8,.0f} ({tok_pct:>5})",
        f"{ga['seconds_per_exercise']:>6.1f} → {gb['seconds_per_exercise']:>6.1f} "
        f"({gb['seconds_per_exercise'] - ga['seconds_per_exercise']:+6.1f})",
    ]
    return "  ".join(cells)


def render(a: Run, b: Run, result: dict[str, Any]) -> str:
    sa, sb = result["a"], result["b"]
    lines = [
        f"A: {a.path} ({len(a.results)} exercises, model {a.models})",
        f"B: {b.path} ({len(b.results)} exercises, model {b.models})",
        f"Compared on the {result['common']} exercises in both runs"
        f" (only in A: {len(result['only_a'])}, only in B: {len(result['only_b'])})",
    ]
    for run in (a, b):
        if run.unreadable:
            lines.append(f"warning: {run.path}: {run.unreadable} unreadable result files skipped")
    header = (f"{'language':<11}  {'n':>4}  {'pass@1 % A → B (Δ)':>22}  {'pass@2 % A → B (Δ)':>22}  "
              f"{'tokens/exercise A → B (Δ)':>27}  {'s/exercise A → B (Δ)':>24}")
    lines += ["", header, "-" * len(header)]
    for language in sorted(sa["languages"]):
        lines.append(_row(language, sa["languages"][language], sb["languages"][language]))
    lines += ["-" * len(header), _row("total", sa["total"], sb["total"]), ""]
    sections = (("Solved in B, not in A", result["gained"]), ("Solved in A, not in B", result["lost"]),
                ("Solved in both, on another try", result["other_try"]))
    for title, names in sections:
        lines.append(f"{title} ({len(names)}):" + ("" if names else " none"))
        lines += [f"  {n}" for n in names]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcode compare", description="Compare two localcode run directories.")
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="the baseline run directory")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="the run compared with it")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = parser.parse_args(argv)
    try:
        a = load_run(args.run_a, "RUN_A")
        b = load_run(args.run_b, "RUN_B")
    except CompareError as exc:
        print(f"localcode compare: {exc}", file=sys.stderr)
        return 2
    result = compare(a, b)
    if not result["common"]:
        print(f"localcode compare: {a.path} and {b.path} have no exercise in common", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        sys.stdout.write(render(a, b, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
