"""pytest-html pieces: columns that sort numerically, per-exercise details, and the run summary.

pytest-html sorts a column by comparing the cells' inner HTML as strings, so every numeric cell
starts with a hidden, zero-padded sort key. Details (transcript, final test output, solution
diff) are inline ``<details>`` blocks — not ``data:`` links, which browsers refuse to open — so
the self-contained report stays one shareable file. The run summary is HTML tables (rates with
their intervals, epochs, cost) and a per-language chart with the intervals drawn; the model,
server and sampling replace pytest-html's generic environment table at the top of the page.
"""

from __future__ import annotations

import html
import json
from typing import Any

from pytest_localcode.health import describe as describe_event
from pytest_localcode.report.summary import OUTCOMES, TRY_RATES, call_sources
from pytest_localcode.report.text import (
    MAX_K_SHOWN,
    cache_and_time_lines,
    call_source_lines,
    determinism_note,
    energy_line,
    interval_text,
    method_text,
    preflight_server_lines,
)
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
# Verdicts in display order, with their colours: a new verdict is one more entry.
OUTCOME_COLOURS = {"pass@1": "#2e7d32", "pass@2": "#558b2f", "fail": "#c62828", "forged": "#6a1b9a",
                   "error": "#ef6c00"}
OUTCOME_ORDER = {status: i for i, status in enumerate(OUTCOME_COLOURS)}


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
        blocks.append(f'<div class="lc-forgery"><p><b>Forged (try {forgery["try"]}): the grader was tampered '
                      f"with.</b> Failed checks:</p><ul>{checks}</ul><p><b>Suspicious files:</b> {files} "
                      "(see the solution diff)</p></div>")
    blocks.append(call_sources_html(result))
    if result.refused_paths:
        shown = ", ".join(html.escape(p) for p in result.refused_paths[:50])
        blocks.append(f"<p><b>Refused access attempts ({len(result.refused_paths)}):</b> {shown}</p>")
    blocks.append(f'<details class="lc-transcript"><summary>Transcript ({len(result.transcript)} messages)</summary>'
                  f"{transcript_html(result.transcript)}</details>")
    blocks.append('<details class="lc-tests"><summary>Final test '
                  f'output</summary>{_pre(result.final_test_output or "(no test run)")}</details>')
    blocks.append('<details class="lc-diff"><summary>Solution '
                  f'diff</summary>{_pre(result.solution_diff or "(no changes)")}</details>')
    blocks.append("</div>")
    return "".join(blocks)


def call_sources_html(result: ExerciseResult) -> str:
    """One exercise's tool calls by source: structured by the server, or read from the text."""
    s = call_sources(t.agent for t in result.tries)
    by_syntax = ", ".join(f"{html.escape(k)} {v}" for k, v in s["recovered_by_syntax"].items())
    return (f'<p class="lc-call-sources" data-server="{s["server_calls"]}" data-recovered="{s["recovered_calls"]}">'
            f"<b>Tool calls:</b> {s['server_calls']} structured by the server, {s['recovered_calls']} read by the "
            f"agent from the text" + (f" ({by_syntax})" if by_syntax else "") + "</p>")


def _esc(value: Any) -> str:
    return html.escape(str(value))


RATE_COLOURS = {"pass@1": "#1565c0", "pass@2": "#90caf9"}


