"""pytest-html pieces: columns that sort numerically, per-exercise details, and the run summary.

pytest-html sorts a column by comparing the cells' inner HTML as strings, so every numeric cell
starts with a hidden, zero-padded sort key. Details (transcript, final test output, solution
diff) are inline ``<details>`` blocks — not ``data:`` links, which browsers refuse to open — so
the self-contained report stays one shareable file.
"""

from __future__ import annotations

import html
import json
from typing import Any

from pytest_localcode.results import ExerciseResult

COLUMNS = (  # (sort key, title, title tooltip)
    ("language", "Language", ""),
    ("outcome", "Outcome", "pass@1 / pass@2: solved on try 1 / 2"),
    ("tokens", "Tokens", "prompt + completion tokens, all tries"),
    ("tps", "Decode tok/s", "completion tokens / decode time, all tries"),
    ("toolcalls", "Tool calls", ""),
    ("refused", "Refused", "access attempts the sandbox refused"),
    ("time", "Time (s)", "wall clock: agent and tests, all tries"),
)
MESSAGE_CHARS = 3000
TRANSCRIPT_CHARS = 150_000
OUTCOME_COLOURS = {"pass@1": "#2e7d32", "pass@2": "#558b2f", "fail": "#c62828", "forged": "#6a1b9a", "error": "#ef6c00"}
OUTCOME_ORDER = {"pass@1": 0, "pass@2": 1, "fail": 2, "forged": 3, "error": 4}


def sort_key(value: float) -> str:
    return f'<span hidden class="sortkey">{int(round(value * 1000)):015d}</span>'


def header_cells() -> list[str]:
    return [f'<th class="sortable" data-column-type="{key}" title="{tip}">{title}</th>' for key, title, tip in COLUMNS]


def row_cells(props: dict[str, Any]) -> list[str]:
    tokens = int(props.get("prompt_tokens", 0)) + int(props.get("completion_tokens", 0))
    status = str(props.get("status", ""))
    colour = OUTCOME_COLOURS.get(status, "inherit")
    values: dict[str, tuple[float | None, str]] = {
        "language": (None, html.escape(str(props.get("language", "")))),
        "outcome": (OUTCOME_ORDER.get(status, 9), html.escape(status)),
        "tokens": (tokens, f"{tokens:,}"),
        "tps": (float(props.get("decode_tps", 0.0)), f"{float(props.get('decode_tps', 0.0)):.1f}"),
        "toolcalls": (int(props.get("tool_calls", 0)), str(int(props.get("tool_calls", 0)))),
        "refused": (int(props.get("refused_access", 0)), str(int(props.get("refused_access", 0)))),
        "time": (float(props.get("wall_seconds", 0.0)), f"{float(props.get('wall_seconds', 0.0)):.1f}"),
    }
    cells = []
    for key, _, _ in COLUMNS:
        number, shown = values[key]
        prefix = sort_key(number) if number is not None else ""
        # Style on the cell itself: pytest-html expands a row only when the click lands on a <td>.
        style = f' style="color:{colour};font-weight:bold"' if key == "outcome" else ""
        cells.append(f'<td class="col-{key}"{style}>{prefix}{shown}</td>')
    return cells


def _pre(text: str) -> str:
    return f'<pre style="white-space:pre-wrap;max-height:40em;overflow:auto">{html.escape(text)}</pre>'


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n…[{len(text) - limit} characters cut]"


def transcript_html(messages: list[dict[str, Any]]) -> str:
    parts = []
    used = 0
    for i, msg in enumerate(messages):
        role = str(msg.get("role", "?"))
        body = _clip(str(msg.get("content") or ""), MESSAGE_CHARS)
        if msg.get("reasoning_content"):
            body = f"[thinking] {_clip(str(msg['reasoning_content']), MESSAGE_CHARS)}\n\n{body}"
        for call in msg.get("tool_calls") or []:
            fn = call.get("function", {})
            body += f"\n→ {fn.get('name')}({_clip(str(fn.get('arguments', '')), MESSAGE_CHARS)})"
        used += len(body)
        if used > TRANSCRIPT_CHARS:
            parts.append(f"<p>… {len(messages) - i} more messages cut (see logs/ in the run directory)</p>")
            break
        parts.append(f'<div class="lc-msg lc-{html.escape(role)}"><b>{html.escape(role)}</b>{_pre(body)}</div>')
    return "".join(parts)


