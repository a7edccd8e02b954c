"""``localcode leaderboard RUN_DIR…``: many runs side by side, as one shareable HTML page and Markdown.

One row per run: model, quantization and size (from the GGUF header), agent config, sampling,
epochs, date; pass@1 and pass@2 with their 95 % intervals, pass@2 per language, tokens and
seconds per solved exercise, decode speed, and a link to the run's report. The numbers come from
the runs' result files through the same summary as each run's own report (so a killed run is a
row too, marked partial); the model and server come from ``summary.json`` when the run wrote one.
The page sorts numerically by any column and plots pass rate against seconds per solved exercise.
"""

from __future__ import annotations

import argparse
import glob
import html
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_localcode.compare import CompareError, load_run
from pytest_localcode.gguf import describe as gguf_describe
from pytest_localcode.report.summary import TRY_RATES, summarize
from pytest_localcode.report.text import interval_text

REPORT = "report.html"


class LeaderboardError(Exception):
    """Nothing to put on the board; the message is the one line the user sees."""


@dataclass
class Entry:
    """One run, as the board shows it."""

    path: Path
    summary: dict[str, Any]
    provenance: dict[str, Any]
    partial: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    def model(self) -> str:
        return str(self.provenance.get("model") or "?")

    def agent(self) -> str:
        return str((self.provenance.get("agent_config") or {}).get("name")
                   or self.provenance.get("agent_config_name") or "-")

    def gguf(self) -> dict[str, Any]:
        server = self.provenance.get("server") or {}
        return server.get("gguf") or gguf_describe(server.get("model_path")) or {}

    def quantization(self) -> str:
        gguf = self.gguf()
        parts = [gguf.get("quantization"), gguf.get("size_label")]
        return ", ".join(p for p in parts if p) or "-"

    def sampling(self) -> str:
        sampling = self.provenance.get("sampling") or {}
        return ", ".join(f"{k}={v}" for k, v in sampling.items()) or "-"

    def date(self) -> str:
        return str(self.provenance.get("date") or "-")[:16]

    def rate(self, name: str, scope: str = "total") -> dict[str, Any] | None:
        group = self.summary["total"] if scope == "total" else self.summary["languages"].get(scope)
        return group["rates"][name] if group else None

    def per_solved(self, key: str) -> float | None:
        cost = self.summary["total"]["cost"]
        return cost["per_solved"][key] if cost["per_solved"] else None

    def tokens_per_solved(self) -> float | None:
        prompt, completion = self.per_solved("prompt_tokens"), self.per_solved("completion_tokens")
        return None if prompt is None or completion is None else prompt + completion


def expand(patterns: list[str]) -> list[Path]:
    """Run directories from arguments: paths, or glob patterns the shell did not expand."""
    found: list[Path] = []
    for pattern in patterns:
        if Path(pattern).exists() or not glob.has_magic(pattern):
            found.append(Path(pattern))
        else:
            found += sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_dir())
    unique: dict[Path, Path] = {}
    for path in found:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def load_entry(path: Path) -> Entry:
    """A run's row: the summary of its result files, the provenance of its ``summary.json``."""
    try:
        run = load_run(path, "run")
    except CompareError as exc:
        raise LeaderboardError(str(exc).removeprefix("run ")) from None
    saved: dict[str, Any] = {}
    partial: list[str] = []
    try:
        saved = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        partial.append("no summary.json: the run was interrupted")
    except (OSError, ValueError):
        partial.append("summary.json unreadable")
    provenance = dict(saved.get("provenance") or {})
    if not provenance:
        first = run.results[0]
        provenance = {"model": first.model, "agent_config_name": first.provenance.get("agent_config"),
                      "epochs": first.epochs, "date": None}
    summary = summarize(run.results)
    if run.unreadable:
        partial.append(f"{len(run.unreadable)} unreadable result files skipped")
    total = summary["total"]
    if total["errors"]:
        partial.append(f"{total['errors']} exercise runs ended in an error")
    planned = provenance.get("epochs") or max(r.epochs for r in run.results)
    short = sum(1 for e in summary["exercises"].values() if e["epochs"] < planned)
    if short:
        partial.append(f"{short} exercises have fewer than {planned} epochs")
    selected = provenance.get("selected")
    if isinstance(selected, int) and selected > total["attempts"]:
        partial.append(f"{total['attempts']} of {selected} selected exercise runs have results")
    return Entry(path, summary, provenance, partial)


