"""``python -m pytest_localcode.compare RUN_A RUN_B``: per-language deltas, flips, one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_localcode.compare import main
from tests.support.benchmark_runs import PROJECT, environment
from tests.support.synthetic_results import make_result, write_run


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    a = write_run(tmp_path / "a", [
        make_result("python/lost", ["pass"], prompt_tokens=1000, completion_tokens=100, seconds=10),
        make_result("python/gained", ["fail", "fail"], prompt_tokens=3000, completion_tokens=300, seconds=30),
        make_result("go/faster", ["fail", "pass"], prompt_tokens=2000, completion_tokens=200, seconds=20),
        make_result("go/same", ["pass"], prompt_tokens=1000, completion_tokens=100, seconds=10),
        make_result("rust/only-a", ["pass"]),
    ])
    b = write_run(tmp_path / "b", [
        make_result("python/lost", ["fail", "fail"], prompt_tokens=2000, completion_tokens=200, seconds=40, model="m2"),
        make_result("python/gained", ["fail", "pass"], prompt_tokens=2000, completion_tokens=200, seconds=20,
                    model="m2"),
        make_result("go/faster", ["pass"], prompt_tokens=1000, completion_tokens=100, seconds=5, model="m2"),
        make_result("go/same", ["pass"], prompt_tokens=1000, completion_tokens=100, seconds=10, model="m2"),
        make_result("cpp/only-b", ["fail", "fail"], model="m2"),
    ])
    return a, b


def row(text: str, name: str) -> list[float]:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return [float(x.replace(",", "")) for x in re.findall(r"[-+]?[\d,]+(?:\.\d+)?", line)]


def section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        out.append(line.strip())
    return out


def test_deltas_per_language_and_total(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(runs[0]), str(runs[1])]) == 0
    out = capsys.readouterr().out
    assert "Compared on the 4 exercises in both runs (only in A: 1, only in B: 1)" in out
    assert f"A: {runs[0]} (5 exercises, model m)" in out and f"B: {runs[1]} (5 exercises, model m2)" in out
    # python: A 1/2 pass@1, 1/2 pass@2; B 0/2 pass@1, 1/2 pass@2; tokens/ex 2200 → 2200; s/ex 20 → 30
    assert row(out, "python") == [2, 50.0, 0.0, -50.0, 50.0, 50.0, 0.0, 2200, 2200, 0, 20.0, 30.0, 10.0]
    # go: pass@1 50 → 100, pass@2 100 → 100, tokens/ex 1650 → 1100 (-33%), s/ex 15 → 7.5
    assert row(out, "go") == [2, 50.0, 100.0, 50.0, 100.0, 100.0, 0.0, 1650, 1100, -33, 15.0, 7.5, -7.5]
    assert row(out, "total")[:7] == [4, 50.0, 50.0, 0.0, 75.0, 75.0, 0.0]
    assert "rust" not in out.split("Compared")[1] and "cpp " not in out  # only-in-one-run exercises stay out
    assert section(out, "Solved in B, not in A (1)") == ["python/gained (fail → pass@2)"]
    assert section(out, "Solved in A, not in B (1)") == ["python/lost (pass@1 → fail)"]
    assert section(out, "Solved in both, on another try (1)") == ["go/faster (pass@2 → pass@1)"]


def test_json_output(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(runs[0]), str(runs[1]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["common"] == 4 and data["only_a"] == ["rust/only-a"] and data["only_b"] == ["cpp/only-b"]
    assert data["a"]["total"]["pass_2"] == 3 and data["b"]["total"]["pass_2"] == 3
    assert data["a"]["total"]["pass_1"] == 2 and data["b"]["total"]["pass_1"] == 2
    assert data["gained"] == ["python/gained (fail → pass@2)"] and data["lost"] == ["python/lost (pass@1 → fail)"]


def test_same_run_has_no_deltas(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(runs[0]), str(runs[0])]) == 0
    out = capsys.readouterr().out
    assert "(1): none" not in out and "Solved in B, not in A (0): none" in out
    assert row(out, "total")[3] == 0.0 and row(out, "total")[6] == 0.0


@pytest.mark.parametrize("case", ["missing", "file", "empty", "corrupt"])
def test_bad_run_dir_is_one_line_error(case: str, runs: tuple[Path, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    if case == "file":
        bad.write_text("x")
    elif case == "empty":
        (bad / "python" / "x").mkdir(parents=True)
    elif case == "corrupt":
        (bad / "python" / "x").mkdir(parents=True)
        (bad / "python" / "x" / ".aider.results.json").write_text("{not json")
    assert main([str(runs[0]), str(bad)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"localcode compare: RUN_B {bad}: "), err
    assert captured.out == ""
    expected = {"missing": "no such directory", "file": "not a directory", "empty": "not a localcode run directory",
                "corrupt": "1 unreadable result files"}[case]
    assert expected in err


def test_runs_without_common_exercises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_run(tmp_path / "a", [make_result("python/x", ["pass"])])
    b = write_run(tmp_path / "b", [make_result("python/y", ["pass"])])
    assert main([str(a), str(b)]) == 2
    assert "no exercise in common" in capsys.readouterr().err


def test_module_entry_point(runs: tuple[Path, Path], tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "pytest_localcode.compare", str(runs[0]), str(runs[1])],
                        cwd=PROJECT, env=environment(), capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "Solved in A, not in B (1):" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "pytest_localcode.compare", str(tmp_path / "nope"), str(runs[1])],
                         cwd=PROJECT, env=environment(), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == f"localcode compare: RUN_A {tmp_path / 'nope'}: no such directory"
