"""Our ``.aider.results.json`` files work with Aider's ``benchmark.py --stats`` arithmetic.

``aider_summarize`` below follows Aider's ``summarize_results`` (``benchmark/benchmark.py`` in the
Aider-AI/aider repository) step by step: the same fields, the same defaults, a pass on
try k counting for every pass_rate_i with i ≥ k, rates over completed exercises. Only the glob
differs: Aider's tree is ``<dir>/<lang>/exercises/practice/<ex>/``, ours ``<run>/<lang>/<ex>/``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode.report.summary import summarize
from pytest_localcode.results import load
from tests.support.benchmark_runs import Run, mixed_run
from tests.support.synthetic_results import make_result, write_run

# Field → the types Aider's writer produces and its --stats reads (bool is checked apart: it is an int).
AIDER_FIELDS: dict[str, tuple[type, ...]] = {
    "testdir": (str,), "testcase": (str,), "model": (str,), "edit_format": (str,), "tests_outcomes": (list,),
    "cost": (int, float), "duration": (int, float), "test_timeouts": (int,), "commit_hash": (str,),
    "num_error_outputs": (int,), "num_user_asks": (int,), "num_exhausted_context_windows": (int,),
    "num_malformed_responses": (int,), "syntax_errors": (int,), "indentation_errors": (int,), "lazy_comments": (int,),
    "reasoning_effort": (str, type(None)), "prompt_tokens": (int,), "completion_tokens": (int,),
    "thinking_tokens": (int,), "chat_hashes": (list,),
}


def aider_summarize(run_dir: Path) -> dict[str, Any]:
    """Aider's summarize_results, on our directory layout."""
    all_results = [json.loads(p.read_text()) for p in run_dir.glob("*/*/.aider.results.json")]
    tries = max((len(r["tests_outcomes"]) for r in all_results if r), default=0)
    passed_tests = [0] * tries
    res: dict[str, Any] = dict.fromkeys(
        ("completed_tests", "duration", "cost", "error_outputs", "user_asks", "test_timeouts",
         "exhausted_context_windows",
         "num_malformed_responses", "num_with_malformed_responses", "syntax_errors", "indentation_errors",
         "lazy_comments", "prompt_tokens", "completion_tokens"), 0)
    for results in all_results:
        if not results:
            continue
        res["completed_tests"] += 1
        tests_outcomes = results.get("tests_outcomes", [])
        passed = tests_outcomes and tests_outcomes[-1]
        if passed:
            for i in range(len(tests_outcomes) - 1, tries):
                passed_tests[i] += 1
        res["cost"] += results.get("cost", 0)
        res["duration"] += results.get("duration", 0)
        res["test_timeouts"] += results.get("test_timeouts", 0)
        res["error_outputs"] += results.get("num_error_outputs", 0)
        res["user_asks"] += results.get("num_user_asks", 0)
        res["exhausted_context_windows"] += results.get("num_exhausted_context_windows", 0)
        res["num_malformed_responses"] += results.get("num_malformed_responses", 0)
        if results.get("num_malformed_responses"):
            res["num_with_malformed_responses"] += 1
        res["lazy_comments"] += results.get("lazy_comments", 0)
        res["syntax_errors"] += results.get("syntax_errors", 0)
        res["indentation_errors"] += results.get("indentation_errors", 0)
        res["prompt_tokens"] += results.get("prompt_tokens", 0)
        res["completion_tokens"] += results.get("completion_tokens", 0)
    for i in range(tries):
        res[f"pass_rate_{i + 1}"] = 100 * passed_tests[i] / res["completed_tests"]
        res[f"pass_num_{i + 1}"] = passed_tests[i]
    res["percent_cases_well_formed"] = 100 * (1.0 - res["num_with_malformed_responses"] / res["completed_tests"])
    res["seconds_per_case"] = res["duration"] / res["completed_tests"]
    return res


def check_fields(data: dict[str, Any], where: str) -> None:
    for name, types in AIDER_FIELDS.items():
        assert name in data, f"{where}: no {name}"
        assert isinstance(data[name], types) and not (isinstance(data[name], bool) and bool not in types), \
            f"{where}: {name} is {type(data[name]).__name__}"
    assert data["tests_outcomes"] and all(isinstance(x, bool) for x in data["tests_outcomes"]), where