def chart_svg(summary: dict[str, Any]) -> str:
    """Per-language pass@1 / pass@2 bars with their 95 % intervals as error bars (inline SVG)."""
    languages = list(summary["languages"].items()) + [("total", summary["total"])]
    bar_w, gap, height, top = 26, 22, 160, 20
    width = max(len(languages) * (len(TRY_RATES) * bar_w + gap) + 40, 380)  # room for the legend
    out = [f'<svg class="lc-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 60}" '
           f'role="img" aria-label="pass rate per language with 95% intervals">']
    out.append(f'<line x1="30" y1="{top + height}" x2="{width}" y2="{top + height}" stroke="#888"/>')
    for pct in (0, 50, 100):
        y = top + height - height * pct / 100
        out.append(f'<text x="0" y="{y + 4:.0f}" font-size="10">{pct}%</text>')

    def y_of(value: float) -> float:
        return top + height - height * value / 100

    for i, (name, g) in enumerate(languages):
        x = 35 + i * (len(TRY_RATES) * bar_w + gap)
        for j, (rate_name, _) in enumerate(TRY_RATES):
            figure = g["rates"][rate_name]
            value, low, high = figure["estimate"], figure["low"], figure["high"]
            h = height * value / 100
            left = x + j * bar_w
            label = f"{name} {rate_name}: {interval_text(figure)} (95% {figure['method']})"
            out.append(f'<rect class="lc-bar" data-rate="{rate_name}" data-scope="{_esc(name)}" x="{left}" '
                       f'y="{top + height - h:.1f}" width="{bar_w - 2}" height="{h:.1f}" '
                       f'fill="{RATE_COLOURS[rate_name]}">'
                       f"<title>{_esc(label)}</title></rect>")
            mid = left + (bar_w - 2) / 2
            out.append(f'<g class="lc-errorbar" data-rate="{rate_name}" data-scope="{_esc(name)}" data-low="{low:.4f}" '
                       f'data-high="{high:.4f}" stroke="#222" stroke-width="1.2"><title>{_esc(label)}</title>'
                       f'<line x1="{mid:.1f}" y1="{y_of(low):.1f}" x2="{mid:.1f}" y2="{y_of(high):.1f}"/>'
                       f'<line x1="{mid - 5:.1f}" y1="{y_of(low):.1f}" x2="{mid + 5:.1f}" y2="{y_of(low):.1f}"/>'
                       f'<line x1="{mid - 5:.1f}" y1="{y_of(high):.1f}" x2="{mid + 5:.1f}" y2="{y_of(high):.1f}"/></g>')
            out.append(f'<text x="{left}" y="{y_of(high) - 3:.1f}" font-size="9">{value:.0f}</text>')
        out.append(f'<text x="{x}" y="{top + height + 14}" font-size="11">{_esc(name)}</text>')
    legend_y = top + height + 34
    out.append(f'<rect x="35" y="{legend_y - 9}" width="10" height="10" fill="{RATE_COLOURS["pass@1"]}"/>'
               f'<text x="50" y="{legend_y}" font-size="11">pass@1</text>')
    out.append(f'<rect x="110" y="{legend_y - 9}" width="10" height="10" fill="{RATE_COLOURS["pass@2"]}"/>'
               f'<text x="125" y="{legend_y}" font-size="11">pass@2 (solved by try 2); bars: 95% interval</text>')
    out.append("</svg>")
    return "".join(out)


TABLE_STYLE = ('<style>.lc-table{border-collapse:collapse;margin:.5em 0 1em}'
               '.lc-table th,.lc-table td{border:1px solid #ccc;padding:2px 8px;text-align:right}'
               '.lc-table td:first-child,.lc-table th:first-child{text-align:left}'
               '.lc-table tr.lc-total td{font-weight:bold}.lc-ci{color:#666;font-size:90%}</style>')


def _cell(value: Any, cls: str = "") -> str:
    return f'<td class="{cls}">{value}</td>' if cls else f"<td>{value}</td>"


def interval_cell(figure: dict[str, Any] | None, count: str = "") -> str:
    """``count 50.0 [31.4, 68.6]`` as HTML, the interval in its own span (and data attributes)."""
    if not figure:
        return "-"
    prefix = f'<span class="lc-count">{_esc(count)}</span> ' if count else ""
    return (f'{prefix}<span class="lc-est">{figure["estimate"]:.1f}</span> <span class="lc-ci" '
            f'data-low="{figure["low"]}" data-high="{figure["high"]}">'
            f'[{figure["low"]:.1f}, {figure["high"]:.1f}]</span>')


