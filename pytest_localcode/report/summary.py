"""Aggregate per-exercise results into the run's numbers (per language and in total).

One function computes every figure the terminal table, ``benchmark_results.txt``,
``summary.json`` and the HTML summary show, so they cannot disagree; it reads nothing but the
result records it is given (and the run's energy records), so the same files always give the
same summary, to the last digit. Rates are ratios of sums (Σ tokens / Σ milliseconds), never
means of per-request rates. ``aider`` holds the run's first epoch as Aider's ``--stats`` would
report it (leaderboard fields).

Uncertainty: with one epoch, pass@1 and pass@2 (solved on try 1, solved by try 2) get Wilson
intervals. With several epochs every exercise has a solve rate (solved epochs / its epochs); a
language's rate is the mean over its exercises, with a bootstrap interval over exercises
stratified by language (:mod:`pytest_localcode.stats`), and pass@k / pass^k over epochs are
estimated for k up to the number of epochs (an epoch counts as solved when any try passed).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_localcode import stats
from pytest_localcode.energy import total as energy_total
from pytest_localcode.report.aider import aider_intervals, aider_stats
from pytest_localcode.report.servers import per_server
from pytest_localcode.results import ExerciseResult

SUM_KEYS = (
    "prompt_tokens", "completion_tokens", "cached_tokens", "prompt_n", "prompt_ms", "predicted_n", "predicted_ms",
    "turns", "model_responses", "tool_call_responses", "tool_calls_total", "tool_errors_total", "length_stops",
    "context_overflows", "malformed_responses", "format_retries", "recovered_calls", "http_errors",
    "cache_prompt_tokens", "first_prompt_tokens", "first_cached_tokens", "wait_seconds", "timed_responses",
)
# Unsolved verdicts counted apart: (status, the group's count key). Data, so a new verdict is a
# line here (and a colour in report/html.py); every unsolved verdict is a failure in every rate.
OUTCOMES = (
    ("fail", "failed"),
    ("forged", "forged"),  # the grader was tampered with: a failure in every rate, shown apart
    ("error", "errors"),
)
# Pass rates by try: (name, solved on a try <= this one).
TRY_RATES = (("pass@1", 1), ("pass@2", 2))
# What cost per solved exercise (and per exercise run) is given for.
COST_KEYS = ("prompt_tokens", "completion_tokens", "agent_seconds", "test_seconds", "wall_seconds")


def exercise_row(result: ExerciseResult) -> dict[str, Any]:
    """One exercise run (one epoch), summed over its tries."""
    row: dict[str, Any] = {
        "language": result.language,
        "exercise": result.exercise,
        "epoch": result.epoch,
        "seed": result.seed,
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
    row["tool_call_sources"] = call_sources(t.agent for t in result.tries)
    row.update(cache_and_waiting(row))
    return row


def call_sources(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Where tool calls came from, summed over ``parts`` (tries' agent metrics, or earlier results
    of this function): ``server_calls`` (structured ``tool_calls`` from the server),
    ``recovered_calls`` (read by the agent from the reply's text, as when the server's parser
    failed, or by design under ``call_grammar``), ``recovered_by_syntax`` (family → calls, most
    first), and ``recovered_share``: the percentage of calls whose result depends on that reading."""
    server = recovered = 0
    by_syntax: Counter[str] = Counter()
    for part in parts:
        server += int(part.get("server_calls", 0) or 0)
        recovered += int(part.get("recovered_calls", 0) or 0)
        by_syntax.update(part.get("recovered_by_syntax") or {})
    return {"server_calls": server, "recovered_calls": recovered,
            "recovered_by_syntax": dict(sorted(by_syntax.items(), key=lambda kv: (-kv[1], kv[0]))),
            "recovered_share": pct(recovered, server + recovered)}


def share(part: float, whole: float) -> float | None:
    """A percentage, or None (unknown) when there is nothing to take it of."""
    return round(100.0 * part / whole, 1) if whole > 0 else None


