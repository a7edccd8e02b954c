"""Read a run's reports back as numbers, the way a person reading them would.

The tests compare what each report *shows* (the rendered text table, the HTML cells), not the
data the renderers were given, so a formatting bug that shows a wrong number is caught.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

TABLE_ROW = re.compile(
    r"^(?P<language>\S+)\s+(?P<n>\d+)\s+(?P<pass_1>\d+) \((?P<rate_1>[\d.]+)%\)\s+(?P<pass_2>\d+) \((?P<rate_2>[\d.]+)%\)"
    r"\s+(?P<failed>\d+)\s+(?P<forged>\d+)\s+(?P<errors>\d+)\s+(?P<s_per_ex>[\d.]+)\s+(?P<prompt>[\d,]+)\s+(?P<completion>[\d,]+)"
    r"\s+(?P<prefill>[\d.]+)\s+(?P<decode>[\d.]+)\s+(?P<tool_calls>\d+)\s+(?P<tool_errors>\d+)$"
)
INT_FIELDS = ("n", "pass_1", "pass_2", "failed", "forged", "errors", "prompt", "completion", "tool_calls", "tool_errors")


def text_table(text: str) -> dict[str, dict[str, Any]]:
    """Rows of the results table (per language and ``total``), numbers parsed."""
    rows: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        match = TABLE_ROW.match(line.strip())
        if match:
            row: dict[str, Any] = match.groupdict()
            for key in INT_FIELDS:
                row[key] = int(row[key].replace(",", ""))
            for key in ("rate_1", "rate_2", "s_per_ex", "prefill", "decode"):
                row[key] = float(row[key])
            rows[row.pop("language")] = row
    return rows


def terminal_section(stdout: str) -> str:
    """The ``localcode`` section of pytest's terminal summary."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^=+ localcode =+$", line))
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("Saved: "))
    return "\n".join(lines[start + 1:end])


def html_data(report: Path) -> dict[str, Any]:
    """pytest-html's embedded JSON (rows are rendered from it by the page's script)."""
    text = report.read_text(encoding="utf-8")
    match = re.search(r'data-jsonblob="(.*?)"', text, re.S)
    assert match, f"{report}: no data-jsonblob"
    return json.loads(html.unescape(match.group(1)))


def html_rows(report: Path) -> dict[str, dict[str, str]]:
    """Test id → {column: visible cell text} (hidden sort keys dropped)."""
    rows = {}
    for test_id, reports in html_data(report)["tests"].items():
        cells = {}
        for cell in reports[-1]["resultsTableRow"]:
            match = re.match(r'<td class="col-(\w+)"[^>]*>(.*)</td>$', cell, re.S)
            assert match, cell
            visible = re.sub(r'<span hidden class="sortkey">\d+</span>', "", match.group(2))
            cells[match.group(1)] = html.unescape(re.sub(r"<[^>]+>", "", visible))
        rows[test_id] = cells
    return rows


def html_summary_text(report: Path) -> str:
    """The results table as the HTML summary shows it (first ``<pre>`` of the localcode block)."""
    text = report.read_text(encoding="utf-8")
    block = text[text.index('<div class="lc-summary">'):]
    match = re.search(r"<pre[^>]*>(.*?)</pre>", block, re.S)
    assert match, "no results table in the HTML summary"
    return html.unescape(match.group(1))


def aider_files(run_dir: Path) -> dict[str, dict[str, Any]]:
    """``lang/exercise`` → its ``.aider.results.json``."""
    return {f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(run_dir.glob("*/*/.aider.results.json"))}