def _html_table(cls: str, header: list[str], rows: list[tuple[str, list[str]]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    total = ' class="lc-total"'
    body = "".join(f'<tr data-scope="{_esc(name)}"{total if name == "total" else ""}>'
                   + "".join(_cell(c) for c in cells) + "</tr>" for name, cells in rows)
    return f'<table class="lc-table {cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _scopes(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [*summary["languages"].items(), ("total", summary["total"])]


def rates_html(summary: dict[str, Any]) -> str:
    header = ["language", "exercises", "runs", *(f"{name} % [95% CI]" for name, _ in TRY_RATES),
              *(status for status, _ in OUTCOMES)]
    rows = []
    for name, g in _scopes(summary):
        cells = [_esc(name), str(g["exercises"]), str(g["attempts"])]
        cells += [interval_cell(g["rates"][rate], str(g[f"pass_{number}"])) for rate, number in TRY_RATES]
        cells += [str(g[key]) for _, key in OUTCOMES]
        rows.append((name, cells))
    return _html_table("lc-rates", header, rows)


def epochs_html(summary: dict[str, Any]) -> str:
    k_max = max((int(k) for k in summary["total"].get("pass_at_k", {})), default=0)
    ks = [k for k in range(1, k_max + 1) if k <= MAX_K_SHOWN or k == k_max]
    header = ["language", *(f"pass@{k}" for k in ks), *(f"pass^{k}" for k in ks if k > 1)]
    rows = []
    for name, g in _scopes(summary):
        cells = [_esc(name)] + [interval_cell(g.get("pass_at_k", {}).get(str(k))) for k in ks]
        cells += [interval_cell(g.get("pass_hat_k", {}).get(str(k))) for k in ks if k > 1]
        rows.append((name, cells))
    return _html_table("lc-epochs", header, rows)


def cost_html(summary: dict[str, Any]) -> str:
    def per(cost: dict[str, Any], key: str, fmt: str) -> str:
        solved = fmt.format(cost["per_solved"][key]) if cost["per_solved"] else "-"
        attempt = fmt.format(cost["per_attempt"][key]) if cost["per_attempt"] else "-"
        return f'{solved} <span class="lc-ci">({attempt})</span>'

    header = ["language", "solved / runs", "prompt tok", "compl tok", "agent s", "test s", "s / run", "decode tok/s"]
    rows = []
    for name, g in _scopes(summary):
        c = g["cost"]
        rows.append((name, [_esc(name), f"{c['solved']}/{c['attempts']}", per(c, "prompt_tokens", "{:,.0f}"),
                            per(c, "completion_tokens", "{:,.0f}"), per(c, "agent_seconds", "{:.1f}"),
                            per(c, "test_seconds", "{:.1f}"), f"{g['seconds_per_exercise']:.1f}",
                            f"{g['decode_tps']:.1f}"]))
    return _html_table("lc-cost", header, rows)


def flaky_html(summary: dict[str, Any]) -> str:
    items = "".join(f'<li data-exercise="{_esc(name)}">{_esc(name)}: {e["solved_epochs"]}/{e["epochs"]} epochs solved '
                    f"({_esc(' '.join(e['outcomes_by_epoch']))})</li>"
                    for name in summary.get("flaky") or [] for e in [summary["exercises"][name]])
    return (f'<h3>Flaky exercises ({len(summary.get("flaky") or [])})</h3>'
            f'<ul class="lc-flaky">{items or "<li>none</li>"}</ul>')


def summary_html(summary: dict[str, Any], provenance: dict[str, Any]) -> list[str]:
    prov = json.dumps(provenance, indent=1, default=str)
    parts = ['<div class="lc-summary"><h2>localcode</h2>', TABLE_STYLE, chart_svg(summary),
             "<h3>Pass rates</h3>", rates_html(summary), f'<p class="lc-method">{_esc(method_text(summary))}</p>']
    if summary.get("multi_epoch"):
        parts += ["<h3>Epochs: pass@k (solved in at least one of k) and pass^k (solved in all k)</h3>",
                  epochs_html(summary), flaky_html(summary)]
    parts += ["<h3>Cost per solved exercise run (per exercise run)</h3>", cost_html(summary),
              f'<p class="lc-energy">{_esc(energy_line(summary.get("energy") or {}))}</p>',
              *(f'<p class="lc-call-sources">{_esc(line)}</p>' for line in call_source_lines(summary)),
              "<details><summary>Provenance (model file, server command, agent config, machine)</summary>"
              f"{_pre(prov)}</details>",
              "</div>"]
    return parts


def run_environment(provenance: dict[str, Any]) -> dict[str, Any]:
    """What identifies the run, for the table at the top of the report (values are HTML)."""
    server = provenance.get("server") or {}
    gguf = server.get("gguf") or {}
    agent = provenance.get("agent_config") or {}
    env: dict[str, Any] = {"Model": _esc(provenance.get("model"))}
    if agent.get("name"):
        env["Agent config"] = _esc(agent["name"])
    if server.get("model_path"):
        size = f", {server['model_bytes']:,} bytes" if server.get("model_bytes") else ""
        env["Model file"] = _esc(f"{server['model_path']}{size}")
    if gguf.get("quantization"):
        env["Quantization"] = _esc(f"{gguf['quantization']}, {gguf.get('size_label') or '?'} parameters, "
                                   f"{gguf.get('architecture') or '?'}")
    if server.get("command"):
        env["Server"] = _esc(f"{server.get('version') or server.get('kind') or ''}: {' '.join(server['command'])}")
    elif server.get("url"):
        env["Server"] = _esc(f"external, {server['url']}")
    sampling = provenance.get("sampling") or {}
    env["Sampling"] = {_esc(k): _esc(v) for k, v in sampling.items()} if sampling else "server defaults"
    env["Epochs"] = _esc(f"{provenance.get('epochs', 1)}" + (f", seed of epoch k: {provenance['seed']} + k - 1"
                                                              if provenance.get("seed") is not None else ""))
    env.update(preflight_environment(provenance))
    env["Tries"] = _esc(provenance.get("tries"))
    env["Sandbox"] = _esc(provenance.get("sandbox"))
    env["Dataset"] = _esc(f"{provenance.get('dataset')} @ {provenance.get('dataset_commit') or 'unknown commit'}")
    env["Harness commit"] = _esc(provenance.get("git_commit") or "unknown")
    machine = provenance.get("machine") or {}
    env["Machine"] = _esc(f"{machine.get('cpu', '?')}, {machine.get('cpus')} cores, {machine.get('ram_gib', '?')} GiB"
                          + (f", {'; '.join(machine['gpu'])}" if machine.get("gpu") else ""))
    return env


def replace_environment(config: Any, provenance: dict[str, Any]) -> None:
    """Make pytest-html's environment table (filled from pytest-metadata) show this run."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = config.stash.get(metadata_key, None)
    if metadata is None:
        return
    metadata.clear()
    metadata.update(run_environment(provenance))


# -- the server: what the preflight found, cache reuse, working vs waiting time, health -----------


def preflight_environment(provenance: dict[str, Any]) -> dict[str, Any]:
    """The preflight's findings and the determinism note, for the table at the top of the report."""
    found, note = preflight_server_lines(provenance), determinism_note(provenance)
    env: dict[str, Any] = {}
    if found:
        env["Preflight"] = "<br>".join(_esc(line) for line in found)
    if note:
        env["Determinism"] = _esc(note)
    return env


HEALTH_COLOURS = {"decode": "#1565c0", "prefill": "#ef6c00"}


def _health_panel(series: list[list[Any]], column: int, label: str, events: list[dict[str, Any]], top: int,
                  width: int, height: int, duration: float) -> list[str]:
    values = [p[column] for p in series if p[column] is not None]
    if not values:
        return [f'<text x="40" y="{top + height / 2:.0f}" font-size="11">{_esc(label)}: unknown (no timings)</text>']
    peak = max(values) * 1.1 or 1.0

    def x_of(t: float) -> float:
        return 40 + (width - 50) * (t / duration if duration else 0)

    def y_of(v: float) -> float:
        return top + height - height * v / peak

    out = [f'<text x="0" y="{top - 4}" font-size="11">{_esc(label)} tok/s (per request; max {peak / 1.1:,.1f})</text>',
           f'<line x1="40" y1="{top + height}" x2="{width}" y2="{top + height}" stroke="#888"/>']
    for e in events:
        x1, x2 = x_of(e["start_s"]), x_of(e["end_s"])
        if e["kind"] == "slowdown":
            out.append(f'<rect class="lc-slow" x="{x1:.1f}" y="{top}" width="{max(x2 - x1, 2):.1f}" height="{height}" '
                       f'fill="#c62828" opacity="0.15"><title>{_esc(describe_event(e))}</title></rect>')
        else:
            colour = "#6a1b9a" if e["kind"] == "restart" else "#c62828"
            out.append(f'<line class="lc-{_esc(e["kind"])}" x1="{x1:.1f}" y1="{top}" x2="{x1:.1f}" '
                       f'y2="{top + height}" stroke="{colour}" stroke-dasharray="3,2">'
                       f"<title>{_esc(describe_event(e))}</title></line>")
    colour = HEALTH_COLOURS["decode" if column == 2 else "prefill"]
    for t, server, *rates in series:
        value = rates[column - 2]
        if value is not None:
            out.append(f'<circle class="lc-sample" data-server="{server}" cx="{x_of(t):.1f}" cy="{y_of(value):.1f}" '
                       f'r="1.8" fill="{colour}"/>')
    return out


def health_svg(health: dict[str, Any]) -> str:
    """Decode and prefill tok/s of every request over the run, slowdowns shaded, restarts and runs
    of failed requests as dashed lines (inline SVG)."""
    series, events = health.get("series") or [], health.get("events") or []
    duration = max([p[0] for p in series] + [e["end_s"] for e in events] + [1.0])
    width, height = 640, 90
    out = [f'<svg class="lc-health" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{2 * height + 70}" '
           f'role="img" aria-label="decode and prefill speed per request over the run">']
    out += _health_panel(series, 2, "decode", events, 16, width, height, duration)
    out += _health_panel(series, 3, "prefill", events, height + 44, width, height, duration)
    out.append(f'<text x="40" y="{2 * height + 66}" font-size="10">0 s</text>'
               f'<text x="{width - 40}" y="{2 * height + 66}" font-size="10">{duration:,.0f} s</text>')
    out.append("</svg>")
    return "".join(out)


def server_html(summary: dict[str, Any]) -> list[str]:
    """Prompt-cache reuse and working vs waiting time per language, and the servers' health."""
    total = summary["total"]
    if not total.get("model_responses"):
        return []

    def pct(value: float | None) -> str:
        return "unknown" if value is None else f"{value:.1f}"

    def secs(value: float | None) -> str:
        return "unknown" if value is None else f"{value:.0f}"

    rows = [(name, [_esc(name), pct(g.get("cache_share")), pct(g.get("cache_share_after_first")),
                    secs(g.get("working_seconds")), secs(g.get("waiting_seconds"))])
            for name, g in _scopes(summary)]
    parts = ['<div class="lc-server"><h3>Prompt cache and time</h3>',
             _html_table("lc-cache", ["language", "cached % of prompt tokens", "after each exercise's first turn",
                                      "working s", "waiting s"], rows)]
    parts += [f'<p class="lc-cache-note">{_esc(line)}</p>' for line in cache_and_time_lines(summary)]
    health = summary.get("health")
    if health:
        events = health.get("events") or []
        parts += ["<h3>Server health</h3>", health_svg(health)]
        items = "".join(f'<li class="lc-event" data-kind="{_esc(e["kind"])}">{_esc(describe_event(e))}</li>'
                        for e in events)
        parts.append(f'<ul class="lc-events">{items or "<li>no slowdown, restart or run of failed requests</li>"}</ul>')
    parts.append("</div>")
    return parts
