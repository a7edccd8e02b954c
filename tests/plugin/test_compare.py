"""``python -m pytest_localcode.compare RUN_A RUN_B``: per-language deltas, flips, one-line errors."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_localcode import stats
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


RATE = r"(-?[\d.]+) → +(-?[\d.]+) +([+-][\d.]+) \[ *([+-][\d.]+), +([+-][\d.]+)\] +([\d.e-]+) +([\d.e-]+)"


def rates(text: str, name: str) -> list[list[float]]:
    """[A %, B %, Δ, low, high, p, p Holm] for pass@1 and for pass@2 in a language's row."""
    line = next(line for line in text.splitlines() if line.startswith(name + " ") and "→" in line and "[" in line)
    return [[float(x) for x in m] for m in re.findall(RATE, line)]


def cost_row(text: str, name: str) -> list[float]:
    line = [line for line in text.splitlines() if line.startswith(name + " ") and "→" in line][-1]
    return [float(x.replace(",", "")) for x in re.findall(r"[-+]?\d[\d,]*(?:\.\d+)?", line)]


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
    # python: pass@1 A 1/2 (lost) → B 0/2; pass@2 A 1/2 → B 1/2 (lost one, gained one)
    d, low, high = stats.newcombe_paired(0, 1, 0, 1)
    assert rates(out, "python")[0][:5] == [50.0, 0.0, -50.0, round(100 * low, 1), round(100 * high, 1)]
    assert rates(out, "python")[0][5] == 1.0  # McNemar: one discordant pair
    assert rates(out, "python")[1][:3] == [50.0, 50.0, 0.0]
    # go: pass@1 50 → 100 (faster), pass@2 100 → 100
    assert rates(out, "go")[0][:3] == [50.0, 100.0, 50.0] and rates(out, "go")[1][:3] == [100.0, 100.0, 0.0]
    assert rates(out, "total")[1][:3] == [75.0, 75.0, 0.0]
    # tokens per run: python 2200 → 2200, go 1650 → 1100 (-33%); seconds per run go 15 → 7.5
    assert cost_row(out, "python") == [2200, 2200, 0, 20.0, 30.0, 10.0]
    assert cost_row(out, "go") == [1650, 1100, -33, 15.0, 7.5, -7.5]
    assert "rust" not in out.split("Compared")[1] and "cpp " not in out  # only-in-one-run exercises stay out
    assert section(out, "Solved in B, not in A (1)") == ["python/gained (fail → pass@2)"]
    assert section(out, "Solved in A, not in B (1)") == ["python/lost (pass@1 → fail)"]
    assert section(out, "Solved in both, on another try (1)") == ["go/faster (pass@2 → pass@1)"]
    verdict = next(line for line in out.splitlines() if line.startswith("Verdict: "))
    assert verdict.startswith("Verdict: no detectable difference: +0.0 points, 95 % CI [") and "p = 1.000" in verdict


