"""Collection of the real dataset: one item per exercise, markers, -k, and no leaks."""

from __future__ import annotations

from pathlib import Path

import pytest


def collect(pytester: pytest.Pytester, dataset: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("--model", "oracle", f"--exercises={dataset}", "--collect-only", "-q", *args)


def test_collects_all_225(pytester: pytest.Pytester, polyglot: Path) -> None:
    result = collect(pytester, polyglot)
    result.stdout.fnmatch_lines(["python::react", "rust::xorcism", "*225 tests collected*"])
    assert result.ret == 0
    assert not (pytester.path / "runs").exists()  # nothing ran: no run directory, no empty report


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        (("-k", "space-age"), ["cpp::space-age", "javascript::space-age", "*2/225 tests collected*"]),
        (("-m", "python"), ["*34/225 tests collected*"]),
        (("-m", "java"), ["*47/225 tests collected*"]),
        (("-m", "rust or go"), ["*69/225 tests collected*"]),
    ],
)
def test_selection(pytester: pytest.Pytester, polyglot: Path, selection: tuple[str, str], expected: list[str]) -> None:
    result = collect(pytester, polyglot, *selection)
    result.stdout.fnmatch_lines(expected)


def test_exercise_path_selects_one(pytester: pytest.Pytester, polyglot: Path) -> None:
    result = collect(pytester, polyglot, str(polyglot / "go" / "exercises" / "practice" / "bowling"))
    result.stdout.fnmatch_lines(["go::bowling", "*1 test collected*"])


def test_python_exercise_tests_never_collected_as_project_tests(pytester: pytest.Pytester, polyglot: Path) -> None:
    """Without --model the dataset's *_test.py files must not be imported (they fail on stubs)."""
    result = pytester.runpytest_subprocess(f"--exercises={polyglot}", "--collect-only", "-q")
    assert "react_test" not in result.stdout.str()
    result = pytester.runpytest_subprocess("--model", "oracle", f"--exercises={polyglot}", "--collect-only", "-q")
    assert "react_test.py" not in result.stdout.str()
    assert "ImportError" not in result.stdout.str()


def test_without_model_only_project_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_own="def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)
