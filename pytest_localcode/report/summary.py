"""Aggregate per-exercise results into the run's numbers (per language and in total).

One function computes every figure the terminal table, ``benchmark_results.txt``,
``summary.json`` and the HTML summary show, so they cannot disagree. Rates are ratios of sums
(Σ tokens / Σ milliseconds), never means of per-request rates. ``aider`` holds the same run as
Aider's ``--stats`` would report it (leaderboard fields).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pytest_localcode.report.aider import aider_stats
from pytest_localcode.results import ExerciseResult

SUM_KEYS = (
    "prompt_tokens", "completion_tokens", "cached_tokens", "prompt_n", "prompt_ms", "predicted_n", "predicted_ms",
    "turns", "model_responses", "tool_call_responses", "tool_calls_total", "tool_errors_total", "length_stops",
    "context_overflows", "malformed_responses", "format_retries", "recovered_calls", "http_errors",
)


def exercise_row(result: ExerciseResult) -> dict[str, Any]:
    """One exercise's figures, summed over its tries."""
    row: dict[str, Any] = {
        "language": result.language,
        "exercise": result.exercise,
        "status": result.status,
        "solved_on": result.solved_on,
        "tries": len(result.tries),
        "outcomes": [t.outcome for t in result.tries],
        "stop_reasons": [t.stop_reason for t in result.tries],
        "error": result.error,
        "wall_seconds": round(result.wall_seconds, 3),
        "agent_seconds": round(sum(t.agent_seconds for t in result.tries), 3),
        "test_seconds": round(sum(t.test_seconds for t in result.tries), 3),
        "test_timeouts": sum(1 for t in result.tries if t.tests.get("timed_out")),
        "refused_paths": len(result.refused_paths),
        "forgery": result.forgery(),
    }
    last = result.tries[-1].tests if result.tries else {}
    for key in ("defined", "executed", "passed", "failed"):
        row[f"tests_{key}"] = int(last.get(key, 0))
    for key in SUM_KEYS:
        row[key] = sum(float(t.agent.get(key, 0) or 0) for t in result.tries)
        if key != "prompt_ms" and key != "predicted_ms":
            row[key] = int(row[key])
    tools: Counter[str] = Counter()
    errors_by_tool: Counter[str] = Counter()
    errors_by_kind: Counter[str] = Counter()
    for t in result.tries:
        tools.update(t.agent.get("tool_calls", {}) or {})
        errors_by_tool.update(t.agent.get("tool_errors_by_tool", {}) or {})
        errors_by_kind.update(t.agent.get("tool_errors", {}) or {})
    row["tool_calls"] = dict(tools)
    row["tool_errors_by_tool"] = dict(errors_by_tool)
    row["tool_errors"] = dict(errors_by_kind)
    row["prefill_tps"] = rate(row["prompt_n"], row["prompt_ms"])
    row["decode_tps"] = rate(row["predicted_n"], row["predicted_ms"])
    return row


def rate(tokens: float, ms: float) -> float:
    return round(tokens / ms * 1000.0, 2) if ms else 0.0


def pct(n: int, d: int) -> float:
    return round(100.0 * n / d, 1) if d else 0.0


def group(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals for a set of exercise rows."""
    n = len(rows)
    pass1 = sum(1 for r in rows if r["solved_on"] == 1)
    pass2 = sum(1 for r in rows if r["solved_on"] is not None and r["solved_on"] <= 2)
    totals: dict[str, Any] = {
        "exercises": n,
        "pass_1": pass1,
        "pass_2": pass2,
        "pass_rate_1": pct(pass1, n),
        "pass_rate_2": pct(pass2, n),
        "solved_any": sum(1 for r in rows if r["solved_on"] is not None),
        "failed": sum(1 for r in rows if r["status"] == "fail"),
        "forged": sum(1 for r in rows if r["status"] == "forged"),
        "errors": sum(1 for r in rows if r["status"] == "error"),
        "wall_seconds": round(sum(r["wall_seconds"] for r in rows), 3),
        "agent_seconds": round(sum(r["agent_seconds"] for r in rows), 3),
        "test_seconds": round(sum(r["test_seconds"] for r in rows), 3),
        "test_timeouts": sum(r["test_timeouts"] for r in rows),
        "tests_defined": sum(r["tests_defined"] for r in rows),
        "tests_executed": sum(r["tests_executed"] for r in rows),
        "refused_paths": sum(r["refused_paths"] for r in rows),
    }
    totals["seconds_per_exercise"] = round(totals["wall_seconds"] / n, 2) if n else 0.0
    for key in SUM_KEYS:
        value = sum(r[key] for r in rows)
        totals[key] = round(value, 3) if isinstance(value, float) else value
    totals["prefill_tps"] = rate(totals["prompt_n"], totals["prompt_ms"])
    totals["decode_tps"] = rate(totals["predicted_n"], totals["predicted_ms"])
    responses = totals["model_responses"]
    totals["tool_call_share"] = pct(totals["tool_call_responses"], responses)
    totals["avg_prompt_tokens"] = round(totals["prompt_tokens"] / n) if n else 0
    totals["avg_completion_tokens"] = round(totals["completion_tokens"] / n) if n else 0
    for key in ("tool_calls", "tool_errors_by_tool", "tool_errors"):
        merged: Counter[str] = Counter()
        for r in rows:
            merged.update(r[key])
        totals[key] = dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))
    return totals


def summarize(results: list[ExerciseResult]) -> dict[str, Any]:
    """``{"total": …, "languages": {lang: …}, "exercises": {lang/ex: …}, "aider": …}``."""
    ordered = sorted(results, key=lambda r: (r.language, r.exercise))
    rows = [exercise_row(r) for r in ordered]
    languages = sorted({r["language"] for r in rows})
    return {
        "total": group(rows),
        "languages": {lang: group([r for r in rows if r["language"] == lang]) for lang in languages},
        "exercises": {f"{r['language']}/{r['exercise']}": r for r in rows},
        "aider": aider_stats([r.aider_fields() for r in ordered], max_tries=max((r.max_tries for r in ordered), default=0)),
    }
