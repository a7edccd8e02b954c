"""The HTML report works in a real browser: headless Chromium loads it, the probe clicks as a user.

Checked: our columns are in the table; clicking "Tokens" sorts the rows by the number, both ways,
where a plain string sort would put them in another order; a row expands and its transcript
``<details>`` opens and shows the messages. A screenshot of the expanded page is saved next to
the report (``report.png``) for people to look at: rows sorted by tokens, the largest expanded.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.benchmark_runs import Run, mixed_run
from tests.support.chromium import find_chromium, probe, screenshot, with_probe

pytestmark = pytest.mark.slow

ROW = "python::bowling"  # the fix-on-try-2 exercise: two tries, test output in its transcript

PROBE = """
function (report) {
  const out = {};
  const rows = () => [...document.querySelectorAll('#results-table tbody.results-table-row')]
    .filter(b => b.querySelector('tr.collapsible td'));
  const col = name => rows().map(b => b.querySelector('td.col-' + name).innerText.trim());
  const header = name => document.querySelector('#results-table th[data-column-type="' + name + '"]');
  out.headers = [...document.querySelectorAll('#results-table thead th')].map(th => th.textContent.trim());
  out.ids = col('testId');
  header('tokens').click();
  out.sort1 = {ids: col('testId'), tokens: col('tokens'), cls: header('tokens').className};
  header('tokens').click();
  out.sort2 = {ids: col('testId'), tokens: col('tokens'), cls: header('tokens').className};
  header('tokens').click();  // back to the first order: the screenshot shows the expanded row last
  out.sort3 = {ids: col('testId'), tokens: col('tokens'), cls: header('tokens').className};
  const body = () => rows().find(b => b.id === '%ROW%');
  out.hiddenBefore = body().querySelector('tr.extras-row').classList.contains('hidden');
  body().querySelector('tr.collapsible td.col-result').click();
  out.hiddenAfter = body().querySelector('tr.extras-row').classList.contains('hidden');
  const details = body().querySelector('details.lc-transcript');
  out.transcriptFound = !!details;
  out.openBefore = details.open;
  const shown = () => [...details.querySelectorAll('.lc-msg')].filter(m => m.checkVisibility()).length;
  out.visibleBefore = shown();
  out.heightBefore = details.getBoundingClientRect().height;
  details.querySelector('summary').click();
  out.openAfter = details.open;
  out.heightAfter = details.getBoundingClientRect().height;
  const msgs = [...details.querySelectorAll('.lc-msg')];
  out.messages = msgs.length;
  out.visibleMessages = shown();
  out.roles = msgs.map(m => m.querySelector('b').textContent);
  out.text = details.textContent.slice(0, 20000);
  report(out);
}
""".replace("%ROW%", ROW)


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y --no-install-recommends chromium)")
    return binary


@pytest.fixture(scope="session")
def mixed(polyglot: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return mixed_run(polyglot, tmp_path_factory)


def test_report_in_chromium(mixed: Run, chromium: str) -> None:
    report = mixed.run_dir / "report.html"
    page = with_probe(report, PROBE, mixed.run_dir / "report-probe.html")
    seen = probe(chromium, page)
    assert "exception" not in seen, seen.get("exception")
    assert seen["errors"] == []

    for title in ("Result", "Test", "Language", "Outcome", "Tokens", "Decode tok/s", "Tool calls", "Refused",
                  "Time (s)"):
        assert title in seen["headers"], title
    assert len(seen["ids"]) == 6

    summary = mixed.summary()
    expected = {name.replace("/", "::"): row["prompt_tokens"] + row["completion_tokens"]
                for name, row in summary["exercises"].items()}
    for state in (seen["sort1"], seen["sort2"]):
        numbers = [int(t.replace(",", "")) for t in state["tokens"]]
        assert dict(zip(state["ids"], numbers)) == expected  # cells still belong to their rows
    first = [int(t.replace(",", "")) for t in seen["sort1"]["tokens"]]
    second = [int(t.replace(",", "")) for t in seen["sort2"]["tokens"]]
    assert first in (sorted(first), sorted(first, reverse=True)), first
    assert second == first[::-1], (first, second)
    assert sorted(seen["sort1"]["tokens"]) not in (seen["sort1"]["tokens"], seen["sort2"]["tokens"]), \
        "the data would not tell a numeric sort from a string sort"
    assert {seen["sort1"]["cls"], seen["sort2"]["cls"]} == {"sortable asc", "sortable desc"}
    assert seen["sort3"] == seen["sort1"]

    assert seen["hiddenBefore"] and not seen["hiddenAfter"], "the row did not expand"
    assert seen["transcriptFound"] and not seen["openBefore"] and seen["visibleBefore"] == 0
    assert seen["openAfter"] and seen["messages"] >= 4 and seen["visibleMessages"] == seen["messages"]
    assert seen["heightAfter"] > seen["heightBefore"] + 200, (seen["heightBefore"], seen["heightAfter"])
    assert "assistant" in seen["roles"] and "tool" in seen["roles"]
    assert "write" in seen["text"] and "bowling" in seen["text"]

    png = screenshot(chromium, page, mixed.run_dir / "report.png")
    assert png.stat().st_size > 20_000
    print(f"screenshot: {png}")
    if os.environ.get("LOCALCODE_SCREENSHOT"):  # keep a copy where CI collects artifacts
        shutil.copy(png, os.environ["LOCALCODE_SCREENSHOT"])
