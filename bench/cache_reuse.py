"""Prompt-cache reuse on the real llama-server with the tiny model: how much of every prompt the
server took from its cache, per exercise and for the run, against the limit for these prompts.

    .venv/bin/python bench/cache_reuse.py [--checkout DIR] [--run-dir DIR] [bench arguments…]
    .venv/bin/python bench/cache_reuse.py --analyse RUN_DIR [RUN_DIR …]

The first form runs ``./bin/bench -n 2`` (plus the arguments) in a checkout (default: this one;
another, e.g. a worktree of main, gives the "before" figure) and then analyses its run directory;
the second only analyses run directories. The figures come from the responses the agent logged
(``<run>/<lang>/<exercise>/logs/*.jsonl``, event ``response``: the server's ``usage`` and
``timings``), so they work on any run, old or new:

* **cached**: Σ cached tokens / Σ prompt tokens (``usage.prompt_tokens_details.cached_tokens``, else
  ``timings.cache_n``), over all responses and over all but each exercise's first one (whose
  prefix no earlier turn of the exercise could have put in the cache);
* **limit**: the most a server could reuse after the first turn, Σ min(p_t, p_{t-1} + c_{t-1}) / Σ p_t,
  where p is a response's prompt and c its completion tokens and t-1 the exercise's previous
  response (its slot holds that prompt and reply; the tool result and the next turn's framing
  are new whatever the server does).
* **cuts** and **uncut**: the responses whose request followed a move of the message window
  (``history_max_messages``: the kept part starts at another message, so the prompt differs from
  the previous one right after the pinned task) or a context trim, and the cached share over the
  later responses without such a cut: the server's reuse where the agent kept the prefix.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.metrics import cached_of  # noqa: E402 - needs the checkout on sys.path


@dataclass
class Exercise:
    name: str
    prompts: list[int] = field(default_factory=list)
    cached: list[int | None] = field(default_factory=list)
    completions: list[int] = field(default_factory=list)
    cut: list[bool] = field(default_factory=list)  # the request followed a window move or context trim

    def figures(self) -> dict[str, Any]:
        later = range(1, len(self.prompts))
        known = [i for i in range(len(self.prompts)) if self.cached[i] is not None]
        uncut = [i for i in later if i in known and not self.cut[i]]
        limit = sum(min(self.prompts[i], self.prompts[i - 1] + self.completions[i - 1]) for i in later)
        return {
            "responses": len(self.prompts),
            "prompt": sum(self.prompts),
            "cached": sum(self.cached[i] or 0 for i in known),
            "known_prompt": sum(self.prompts[i] for i in known),
            "later_prompt": sum(self.prompts[i] for i in later if i in known),
            "later_cached": sum(self.cached[i] or 0 for i in later if i in known),
            "limit": limit,
            "limit_prompt": sum(self.prompts[i] for i in later),
            "cuts": sum(self.cut[i] for i in later),
            "uncut_prompt": sum(self.prompts[i] for i in uncut),
            "uncut_cached": sum(self.cached[i] or 0 for i in uncut),
        }


def responses(log: Path) -> list[tuple[dict[str, Any], bool]]:
    """The log's responses, each with whether its request followed a window move or context trim."""
    out = []
    dropped = 0  # messages the window left out of the previous request
    cut = False
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("event")
        if kind == "history_trim":
            now = int(event.get("total", 0)) - int(event.get("kept", 0))
            cut, dropped = cut or now != dropped, now
        elif kind == "context_trim":
            cut = True
        elif kind == "response":
            out.append((event, cut))
            cut = False
    return out


def exercises(run_dir: Path) -> list[Exercise]:
    """Every exercise (epoch) of the run, its responses in order (try 1's log, then try 2's)."""
    out = []
    for item in sorted({p.parent.parent for p in run_dir.glob("*/*/logs/*.jsonl")}
                       | {p.parent.parent for p in run_dir.glob("*/*/epoch-*/logs/*.jsonl")}):
        ex = Exercise(str(item.relative_to(run_dir)))
        for log in sorted((item / "logs").glob("*.jsonl")):  # file names start with their time
            for event, cut in responses(log):
                usage, timings = event.get("usage") or {}, event.get("timings") or {}
                ex.prompts.append(int(usage.get("prompt_tokens") or 0))
                ex.completions.append(int(usage.get("completion_tokens") or 0))
                ex.cached.append(cached_of(usage, timings))
                ex.cut.append(cut)
        if ex.prompts:
            out.append(ex)
    return out


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}%" if whole else "  n/a "


def report(run_dir: Path) -> dict[str, Any]:
    rows = [(ex.name, ex.figures()) for ex in exercises(run_dir)]
    total = {k: sum(f[k] for _, f in rows) for k in ("responses", "prompt", "cached", "known_prompt", "later_prompt",
                                                      "later_cached", "limit", "limit_prompt", "cuts",
                                                      "uncut_prompt", "uncut_cached")}
    print(f"\n{run_dir}")
    print(f"{'exercise':28} {'resp':>4} {'prompt tok':>10} {'cached':>7} {'after 1st':>9} {'limit':>7} "
          f"{'cuts':>4} {'uncut':>7}")
    for name, f in [*rows, ("total", total)]:
        print(f"{name:28} {f['responses']:4d} {f['prompt']:10,d} {pct(f['cached'], f['known_prompt']):>7} "
              f"{pct(f['later_cached'], f['later_prompt']):>9} {pct(f['limit'], f['limit_prompt']):>7} "
              f"{f['cuts']:4d} {pct(f['uncut_cached'], f['uncut_prompt']):>7}")
    return total


def run_bench(checkout: Path, run_dir: Path, extra: list[str]) -> None:
    """Run the bench with its output to a file (``<run_dir>.out``, kept: what a log file gets)."""
    cmd = ["./bin/bench", "-n", "2", f"--run-dir={run_dir}", *extra]
    out = run_dir.with_name(run_dir.name + ".out")
    print(f"$ (cd {checkout} && {' '.join(cmd)}) > {out} 2>&1", flush=True)
    started = time.monotonic()
    with open(out, "w", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, cwd=checkout, env=dict(os.environ), text=True, stdout=fh, stderr=subprocess.STDOUT)
    text = out.read_text(encoding="utf-8")
    controls = sum(text.count(c) for c in ("\x1b", "\r"))
    tail = "\n".join(text.splitlines()[-6:])
    print(f"exit {proc.returncode} after {time.monotonic() - started:.0f} s; {len(text.splitlines())} lines of output, "
          f"{controls} control characters (ESC, CR)\n{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the checkout whose ./bin/bench runs")
    parser.add_argument("--run-dir", type=Path, help="where the run goes (default: a new one under /tmp)")
    parser.add_argument("--analyse", type=Path, nargs="+", metavar="RUN_DIR", help="only analyse these runs")
    args, extra = parser.parse_known_args(argv)
    if args.analyse:
        for run_dir in args.analyse:
            report(run_dir)
        return 0
    run_dir = args.run_dir or Path(tempfile.gettempdir()) / f"cache-reuse-{time.strftime('%Y%m%d-%H%M%S')}"
    run_bench(args.checkout.resolve(), run_dir.resolve(), extra)
    report(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