def check_against_summary(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    aider = aider_summarize(run_dir)
    total = summary["total"]
    assert aider["completed_tests"] == total["exercises"] == summary["aider"]["test_cases"]
    assert round(aider["pass_rate_1"], 1) == total["pass_rate_1"]
    assert round(aider["pass_rate_2"], 1) == total["pass_rate_2"]
    assert (aider["pass_num_1"], aider["pass_num_2"]) == (total["pass_1"], total["pass_2"])
    ours = summary["aider"]
    for key in ("pass_rate_1", "pass_rate_2", "pass_num_1", "pass_num_2", "percent_cases_well_formed", "test_timeouts",
                "num_malformed_responses", "num_with_malformed_responses", "prompt_tokens", "completion_tokens",
                "syntax_errors", "error_outputs", "exhausted_context_windows", "user_asks"):
        assert ours[key] == pytest.approx(aider[key]), key
    assert ours["seconds_per_case"] == pytest.approx(aider["seconds_per_case"])
    assert (aider["prompt_tokens"], aider["completion_tokens"]) == (total["prompt_tokens"], total["completion_tokens"])
    assert aider["test_timeouts"] == total["test_timeouts"]
    assert aider["num_malformed_responses"] == total["malformed_responses"]
    return aider


def test_hand_made_run_matches_aider_arithmetic(tmp_path: Path) -> None:
    results = [
        make_result("python/a", ["pass"]),
        make_result("python/b", ["fail", "pass"], malformed=2),
        make_result("go/c", ["fail", "fail"], timeouts=1),
        make_result("go/d", ["not_run"], error="go/d: server lost"),  # a crash: completed and failed, as in Aider
        make_result("rust/e", ["fail", "fail", "pass"]),  # --tries 3: counts for pass_rate_3 only
        make_result("rust/f", ["timeout", "pass"], timeouts=1, malformed=1),
    ]
    for r in results:
        r.max_tries = 3
    write_run(tmp_path, results)
    for path in tmp_path.glob("*/*/.aider.results.json"):
        check_fields(json.loads(path.read_text()), str(path))
    crashed = json.loads((tmp_path / "go" / "d" / ".aider.results.json").read_text())
    assert crashed["exception"] == "go/d: server lost" and crashed["tests_outcomes"] == [False]
    loaded = [load(p.parent) for p in sorted(tmp_path.glob("*/*/.aider.results.json"))]
    summary = summarize([r for r in loaded if r is not None])
    aider = check_against_summary(tmp_path, summary)
    assert (aider["pass_num_1"], aider["pass_num_2"], aider["pass_num_3"]) == (1, 3, 4)
    assert summary["aider"]["pass_rate_3"] == pytest.approx(aider["pass_rate_3"]) == pytest.approx(400 / 6)
    assert aider["percent_cases_well_formed"] == pytest.approx(100 * 4 / 6)
    assert aider["test_timeouts"] == 2 and summary["total"]["errors"] == 1


def test_duration_is_model_time_like_aiders(tmp_path: Path) -> None:
    """Aider's ``duration`` brackets only ``coder.run``; tests are not in it."""
    result = make_result("python/a", ["fail", "pass"], seconds=20.0)
    data = result.to_json()
    assert data["duration"] == pytest.approx(sum(t.agent_seconds for t in result.tries)) == pytest.approx(10.0)
    assert data["localcode"]["wall_seconds"] == 20.0


@pytest.mark.slow
def test_real_run_files_read_like_aiders(polyglot: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    run: Run = mixed_run(polyglot, tmp_path_factory)
    files = sorted(run.run_dir.glob("*/*/.aider.results.json"))
    assert len(files) == 6
    for path in files:
        data = json.loads(path.read_text())
        check_fields(data, str(path))
        assert data["testdir"] == f"{path.parent.parent.name}/{path.parent.name}"
        assert data["testcase"] == path.parent.name
        assert data["commit_hash"], "commit_hash tells Aider's --stats which harness version ran"
    summary = run.summary()
    aider = check_against_summary(run.run_dir, summary)
    assert (aider["pass_rate_1"], aider["pass_rate_2"]) == (50.0, pytest.approx(500 / 6))
    assert aider["prompt_tokens"] == run.totals["prompt_tokens"]
