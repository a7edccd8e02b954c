"""Per-server figures: how much work each model server of a run did, and how fast.

Each exercise's result records the server that ran it (``provenance.server``), so this is a
pure function of the result files like the rest of the summary. Throughput is measured over
the time the server was busy — the union of its exercises' [start, end] intervals — so gaps
(a resumed run, shards run one after another) do not count, and exercises that ran at the same
time on several slots count once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_localcode.results import ExerciseResult


def server_of(result: ExerciseResult) -> str:
    server = result.provenance.get("server") or {}
    return str(server.get("name") or result.provenance.get("server_url") or "none")


def busy_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Length of the union of the intervals."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def per_server(results: Iterable[ExerciseResult]) -> dict[str, dict[str, Any]]:
    """``{server name: {exercises, solved, model_responses, tokens, decode_tps, busy_seconds,
    exercises_per_hour, completion_tps}}``, servers in name order."""
    groups: dict[str, list[ExerciseResult]] = {}
    for result in results:
        groups.setdefault(server_of(result), []).append(result)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(groups):
        rs = groups[name]
        busy = busy_seconds((r.started, r.finished) for r in rs if r.finished > r.started)
        completion = int(sum(r.totals("completion_tokens") for r in rs))
        predicted_ms = sum(r.totals("predicted_ms") for r in rs)
        out[name] = {
            "exercises": len(rs),
            "solved": sum(1 for r in rs if r.solved),
            "errors": sum(1 for r in rs if r.error),
            "model_responses": int(sum(r.totals("model_responses") for r in rs)),
            "prompt_tokens": int(sum(r.totals("prompt_tokens") for r in rs)),
            "completion_tokens": completion,
            "decode_tps": (round(sum(r.totals("predicted_n") for r in rs) / predicted_ms * 1000.0, 2)
                           if predicted_ms else 0.0),
            "busy_seconds": round(busy, 3),
            "exercises_per_hour": round(len(rs) / busy * 3600.0, 2) if busy else 0.0,
            "completion_tps": round(completion / busy, 2) if busy else 0.0,
        }
    return out


def server_lines(summary: dict[str, Any]) -> list[str]:
    """The per-server block of the text report (only when a run used several servers)."""
    servers = summary.get("servers") or {}
    if len(servers) < 2:
        return []
    lines = ["Servers (throughput over each server's busy time):"]
    for name, s in servers.items():
        lines.append(f"  {name}: {s['exercises']} exercises ({s['solved']} solved, {s['errors']} errors), "
                     f"{s['model_responses']} responses, {s['completion_tokens']:,} completion tokens, "
                     f"busy {s['busy_seconds']:.0f} s, {s['exercises_per_hour']:.1f} exercises/h, "
                     f"{s['completion_tps']:.1f} completion tok/s, decode {s['decode_tps']:.1f} tok/s")
    return lines
