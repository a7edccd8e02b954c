"""--epochs end to end: a scripted model whose answers depend on the epoch (it reads the sampling
seed the harness sends), 12 real exercises graded by the real toolchains, 3 epochs, two xdist
workers. Per-exercise epoch outcomes, pass@k, pass^k, the flaky list and the intervals must agree
across the terminal, benchmark_results.txt, summary.json and report.html, and with the values
worked out by hand below. Then: kill -9 and resume redo only unfinished epochs; --lf selects
failed epochs.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import pytest

from pytest_localcode.epochs import DEFAULT_SEED, epoch_dir
from pytest_localcode.results import load
from tests.support.benchmark_runs import (AGENT_CONFIG, PROJECT, EpochPlanModel, Run, command, environment,
                                          exercise_paths, run_benchmark, shared_run)
from tests.support.report_files import (epochs_table, flaky_list, html_environment, html_flaky, html_rows,
                                        html_summary_tables, terminal_section, text_table)
from tests.support.scripted_server import ScriptedServer

pytestmark = pytest.mark.slow

# ref: solved on try 1; fix: solved on try 2 (it sees the test output); nop: never solved.
PLAN = {
    "go/bowling": ["ref", "ref", "ref"],
    "go/react": ["nop", "nop", "ref"],
    "go/say": ["fix", "nop", "fix"],
    "python/affine-cipher": ["ref", "ref", "ref"],
    "python/beer-song": ["nop", "nop", "nop"],
    "python/book-store": ["ref", "nop", "ref"],
    "python/bowling": ["fix", "fix", "fix"],
    "python/grade-school": ["nop", "fix", "nop"],
    "python/phone-number": ["ref", "fix", "nop"],
    "python/pig-latin": ["ref", "ref", "ref"],
    "python/proverb": ["nop", "ref", "ref"],
    "python/wordy": ["fix", "ref", "fix"],
}
STATUS = {"ref": "pass@1", "fix": "pass@2", "nop": "fail"}

# Worked out by hand from PLAN. Solved epochs c per exercise: go 3, 1, 2; python 3, 0, 2, 3, 1, 2, 3, 2, 3
# (25 of 36); solved on try 1: go 3, 1, 0; python 3, 0, 2, 0, 0, 1, 3, 2, 1 (16 of 36).
RATE = {  # mean over exercises of (solved epochs / 3), in percent
    ("total", "pass@1"): Fraction(16, 36) * 100, ("total", "pass@2"): Fraction(25, 36) * 100,
    ("python", "pass@1"): Fraction(12, 27) * 100, ("python", "pass@2"): Fraction(19, 27) * 100,
    ("go", "pass@1"): Fraction(4, 9) * 100, ("go", "pass@2"): Fraction(6, 9) * 100,
}
# pass@k = 1 - C(3-c, k)/C(3, k): c=3 -> 1, 1, 1; c=2 -> 2/3, 1, 1; c=1 -> 1/3, 2/3, 1; c=0 -> 0.
# pass^k = C(c, k)/C(3, k):       c=3 -> 1, 1, 1; c=2 -> 2/3, 1/3, 0; c=1 -> 1/3, 0, 0.
# Five exercises have c=3, four c=2, two c=1, one c=0.
PASS_AT_K = {1: Fraction(25, 36), 2: (5 + 4 + 2 * Fraction(2, 3)) / 12, 3: Fraction(11, 12)}
PASS_HAT_K = {1: Fraction(25, 36), 2: (5 + 4 * Fraction(1, 3)) / 12, 3: Fraction(5, 12)}
FLAKY = ["go/react", "go/say", "python/book-store", "python/grade-school", "python/phone-number", "python/proverb"]


def test_hand_values_follow_from_the_plan() -> None:
    """The constants above, recomputed from PLAN with the combinatorial definitions."""
    solved = {name: sum(a != "nop" for a in actions) for name, actions in PLAN.items()}
    for k in (1, 2, 3):
        assert PASS_AT_K[k] == sum(1 - Fraction(math.comb(3 - c, k), math.comb(3, k)) for c in solved.values()) / 12
        assert PASS_HAT_K[k] == sum(Fraction(math.comb(c, k), math.comb(3, k)) for c in solved.values()) / 12
    assert FLAKY == sorted(n for n, c in solved.items() if 0 < c < 3)
    first = {name: sum(a == "ref" for a in actions) for name, actions in PLAN.items()}
    assert RATE[("total", "pass@1")] == Fraction(sum(first.values()), 36) * 100


@pytest.fixture(scope="module")
def epochs_run(polyglot: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, EpochPlanModel]:
    model = EpochPlanModel(polyglot, PLAN)

    def make() -> Run:
        run_dir = tmp_path_factory.mktemp("epochs") / "run"
        return run_benchmark(polyglot, model, run_dir, list(PLAN), "--epochs", "3", "-n", "2", "-rA", timeout=1200)

    return shared_run("epochs-3", make), model


def close(shown: float, exact: Fraction | float) -> bool:
    return shown == round(float(exact), 1)


def test_epochs_run_each_exercise_three_times_with_their_seeds(epochs_run: tuple[Run, EpochPlanModel]) -> None:
    run, model = epochs_run
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]  # some epochs fail
    assert set(model.seeds) == {DEFAULT_SEED, DEFAULT_SEED + 1, DEFAULT_SEED + 2}
    for name, actions in PLAN.items():
        language, slug = name.split("/")
        for epoch, action in enumerate(actions, start=1):
            result = load(epoch_dir(run.run_dir, language, slug, epoch))
            assert result is not None, (name, epoch)
            assert (result.epoch, result.epochs, result.seed, result.status) == (epoch, 3, DEFAULT_SEED + epoch - 1,
                                                                                  STATUS[action]), (name, epoch)
            assert model.epoch_calls[f"{name}[{epoch}]"] >= 2  # its own agent session
            # the terminal's -rA line for this epoch's item
            outcome = "FAILED" if action == "nop" else "PASSED"
            item = re.escape(f"{language}::{slug}[{epoch}]")
            assert re.search(rf"^{outcome} (\S*/)?{item}(\s|$)", run.stdout, re.M), (name, epoch)
    assert (run.run_dir / "python" / "bowling" / "epoch-3" / ".aider.results.json").is_file()
    # both workers ran epochs
    assert re.search(r"^\[gw0\] ", run.stdout, re.M) and re.search(r"^\[gw1\] ", run.stdout, re.M)
    summary = run.summary()
    for name, actions in PLAN.items():
        entry = summary["exercises"][name]
        assert entry["outcomes_by_epoch"] == [STATUS[a] for a in actions], name
        assert entry["seeds"] == [DEFAULT_SEED, DEFAULT_SEED + 1, DEFAULT_SEED + 2]


def test_rates_agree_in_all_four_outputs(epochs_run: tuple[Run, EpochPlanModel]) -> None:
    run, _ = epochs_run
    summary = run.summary()
    text = (run.run_dir / "benchmark_results.txt").read_text()
    assert terminal_section(run.stdout).strip("\n") == text.strip("\n")
    rows = text_table(text)
    html_tables = html_summary_tables(run.run_dir / "report.html")
    for (scope, rate), exact in RATE.items():
        group = summary["total"] if scope == "total" else summary["languages"][scope]
        figure = group["rates"][rate]
        assert figure["estimate"] == pytest.approx(float(exact), abs=1e-9), (scope, rate)
        assert figure["method"] == "bootstrap" and figure["low"] <= figure["estimate"] <= figure["high"]
        number = rate[-1]
        shown = rows[scope]
        assert close(shown[f"rate_{number}"], exact), (scope, rate)
        assert ((shown[f"rate_{number}_low"], shown[f"rate_{number}_high"])
                == (round(figure["low"], 1), round(figure["high"], 1)))
        cell = html_tables["lc-rates"][scope][3 if number == "1" else 4]
        assert cell == f"{group[f'pass_{number}']} {float(exact):.1f} [{figure['low']:.1f}, {figure['high']:.1f}]", cell
    assert rows["total"]["runs"] == 36 and rows["total"]["n"] == 12
    assert (rows["total"]["pass_1"], rows["total"]["pass_2"]) == (16, 25)


def test_pass_at_k_and_pass_hat_k_agree_in_all_outputs(epochs_run: tuple[Run, EpochPlanModel]) -> None:
    run, _ = epochs_run
    summary = run.summary()
    shown = epochs_table((run.run_dir / "benchmark_results.txt").read_text())["total"]
    html_epochs = html_summary_tables(run.run_dir / "report.html")["lc-epochs"]["total"]
    for k in (1, 2, 3):
        for family, exact, label in (("pass_at_k", PASS_AT_K[k], f"pass@{k}"),
                                     ("pass_hat_k", PASS_HAT_K[k], f"pass^{k}")):
            if label == "pass^1":
                continue  # the same as pass@1, shown once
            figure = summary["total"][family][str(k)]
            assert figure["estimate"] == pytest.approx(float(exact) * 100, abs=1e-9), label
            assert shown[label] == (round(float(exact) * 100, 1), round(figure["low"], 1),
                                    round(figure["high"], 1)), label
            column = ["pass@1", "pass@2", "pass@3", "pass^2", "pass^3"].index(label) + 1
            assert html_epochs[column] == f"{float(exact) * 100:.1f} [{figure['low']:.1f}, {figure['high']:.1f}]", label


def test_intervals_follow_their_definition(epochs_run: tuple[Run, EpochPlanModel]) -> None:
    """Independently of our bootstrap: scipy's stratified percentile bootstrap of the same per-exercise
    rates comes within Monte Carlo error of ours, and the reported interval is the hull of that and
    the Wilson interval at the reported effective sample size (Wilson's formula written out here)."""
    scipy_stats = pytest.importorskip("scipy.stats")
    run, _ = epochs_run
    figure = run.summary()["total"]["rates"]["pass@2"]
    solved = {name: sum(a != "nop" for a in actions) / 3 for name, actions in PLAN.items()}
    go = [v for n, v in solved.items() if n.startswith("go/")]
    python = [v for n, v in solved.items() if n.startswith("python/")]
    ci = scipy_stats.bootstrap((go, python), lambda x, y, axis=-1: (x.sum(axis) + y.sum(axis)) / 12, vectorized=True,
                               n_resamples=20_000, method="percentile", random_state=3).confidence_interval
    low, high = figure["percentile"]
    assert low == pytest.approx(100 * ci.low, abs=2.5) and high == pytest.approx(100 * ci.high, abs=2.5)
    p, n, z = figure["estimate"] / 100, figure["n_eff"], 1.959963984540054
    centre, half = ((p + z * z / (2 * n)) / (1 + z * z / n),
                    z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n))
    assert 12 <= n <= 36
    assert figure["low"] == pytest.approx(min(low, 100 * (centre - half)), abs=1e-6)
    assert figure["high"] == pytest.approx(max(high, 100 * (centre + half)), abs=1e-6)