# -- outputs ------------------------------------------------------------------------------------------


def languages_of(entries: list[Entry]) -> list[str]:
    return sorted({lang for e in entries for lang in e.summary["languages"]})


def report_link(entry: Entry, page_dir: Path) -> str | None:
    report = entry.path / REPORT
    if not report.is_file():
        return None
    return Path(os.path.relpath(report.resolve(), page_dir.resolve())).as_posix()


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def columns(entries: list[Entry]) -> list[tuple[str, str]]:
    """(key, title) of the table's columns, in order."""
    cols = [("rank", "#"), ("run", "run"), ("model", "model"), ("quant", "quantization, size"),
            ("agent", "agent config"), ("sampling", "sampling"), ("epochs", "epochs"), ("date", "date"),
            ("n", "exercises")]
    cols += [(f"rate-{name}", f"{name} % [95% CI]") for name, _ in TRY_RATES]
    cols += [(f"lang-{lang}", f"{lang} pass@2") for lang in languages_of(entries)]
    cols += [("tokens", "tokens / solved"), ("seconds", "s / solved"), ("decode", "decode tok/s"), ("report", "report")]
    return cols


def cells(entry: Entry, rank: int, page_dir: Path, languages: list[str]) -> dict[str, tuple[str, float | str | None]]:
    """key → (shown text, sort value): numbers sort as numbers, text as text."""
    total = entry.summary["total"]
    out: dict[str, tuple[str, float | str | None]] = {
        "rank": (str(rank), rank),
        "run": (entry.name + (" (partial)" if entry.partial else ""), entry.name),
        "model": (entry.model(), entry.model()),
        "quant": (entry.quantization(), entry.quantization()),
        "agent": (entry.agent(), entry.agent()),
        "sampling": (entry.sampling(), entry.sampling()),
        "epochs": (str(entry.summary["epochs"]), entry.summary["epochs"]),
        "date": (entry.date(), entry.date()),
        "n": (str(total["exercises"]), total["exercises"]),
    }
    for name, _ in TRY_RATES:
        figure = entry.rate(name)
        out[f"rate-{name}"] = (interval_text(figure), figure["estimate"] if figure else None)
    for lang in languages:
        figure = entry.rate("pass@2", lang)
        out[f"lang-{lang}"] = (interval_text(figure), figure["estimate"] if figure else None)
    tokens, seconds = entry.tokens_per_solved(), entry.per_solved("wall_seconds")
    out["tokens"] = (fmt(tokens, ",.0f"), tokens)
    out["seconds"] = (fmt(seconds, ".1f"), seconds)
    out["decode"] = (fmt(total["decode_tps"], ".1f"), total["decode_tps"])
    link = report_link(entry, page_dir)
    out["report"] = (link or "no report", link or "")
    return out


def ranked(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (-e.summary["total"]["rates"]["pass@2"]["estimate"], e.name))


