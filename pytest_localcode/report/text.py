"""The run's results as text: the terminal summary and ``benchmark_results.txt`` (same text)."""

from __future__ import annotations

from typing import Any

COLUMNS = (
    ("language", 11, "{}"),
    ("n", 4, "{:d}"),
    ("pass@1", 13, "{}"),
    ("pass@2", 13, "{}"),
    ("fail", 5, "{:d}"),
    ("forged", 6, "{:d}"),
    ("error", 5, "{:d}"),
    ("s/ex", 7, "{:.1f}"),
    ("prompt tok", 11, "{:,d}"),
    ("compl tok", 10, "{:,d}"),
    ("prefill t/s", 11, "{:.1f}"),
    ("decode t/s", 10, "{:.1f}"),
    ("tool calls", 10, "{:d}"),
    ("tool err", 8, "{:d}"),
)


def _row(name: str, g: dict[str, Any]) -> str:
    values = (
        name,
        g["exercises"],
        f"{g['pass_1']} ({g['pass_rate_1']:.1f}%)",
        f"{g['pass_2']} ({g['pass_rate_2']:.1f}%)",
        g["failed"],
        g["forged"],
        g["errors"],
        g["seconds_per_exercise"],
        int(g["prompt_tokens"]),
        int(g["completion_tokens"]),
        g["prefill_tps"],
        g["decode_tps"],
        int(g["tool_calls_total"]),
        int(g["tool_errors_total"]),
    )
    cells = []
    for (_, width, fmt), value in zip(COLUMNS, values, strict=True):
        text = fmt.format(value)
        cells.append(text.ljust(width) if not cells else text.rjust(width))
    return " ".join(cells)


def _counts(title: str, counts: dict[str, int]) -> str:
    if not counts:
        return f"{title}: none"
    return f"{title}: " + ", ".join(f"{k} {v}" for k, v in counts.items())


def render(summary: dict[str, Any], provenance: dict[str, Any]) -> str:
    total = summary["total"]
    lines = [f"localcode results: model {provenance.get('model')} · {total['exercises']} exercises · "
             f"{provenance.get('tries')} tries · run dir {provenance.get('run_dir')}"]
    header = " ".join(name.ljust(width) if i == 0 else name.rjust(width) for i, (name, width, _) in enumerate(COLUMNS))
    lines += [header, "-" * len(header)]
    for language, group in summary["languages"].items():
        lines.append(_row(language, group))
    lines += ["-" * len(header), _row("total", total), ""]
    lines.append(f"Pass@1: {total['pass_1']}/{total['exercises']} ({total['pass_rate_1']:.1f}%)   "
                 f"Pass@2: {total['pass_2']}/{total['exercises']} ({total['pass_rate_2']:.1f}%)   "
                 f"Avg time per exercise: {total['seconds_per_exercise']:.1f}s "
                 f"(agent {total['agent_seconds']:.0f}s, tests {total['test_seconds']:.0f}s in total)")
    aider = summary.get("aider") or {}
    if aider.get("test_cases"):
        rates = "   ".join(f"pass_rate_{i} {aider[f'pass_rate_{i}']:.1f}" for i in range(1, 10) if f"pass_rate_{i}" in aider)
        lines.append(f"Aider --stats: {rates}   percent_cases_well_formed {aider['percent_cases_well_formed']:.1f}   "
                     f"seconds_per_case {aider['seconds_per_case']:.1f} (model time)")
    if total["model_responses"]:
        lines.append(
            f"Tokens: prompt {int(total['prompt_tokens']):,} (avg {total['avg_prompt_tokens']:,}/exercise), "
            f"completion {int(total['completion_tokens']):,} (avg {total['avg_completion_tokens']:,}/exercise), "
            f"cached {int(total['cached_tokens']):,}"
        )
        lines.append(
            f"Speed: prefill {total['prefill_tps']:.1f} tok/s, decode {total['decode_tps']:.1f} tok/s   "
            f"Responses: {int(total['model_responses'])}, with tool calls {int(total['tool_call_responses'])} "
            f"({total['tool_call_share']:.1f}%), hit max_tokens {int(total['length_stops'])}, "
            f"context overflows {int(total['context_overflows'])}"
        )
        lines.append(_counts("Tool calls", total["tool_calls"]))
        lines.append(_counts("Tool errors by tool", total["tool_errors_by_tool"]))
        lines.append(_counts("Tool errors by kind", total["tool_errors"]))
    lines.append(f"Tests: {total['tests_executed']} of {total['tests_defined']} defined test cases ran in the last tries; "
                 f"test timeouts {total['test_timeouts']}; refused access attempts {total['refused_paths']}")
    lines.append("")
    lines.append(f"Model: {provenance.get('model')}")
    server = provenance.get("server") or {}
    if server.get("command"):
        lines.append(f"Server: {server.get('version', '')}".rstrip())
        lines.append("  " + " ".join(server["command"]))
        if server.get("model_sha256"):
            lines.append(f"  model file {server.get('model_path')} ({server.get('model_bytes', 0):,} bytes, sha256 {server['model_sha256']})")
    elif server.get("url"):
        lines.append(f"Server: external, {server['url']}")
    sampling = provenance.get("sampling") or {}
    if sampling:
        lines.append("Sampling: " + ", ".join(f"{k}={v}" for k, v in sampling.items()))
    lines.append(f"Sandbox: {provenance.get('sandbox')}   Commit: {provenance.get('git_commit') or 'unknown'}   "
                 f"Machine: {provenance.get('machine', {}).get('cpu', '?')}, {provenance.get('machine', {}).get('cpus')} cores")
    forged = [(name, row["forgery"]) for name, row in summary["exercises"].items() if row.get("forgery")]
    if forged:
        lines.append("")
        lines.append("Forged (the grader was tampered with; counted as failures):")
        for name, evidence in forged[:30]:
            files = ", ".join(evidence["suspicious_files"][:5])
            lines.append(f"  {name}: {(evidence['checks'] or ['?'])[0]}" + (f" [files: {files}]" if files else ""))
    errors = [(name, row["error"]) for name, row in summary["exercises"].items() if row["error"]]
    if errors:
        lines.append("")
        lines.append("Errors:")
        lines += [f"  {error}" if error.startswith(name + ":") else f"  {name}: {error}" for name, error in errors[:30]]
    return "\n".join(lines) + "\n"
