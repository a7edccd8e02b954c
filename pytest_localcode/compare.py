"""Compare two runs: ``localcode compare RUN_A RUN_B`` (or ``python -m pytest_localcode.compare``).

Reads each run's per-exercise result files (not ``summary.json``, which a killed or partial run
lacks) and compares the runs on the exercises both have, paired: the same exercise in A and in B.
Per language and overall, for pass@1 and pass@2: the difference B − A with its 95 % interval and
a p-value, Holm-corrected across languages. With one epoch per exercise the interval is
Newcombe's paired square-and-add interval and the test exact McNemar; with epochs the difference
of per-exercise solve rates gets a paired bootstrap over exercises stratified by language and an
exact sign-flip test (the interval widened, where needed, to the MOVER interval from each run's own
rate interval). The verdict line reads the overall pass@2 difference. Also listed: tokens
and time per exercise run, and the exercises where the runs disagree. ``--html FILE`` writes the
same as a page.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from pytest_localcode import stats
from pytest_localcode.report.summary import TRY_RATES, summarize
from pytest_localcode.results import RESULTS_FILE, ExerciseResult, load, result_files

ALPHA = 0.05
VERDICT_RATE = "pass@2"


class CompareError(Exception):
    """Runs that cannot be compared; the message is the one line the user sees."""


@dataclass
class Run:
    path: Path
    results: list[ExerciseResult]
    unreadable: list[Path] = field(default_factory=list)

    @property
    def exercises(self) -> dict[str, list[ExerciseResult]]:
        """``lang/exercise`` → its results, one per epoch, in epoch order."""
        out: dict[str, list[ExerciseResult]] = defaultdict(list)
        for result in sorted(self.results, key=lambda r: (r.name, r.epoch)):
            out[result.name].append(result)
        return dict(out)

    @property
    def models(self) -> str:
        return ", ".join(sorted({r.model for r in self.results})) or "?"

    @property
    def epochs(self) -> int:
        return max((len(runs) for runs in self.exercises.values()), default=0)

    def describe(self) -> str:
        epochs = f", {self.epochs} epochs" if self.epochs > 1 else ""
        return f"{self.path} ({len(self.exercises)} exercises{epochs}, model {self.models})"


def load_run(path: Path, label: str) -> Run:
    """Every readable result file of a run directory, every epoch; unreadable ones are counted."""
    if not path.exists():
        raise CompareError(f"{label} {path}: no such directory")
    if not path.is_dir():
        raise CompareError(f"{label} {path}: not a directory")
    found: list[ExerciseResult] = []
    unreadable: list[Path] = []
    for file in result_files(path):
        result = load(file.parent)
        if result is None:
            unreadable.append(file)
        else:
            found.append(result)
    if not found:
        detail = f" ({len(unreadable)} unreadable result files)" if unreadable else ""
        raise CompareError(f"{label} {path}: not a localcode run directory: "
                           f"no <language>/<exercise>/{RESULTS_FILE}{detail}")
    return Run(path, found, unreadable)


def check_comparable(a: Run, b: Run, any_dataset: bool = False) -> list[str]:
    """Raise for runs that cannot be compared; return the common exercises."""
    if a.path.resolve() == b.path.resolve():
        raise CompareError(f"RUN_A and RUN_B are the same run directory ({a.path}): compare two different runs")
    ea, eb = a.exercises, b.exercises
    common = sorted(set(ea) & set(eb))
    if not common:
        raise CompareError(f"{a.path} and {b.path} have no exercise in common")
    if any_dataset:
        return common
    changed = [name for name in common
               if (da := ea[name][0].provenance.get("exercise_digest"))
               and (db := eb[name][0].provenance.get("exercise_digest")) and da != db]
    if changed:
        raise CompareError(f"{len(changed)} of the {len(common)} common exercises differ between the runs' datasets "
                           f"(e.g. {changed[0]}): compare runs of the same dataset, or pass --any-dataset")
    commits_a = {str(r.provenance["dataset_commit"]) for r in a.results if r.provenance.get("dataset_commit")}
    commits_b = {str(r.provenance["dataset_commit"]) for r in b.results if r.provenance.get("dataset_commit")}
    has_digests = all(runs[0].provenance.get("exercise_digest") for run in (ea, eb) for runs in run.values())
    if commits_a and commits_b and not commits_a & commits_b and not has_digests:
        raise CompareError(f"the runs used different dataset commits ({', '.join(sorted(commits_a))} vs "
                           f"{', '.join(sorted(commits_b))}): compare runs of the same dataset, or pass --any-dataset")
    return common


# -- the paired analysis --------------------------------------------------------------------------


def solved_fraction(results: list[ExerciseResult], try_number: int) -> Fraction:
    solved = sum(1 for r in results if r.solved_on is not None and r.solved_on <= try_number)
    return Fraction(solved, len(results))


def paired_one_epoch(pairs: list[tuple[bool, bool]]) -> dict[str, Any]:
    both = sum(1 for x, y in pairs if x and y)
    only_a = sum(1 for x, y in pairs if x and not y)
    only_b = sum(1 for x, y in pairs if y and not x)
    neither = len(pairs) - both - only_a - only_b
    d, low, high = stats.newcombe_paired(both, only_a, only_b, neither)
    return {"difference": stats.Interval(d, low, high, "newcombe-paired", len(pairs)).to_json(),
            "p": stats.mcnemar_exact(only_a, only_b), "test": "exact McNemar",
            "table": {"both": both, "only_a": only_a, "only_b": only_b, "neither": neither}}


def paired_epochs(rates: dict[str, list[tuple[Fraction, Fraction]]], sa: dict[str, Any], sb: dict[str, Any],
                  rate: str) -> dict[str, dict[str, Any]]:
    """Per language and ``total``: mean difference of per-exercise solve rates (A, B pairs), its
    interval and the exact sign-flip p-value. The interval is the hull of the stratified paired
    bootstrap's percentile interval and the MOVER interval built from each run's own rate interval
    (``sa``/``sb``, guarded at the boundaries) and the per-exercise correlation: a bootstrap over a
    handful of exercises alone would claim far too much."""
    strata = {lang: [[float(b - a)] for a, b in pairs] for lang, pairs in rates.items()}
    replicates = stats.stratified_replicates(strata)
    out: dict[str, dict[str, Any]] = {}
    scopes = {**{lang: [lang] for lang in rates}, "total": sorted(rates)}
    tail = (1 - stats.CONFIDENCE) / 2
    for scope, langs in scopes.items():
        pairs = [pair for lang in langs for pair in rates[lang]]
        values = [b - a for a, b in pairs]
        n = len(values)
        estimate = float(sum(values, Fraction(0)) / n)
        series = sorted(sum(replicates[lang][i][0] for lang in langs) / n for i in range(stats.RESAMPLES))
        p_low, p_high = stats.quantile(series, tail), stats.quantile(series, 1 - tail)
        fig_a = (sa["total"] if scope == "total" else sa["languages"][scope])["rates"][rate]
        fig_b = (sb["total"] if scope == "total" else sb["languages"][scope])["rates"][rate]
        phi = stats.correlation([float(a) for a, _ in pairs], [float(b) for _, b in pairs])
        m_low, m_high = stats.mover_difference(fig_a["estimate"] / 100, (fig_a["low"] / 100, fig_a["high"] / 100),
                                               fig_b["estimate"] / 100, (fig_b["low"] / 100, fig_b["high"] / 100), phi)
        interval = stats.Interval(estimate, min(p_low, m_low), max(p_high, m_high), "paired bootstrap + MOVER", n,
                                  detail=(("percentile", [p_low, p_high]), ("mover", [m_low * 100, m_high * 100]),
                                          ("correlation", phi), ("resamples", stats.RESAMPLES), ("seed", stats.SEED)))
        p, test = stats.sign_flip_pvalue(values)
        out[scope] = {"difference": interval.to_json(), "p": p, "test": test}
    return out


def paired(a: Run, b: Run, common: list[str], sa: dict[str, Any], sb: dict[str, Any]) -> dict[str, Any]:
    """``{rate: {scope: {difference, p, p_holm, test}}}`` for pass@1 and pass@2."""
    ea, eb = a.exercises, b.exercises
    multi = any(len(ea[n]) > 1 or len(eb[n]) > 1 for n in common)
    by_language: dict[str, list[str]] = defaultdict(list)
    for name in common:
        by_language[ea[name][0].language].append(name)
    out: dict[str, Any] = {"method": "epochs" if multi else "one epoch"}
    for rate, try_number in TRY_RATES:
        if multi:
            rates = {lang: [(solved_fraction(ea[n], try_number), solved_fraction(eb[n], try_number)) for n in names]
                     for lang, names in by_language.items()}
            scopes = paired_epochs(rates, sa, sb, rate)
        else:
            pair = {n: (solved_fraction(ea[n], try_number) == 1, solved_fraction(eb[n], try_number) == 1)
                    for n in common}
            scopes = {lang: paired_one_epoch([pair[n] for n in names]) for lang, names in by_language.items()}
            scopes["total"] = paired_one_epoch(list(pair.values()))
        adjusted = stats.holm({lang: scopes[lang]["p"] for lang in by_language})
        for lang, p in adjusted.items():
            scopes[lang]["p_holm"] = p
        scopes["total"]["p_holm"] = scopes["total"]["p"]  # the overall test is one test
        out[rate] = dict(sorted(scopes.items(), key=lambda kv: (kv[0] == "total", kv[0])))
    return out


def verdict(figures: dict[str, Any], n: int) -> str:
    """One line: which run is better on pass@2 overall, or that no difference was detected."""
    total = figures[VERDICT_RATE]["total"]
    d = total["difference"]
    detail = (f"{d['estimate']:+.1f} points, 95 % CI [{d['low']:+.1f}, {d['high']:+.1f}], p = {format_p(total['p'])}"
              f" ({total['test']}, {VERDICT_RATE}, {n} exercises)")
    if total["p"] < ALPHA and d["estimate"] != 0:
        better, worse = ("B", "A") if d["estimate"] > 0 else ("A", "B")
        return f"{better} better than {worse}: {detail}"
    return f"no detectable difference: {detail}"


def format_p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def disagreements(a: Run, b: Run, common: list[str]) -> dict[str, list[str]]:
    """Common exercises solved in one run only (either way), solved on another try, or (epochs)
    solved in a different share of epochs."""
    out: dict[str, list[str]] = {"gained": [], "lost": [], "other_try": []}
    ea, eb = a.exercises, b.exercises
    for name in common:
        ra, rb = ea[name], eb[name]
        if len(ra) == 1 and len(rb) == 1:
            x, y = ra[0], rb[0]
            if x.solved != y.solved:
                key = "gained" if y.solved else "lost"
            elif x.solved and x.status != y.status:
                key = "other_try"
            else:
                continue
            out[key].append(f"{name} ({x.status} → {y.status})")
            continue
        sa, sb = sum(r.solved for r in ra), sum(r.solved for r in rb)
        share_a, share_b = Fraction(sa, len(ra)), Fraction(sb, len(rb))
        if share_a != share_b:
            out["gained" if share_b > share_a else "lost"].append(
                f"{name} ({sa}/{len(ra)} → {sb}/{len(rb)} epochs solved)")
    return out


def compare(a: Run, b: Run, any_dataset: bool = False) -> dict[str, Any]:
    """Both runs aggregated on their common exercises, the paired figures, the verdict, the flips."""
    common = check_comparable(a, b, any_dataset)
    keep = set(common)
    sa = summarize([r for r in a.results if r.name in keep])
    sb = summarize([r for r in b.results if r.name in keep])
    figures = paired(a, b, common, sa, sb)
    return {
        "common": len(common),
        "only_a": sorted(set(a.exercises) - keep),
        "only_b": sorted(set(b.exercises) - keep),
        "unreadable_a": [str(p) for p in a.unreadable],
        "unreadable_b": [str(p) for p in b.unreadable],
        "verdict": verdict(figures, len(common)),
        "paired": figures,
        "a": sa,
        "b": sb,
        **disagreements(a, b, common),
    }


# -- text --------------------------------------------------------------------------------------------


def _per_run(g: dict[str, Any], key: str) -> float:
    return g[key] / g["attempts"] if g["attempts"] else 0.0


def _rate_cells(result: dict[str, Any], scope: str, rate: str) -> str:
    ga = result["a"]["total"] if scope == "total" else result["a"]["languages"][scope]
    gb = result["b"]["total"] if scope == "total" else result["b"]["languages"][scope]
    fig = result["paired"][rate][scope]
    d = fig["difference"]
    return (f"{ga['rates'][rate]['estimate']:5.1f} → {gb['rates'][rate]['estimate']:5.1f} "
            f"{d['estimate']:+6.1f} [{d['low']:+6.1f}, {d['high']:+6.1f}] "
            f"{format_p(fig['p']):>7} {format_p(fig['p_holm']):>7}")


def _cost_cells(ga: dict[str, Any], gb: dict[str, Any]) -> str:
    tok_a = _per_run(ga, "prompt_tokens") + _per_run(ga, "completion_tokens")
    tok_b = _per_run(gb, "prompt_tokens") + _per_run(gb, "completion_tokens")
    tok_pct = f"{(tok_b - tok_a) / tok_a * 100:+.0f}%" if tok_a else "n/a"
    return (f"{tok_a:>8,.0f} → {tok_b:>8,.0f} ({tok_pct:>5})  "
            f"{ga['seconds_per_exercise']:>6.1f} → {gb['seconds_per_exercise']:>6.1f} "
            f"({gb['seconds_per_exercise'] - ga['seconds_per_exercise']:+6.1f})")


def render(a: Run, b: Run, result: dict[str, Any]) -> str:
    sa, sb = result["a"], result["b"]
    lines = [
        f"A: {a.describe()}",
        f"B: {b.describe()}",
        f"Compared on the {result['common']} exercises in both runs"
        f" (only in A: {len(result['only_a'])}, only in B: {len(result['only_b'])})",
    ]
    for _label, run in (("A", a), ("B", b)):
        if run.unreadable:
            lines.append(f"warning: partial result: {run.path}: {len(run.unreadable)} unreadable result files skipped "
                         f"(e.g. {run.unreadable[0]})")
    lines += ["", f"Verdict: {result['verdict']}", ""]
    rate_head = "{} % A → B     Δ [95% CI]            p  p Holm"
    header = f"{'language':<11} {'n':>4}  " + "  ".join(f"{rate_head.format(rate):<46}" for rate, _ in TRY_RATES)
    lines += [header, "-" * len(header)]
    scopes = [*sorted(sa["languages"]), "total"]
    for scope in scopes:
        g = sa["total"] if scope == "total" else sa["languages"][scope]
        if scope == "total":
            lines.append("-" * len(header))
        lines.append(f"{scope:<11} {g['exercises']:>4}  " + "  ".join(f"{_rate_cells(result, scope, rate):<46}"
                                                                    for rate, _ in TRY_RATES))
    method = result["paired"]["method"]
    lines.append("Δ: B − A in points; " + ("Newcombe paired interval, exact McNemar test" if method == "one epoch" else
                 f"per-exercise solve rates, paired bootstrap stratified by language ({stats.RESAMPLES} resamples, "
                 f"seed {stats.SEED}) widened to MOVER, exact sign-flip test") + "; Holm: corrected across languages")
    cost_head = f"{'language':<11} {'tokens/run A → B (Δ)':>27}  {'s/run A → B (Δ)':>24}"
    lines += ["", cost_head, "-" * len(cost_head)]
    for scope in scopes:
        ga = sa["total"] if scope == "total" else sa["languages"][scope]
        gb = sb["total"] if scope == "total" else sb["languages"][scope]
        lines.append(f"{scope:<11} {_cost_cells(ga, gb)}")
    lines.append("")
    sections: tuple[tuple[str, list[str]], ...] = (
        ("Solved in B, not in A", result["gained"]), ("Solved in A, not in B", result["lost"]),
        ("Solved in both, on another try", result["other_try"]))
    if method != "one epoch":
        sections = (("Solved more often in B", result["gained"]), ("Solved more often in A", result["lost"]))
    for title, names in sections:
        lines.append(f"{title} ({len(names)}):" + ("" if names else " none"))
        lines += [f"  {n}" for n in names]
    return "\n".join(lines) + "\n"


# -- HTML --------------------------------------------------------------------------------------------


def forest_svg(result: dict[str, Any], rate: str) -> str:
    """B − A per language with its interval, as horizontal bars around zero."""
    rows = list(result["paired"][rate].items())
    width, left, row_h = 520, 110, 24
    height = row_h * len(rows) + 56
    lo = min(-10.0, *(f["difference"]["low"] for _, f in rows))
    hi = max(10.0, *(f["difference"]["high"] for _, f in rows))

    def x(value: float) -> float:
        return left + (value - lo) / (hi - lo) * (width - left - 20)

    out = [f'<svg class="lc-forest" data-rate="{rate}" xmlns="http://www.w3.org/2000/svg" '
           f'width="{width}" height="{height}">',
           f'<text x="4" y="14" font-size="13" font-weight="bold">{rate}</text>',
           f'<line x1="{x(0):.1f}" y1="20" x2="{x(0):.1f}" y2="{height - 25}" stroke="#888" stroke-dasharray="3,3"/>']
    for i, (scope, fig) in enumerate(rows):
        d = fig["difference"]
        y = 34 + i * row_h
        colour = "#2e7d32" if fig["p"] < ALPHA and d["estimate"] > 0 else "#c62828" if fig["p"] < ALPHA else "#555"
        out.append(f'<text x="4" y="{y + 4}" font-size="12">{html.escape(scope)}</text>'
                   f'<g class="lc-diff" data-scope="{html.escape(scope)}" '
                   f'data-low="{d["low"]:.4f}" data-high="{d["high"]:.4f}">'
                   f'<line x1="{x(d["low"]):.1f}" y1="{y}" x2="{x(d["high"]):.1f}" y2="{y}" '
                   f'stroke="{colour}" stroke-width="2"/>'
                   f'<circle cx="{x(d["estimate"]):.1f}" cy="{y}" r="4" fill="{colour}"/>'
                   f'<title>{html.escape(scope)}: {d["estimate"]:+.1f} [{d["low"]:+.1f}, {d["high"]:+.1f}], '
                   f'p = {format_p(fig["p"])}'
                   f"</title></g>")
    for tick in (lo, 0.0, hi):
        out.append(f'<text x="{x(tick) - 10:.1f}" y="{height - 8}" font-size="10">{tick:+.0f}</text>')
    out.append("</svg>")
    return "".join(out)


def render_html(a: Run, b: Run, result: dict[str, Any]) -> str:
    esc = html.escape
    rows = []
    for scope in [*sorted(result["a"]["languages"]), "total"]:
        ga = result["a"]["total"] if scope == "total" else result["a"]["languages"][scope]
        gb = result["b"]["total"] if scope == "total" else result["b"]["languages"][scope]
        cells = [esc(scope), str(ga["exercises"])]
        for rate, _ in TRY_RATES:
            fig = result["paired"][rate][scope]
            d = fig["difference"]
            cells += [f"{ga['rates'][rate]['estimate']:.1f} → {gb['rates'][rate]['estimate']:.1f}",
                      f'{d["estimate"]:+.1f} <span class="ci">[{d["low"]:+.1f}, {d["high"]:+.1f}]</span>',
                      format_p(fig["p"]), format_p(fig["p_holm"])]
        cells.append(esc(_cost_cells(ga, gb)))
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = ["language", "n"] + [h for rate, _ in TRY_RATES for h in (f"{rate} % A → B", "Δ [95% CI]", "p", "p Holm")]
    head.append("tokens/run and s/run, A → B")
    lists = []
    for title, key in (("Solved (more often) in B", "gained"), ("Solved (more often) in A", "lost"),
                       ("Solved in both, on another try", "other_try")):
        items = "".join(f"<li>{esc(n)}</li>" for n in result[key]) or "<li>none</li>"
        lists.append(f"<h3>{title} ({len(result[key])})</h3><ul class=\"lc-{key}\">{items}</ul>")
    warnings = "".join(f'<p class="warning">partial result: {esc(str(run.path))}: {len(run.unreadable)} unreadable '
                       f"result files skipped</p>" for run in (a, b) if run.unreadable)
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>localcode compare</title><style>
body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child{{text-align:left}}.verdict{{font-size:1.3em;font-weight:bold}}.ci{{color:#666}}\
.warning{{color:#c62828}}</style></head><body>
<h1>localcode compare</h1><p>A: {esc(a.describe())}<br>B: {esc(b.describe())}\
<br>Compared on the {result['common']} exercises in
both runs (only in A: {len(result['only_a'])}, only in B: {len(result['only_b'])})</p>{warnings}
<p class="verdict">{esc(result['verdict'])}</p>
<h2>B − A per language (points, 95% interval)</h2>{''.join(forest_svg(result, rate) for rate, _ in TRY_RATES)}
<table><thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in head)}</tr></thead><tbody>{''.join(rows)}</tbody></table>
{''.join(lists)}</body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localcode compare", description="Compare two localcode run directories.")
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="the baseline run directory")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="the run compared with it")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write the comparison as an HTML page")
    parser.add_argument("--any-dataset", action="store_true",
                        help="compare even when the runs' exercises differ (another dataset version)")
    args = parser.parse_args(argv)
    try:
        a = load_run(args.run_a, "RUN_A")
        b = load_run(args.run_b, "RUN_B")
        result = compare(a, b, args.any_dataset)
        if args.html:
            args.html.write_text(render_html(a, b, result), encoding="utf-8")
    except CompareError as exc:
        print(f"localcode compare: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"localcode compare: {args.html}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        sys.stdout.write(render(a, b, result))
        if args.html:
            print(f"Saved: {args.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