def cache_and_waiting(sums: dict[str, Any]) -> dict[str, Any]:
    """Prompt-cache reuse and working vs waiting time of an exercise run or a group, from its sums.

    ``cache_share``: percent of prompt tokens the server took from its cache, over the responses
    whose cache use it reported (None: it reported none); ``cache_share_after_first``: the same
    without each session's first response (nothing could be cached for it yet). ``waiting_seconds``:
    time requests spent queued for a slot (round trip minus the server's own timings);
    ``working_seconds``: agent time minus that. Both None when a response had no timings
    (waiting unknown), never estimated.
    """
    later_prompt = sums["cache_prompt_tokens"] - sums["first_prompt_tokens"]
    known = sums["timed_responses"] == sums["model_responses"]
    waiting = round(float(sums["wait_seconds"]), 3) if known else None
    return {
        "cache_share": share(sums["cached_tokens"], sums["cache_prompt_tokens"]),
        "cache_share_after_first": share(sums["cached_tokens"] - sums["first_cached_tokens"], later_prompt),
        "waiting_seconds": waiting,
        "working_seconds": None if waiting is None else round(sums["agent_seconds"] - waiting, 3),
    }


def rate(tokens: float, ms: float) -> float:
    return round(tokens / ms * 1000.0, 2) if ms else 0.0


def pct(n: int, d: int) -> float:
    return round(100.0 * n / d, 1) if d else 0.0


def solved_by(row: dict[str, Any], try_number: int) -> bool:
    return row["solved_on"] is not None and row["solved_on"] <= try_number


def exercise_name(row: dict[str, Any]) -> str:
    return f"{row['language']}/{row['exercise']}"


# -- what each exercise contributes to the rates ---------------------------------------------------


def statistics_of(runs: Sequence[dict[str, Any]], max_k: int) -> list[float]:
    """One exercise's values for the bootstrap, as (value, weight) pairs: its solve rate per try
    level, then pass@k and pass^k for k = 1..max_k (weight 0 where it has fewer than k epochs)."""
    n = len(runs)
    solved = sum(1 for r in runs if r["solved_on"] is not None)
    values: list[float] = []
    for _, try_number in TRY_RATES:
        values += [sum(1 for r in runs if solved_by(r, try_number)) / n, 1.0]
    for estimator in (stats.pass_at_k, stats.pass_hat_k):
        for k in range(1, max_k + 1):
            values += [estimator(n, solved, k), 1.0] if k <= n else [0.0, 0.0]
    return values


def columns(max_k: int) -> list[tuple[str, str, int]]:
    """(family, key, k) of each statistic in :func:`statistics_of`'s order."""
    out = [("rates", name, 1) for name, _ in TRY_RATES]
    out += [("pass_at_k", str(k), k) for k in range(1, max_k + 1)]
    out += [("pass_hat_k", str(k), k) for k in range(1, max_k + 1)]
    return out


