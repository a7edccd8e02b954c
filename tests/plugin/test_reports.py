"""A real run's reports agree: terminal table, benchmark_results.txt, summary.json, the per-exercise
``.aider.results.json`` files and report.html show the same numbers, and those are what the
scripted server sent. With ``-n 2`` the totals are the same as with one process.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.benchmark_runs import MIXED_PLAN, Run, expected_status, mixed_run
from tests.support.report_files import (aider_files, html_environment, html_rows, html_summary_tables, terminal_section,
                                        text_table)

pytestmark = pytest.mark.slow

# Totals that depend on the server's prefix cache (which request came before which), or on the
# clock, legitimately differ between a serial and a parallel run; everything else must not.
ORDER_DEPENDENT = {"cached_tokens", "prompt_n", "prompt_ms", "prefill_tps", "wall_seconds", "agent_seconds",
                   "first_cached_tokens", "cache_share", "cache_share_after_first", "wait_seconds",
                   "waiting_seconds", "working_seconds",
                   "test_seconds", "seconds_per_exercise", "cost"}  # cost: its seconds (its tokens are checked)


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
    rows = text_table(text)
    tables = html_summary_tables(mixed.run_dir / "report.html")
    assert set(rows) == {*summary["languages"], "total"} == set(tables["lc-rates"]) == set(tables["lc-cost"])
    for name, shown in rows.items():
        g = summary["total"] if name == "total" else summary["languages"][name]
        assert shown["n"] == g["exercises"] and shown["pass_1"] == g["pass_1"] and shown["pass_2"] == g["pass_2"], name
        for number in ("1", "2"):
            figure = g["rates"][f"pass@{number}"]
            assert figure["method"] == "wilson" and figure["n"] == g["exercises"]
            shown_rate = (shown[f"rate_{number}"], shown[f"rate_{number}_low"], shown[f"rate_{number}_high"])
            assert shown_rate == (g[f"pass_rate_{number}"], round(figure["low"], 1), round(figure["high"], 1)), name
            html_cell = tables["lc-rates"][name][2 + int(number)]
            assert html_cell == (f"{g[f'pass_{number}']} {figure['estimate']:.1f} "
                                 f"[{figure['low']:.1f}, {figure['high']:.1f}]")
        assert (shown["failed"], shown["errors"]) == (g["failed"], g["errors"]), name
        cost = g["cost"]
        assert shown["prompt"][1] == round(g["prompt_tokens"] / g["exercises"]), name
        assert shown["prompt"][0] == (round(cost["per_solved"]["prompt_tokens"]) if cost["per_solved"] else None), name
        assert (shown["solved"], shown["attempts"]) == (cost["solved"], cost["attempts"]), name
        assert (shown["tool_calls"], shown["tool_errors"]) == (g["tool_calls_total"], g["tool_errors_total"]), name
        assert shown["decode"] == round(g["decode_tps"], 1), name
        assert tables["lc-cost"][name][1] == f"{cost['solved']}/{cost['attempts']}"
    assert rows["total"]["prompt"][1] == round(mixed.totals["prompt_tokens"] / 6)
    assert f"pass_rate_2 {summary['aider']['pass_rate_2']:.1f}" in text
    assert f"Tokens: prompt {int(mixed.totals['prompt_tokens']):,}" in text


def test_run_identity_at_the_top_of_the_html(mixed: Run) -> None:
    env = html_environment(mixed.run_dir / "report.html")
    assert list(env)[:3] == ["Model", "Agent config", "Server"]
    assert env["Server"].startswith("external, http://127.0.0.1:") and env["Tries"] == "2"
    assert env["Sampling"] == {"temperature": "0.0", "max_tokens": "1024"}
    assert not {"Python", "Platform", "Packages", "Plugins"} & set(env)  # pytest-metadata's generic rows are gone


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
        for per in ("per_solved", "per_attempt"):
            tokens = [(s["cost"][per] or {}).get("completion_tokens") for s in (scope_one, scope_two)]
            assert tokens[0] == tokens[1], per
    assert list(one["languages"]) == list(two["languages"])
    statuses = [{n: r["status"] for n, r in run["exercises"].items()} for run in (one, two)]
    assert statuses[0] == statuses[1]
    assert two["total"]["prompt_tokens"] == parallel.totals["prompt_tokens"]
    assert two["total"]["cached_tokens"] == parallel.totals["cached_tokens"]
    assert parallel.calls == mixed.calls
    text_one = text_table((mixed.run_dir / "benchmark_results.txt").read_text())
    text_two = text_table((parallel.run_dir / "benchmark_results.txt").read_text())
    for name in text_one:
        keep = ("n", "pass_1", "pass_2", "rate_1", "rate_1_low", "rate_1_high", "rate_2", "rate_2_low", "rate_2_high",
                "failed", "errors", "prompt", "completion", "tool_calls", "tool_errors", "decode")
        assert {k: text_one[name][k] for k in keep} == {k: text_two[name][k] for k in keep}, name