def test_json_output(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(runs[0]), str(runs[1]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["common"] == 4 and data["only_a"] == ["rust/only-a"] and data["only_b"] == ["cpp/only-b"]
    assert data["a"]["total"]["pass_2"] == 3 and data["b"]["total"]["pass_2"] == 3
    assert data["a"]["total"]["pass_1"] == 2 and data["b"]["total"]["pass_1"] == 2
    assert data["gained"] == ["python/gained (fail → pass@2)"] and data["lost"] == ["python/lost (pass@1 → fail)"]
    total = data["paired"]["pass@2"]["total"]
    assert total["table"] == {"both": 2, "only_a": 1, "only_b": 1, "neither": 0} and total["test"] == "exact McNemar"
    assert data["verdict"].startswith("no detectable difference")


def test_same_run_is_refused(runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(runs[0]), str(runs[0])]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"localcode compare: RUN_A and RUN_B are the same run directory ({runs[0]}): "
                   "compare two different runs")
    assert main([str(runs[0]), str(runs[0]) + "/."]) == 2  # the same directory spelled differently


def _one_epoch_runs(tmp_path: Path, a_solved: int, b_solved: int, both: int, n: int = 30) -> tuple[Path, Path]:
    """Two runs of n python exercises: A solves the first a_solved, B `both` of those and more."""
    a = [make_result(f"python/e{i:02d}", ["pass"] if i < a_solved else ["fail", "fail"]) for i in range(n)]
    b_set = set(range(both)) | set(range(a_solved, a_solved + b_solved - both))
    b = [make_result(f"python/e{i:02d}", ["pass"] if i in b_set else ["fail", "fail"], model="m2") for i in range(n)]
    return write_run(tmp_path / "a", a), write_run(tmp_path / "b", b)


def test_known_difference_is_significant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _one_epoch_runs(tmp_path, a_solved=10, b_solved=20, both=10)  # 10 gained, none lost
    assert main([str(a), str(b)]) == 0
    verdict = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Verdict: "))
    p = stats.mcnemar_exact(0, 10)
    _, low, high = stats.newcombe_paired(10, 0, 10, 10)
    assert verdict == (f"Verdict: B better than A: +33.3 points, 95 % CI [+{100 * low:.1f}, +{100 * high:.1f}], "
                       f"p = {p:.3f} (exact McNemar, pass@2, 30 exercises)")
    assert main([str(b), str(a)]) == 0
    assert "Verdict: A better than B: -33.3 points" in capsys.readouterr().out


def test_epochs_use_paired_bootstrap_and_sign_flip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three epochs each; B solves every exercise in every epoch, A each one in 1 of 3."""
    def run(name: str, solved_epochs: int, model: str) -> Path:
        results = []
        for i in range(12):
            for epoch in (1, 2, 3):
                results.append(make_result(f"go/e{i:02d}", ["pass"] if epoch <= solved_epochs else ["fail", "fail"],
                                           model=model, epoch=epoch, epochs=3))
        return write_run(tmp_path / name, results)

    a, b = run("a", 1, "m"), run("b", 3, "m2")
    assert main([str(a), str(b), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    total = data["paired"]["pass@2"]["total"]
    assert total["difference"]["estimate"] == pytest.approx(200 / 3)
    assert total["difference"]["method"] == "paired bootstrap + MOVER"
    assert total["p"] == pytest.approx(2 / 2**12) and total["test"] == "sign-flip exact"  # all 12 differences agree
    assert data["verdict"].startswith("B better than A: +66.7 points")
    assert len(data["gained"]) == 12 and data["gained"][0] == "go/e00 (1/3 → 3/3 epochs solved)"


def test_different_datasets_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = make_result("python/x", ["pass"])
    one.provenance = {"exercise_digest": "aaaa", "dataset_commit": "c1"}
    other = make_result("python/x", ["pass"])
    other.provenance = {"exercise_digest": "bbbb", "dataset_commit": "c2"}
    a, b = write_run(tmp_path / "a", [one]), write_run(tmp_path / "b", [other])
    assert main([str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("localcode compare: 1 of the 1 common exercises differ between the runs' datasets (e.g. python/x): "
                   "compare runs of the same dataset, or pass --any-dataset")
    assert main([str(a), str(b), "--any-dataset"]) == 0


def test_html_page(runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "cmp.html"
    assert main([str(runs[0]), str(runs[1]), "--html", str(page)]) == 0
    text = page.read_text()
    assert '<p class="verdict">no detectable difference' in text
    # 2 rates x (2 languages + total)
    assert text.count('class="lc-forest"') == 2 and text.count('class="lc-diff"') == 6
    assert f"Saved: {page}" in capsys.readouterr().out
    assert main([str(runs[0]), str(runs[1]), "--html", str(tmp_path / "no" / "such" / "dir.html")]) == 2
    assert "No such file or directory" in capsys.readouterr().err


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


def test_some_corrupt_files_give_a_marked_partial_result(runs: tuple[Path, Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    broken = runs[1] / "python" / "broken" / ".aider.results.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"testcase": "broken", "localcode": {')
    assert main([str(runs[0]), str(runs[1])]) == 0
    out = capsys.readouterr().out
    assert f"warning: partial result: {runs[1]}: 1 unreadable result files skipped (e.g. {broken})" in out


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


def test_one_exercise_with_epochs_is_not_overconfident(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bootstrap over one exercise is degenerate ([-100, -100]); the MOVER interval from each run's
    guarded rate interval (Wilson at 2 runs each here: 2/2 and 0/2) is what is reported."""
    a = write_run(tmp_path / "a", [make_result("go/x", ["pass"], epoch=e, epochs=2) for e in (1, 2)])
    b = write_run(tmp_path / "b", [make_result("go/x", ["fail", "fail"], epoch=e, epochs=2, model="m2")
                                   for e in (1, 2)])
    assert main([str(a), str(b), "--json"]) == 0
    total = json.loads(capsys.readouterr().out)["paired"]["pass@2"]["total"]
    assert total["difference"]["percentile"] == [-100.0, -100.0] and total["p"] == 1.0
    high = 100 * (-1 + math.hypot(1 - stats.wilson(2, 2)[0], stats.wilson(0, 2)[1]))
    assert total["difference"]["low"] == -100.0 and total["difference"]["high"] == pytest.approx(high)
    assert high > -10