def intervals(by_exercise: dict[str, list[dict[str, Any]]], multi_epoch: bool) -> dict[str, dict[str, Any]]:
    """``{language or "total": {family: {key: interval JSON}}}`` for the rates (and, with several
    epochs, pass@k and pass^k), every group from the same bootstrap replicates."""
    languages = sorted({runs[0]["language"] for runs in by_exercise.values()})
    groups: dict[str, list[list[dict[str, Any]]]] = {lang: [] for lang in languages}
    for name in sorted(by_exercise):
        groups[by_exercise[name][0]["language"]].append(by_exercise[name])
    out: dict[str, dict[str, Any]] = {}
    if not multi_epoch:  # one run per exercise: Wilson intervals on the counts
        for scope, members in [*groups.items(), ("total", [m for g in groups.values() for m in g])]:
            out[scope] = {"rates": {name: stats.wilson_interval(sum(1 for [r] in members if solved_by(r, t)),
                                                                  len(members)).to_json()
                                    for name, t in TRY_RATES}}
        return out
    max_k = max(len(runs) for runs in by_exercise.values())
    strata = {lang: [statistics_of(runs, max_k) for runs in members] for lang, members in groups.items()}
    replicates = stats.stratified_replicates(strata)
    # per language: one tuple of replicate sums per statistic column
    sums = {lang: list(zip(*replicates[lang])) for lang in languages}
    scopes = {**{lang: [lang] for lang in languages}, "total": languages}
    for scope, members_of in scopes.items():
        items = [item for lang in members_of for item in strata[lang]]
        runs_of = [runs for lang in members_of for runs in groups[lang]]
        out[scope] = {}
        for j, (family, key, k) in enumerate(columns(max_k)):
            weight = sum(item[2 * j + 1] for item in items)
            if not weight:
                continue
            estimate = math.fsum(item[2 * j] for item in items) / weight
            values = [sum(v) for v in zip(*(sums[lang][2 * j] for lang in members_of))]
            weights = [sum(w) for w in zip(*(sums[lang][2 * j + 1] for lang in members_of))]
            series = [v / w if w else estimate for v, w in zip(values, weights)]
            defined = [runs for runs in runs_of if len(runs) >= k]
            trials = sum(len(runs) // k for runs in defined)
            interval = stats.bootstrap_interval(estimate, series, len(defined), trials)
            out[scope].setdefault(family, {})[key] = interval.to_json()
    return out


# -- groups ------------------------------------------------------------------------------------------


def group(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals for a set of exercise runs (every epoch of every exercise in the set)."""
    n = len({exercise_name(r) for r in rows})
    attempts = len(rows)
    pass1 = sum(1 for r in rows if solved_by(r, 1))
    pass2 = sum(1 for r in rows if solved_by(r, 2))
    solved = sum(1 for r in rows if r["solved_on"] is not None)
    statuses = Counter(r["status"] for r in rows)
    totals: dict[str, Any] = {
        "exercises": n,
        "attempts": attempts,
        "epochs": max(Counter(exercise_name(r) for r in rows).values(), default=0),
        "pass_1": pass1,
        "pass_2": pass2,
        "pass_rate_1": pct(pass1, attempts),
        "pass_rate_2": pct(pass2, attempts),
        "solved_any": solved,
        **{key: statuses.get(status, 0) for status, key in OUTCOMES},
        "wall_seconds": round(sum(r["wall_seconds"] for r in rows), 3),
        "agent_seconds": round(sum(r["agent_seconds"] for r in rows), 3),
        "test_seconds": round(sum(r["test_seconds"] for r in rows), 3),
        "test_timeouts": sum(r["test_timeouts"] for r in rows),
        "tests_defined": sum(r["tests_defined"] for r in rows),
        "tests_executed": sum(r["tests_executed"] for r in rows),
        "refused_paths": sum(r["refused_paths"] for r in rows),
    }
    totals["seconds_per_exercise"] = round(totals["wall_seconds"] / attempts, 2) if attempts else 0.0
    for key in SUM_KEYS:
        value = sum(r[key] for r in rows)
        totals[key] = round(value, 3) if isinstance(value, float) else value
    totals["prefill_tps"] = rate(totals["prompt_n"], totals["prompt_ms"])
    totals["decode_tps"] = rate(totals["predicted_n"], totals["predicted_ms"])
    totals.update(cache_and_waiting(totals))
    responses = totals["model_responses"]
    totals["tool_call_share"] = pct(totals["tool_call_responses"], responses)
    totals["avg_prompt_tokens"] = round(totals["prompt_tokens"] / attempts) if attempts else 0
    totals["avg_completion_tokens"] = round(totals["completion_tokens"] / attempts) if attempts else 0
    for key in ("tool_calls", "tool_errors_by_tool", "tool_errors"):
        merged: Counter[str] = Counter()
        for r in rows:
            merged.update(r[key])
        totals[key] = dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))
    totals["tool_call_sources"] = call_sources(r["tool_call_sources"] for r in rows)
    totals["cost"] = cost(totals, solved, attempts)
    return totals


def cost(totals: dict[str, Any], solved: int, attempts: int) -> dict[str, Any]:
    """Tokens and seconds per solved exercise run and per exercise run (None where nothing was solved)."""
    sums = {key: float(totals[key]) for key in COST_KEYS}
    return {
        "solved": solved,
        "attempts": attempts,
        "per_solved": {key: value / solved for key, value in sums.items()} if solved else None,
        "per_attempt": {key: value / attempts for key, value in sums.items()} if attempts else None,
    }


def exercise_entry(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """An exercise over its epochs: the run itself with one epoch; with several, its outcome per
    epoch, how many it solved, whether it is flaky, sums of the numbers, and every run."""
    first = runs[0]
    if len(runs) == 1:
        return {**first, "epochs": 1, "outcomes_by_epoch": [first["status"]],
                "solved_epochs": int(first["solved_on"] is not None), "flaky": False}
    solved = sum(1 for r in runs if r["solved_on"] is not None)
    statuses = {r["status"] for r in runs}
    entry: dict[str, Any] = {
        "language": first["language"],
        "exercise": first["exercise"],
        "status": statuses.pop() if len(statuses) == 1 else "mixed",
        "epochs": len(runs),
        "outcomes_by_epoch": [r["status"] for r in runs],
        "epoch_numbers": [r["epoch"] for r in runs],
        "seeds": [r["seed"] for r in runs],
        "solved_epochs": solved,
        "flaky": 0 < solved < len(runs),
        "errors": [r["error"] for r in runs if r["error"]],
    }
    for key in ("wall_seconds", "agent_seconds", "test_seconds", "test_timeouts", "refused_paths", *SUM_KEYS):
        value = sum(r[key] for r in runs)
        entry[key] = round(value, 3) if isinstance(value, float) else value
    entry["prefill_tps"] = rate(entry["prompt_n"], entry["prompt_ms"])
    entry["decode_tps"] = rate(entry["predicted_n"], entry["predicted_ms"])
    entry["tool_call_sources"] = call_sources(r["tool_call_sources"] for r in runs)
    entry.update(cache_and_waiting(entry))
    entry["by_epoch"] = runs
    return entry


def energy_summary(sessions: Iterable[dict[str, Any]], solved: int, attempts: int) -> dict[str, Any]:
    """The run's energy from its sessions' counter readings; absent (with the reasons) when no
    session had a counter. Per solved exercise only when every session measured."""
    sessions = list(sessions)
    measured = [s for s in sessions if s.get("joules")]
    joules: Counter[str] = Counter()
    for s in measured:
        joules.update(s["joules"])
    absent = sorted({f"{k}: {v}" for s in sessions for k, v in (s.get("absent") or {}).items()})
    total = energy_total(dict(joules))
    complete = bool(measured) and len(measured) == len(sessions)
    return {
        "sessions": len(sessions),
        "measured_sessions": len(measured),
        "joules": dict(sorted(joules.items())),
        "total_joules": total,
        "per_solved_joules": total / solved if total is not None and complete and solved else None,
        "per_attempt_joules": total / attempts if total is not None and complete and attempts else None,
        "absent": absent,
    }


def summarize(results: list[ExerciseResult], energy: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """``{"total": …, "languages": {lang: …}, "exercises": {lang/ex: …}, "flaky": […], "aider": …,
    "energy": …}``: a pure function of the result records (and the sessions' energy records)."""
    ordered = sorted(results, key=lambda r: (r.language, r.exercise, r.epoch))
    rows = [exercise_row(r) for r in ordered]
    by_exercise: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_exercise[exercise_name(row)].append(row)
    multi_epoch = any(len(runs) > 1 for runs in by_exercise.values())
    languages = sorted({r["language"] for r in rows})
    figures = intervals(by_exercise, multi_epoch) if rows else {}
    exercises = {name: exercise_entry(runs) for name, runs in by_exercise.items()}

    def scope(name: str, members: list[dict[str, Any]]) -> dict[str, Any]:
        g = group(members)
        g.update(figures.get(name, {}))
        if multi_epoch:  # the estimate of a mean over exercises, not of a pooled count
            g["pass_rate_1"] = round(g["rates"]["pass@1"]["estimate"], 1)
            g["pass_rate_2"] = round(g["rates"]["pass@2"]["estimate"], 1)
        g["flaky"] = sorted(n for n, e in exercises.items()
                            if e["flaky"] and (name == "total" or e["language"] == name))
        return g

    total = scope("total", rows)
    first_epoch = [r for r in ordered if r.epoch == 1]
    aider = aider_stats([r.aider_fields() for r in first_epoch],
                        max_tries=max((r.max_tries for r in ordered), default=0))
    aider["intervals"] = aider_intervals(aider)
    return {
        "epochs": max((r.epochs for r in ordered), default=1),
        "multi_epoch": multi_epoch,
        "total": total,
        "languages": {lang: scope(lang, [r for r in rows if r["language"] == lang]) for lang in languages},
        "exercises": exercises,
        "flaky": total["flaky"],
        "energy": energy_summary(energy, total["cost"]["solved"], total["attempts"]),
        "aider": aider,
        "servers": per_server(ordered),
    }