def render_markdown(entries: list[Entry], page_dir: Path) -> str:
    cols = columns(entries)
    languages = languages_of(entries)
    lines = ["| " + " | ".join(title for _, title in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for rank, entry in enumerate(ranked(entries), start=1):
        row = cells(entry, rank, page_dir, languages)
        shown = []
        for key, _ in cols:
            text = row[key][0]
            if key == "report" and row[key][1]:
                text = f"[report]({row[key][1]})"
            shown.append(text.replace("|", "\\|"))
        lines.append("| " + " | ".join(shown) + " |")
    lines += ["", "pass@1 / pass@2: solved on try 1 / by try 2, % with 95 % interval (Wilson for one epoch, bootstrap "
                  "over exercises for several); tokens and seconds per solved exercise run."]
    for entry in entries:
        if entry.partial:
            lines.append(f"- {entry.name}: partial: {'; '.join(entry.partial)}")
    if len({e.summary['total']['exercises'] for e in entries}) > 1:
        lines.append("- the runs cover different numbers of exercises: compare rows with the same exercise set")
    return "\n".join(lines) + "\n"


def chart_svg(entries: list[Entry]) -> str:
    """pass@2 (with its interval) against seconds per solved exercise, one point per run."""
    points = [(e, e.per_solved("wall_seconds"), e.summary["total"]["rates"]["pass@2"]) for e in entries]
    plotted = [(e, s, r) for e, s, r in points if s is not None]
    width, height, left, bottom, top = 640, 360, 60, 40, 20
    x_max = max((s for _, s, _ in plotted), default=1.0) * 1.1 or 1.0

    def x(seconds: float) -> float:
        return left + seconds / x_max * (width - left - 20)

    def y(pct: float) -> float:
        return top + (100 - pct) / 100 * (height - top - bottom)

    out = [f'<svg id="lc-chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="pass@2 against seconds per solved exercise">',
           f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - 10}" y2="{y(0):.1f}" stroke="#888"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{y(0):.1f}" stroke="#888"/>']
    for pct in (0, 25, 50, 75, 100):
        out.append(f'<text x="{left - 35}" y="{y(pct) + 4:.1f}" font-size="10">{pct}%</text>')
    for i in range(5):
        value = x_max * i / 4
        out.append(f'<text x="{x(value) - 10:.1f}" y="{y(0) + 15:.1f}" font-size="10">{value:.0f}</text>')
    out.append(f'<text x="{width / 2 - 80:.0f}" y="{height - 5}" font-size="11">seconds per solved exercise run</text>')
    out.append(f'<text x="5" y="{top - 6}" font-size="11">pass@2 % (95% interval)</text>')
    for entry, seconds, rate in plotted:
        cx = x(seconds)
        label = html.escape(f"{entry.name}: {interval_text(rate)} %, {seconds:.1f} s per solved")
        out.append(f'<g class="lc-point" data-run="{html.escape(entry.name)}"><title>{label}</title>'
                   f'<line x1="{cx:.1f}" y1="{y(rate["low"]):.1f}" x2="{cx:.1f}" y2="{y(rate["high"]):.1f}" '
                   f'stroke="#1565c0"/>'
                   f'<circle cx="{cx:.1f}" cy="{y(rate["estimate"]):.1f}" r="5" fill="#1565c0"/>'
                   f'<text x="{cx + 7:.1f}" y="{y(rate["estimate"]) - 6:.1f}" font-size="10">'
                   f"{html.escape(entry.name)}</text></g>")
    out.append("</svg>")
    return "".join(out)


SORT_SCRIPT = """
document.querySelectorAll('#lc-board th').forEach((th, index) => th.addEventListener('click', () => {
  const body = document.querySelector('#lc-board tbody');
  const rows = [...body.rows];
  const asc = th.dataset.dir !== 'asc';
  document.querySelectorAll('#lc-board th').forEach(h => { delete h.dataset.dir; h.classList.remove('asc', 'desc'); });
  th.dataset.dir = asc ? 'asc' : 'desc';
  th.classList.add(asc ? 'asc' : 'desc');
  const key = row => row.cells[index].dataset.sort;
  const numeric = th.dataset.type === 'number';
  rows.sort((a, b) => {
    const x = key(a), y = key(b);
    if (numeric) {
      const nx = x === '' ? NaN : parseFloat(x), ny = y === '' ? NaN : parseFloat(y);
      if (isNaN(nx) || isNaN(ny)) return isNaN(nx) - isNaN(ny);  // missing values last
      return asc ? nx - ny : ny - nx;
    }
    return asc ? x.localeCompare(y) : y.localeCompare(x);
  });
  rows.forEach(r => body.appendChild(r));
}));
"""


def render_html(entries: list[Entry], page_dir: Path, title: str) -> str:
    esc = html.escape
    cols = columns(entries)
    languages = languages_of(entries)
    numeric = ({"rank", "epochs", "n", "tokens", "seconds", "decode"}
               | {k for k, _ in cols if k.startswith(("rate-", "lang-"))})
    head = "".join(f'<th class="sortable" data-key="{k}" data-type="{"number" if k in numeric else "text"}">'
                   f"{esc(t)}</th>" for k, t in cols)
    body = []
    for rank, entry in enumerate(ranked(entries), start=1):
        row = cells(entry, rank, page_dir, languages)
        tds = []
        for key, _ in cols:
            text, sort = row[key]
            content = esc(text)
            if key == "report" and sort:
                content = f'<a href="{esc(str(sort))}">report</a>'
            elif key == "run" and entry.partial:
                content = (f'{esc(entry.name)} <span class="partial" '
                           f'title="{esc("; ".join(entry.partial))}">partial</span>')
            tds.append(f'<td class="col-{key}" data-sort="{esc("" if sort is None else str(sort))}">{content}</td>')
        body.append(f'<tr data-run="{esc(entry.name)}">{"".join(tds)}</tr>')
    notes = "".join(f"<li>{esc(e.name)}: partial: {esc('; '.join(e.partial))}</li>" for e in entries if e.partial)
    if len({e.summary['total']['exercises'] for e in entries}) > 1:
        notes += "<li>the runs cover different numbers of exercises: compare rows with the same exercise set</li>"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{esc(title)}</title><style>
body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}
th.sortable{{cursor:pointer;background:#f3f3f3}}th.asc::after{{content:" ▲"}}th.desc::after{{content:" ▼"}}
td[class^="col-rate"],td[class^="col-lang"],td.col-tokens,td.col-seconds,td.col-decode,td.col-n{{text-align:right}}
.partial{{color:#c62828;font-size:85%}}</style></head><body>
<h1>{esc(title)}</h1>
<p>{len(entries)} runs. pass@1 / pass@2: solved on try 1 / by try 2, in % with the 95 % interval (Wilson for one epoch;
bootstrap over exercises stratified by language for several). Click a column to sort.</p>
<table id="lc-board"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
<ul class="lc-notes">{notes}</ul>
<h2>pass@2 against seconds per solved exercise</h2>
{chart_svg(entries)}
<script>{SORT_SCRIPT}</script>
</body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcode leaderboard",
                                     description="One HTML page and a Markdown table comparing localcode runs.")
    parser.add_argument("runs", nargs="*", metavar="RUN_DIR", help="run directories, or glob patterns ('runs/*')")
    parser.add_argument("--html", type=Path, default=Path("leaderboard.html"), metavar="FILE",
                        help="the page to write (default leaderboard.html)")
    parser.add_argument("--md", type=Path, default=None, metavar="FILE",
                        help="the Markdown table to write (default: the page's name with .md)")
    parser.add_argument("--title", default="localcode leaderboard")
    args = parser.parse_args(argv)
    paths = expand(args.runs)
    if not paths:
        given = f" ({' '.join(args.runs)} matched no directory)" if args.runs else ""
        print(f"localcode leaderboard: no run directories{given}: give at least one, e.g. 'runs/*'", file=sys.stderr)
        return 2
    entries, skipped = [], []
    for path in paths:
        try:
            entries.append(load_entry(path))
        except LeaderboardError as exc:
            skipped.append(str(exc))
    for reason in skipped:
        print(f"localcode leaderboard: skipped {reason}", file=sys.stderr)
    if not entries:
        print(f"localcode leaderboard: none of the {len(paths)} directories is a localcode run", file=sys.stderr)
        return 2
    md = args.md or args.html.with_suffix(".md")
    page_dir = args.html.parent
    try:
        page_dir.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html(entries, page_dir, args.title), encoding="utf-8")
        md.write_text(render_markdown(entries, md.parent), encoding="utf-8")
    except OSError as exc:
        print(f"localcode leaderboard: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    sys.stdout.write(render_markdown(entries, md.parent))
    print(f"Saved: {args.html}, {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
