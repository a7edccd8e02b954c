"""The run's results as text: the terminal summary and ``benchmark_results.txt`` (same text).

Every rate is shown with its 95 % interval, ``50.0 [31.4, 68.6]`` (percent); the line under the
table says how the intervals were computed. Numbers come from the summary as they are, rounded
only here, for display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_localcode.health import health_lines
from pytest_localcode.report.summary import OUTCOMES, TRY_RATES
from pytest_localcode.report.servers import server_lines

MAX_K_SHOWN = 5  # epoch columns in the text (summary.json has every k)


def interval_text(figure: dict[str, Any] | None) -> str:
    """``50.0 [31.4, 68.6]`` from an interval record (percent), ``-`` when there is none."""
    if not figure:
        return "-"
    return f"{figure['estimate']:.1f} [{figure['low']:.1f}, {figure['high']:.1f}]"


def method_text(summary: dict[str, Any]) -> str:
    if summary.get("multi_epoch"):
        from pytest_localcode.stats import RESAMPLES, SEED

        return (f"95% intervals: bootstrap over exercises stratified by language ({RESAMPLES} resamples, seed {SEED}; "
                f"percentile, at least Wilson at the effective sample size); "
                f"rates are means of per-exercise solve rates")
    return "95% intervals: Wilson score; a rate is solved exercises / exercises"


def _table(header: list[tuple[str, int]], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return " ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, (_, w)) in enumerate(zip(cells, header, strict=True)))

    head = line([name for name, _ in header])
    body = [line(r) for r in rows[:-1]]
    return [head, "-" * len(head), *body, "-" * len(head), line(rows[-1])]


def _scopes(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [*summary["languages"].items(), ("total", summary["total"])]


def rates_table(summary: dict[str, Any]) -> list[str]:
    header = [("language", 11), ("n", 4), ("runs", 5)]
    header += [(f"{name} % [95% CI]", 27) for name, _ in TRY_RATES]
    header += [(status, 5) for status, _ in OUTCOMES]
    rows = []
    for name, g in _scopes(summary):
        cells = [name, str(g["exercises"]), str(g["attempts"])]
        for rate_name, number in TRY_RATES:
            cells.append(f"{g[f'pass_{number}']}/{g['attempts']} {interval_text(g['rates'][rate_name])}")
        cells += [str(g[key]) for _, key in OUTCOMES]
        rows.append(cells)
    return _table(header, rows)


def epochs_table(summary: dict[str, Any]) -> list[str]:
    """pass@k and pass^k per language for k = 1..K (K > 5: 1..5 and K)."""
    k_max = max((int(k) for k in summary["total"].get("pass_at_k", {})), default=0)
    ks = [k for k in range(1, k_max + 1) if k <= MAX_K_SHOWN or k == k_max]
    header = [("language", 11)] + [(f"pass@{k}", 19) for k in ks] + [(f"pass^{k}", 19) for k in ks if k > 1]
    rows = []
    for name, g in _scopes(summary):
        cells = [name] + [interval_text(g.get("pass_at_k", {}).get(str(k))) for k in ks]
        cells += [interval_text(g.get("pass_hat_k", {}).get(str(k))) for k in ks if k > 1]
        rows.append(cells)
    return _table(header, rows)


def _per(cost: dict[str, Any], key: str, fmt: str) -> str:
    solved = cost["per_solved"][key] if cost["per_solved"] else None
    attempt = cost["per_attempt"][key] if cost["per_attempt"] else None
    return (f"{fmt.format(solved) if solved is not None else '-'} "
            f"({fmt.format(attempt) if attempt is not None else '-'})")


def cost_table(summary: dict[str, Any]) -> list[str]:
    header = [("language", 11), ("solved", 9), ("prompt tok", 20), ("compl tok", 17), ("agent s", 15),
              ("test s", 13), ("s/run", 7), ("prefill t/s", 11), ("decode t/s", 10), ("tool calls", 10),
              ("tool err", 8)]
    rows = []
    for name, g in _scopes(summary):
        c = g["cost"]
        rows.append([name, f"{c['solved']}/{c['attempts']}", _per(c, "prompt_tokens", "{:,.0f}"),
                     _per(c, "completion_tokens", "{:,.0f}"), _per(c, "agent_seconds", "{:.1f}"),
                     _per(c, "test_seconds", "{:.1f}"), f"{g['seconds_per_exercise']:.1f}", f"{g['prefill_tps']:.1f}",
                     f"{g['decode_tps']:.1f}", str(int(g["tool_calls_total"])), str(int(g["tool_errors_total"]))])
    return _table(header, rows)


def energy_line(energy: dict[str, Any]) -> str:
    if energy.get("total_joules") is None:
        reasons = "; ".join(energy.get("absent") or []) or "no session recorded"
        return f"Energy: not measured (no readable counter: {reasons})"
    parts = ", ".join(f"{k} {v:,.0f} J" for k, v in energy["joules"].items())
    line = (f"Energy: {energy['total_joules']:,.0f} J in {energy['measured_sessions']} of {energy['sessions']} "
            f"sessions ({parts})")
    if energy.get("per_solved_joules") is not None:
        line += f"; {energy['per_solved_joules']:,.0f} J per solved exercise run"
    elif energy["measured_sessions"] < energy["sessions"]:
        line += "; not per solved exercise: some sessions had no counter"
    return line


def _counts(title: str, counts: dict[str, int]) -> str:
    if not counts:
        return f"{title}: none"
    return f"{title}: " + ", ".join(f"{k} {v}" for k, v in counts.items())


RECOVERED_SHOWN = 12  # exercises named in the text whose calls were read from the reply's text


def _sources_text(sources: dict[str, Any]) -> str:
    by_syntax = ", ".join(f"{k} {v}" for k, v in sources["recovered_by_syntax"].items())
    return (f"{sources['server_calls']} structured by the server, {sources['recovered_calls']} read by the agent "
            f"from the text ({sources['recovered_share']:.1f}%" + (f": {by_syntax})" if by_syntax else ")"))


def call_source_lines(summary: dict[str, Any]) -> list[str]:
    """Where the run's tool calls came from (the server's parser, or the agent reading the model's
    own syntax in the text) and which exercises depended on the latter, so a result that rests on
    recovery shows it."""
    sources = summary["total"].get("tool_call_sources")
    if not sources:
        return []
    lines = [f"Tool calls by source: {_sources_text(sources)}"]
    recovered = [(name, e["tool_call_sources"]) for name, e in summary["exercises"].items()
                 if (e.get("tool_call_sources") or {}).get("recovered_calls")]
    if recovered:
        shown = ", ".join(f"{name} {s['recovered_calls']}/{s['recovered_calls'] + s['server_calls']}"
                          for name, s in recovered[:RECOVERED_SHOWN])
        more = f", … {len(recovered) - RECOVERED_SHOWN} more" if len(recovered) > RECOVERED_SHOWN else ""
        lines.append(f"  read from the text in {len(recovered)} of {len(summary['exercises'])} exercises "
                     f"(calls read / all calls): {shown}{more}")
    return lines


def flaky_lines(summary: dict[str, Any]) -> list[str]:
    flaky = summary.get("flaky") or []
    lines = [f"Flaky exercises (solved in some epochs, not in others): {len(flaky)}" + ("" if flaky else ", none")]
    for name in flaky:
        entry = summary["exercises"][name]
        lines.append(f"  {name}: {entry['solved_epochs']}/{entry['epochs']} epochs solved "
                     f"({' '.join(entry['outcomes_by_epoch'])})")
    return lines


def render(summary: dict[str, Any], provenance: dict[str, Any]) -> str:
    total = summary["total"]
    epochs = f" × {summary['epochs']} epochs" if summary.get("epochs", 1) > 1 else ""
    lines = [f"localcode results: model {provenance.get('model')} · {total['exercises']} exercises{epochs} · "
             f"{provenance.get('tries')} tries · run dir {provenance.get('run_dir')}"]
    lines += rates_table(summary)
    lines.append(method_text(summary))
    lines.append("")
    rates = total["rates"]
    lines.append(f"Pass@1: {total['pass_1']}/{total['attempts']} solved, {interval_text(rates['pass@1'])}%   "
                 f"Pass@2: {total['pass_2']}/{total['attempts']} solved, {interval_text(rates['pass@2'])}%   "
                 f"Avg time per exercise run: {total['seconds_per_exercise']:.1f}s "
                 f"(agent {total['agent_seconds']:.0f}s, tests {total['test_seconds']:.0f}s in total)")
    if summary.get("multi_epoch"):
        lines += ["", "Epochs: pass@k = solved in at least one of k epochs (unbiased estimator), "
                      "pass^k = solved in all k; an epoch counts as solved when any try passed"]
        lines += epochs_table(summary)
        lines += flaky_lines(summary)
    lines += ["", "Cost per solved exercise run (per exercise run in parentheses):"]
    lines += cost_table(summary)
    lines.append(energy_line(summary.get("energy") or {}))
    aider = summary.get("aider") or {}
    if aider.get("test_cases"):
        shown = []
        for i in range(1, 10):
            if f"pass_rate_{i}" in aider:
                ci = (aider.get("intervals") or {}).get(f"pass_rate_{i}")
                shown.append(f"pass_rate_{i} {aider[f'pass_rate_{i}']:.1f}"
                             + (f" [{ci['low']:.1f}, {ci['high']:.1f}]" if ci else ""))
        scope = " (epoch 1)" if summary.get("multi_epoch") else ""
        lines.append(f"Aider --stats{scope}: {'   '.join(shown)}   percent_cases_well_formed "
                     f"{aider['percent_cases_well_formed']:.1f}   "
                     f"seconds_per_case {aider['seconds_per_case']:.1f} (model time)")
    if total["model_responses"]:
        lines.append(
            f"Tokens: prompt {int(total['prompt_tokens']):,} (avg {total['avg_prompt_tokens']:,}/exercise run), "
            f"completion {int(total['completion_tokens']):,} (avg {total['avg_completion_tokens']:,}/exercise run), "
            f"cached {int(total['cached_tokens']):,}"
        )
        lines.append(
            f"Speed: prefill {tps_text(total, 'prefill_tps', 'prompt_ms')}, "
            f"decode {tps_text(total, 'decode_tps', 'predicted_ms')}   "
            f"Responses: {int(total['model_responses'])}, with tool calls {int(total['tool_call_responses'])} "
            f"({total['tool_call_share']:.1f}%), hit max_tokens {int(total['length_stops'])}, "
            f"context overflows {int(total['context_overflows'])}"
        )
        lines.append(_counts("Tool calls", total["tool_calls"]))
        lines.append(_counts("Tool errors by tool", total["tool_errors_by_tool"]))
        lines.append(_counts("Tool errors by kind", total["tool_errors"]))
        lines += call_source_lines(summary)
    lines += cache_and_time_lines(summary)
    lines += server_lines(summary)
    lines += health_lines(summary.get("health"))
    lines.append(f"Tests: {total['tests_executed']} of {total['tests_defined']} defined test cases ran in the last "
                 f"tries; test timeouts {total['test_timeouts']}; refused access attempts {total['refused_paths']}")
    lines.append("")
    lines += provenance_lines(provenance)
    lines += forged_lines(summary)
    errors = [(name, error) for name, entry in summary["exercises"].items()
              for error in ([entry["error"]] if entry.get("error") else entry.get("errors", []))]
    if errors:
        lines.append("")
        lines.append("Errors:")
        lines += [f"  {error}" if error.startswith(name + ":") else f"  {name}: {error}" for name, error in errors[:30]]
    return "\n".join(lines) + "\n"


def forged_lines(summary: dict[str, Any]) -> list[str]:
    """Each forged exercise run with its first failed check and the files that tampered."""
    forged = [(name if len(runs) == 1 else f"{name}[{row.get('epoch')}]", row["forgery"])
              for name, entry in summary["exercises"].items()
              for runs in [entry.get("by_epoch") or [entry]] for row in runs if row.get("forgery")]
    if not forged:
        return []
    lines = ["", "Forged (the grader was tampered with; counted as failures):"]
    for name, evidence in forged[:30]:
        files = ", ".join(evidence["suspicious_files"][:5])
        lines.append(f"  {name}: {(evidence['checks'] or ['?'])[0]}" + (f" [files: {files}]" if files else ""))
    return lines


def tps_text(figures: dict[str, Any], key: str, ms_key: str) -> str:
    """``12.3 tok/s``, or ``unknown`` when the server reported no timings (never 0)."""
    return f"{figures[key]:.1f} tok/s" if figures.get(ms_key) else "unknown"


def percent_text(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f}%"


def cache_and_time_lines(summary: dict[str, Any]) -> list[str]:
    """Prompt-cache reuse (run, and the exercises that reused least) and working vs waiting time."""
    total = summary["total"]
    if not total["model_responses"]:
        return []
    cache = (f"Prompt cache: {percent_text(total['cache_share'])} of prompt tokens served from the server's cache, "
             f"{percent_text(total['cache_share_after_first'])} after each exercise's first turn")
    if total["cache_share"] is None:
        cache += " (the server did not report its cache use)"
    low = sorted(((e["cache_share_after_first"], name) for name, e in summary["exercises"].items()
                  if e.get("cache_share_after_first") is not None))[:3]
    if low:
        cache += "; least: " + ", ".join(f"{name} {value:.1f}%" for value, name in low)
    if total["waiting_seconds"] is None:
        timing = ("Agent time: waiting for a server slot unknown (a response had no timings), so --agent-timeout "
                  f"counted wall time; {total['agent_seconds']:.0f} s in all")
    else:
        timing = (f"Agent time: working {total['working_seconds']:.0f} s, waiting for a server slot "
                  f"{total['waiting_seconds']:.0f} s (round trip minus the server's own prompt and generation "
                  "time; --agent-timeout counts working time)")
    return [cache, timing]


def preflight_lines(provenance: dict[str, Any]) -> list[str]:
    """What the preflight found on each server, and whether the run can be deterministic."""
    note = determinism_note(provenance)
    return preflight_server_lines(provenance) + ([f"Determinism: {note}"] if note else [])


def determinism_note(provenance: dict[str, Any]) -> str | None:
    return (provenance.get("determinism") or {}).get("note")


def preflight_server_lines(provenance: dict[str, Any]) -> list[str]:
    """What the preflight found on each server."""
    lines = []
    for record in provenance.get("preflight") or []:
        facts, context, model = record["facts"], record["context"], record["model"]
        served = context["served"] if context["served"] is not None else "unknown"
        needed = f" (config {context['config']})" if context.get("config") else ""
        model_text = Path(model["served"]).name if model.get("served") else ", ".join(facts["model_names"]) or "unknown"
        check = {"ok": "matches the config", "unknown": "not checked"}[model["check"]]
        sha = f", sha256 {model['sha256'][:16]}…" if model.get("sha256") else ""
        lines.append(f"Preflight, server {record['server']} ({record['url']}): context {served} tokens per slot"
                     f"{needed}, slots {facts['total_slots'] or 'unknown'}, model {model_text} ({check}{sha}), "
                     f"build {facts['build'] or 'unknown'}")
        lines.append(f"  tool calls: {record['tool_calls']['description']}; warm-up of slot(s) "
                     f"{', '.join(str(s) for s in record['warm_up']['slots'])}"
                     + ("; requests pinned to each worker's slot (id_slot)" if record.get("id_slot") else ""))
        if record.get("queueing"):
            lines.append(f"  {record['queueing']}")
    return lines


def provenance_lines(provenance: dict[str, Any]) -> list[str]:
    lines = [f"Model: {provenance.get('model')}"]
    server = provenance.get("server") or {}
    if server.get("command"):
        lines.append(f"Server: {server.get('version', '')}".rstrip())
        lines.append("  " + " ".join(server["command"]))
        if server.get("model_sha256"):
            lines.append(f"  model file {server.get('model_path')} ({server.get('model_bytes', 0):,} bytes, "
                         f"sha256 {server['model_sha256']})")
        gguf = server.get("gguf") or {}
        if gguf.get("quantization"):
            lines.append(f"  GGUF: {gguf.get('name') or '?'}, {gguf.get('architecture') or '?'}, "
                         f"{gguf.get('size_label') or '?'} parameters, {gguf['quantization']}")
    elif server.get("url"):
        lines.append(f"Server: external, {server['url']}")
    sampling = provenance.get("sampling") or {}
    if sampling:
        lines.append("Sampling: " + ", ".join(f"{k}={v}" for k, v in sampling.items()))
    if provenance.get("seed") is not None:
        lines.append(f"Epochs: {provenance.get('epochs', 1)}, sampling seed of epoch k: {provenance['seed']} + k - 1")
    elif provenance.get("epochs", 1) > 1:
        lines.append(f"Epochs: {provenance['epochs']} (a pseudo-model: no sampling, no seed)")
    lines += preflight_lines(provenance)
    machine = provenance.get("machine", {})
    lines.append(f"Sandbox: {provenance.get('sandbox')}   Commit: {provenance.get('git_commit') or 'unknown'}   "
                 f"Machine: {machine.get('cpu', '?')}, {machine.get('cpus')} cores")
    return lines
