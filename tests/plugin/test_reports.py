"""A real run's reports agree: terminal table, benchmark_results.txt, summary.json, the per-exercise
``.aider.results.json`` files and report.html show the same numbers, and those are what the
scripted server sent. With ``-n 2`` the totals are the same as with one process.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.benchmark_runs import MIXED_PLAN, Run, expected_status, mixed_run
from tests.support.report_files import aider_files, html_rows, html_summary_text, terminal_section, text_table

pytestmark = pytest.mark.slow

# Totals that depend on the server's prefix cache (which request came before which), or on the
# clock, legitimately differ between a serial and a parallel run; everything else must not.
ORDER_DEPENDENT = {"cached_tokens", "prompt_n", "prompt_ms", "prefill_tps", "wall_seconds", "agent_seconds",
                   "test_seconds", "seconds_per_exercise"}


@pytest.fixture(scope="session")
def mixed(polyglot: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return mixed_run(polyglot, tmp_path_factory)


def test_run_outcomes_follow_the_script(mixed: Run) -> None:
    assert mixed.returncode == 1, mixed.stdout[-3000:] + mixed.stderr[-3000:]  # the "nop" exercise fails
    summary = mixed.summary()
    assert {name: row["status"] for name, row in summary["exercises"].items()} == {
        name: expected_status(action) for name, action in MIXED_PLAN.items()}
    total = summary["total"]
    assert (total["exercises"], total["pass_1"], total["pass_2"], total["failed"], total["errors"]) == (6, 3, 5, 1, 0)
    assert total["pass_rate_1"] == 50.0 and total["pass_rate_2"] == 83.3
    assert set(summary["languages"]) == {"cpp", "go", "java", "javascript", "python", "rust"}
    for path in ("benchmark_results.txt", "summary.json", "report.html"):
        assert (mixed.run_dir / path).is_file(), path


def test_summary_matches_what_the_server_sent(mixed: Run) -> None:
    summary = mixed.summary()
    total = summary["total"]
    for key in ("prompt_tokens", "completion_tokens", "cached_tokens", "prompt_n", "predicted_n"):
        assert total[key] == mixed.totals[key], key
    for key in ("prompt_ms", "predicted_ms"):
        assert total[key] == pytest.approx(mixed.totals[key]), key
    assert total["model_responses"] == mixed.requests == sum(mixed.calls.values())
    for name, row in summary["exercises"].items():
        assert row["model_responses"] == mixed.calls[name], name
    assert total["prefill_tps"] == round(mixed.totals["prompt_n"] / mixed.totals["prompt_ms"] * 1000, 2)
    assert total["decode_tps"] == round(mixed.totals["predicted_n"] / mixed.totals["predicted_ms"] * 1000, 2)


def test_result_files_sum_to_the_summary(mixed: Run) -> None:
    summary = mixed.summary()
    files = aider_files(mixed.run_dir)
    assert set(files) == set(MIXED_PLAN)
    tries = {"ref": [True], "fix": [False, True], "nop": [False, False]}
    for name, data in files.items():
        assert data["tests_outcomes"] == tries[MIXED_PLAN[name]], name
        row = summary["exercises"][name]
        assert (data["prompt_tokens"], data["completion_tokens"]) == (row["prompt_tokens"], row["completion_tokens"])
        assert data["localcode"]["status"] == row["status"]
    for key in ("prompt_tokens", "completion_tokens"):
        assert sum(d[key] for d in files.values()) == summary["total"][key] == mixed.totals[key]
    for language, group in summary["languages"].items():
        mine = [d for name, d in files.items() if name.startswith(language + "/")]
        assert sum(d["prompt_tokens"] for d in mine) == group["prompt_tokens"], language
        assert sum(1 for d in mine if d["tests_outcomes"][0]) == group["pass_1"], language


def test_text_reports_show_the_summary(mixed: Run) -> None:
    summary = mixed.summary()
    text = (mixed.run_dir / "benchmark_results.txt").read_text()
    assert terminal_section(mixed.stdout).strip("\n") == text.strip("\n")
    assert html_summary_text(mixed.run_dir / "report.html").strip("\n") == text.strip("\n")
    rows = text_table(text)
    assert set(rows) == {*summary["languages"], "total"}
    for name, shown in rows.items():
        g = summary["total"] if name == "total" else summary["languages"][name]
        assert shown["n"] == g["exercises"] and shown["pass_1"] == g["pass_1"] and shown["pass_2"] == g["pass_2"], name
        assert (shown["rate_1"], shown["rate_2"]) == (g["pass_rate_1"], g["pass_rate_2"]), name
        assert (shown["failed"], shown["errors"]) == (g["failed"], g["errors"]), name
        assert (shown["prompt"], shown["completion"]) == (g["prompt_tokens"], g["completion_tokens"]), name
        assert (shown["tool_calls"], shown["tool_errors"]) == (g["tool_calls_total"], g["tool_errors_total"]), name
        assert shown["decode"] == round(g["decode_tps"], 1), name
    assert rows["total"]["prompt"] == mixed.totals["prompt_tokens"]
    assert f"pass_rate_2 {summary['aider']['pass_rate_2']:.1f}" in text


def test_html_rows_show_each_exercise(mixed: Run) -> None:
    summary = mixed.summary()
    rows = html_rows(mixed.run_dir / "report.html")
    assert set(rows) == {name.replace("/", "::") for name in MIXED_PLAN}
    for test_id, cells in rows.items():
        ex = summary["exercises"][test_id.replace("::", "/")]
        assert cells["outcome"] == ex["status"], test_id
        assert cells["result"] == ("Passed" if ex["status"].startswith("pass") else "Failed"), test_id
        assert int(cells["tokens"].replace(",", "")) == ex["prompt_tokens"] + ex["completion_tokens"], test_id
        assert int(cells["toolcalls"]) == ex["tool_calls_total"], test_id
        assert float(cells["time"]) == round(ex["wall_seconds"], 1), test_id
    html_tokens = sum(int(c["tokens"].replace(",", "")) for c in rows.values())
    assert html_tokens == mixed.totals["prompt_tokens"] + mixed.totals["completion_tokens"]


def test_parallel_run_has_identical_totals(mixed: Run, polyglot: Path,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    parallel = mixed_run(polyglot, tmp_path_factory, "-n", "2", "-vv", key="n2")
    assert parallel.returncode == 1, parallel.stdout[-3000:] + parallel.stderr[-3000:]
    assert re.search(r"\[gw0\] .*PASSED", parallel.stdout) and re.search(r"\[gw1\] .*PASSED", parallel.stdout)
    one, two = mixed.summary(), parallel.summary()
    scopes = [(one["total"], two["total"]), *zip(one["languages"].values(), two["languages"].values())]
    for scope_one, scope_two in scopes:
        same = {k: v for k, v in scope_one.items() if k not in ORDER_DEPENDENT}
        assert same == {k: v for k, v in scope_two.items() if k not in ORDER_DEPENDENT}
    assert list(one["languages"]) == list(two["languages"])
    statuses = [{n: r["status"] for n, r in run["exercises"].items()} for run in (one, two)]
    assert statuses[0] == statuses[1]
    assert two["total"]["prompt_tokens"] == parallel.totals["prompt_tokens"]
    assert two["total"]["cached_tokens"] == parallel.totals["cached_tokens"]
    assert parallel.calls == mixed.calls
    text_one = text_table((mixed.run_dir / "benchmark_results.txt").read_text())
    text_two = text_table((parallel.run_dir / "benchmark_results.txt").read_text())
    for name in text_one:
        keep = ("n", "pass_1", "pass_2", "failed", "errors", "prompt", "completion", "tool_calls", "tool_errors",
                "decode")
        assert {k: text_one[name][k] for k in keep} == {k: text_two[name][k] for k in keep}, name