def test_flaky_exercises_and_epoch_outcomes_in_all_outputs(epochs_run: tuple[Run, EpochPlanModel]) -> None:
    run, _ = epochs_run
    summary = run.summary()
    assert summary["flaky"] == FLAKY
    text = (run.run_dir / "benchmark_results.txt").read_text()
    listed = flaky_list(text)
    assert sorted(listed) == FLAKY
    for name in FLAKY:
        actions = PLAN[name]
        assert listed[name] == (f"{sum(a != 'nop' for a in actions)}/3 epochs solved "
                                f"({' '.join(STATUS[a] for a in actions)})")
    report = run.run_dir / "report.html"
    assert html_flaky(report) == FLAKY
    rows = html_rows(report)
    assert len(rows) == 36
    for name, actions in PLAN.items():
        language, slug = name.split("/")
        for epoch, action in enumerate(actions, start=1):
            assert rows[f"{language}::{slug}[{epoch}]"]["outcome"] == STATUS[action], (name, epoch)
    environment_table = html_environment(report)
    assert environment_table["Epochs"] == f"3, seed of epoch k: {DEFAULT_SEED} + k - 1"
    assert environment_table["Model"] == AGENT_CONFIG and "Plugins" not in environment_table
    assert summary["provenance"]["epochs"] == 3 and summary["provenance"]["selected"] == 36