def details_html(result: ExerciseResult) -> str:
    """The expandable details of one exercise (inline HTML, escaped)."""
    tries = "".join(
        f"<li>try {t.number}: {html.escape(t.outcome)} — {html.escape(str(t.tests.get('reason', t.error or '')))}"
        f" (agent {t.agent_seconds:.1f}s, tests {t.test_seconds:.1f}s, stop: {html.escape(t.stop_reason or '-')})</li>"
        for t in result.tries
    )
    blocks = [f'<div class="lc-details"><ul>{tries}</ul>']
    if result.error:
        blocks.append(f"<p><b>Error:</b> {html.escape(result.error)}</p>")
    forgery = result.forgery()
    if forgery:
        checks = "".join(f"<li>{html.escape(c)}</li>" for c in forgery["checks"])
        files = ", ".join(html.escape(f) for f in forgery["suspicious_files"]) or "(none named)"
        blocks.append(f'<div class="lc-forgery"><p><b>Forged (try {forgery["try"]}): the grader was tampered with.</b> '
                      f"Failed checks:</p><ul>{checks}</ul><p><b>Suspicious files:</b> {files} (see the solution diff)</p></div>")
    if result.refused_paths:
        shown = ", ".join(html.escape(p) for p in result.refused_paths[:50])
        blocks.append(f"<p><b>Refused access attempts ({len(result.refused_paths)}):</b> {shown}</p>")
    blocks.append(f'<details class="lc-transcript"><summary>Transcript ({len(result.transcript)} messages)</summary>'
                  f"{transcript_html(result.transcript)}</details>")
    blocks.append(f'<details class="lc-tests"><summary>Final test output</summary>{_pre(result.final_test_output or "(no test run)")}</details>')
    blocks.append(f'<details class="lc-diff"><summary>Solution diff</summary>{_pre(result.solution_diff or "(no changes)")}</details>')
    blocks.append("</div>")
    return "".join(blocks)


def chart_svg(summary: dict[str, Any]) -> str:
    """Per-language pass@1 / pass@2 bars, as inline SVG (no plotting dependency)."""
    languages = list(summary["languages"].items()) + [("total", summary["total"])]
    bar_w, gap, height, top = 26, 22, 160, 20
    width = len(languages) * (2 * bar_w + gap) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 60}" role="img" '
           f'aria-label="pass rate per language">']
    out.append(f'<line x1="30" y1="{top + height}" x2="{width}" y2="{top + height}" stroke="#888"/>')
    for pct in (0, 50, 100):
        y = top + height - height * pct / 100
        out.append(f'<text x="0" y="{y + 4:.0f}" font-size="10">{pct}%</text>')
    for i, (name, g) in enumerate(languages):
        x = 35 + i * (2 * bar_w + gap)
        for j, (key, colour) in enumerate((("pass_rate_1", "#1565c0"), ("pass_rate_2", "#90caf9"))):
            h = height * g[key] / 100
            out.append(f'<rect x="{x + j * bar_w}" y="{top + height - h:.1f}" width="{bar_w - 2}" height="{h:.1f}" '
                       f'fill="{colour}"><title>{html.escape(name)} {key.replace("pass_rate_", "pass@")}: {g[key]}%</title></rect>')
            out.append(f'<text x="{x + j * bar_w}" y="{top + height - h - 3:.1f}" font-size="9">{g[key]:.0f}</text>')
        out.append(f'<text x="{x}" y="{top + height + 14}" font-size="11">{html.escape(name)}</text>')
    legend_y = top + height + 34
    out.append(f'<rect x="35" y="{legend_y - 9}" width="10" height="10" fill="#1565c0"/><text x="50" y="{legend_y}" font-size="11">pass@1</text>')
    out.append(f'<rect x="110" y="{legend_y - 9}" width="10" height="10" fill="#90caf9"/><text x="125" y="{legend_y}" font-size="11">pass@2 (solved by try 2)</text>')
    out.append("</svg>")
    return "".join(out)


def summary_html(summary: dict[str, Any], provenance: dict[str, Any], text: str) -> list[str]:
    prov = json.dumps(provenance, indent=1, default=str)
    return [
        '<div class="lc-summary"><h2>localcode</h2>',
        chart_svg(summary),
        f"<details open><summary>Results table</summary>{_pre(text)}</details>",
        f"<details><summary>Provenance (model file, server command, agent config, machine)</summary>{_pre(prov)}</details>",
        "</div>",
    ]
