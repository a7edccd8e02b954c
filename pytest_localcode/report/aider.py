"""The run's numbers as Aider's ``benchmark.py --stats`` computes them, for its leaderboard.

Computed from the Aider fields of each ``.aider.results.json`` (not from our richer records), so
``summary.json`` shows what Aider's own ``--stats`` would print for the same files: a pass on try
*k* counts for every ``pass_rate_i`` with ``i ≥ k``; rates are percentages of the completed
exercises (a crashed one counts as completed and failed); ``seconds_per_case`` is model time
only. Unlike Aider's console output nothing is rounded here.
"""

from __future__ import annotations

from typing import Any

from pytest_localcode.stats import wilson_interval

COUNTERS = (
    ("error_outputs", "num_error_outputs"),
    ("user_asks", "num_user_asks"),
    ("exhausted_context_windows", "num_exhausted_context_windows"),
    ("num_malformed_responses", "num_malformed_responses"),
    ("lazy_comments", "lazy_comments"),
    ("syntax_errors", "syntax_errors"),
    ("indentation_errors", "indentation_errors"),
    ("test_timeouts", "test_timeouts"),
    ("prompt_tokens", "prompt_tokens"),
    ("completion_tokens", "completion_tokens"),
)


def aider_stats(records: list[dict[str, Any]], max_tries: int = 0, total_tests: int | None = None) -> dict[str, Any]:
    """``--stats`` fields for these result records (Aider's field names). Aider derives the number
    of tries from the longest ``tests_outcomes``, so a run solved entirely on try 1 would get no
    ``pass_rate_2``; ``max_tries`` fills those in (a pass on try 1 counts for every later try)."""
    records = [r for r in records if r]
    completed = len(records)
    tries = max([max_tries, *(len(r.get("tests_outcomes") or []) for r in records)])
    passed = [0] * tries
    stats: dict[str, Any] = {"test_cases": completed, "total_tests": completed if total_tests is None else total_tests}
    stats.update({name: 0 for name, _ in COUNTERS})
    duration = cost = 0.0
    with_malformed = 0
    for r in records:
        outcomes = r.get("tests_outcomes") or []
        if outcomes and outcomes[-1]:
            for i in range(len(outcomes) - 1, tries):
                passed[i] += 1
        duration += float(r.get("duration") or 0)
        cost += float(r.get("cost") or 0)
        for name, field in COUNTERS:
            stats[name] += int(r.get(field) or 0)
        if r.get("num_malformed_responses"):
            with_malformed += 1
    for i in range(tries):
        stats[f"pass_rate_{i + 1}"] = 100.0 * passed[i] / completed if completed else 0.0
        stats[f"pass_num_{i + 1}"] = passed[i]
    stats["num_with_malformed_responses"] = with_malformed
    stats["percent_cases_well_formed"] = 100.0 * (1 - with_malformed / completed) if completed else 0.0
    stats["seconds_per_case"] = duration / completed if completed else 0.0
    stats["total_cost"] = cost
    for key in ("model", "edit_format", "commit_hash"):
        values = sorted({str(r[key]) for r in records if r.get(key)})
        stats[key] = ", ".join(values)
    return dict(sorted(stats.items()))


def aider_intervals(stats: dict[str, Any]) -> dict[str, Any]:
    """95 % Wilson intervals for each ``pass_rate_i`` (Aider prints none; its rates are pooled
    proportions of the completed exercises, so Wilson's is the interval that fits them)."""
    cases = int(stats.get("test_cases") or 0)
    return {f"pass_rate_{i}": wilson_interval(int(stats[f"pass_num_{i}"]), cases).to_json()
            for i in range(1, 100) if f"pass_num_{i}" in stats}