# -- resume and --lf ----------------------------------------------------------------------------------

RESUME_PLAN = {"python/proverb": ["ref", "ref"], "python/wordy": ["fix", "ref"], "python/bowling": ["ref", "nop"]}


def test_kill_then_resume_reruns_only_unfinished_epochs(polyglot: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    slow = "python/bowling"
    model = EpochPlanModel(polyglot, RESUME_PLAN, delay={slow: 1.5})
    names = list(RESUME_PLAN)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--model={AGENT_CONFIG}",
           f"--exercises={polyglot}", f"--run-dir={run_dir}", "--sandbox=local", "--epochs", "2"]
    done = lambda name, epoch: (r := load(epoch_dir(run_dir, *name.split("/"), epoch))) is not None and r.complete  # noqa: E731
    with ScriptedServer(model, repeat=False) as server:
        proc = subprocess.Popen([*cmd, f"--server-url={server.url}/v1", *exercise_paths(polyglot, names)], cwd=PROJECT,
                                env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:  # kill inside bowling[2], the slow epoch (its first answer takes 1.5 s)
            deadline = time.monotonic() + 300
            while not (done(slow, 1) and model.epoch_calls[f"{slow}[2]"] >= 1):
                assert proc.poll() is None and time.monotonic() < deadline, "kill point not reached"
                time.sleep(0.05)
            os.killpg(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
    before = dict(model.epoch_calls)
    keys = [f"{n}[{e}]" for n in names for e in (1, 2)]
    finished = {key for key in keys if done(key.split("[")[0], int(key[-2]))}
    assert f"{slow}[1]" in finished and f"{slow}[2]" not in finished and not (run_dir / "summary.json").exists()

    model.delay = {}
    again = run_benchmark(polyglot, model, run_dir, names, "--epochs", "2")
    assert again.returncode == 1, again.stdout[-3000:]  # bowling[2] is a "nop": it fails
    asked = {key: model.epoch_calls[key] - before.get(key, 0) for key in keys}
    print(f"finished before the kill: {sorted(finished)}; requests per epoch in the resumed run: {asked}")
    for key in keys:
        if key in finished:
            assert asked[key] == 0, f"{key} was finished before the kill but ran again"
        else:
            assert asked[key] >= 1, f"{key} was not finished but did not run"
    summary = again.summary()
    assert {n: e["outcomes_by_epoch"] for n, e in summary["exercises"].items()} == {
        n: [STATUS[a] for a in actions] for n, actions in RESUME_PLAN.items()}


def test_last_failed_selects_failed_epochs(polyglot: Path, tmp_path: Path) -> None:
    plan = {"python/proverb": ["ref", "nop"], "python/pig-latin": ["nop", "ref"]}
    model = EpochPlanModel(polyglot, plan)
    cache = ["-o", f"cache_dir={tmp_path / 'cache'}"]
    with ScriptedServer(model, repeat=False) as server:
        cmd = [a for a in command(polyglot, server, tmp_path / "run", list(plan), "--epochs", "2", *cache)
               if a not in ("-p", "no:cacheprovider")]
        first = subprocess.run(cmd, cwd=PROJECT, env=environment(), capture_output=True, text=True, timeout=600)
    assert first.returncode == 1, first.stdout[-2000:]
    listed = subprocess.run([sys.executable, "-m", "pytest", *cache, "--lf", "--collect-only", "-q",
                             f"--model={AGENT_CONFIG}", f"--exercises={polyglot}", "--epochs", "2",
                             *exercise_paths(polyglot, list(plan))],
                            cwd=PROJECT, env=environment(), capture_output=True, text=True, timeout=120)
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    assert sorted(ids) == ["python::pig-latin[1]", "python::proverb[2]"], listed.stdout + listed.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["flaky"] == sorted(plan)
