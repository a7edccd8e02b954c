"""Report pieces on hand-made results (fast): the text table shows the summary, HTML cells sort
numerically, result files round-trip and are written whole, with shareable permissions."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from pytest_localcode.report.html import details_html, row_cells
from pytest_localcode.report.summary import summarize
from pytest_localcode.report.text import render
from pytest_localcode.results import RESULTS_FILE, ExerciseResult, lazy_comments, load, save, write_atomic
from tests.support.report_files import text_table
from tests.support.synthetic_results import make_result

RESULTS = [
    make_result("python/a", ["pass"], prompt_tokens=1_234_000, completion_tokens=56_000),
    make_result("python/b", ["fail", "pass"], prompt_tokens=20_000, completion_tokens=2_000),
    make_result("go/c", ["fail", "fail"], prompt_tokens=9_000, completion_tokens=1_000),
    make_result("go/d", ["not_run"], error="go/d: model server lost"),
]


def test_text_table_shows_the_summary() -> None:
    summary = summarize(RESULTS)
    text = render(summary, {"model": "m", "tries": 2, "run_dir": "/r"})
    rows = text_table(text)
    assert set(rows) == {"go", "python", "total"}
    python = rows["python"]
    assert python["prompt"] == (1_254_000 / 2, 1_254_000 / 2) and python["completion"] == (29_000, 29_000)
    assert (python["pass_1"], python["pass_2"], python["rate_2"]) == (1, 2, 100.0)
    assert (python["rate_2_low"], python["rate_2_high"]) == (34.2, 100.0)  # Wilson, 2 of 2
    assert (rows["go"]["failed"], rows["go"]["errors"], rows["go"]["pass_2"]) == (1, 1, 0)
    assert rows["go"]["prompt"] == (None, 5_000) and rows["go"]["solved"] == 0  # nothing solved: no cost per solved
    total = rows["total"]
    assert (total["n"], total["runs"], total["pass_1"], total["pass_2"]) == (4, 4, 1, 2)
    assert (total["rate_1"], total["rate_1_low"], total["rate_1_high"]) == (25.0, 4.6, 69.9)
    assert total["prompt"] == (1_264_000 / 2, 1_264_000 / 4) == (632_000,
                                                                 sum(r.totals("prompt_tokens") for r in RESULTS) / 4)
    assert "  go/d: model server lost" in text.splitlines()  # under "Errors:", named once
    assert "Aider --stats: pass_rate_1 25.0 [4.6, 69.9]   pass_rate_2 50.0 [15.0, 85.0]" in text
    assert "95% intervals: Wilson score" in text and "Energy: not measured" in text


def test_outcomes_are_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """A verdict added to OUTCOMES is counted, gets a column and stays a failure in every rate."""
    from pytest_localcode.report import summary as summary_module
    from pytest_localcode.report import text as text_module

    extra = make_result("python/forged1", ["pass"])
    outcomes = (*summary_module.OUTCOMES, ("forged", "forged"))
    monkeypatch.setattr(summary_module, "OUTCOMES", outcomes)
    monkeypatch.setattr(text_module, "OUTCOMES", outcomes)
    status = ExerciseResult.status.fget
    monkeypatch.setattr(ExerciseResult, "status",
                        property(lambda r: "forged" if r.exercise == "forged1" else status(r)))
    monkeypatch.setattr(ExerciseResult, "solved_on", property(lambda r: None if r.exercise == "forged1" else
                                                              next((t.number for t in r.tries if t.passed), None)))
    summary = summarize([*RESULTS, extra])
    g = summary["total"]
    assert (g["forged"], g["failed"], g["errors"], g["pass_2"], g["rates"]["pass@2"]["estimate"]) == (1, 1, 1, 2, 40.0)
    assert text_module.rates_table(summary)[0].split()[-1] == "forged"


def test_rates_are_ratios_of_sums() -> None:
    fast = make_result("python/a", ["pass"], completion_tokens=1000)  # 10 ms per token
    slow = make_result("python/b", ["pass"], completion_tokens=10)
    slow.tries[0].agent["predicted_ms"] = 1000.0  # 10 tokens/s
    total = summarize([fast, slow])["total"]
    assert total["decode_tps"] == round(1010 / (10_000 + 1000) * 1000, 2)  # not the mean of 100 and 10


def test_html_cells_sort_numerically_as_strings() -> None:
    """pytest-html compares the cells' HTML as strings; the hidden key must order them by number."""
    def cell(props: dict, column: str) -> str:
        found = [c for c in row_cells(props) if f'class="col-{column}"' in c]
        match = re.match(r"<td[^>]*>(.*)</td>", found[0])
        assert match is not None, found[0]
        return match.group(1)

    tokens = [9_999, 10_000, 123, 1_000_000, 99_999]
    cells = [cell({"prompt_tokens": n, "completion_tokens": 0}, "tokens") for n in tokens]
    assert [tokens[cells.index(c)] for c in sorted(cells)] == sorted(tokens)
    assert sorted(f"{n:,}" for n in tokens) != [f"{n:,}" for n in sorted(tokens)]  # plain text would mis-sort
    times = [0.5, 12.25, 3.0]
    time_cells = [cell({"wall_seconds": t}, "time") for t in times]
    assert [times[time_cells.index(c)] for c in sorted(time_cells)] == sorted(times)
    outcomes = ["error", "pass@2", "fail", "pass@1"]
    outcome_cells = [cell({"status": s}, "outcome") for s in outcomes]
    assert [outcomes[outcome_cells.index(c)] for c in sorted(outcome_cells)] == ["pass@1", "pass@2", "fail", "error"]
    assert all("\n" not in c for c in row_cells({"status": "fail",
                                                 "language": "go"}))  # pytest-html's regex is per line


def test_details_escape_what_the_model_wrote() -> None:
    result = make_result("python/a", ["fail"])
    result.transcript = [{"role": "assistant", "content": "<script>alert(1)</script>",
                          "tool_calls": [{"function": {"name": "write", "arguments": '{"path": "<b>"}'}}]}]
    result.final_test_output = "</pre><img src=x>"
    out = details_html(result)
    assert "<script>" not in out and "<img" not in out and "&lt;script&gt;" in out
    assert out.count("<details") == 3


def test_result_file_round_trip_and_permissions(tmp_path: Path) -> None:
    result = RESULTS[1]
    path = save(result, tmp_path / "python" / "b")
    assert path.name == RESULTS_FILE
    loaded = load(path.parent)
    assert isinstance(loaded, ExerciseResult) and loaded.to_json() == result.to_json()
    assert loaded.status == "pass@2" and loaded.complete
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600
    assert [p.name for p in path.parent.iterdir()] == [RESULTS_FILE]  # no temp file left
    data = json.loads(path.read_text())
    assert data["commit_hash"] and data["duration"] == result.agent_seconds


def test_unreadable_result_is_rerun(tmp_path: Path) -> None:
    write_atomic(tmp_path / RESULTS_FILE, {"exception": "crashed elsewhere"})  # Aider's crash form: no localcode part
    assert load(tmp_path) is None
    (tmp_path / RESULTS_FILE).write_text('{"testcase": "x", "localcode": {')  # cut short
    assert load(tmp_path) is None


def test_lazy_comments_count_placeholders_the_solution_adds() -> None:
    """Aider's pattern, on added lines only: context and removed lines don't count."""
    diff = ("--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,4 @@\n # ... kept as it was ... \n-    # ... old ... \n"
            "+    # ... rest of the method unchanged ... \n+def f():  # fine\n+# ... more code ... \n")
    assert lazy_comments(diff) == 2
    assert lazy_comments("") == 0
