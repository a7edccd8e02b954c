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

NUMBER = r"[\d.]+"
INTERVAL = rf"(?P<{{0}}>{NUMBER}) \[(?P<{{0}}_low>{NUMBER}), (?P<{{0}}_high>{NUMBER})\]"
RATES_ROW = re.compile(
    rf"^(?P<language>\S+)\s+(?P<n>\d+)\s+(?P<runs>\d+)\s+(?P<pass_1>\d+)/\d+ {INTERVAL.format('rate_1')}"
    rf"\s+(?P<pass_2>\d+)/\d+ {INTERVAL.format('rate_2')}\s+(?P<failed>\d+)\s+(?P<forged>\d+)\s+(?P<errors>\d+)$"
)
PER = r"([\d,.]+|-) \(([\d,.]+|-)\)"
COST_ROW = re.compile(
    rf"^(?P<language>\S+)\s+(?P<solved>\d+)/(?P<attempts>\d+)\s+(?P<prompt>{PER})\s+(?P<completion>{PER})"
    rf"\s+(?P<agent>{PER})\s+(?P<test>{PER})\s+(?P<s_per_run>{NUMBER})\s+(?P<prefill>{NUMBER})\s+(?P<decode>{NUMBER})"
    rf"\s+(?P<tool_calls>\d+)\s+(?P<tool_errors>\d+)$"
)
CELL = re.compile(rf"({NUMBER}) \[({NUMBER}), ({NUMBER})\]|(?<!\S)-(?!\S)")


def _number(text: str) -> float | None:
    return None if text == "-" else float(text.replace(",", ""))


def text_table(text: str) -> dict[str, dict[str, Any]]:
    """Rows of the rates and cost tables (per language and ``total``), numbers parsed. Rates as
    shown (one decimal); ``prompt`` etc. are (per solved run, per run) pairs."""
    rows: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        line = line.strip()
        if match := RATES_ROW.match(line):
            row: dict[str, Any] = {}
            for key, value in match.groupdict().items():
                if key != "language":
                    row[key] = (int(value) if key in ("n", "runs", "pass_1", "pass_2", "failed", "forged", "errors")
                                else float(value))
            rows.setdefault(match["language"], {}).update(row)
        elif match := COST_ROW.match(line):
            row = {"solved": int(match["solved"]), "attempts": int(match["attempts"])}
            for key in ("prompt", "completion", "agent", "test"):
                solved, per_run = re.fullmatch(PER, match[key]).groups()  # type: ignore[union-attr]
                row[key] = (_number(solved), _number(per_run))
            for key in ("s_per_run", "prefill", "decode"):
                row[key] = float(match[key])
            row["tool_calls"], row["tool_errors"] = int(match["tool_calls"]), int(match["tool_errors"])
            rows.setdefault(match["language"], {}).update(row)
    return rows


def epochs_table(text: str) -> dict[str, dict[str, tuple[float, float, float] | None]]:
    """The epochs table (pass@k and pass^k per language), each cell (estimate, low, high) or None."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("language") and "pass^" in line), None)
    if start is None:
        return {}
    names = lines[start].split()[1:]
    table: dict[str, dict[str, tuple[float, float, float] | None]] = {}
    for line in lines[start + 2:]:
        if line.startswith("-"):
            continue
        if not line.strip() or line.startswith("Flaky"):
            break
        language = line.split()[0]
        cells = [(float(m[1]), float(m[2]), float(m[3])) if m[1] else None for m in CELL.finditer(line[len(language):])]
        table[language] = dict(zip(names, cells, strict=True))
    return table


def flaky_list(text: str) -> dict[str, str]:
    """The flaky exercises the text names: name -> "2/3 epochs solved (...)"."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Flaky exercises"))
    out = {}
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        name, _, rest = line.strip().partition(": ")
        out[name] = rest
    return out


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


def html_summary_tables(report: Path) -> dict[str, dict[str, list[str]]]:
    """The HTML summary's tables as their text: {table class: {scope: [cell texts]}} (rates, epochs, cost)."""
    text = report.read_text(encoding="utf-8")
    block = text[text.index('<div class="lc-summary">'):]
    tables: dict[str, dict[str, list[str]]] = {}
    for match in re.finditer(r'<table class="lc-table (lc-\w+)">.*?<tbody>(.*?)</tbody></table>', block, re.S):
        rows = {}
        for row in re.finditer(r'<tr data-scope="([^"]+)"[^>]*>(.*?)</tr>', match.group(2), re.S):
            cells = [html.unescape(re.sub(r"<[^>]+>", "", c))
                     for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(2), re.S)]
            rows[html.unescape(row.group(1))] = cells
        tables[match.group(1)] = rows
    return tables


def html_flaky(report: Path) -> list[str]:
    text = report.read_text(encoding="utf-8")
    return [html.unescape(m) for m in re.findall(r'<li data-exercise="([^"]+)">', text)]


def html_environment(report: Path) -> dict[str, Any]:
    """pytest-html's environment table data (what the top of the page shows)."""
    return html_data(report)["environment"]


def aider_files(run_dir: Path) -> dict[str, dict[str, Any]]:
    """``lang/exercise`` → its ``.aider.results.json``."""
    return {f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(run_dir.glob("*/*/.aider.results.json"))}
