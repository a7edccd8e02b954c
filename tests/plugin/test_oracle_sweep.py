"""The harness validates itself on the whole dataset: reference solutions pass, stubs fail.

``oracle`` must pass all 225 with exactly as many test cases executed as each exercise defines
(a silently disabled test suite shows up here); ``nop`` must pass none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def sweep(pytester: pytest.Pytester, dataset: Path, model: str, run_dir: Path) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--model", model, f"--exercises={dataset}", f"--run-dir={run_dir}", "--sandbox=local", "-n", "2", "-q",
        "-p", "no:cacheprovider", timeout=1800,
    )


def saved(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(run_dir.glob("*/*/.aider.results.json"))]


@pytest.mark.slow
def test_oracle_passes_all_with_every_test_run(pytester: pytest.Pytester, polyglot: Path, tmp_path: Path) -> None:
    result = sweep(pytester, polyglot, "oracle", tmp_path / "run")
    result.assert_outcomes(passed=225)
    results = saved(tmp_path / "run")
    assert len(results) == 225
    per_language: dict[str, list[int]] = {}
    for data in results:
        tests = data["localcode"]["tries"][-1]["tests"]
        assert tests["executed"] == tests["defined"] > 0, data["testdir"]
        assert tests["passed"] == tests["defined"], data["testdir"]
        counts = per_language.setdefault(data["localcode"]["language"], [0, 0])
        counts[0] += 1
        counts[1] += tests["executed"]
    assert {lang: n for lang, (n, _) in per_language.items()} == {
        "cpp": 26, "go": 39, "java": 47, "javascript": 49, "python": 34, "rust": 30}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["total"]["pass_1"] == 225
    executed = sum(t for _, t in per_language.values())
    assert summary["total"]["tests_executed"] == summary["total"]["tests_defined"] == executed


@pytest.mark.slow
def test_nop_passes_none(pytester: pytest.Pytester, polyglot: Path, tmp_path: Path) -> None:
    result = sweep(pytester, polyglot, "nop", tmp_path / "run")
    result.assert_outcomes(failed=225)
    assert all(not d["tests_outcomes"][0] for d in saved(tmp_path / "run"))
