"""``localcode compare`` on real scripted runs (real collection, grading, result files).

A model that solves 2 of 10 exercises against one that solves all 10: the difference is reported
as significant (8 discordant pairs, all one way: exact McNemar p = 2/2^8). The same coin-flipping
model run twice with different seeds (two epochs each): no detectable difference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_localcode import stats
from pytest_localcode.compare import main
from tests.support.benchmark_runs import CoinModel, PlanModel, run_benchmark

pytestmark = pytest.mark.slow

NAMES = ["python/affine-cipher", "python/beer-song", "python/book-store", "python/bowling", "python/grade-school",
         "python/phone-number", "python/pig-latin", "python/proverb", "python/wordy", "python/zipper"]


def verdict(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("Verdict: ")).removeprefix("Verdict: ")


def test_known_difference_is_significant(polyglot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weak = run_benchmark(polyglot, PlanModel(polyglot, dict.fromkeys(NAMES[:2], "ref")), tmp_path / "weak", NAMES)
    strong = run_benchmark(polyglot, PlanModel(polyglot, dict.fromkeys(NAMES, "ref")), tmp_path / "strong", NAMES)
    assert (weak.summary()["total"]["pass_2"], strong.summary()["total"]["pass_2"]) == (2, 10)
    assert main([str(weak.run_dir), str(strong.run_dir)]) == 0
    line = verdict(capsys.readouterr().out)
    print(line)
    d, low, high = stats.newcombe_paired(2, 0, 8, 0)
    assert line == (f"B better than A: +80.0 points, 95 % CI [+{100 * low:.1f}, +{100 * high:.1f}], "
                    f"p = {2 / 2**8:.3f} (exact McNemar, pass@2, 10 exercises)")


def test_same_model_other_seeds_no_detectable_difference(polyglot: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    runs = [run_benchmark(polyglot, CoinModel(polyglot), tmp_path / f"seed-{seed}", NAMES, "--epochs", "2",
                          "--seed", str(seed)) for seed in (1, 50)]
    seeds = [sorted({e["seeds"][0] for e in r.summary()["exercises"].values()}) for r in runs]
    assert seeds == [[1], [50]]
    outcomes = [{n: e["outcomes_by_epoch"] for n, e in r.summary()["exercises"].items()} for r in runs]
    assert outcomes[0] != outcomes[1]  # different samples...
    assert main([str(runs[0].run_dir), str(runs[1].run_dir)]) == 0
    out = capsys.readouterr().out
    line = verdict(out)
    print(line)
    assert line.startswith("no detectable difference: ") and "(sign-flip exact, pass@2, 10 exercises)" in line
    assert "Solved more often in B (" in out and "Solved more often in A (" in out
