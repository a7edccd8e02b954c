"""Benchmark the embedded tiny models: do they turn into an agent that makes well-formed tool calls?

Why: a 135M–270M model given plain ``tools`` answers in free text until ``max_tokens`` (0 tool
calls in 33 responses); whether the agent's per-model settings (agent/configs/gguf/*.json) make it
call tools is only known by running them. For each model this script starts the model's own
llama-server (``server_config``, through the plugin's server module, so ``--metrics`` is on),
runs the harness on a fixed set of Python exercises against it (``--server-url``), scrapes
``/metrics`` before stopping the server, and prints the run's figures from ``summary.json`` next
to the server's counters. The counters must match the agent's sums exactly: llama-server counts
processed prompt tokens (``llamacpp:prompt_tokens_total`` = Σ ``timings.prompt_n``, cache hits
excluded) and generated tokens (``llamacpp:tokens_predicted_total`` = Σ ``usage.completion_tokens``).

    .venv/bin/python bench/tiny_models.py [--models gemma3-270m,smollm2-135m] [--tries 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.config import load_config  # noqa: E402 - imported after sys.path gets the checkout
from pytest_localcode.exercises import resolve_dataset  # noqa: E402 - imported after sys.path gets the checkout
from pytest_localcode.server.owner import build_server  # noqa: E402 - imported after sys.path gets the checkout

MODELS = ("gemma3-270m", "smollm2-135m")
EXERCISES = ("proverb", "transpose", "pig-latin", "wordy", "grep", "dot-dsl")
COUNTERS = ("llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total")


def scrape(url: str) -> dict[str, float]:
    """The server's Prometheus counters we check (``/metrics``; needs ``--metrics``)."""
    return parse_metrics(httpx.get(f"{url}/metrics", timeout=30).text)


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^([\w:]+)(?:\{[^}]*\})?\s+([-+0-9.eE]+)$", line.strip())
        if m and m.group(1) in COUNTERS:
            out[m.group(1)] = float(m.group(2))
    return out


def pytest_command(model: str, url: str, run_dir: Path, args: argparse.Namespace) -> list[str]:
    selection = "python and (" + " or ".join(args.exercises.split(",")) + ")"
    return [
        str(ROOT / ".venv/bin/pytest"), "--model", model, f"--exercises={args.polyglot}", "-k", selection,
        f"--tries={args.tries}", "--sandbox=local", f"--run-dir={run_dir}", f"--server-url={url}",
        "-p", "no:cacheprovider", "-q",
    ]  # fmt: skip


def run_model(model: str, run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One model: own server, harness run against it, counters scraped before the server stops."""
    cfg = load_config(model)
    run_dir.mkdir(parents=True, exist_ok=True)
    server = build_server(
        cfg.server_config, cfg.name, slots=1, alias=cfg.model or cfg.name, log_path=run_dir / "bench-server.log"
    )
    server.start()
    try:
        before = scrape(server.url)
        cmd = pytest_command(model, server.url, run_dir, args)
        started = time.monotonic()
        with open(run_dir / "pytest.out", "w") as out:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy()).returncode
        wall = time.monotonic() - started
        after = scrape(server.url)
    finally:
        server.stop()
    summary_file = run_dir / "summary.json"
    if not summary_file.is_file():
        raise SystemExit(f"{model}: no summary.json (pytest exit {rc}); see {run_dir / 'pytest.out'}")
    summary = json.loads(summary_file.read_text())
    counters = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in COUNTERS}
    return {"model": model, "rc": rc, "wall": wall, "summary": summary, "counters": counters, "run_dir": run_dir}


def stop_reasons(summary: dict[str, Any]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for row in summary["exercises"].values():
        for reason in row["stop_reasons"]:
            key = reason or "MISSING"
            reasons[key] = reasons.get(key, 0) + 1
    return dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def check(label: str, ours: float, server: float) -> tuple[str, bool]:
    ok = int(ours) == int(server)
    verdict = "MATCH" if ok else f"MISMATCH (diff {int(ours) - int(server):+d})"
    return f"  {label:<48} agent {int(ours):>8}  /metrics {int(server):>8}  {verdict}", ok


def report(res: dict[str, Any]) -> tuple[list[str], bool]:
    """The printed block for one model, and whether its token totals match /metrics."""
    t = res["summary"]["total"]
    responses, calls = t["model_responses"], t["tool_call_responses"]
    share = 100.0 * calls / responses if responses else 0.0
    errors = ", ".join(f"{k} {v}" for k, v in t["tool_errors"].items()) or "none"
    lines = [
        f"== {res['model']}  ({t['exercises']} exercises x {res['tries']} tries, {res['wall']:.0f} s, run dir "
        f"{res['run_dir']})",
        f"  model responses                 {responses}",
        f"  well-formed tool-call responses {calls}  ({share:.1f} %)",
        f"  tool calls made                 {t['tool_calls_total']}  {json.dumps(t['tool_calls'])}",
        f"  tool-call errors by kind        {t['tool_errors_total']}  ({errors})",
        f"  malformed responses             {t['malformed_responses']}",
        f"  calls recovered from text       {t['recovered_calls']}",
        f"  responses hitting max_tokens    {t['length_stops']}",
        f"  context overflows               {t['context_overflows']}",
        f"  http errors                     {t['http_errors']}",
        f"  format retries                  {t['format_retries']}",
        f"  stop reasons (per try)          {json.dumps(stop_reasons(res['summary']))}",
        f"  prompt tokens                   {t['prompt_tokens']} (processed, cache misses: {t['prompt_n']})",
        f"  completion tokens               {t['completion_tokens']}",
        f"  prefill / decode TPS            {t['prefill_tps']:.1f} / {t['decode_tps']:.1f}",
        f"  pass@1 / pass@2                 {t['pass_1']}/{t['exercises']} ({t['pass_rate_1']} %)"
        f" / {t['pass_2']}/{t['exercises']} ({t['pass_rate_2']} %)",
        "  token totals vs llama-server /metrics:",
    ]
    c = res["counters"]
    line1, ok1 = check("prompt tokens processed (sum timings.prompt_n)", t["prompt_n"], c[COUNTERS[0]])
    line2, ok2 = check("completion tokens (sum usage.completion_tokens)", t["completion_tokens"], c[COUNTERS[1]])
    return [*lines, line1, line2], ok1 and ok2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated agent config names")
    parser.add_argument("--exercises", default=",".join(EXERCISES), help="comma-separated Python exercises")
    parser.add_argument("--tries", type=int, default=2)
    parser.add_argument("--polyglot", default=None, help="dataset (default: as the plugin finds it)")
    parser.add_argument("--out", type=Path, default=ROOT / ".localcode" / "bench" / time.strftime("tiny-%Y%m%d-%H%M%S"))
    args = parser.parse_args(argv)
    args.polyglot = resolve_dataset(args.polyglot, ROOT)
    all_ok = True
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        res = run_model(model, args.out / model.replace("/", "_"), args)
        res["tries"] = args.tries
        lines, ok = report(res)
        all_ok &= ok
        print("\n".join(lines), flush=True)
    print("token totals:", "all MATCH /metrics" if all_ok else "MISMATCH with /metrics")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
