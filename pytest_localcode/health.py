"""Was the server healthy during the run? Speed per request, slowdowns, restarts, runs of errors.

Read from the run's live records (:mod:`pytest_localcode.live`), so the same function serves the
live warning and the report:

* **speed**: each model response's prefill and decode tok/s from the server's own timings
  (``prompt_n / prompt_ms``, ``predicted_n / predicted_ms``), only for responses with enough
  tokens to time (a 3-token reply's rate is noise). A server without timings gives no samples:
  its speed is unknown, not zero.
* **slowdown**, per server: the rolling median decode speed of the last :data:`WINDOW` samples
  falls below ``fraction`` × the baseline, the median of the session's first minutes
  (:data:`BASELINE_SECONDS`, and at least :data:`MIN_BASELINE`, at most :data:`MAX_BASELINE`
  samples: a short run's "first minutes" are its first samples). It lasts until the rolling
  median is back above the threshold. Medians, so one slow request is not a slowdown, and a
  server whose speed only jitters never is one.
* **restart**: the controller recorded it (a managed server restarted by its owner, an external
  one that stopped answering and came back).
* **error run**: :data:`ERROR_RUN` or more failed requests in a row on one server (after the
  client's own retries) with no success between them.

Every event names the exercises it touched: those with a request in its interval (a restart:
those in flight at that moment, or failing around it).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

BASELINE_SECONDS = 300.0
MIN_BASELINE = 5
MAX_BASELINE = 20
WINDOW = 9
ERROR_RUN = 3
MIN_DECODE_TOKENS = 8
MIN_PREFILL_TOKENS = 32
DEFAULT_FRACTION = 0.5
SERIES_POINTS = 600  # points kept for the report's chart


def tokens_per_second(tokens: Any, ms: Any, minimum: int) -> float | None:
    """``tokens / ms`` per second when both are numbers and there are at least ``minimum`` tokens."""
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (tokens, ms))
    return round(tokens / ms * 1000.0, 2) if ok and tokens >= minimum and ms > 0 else None


def samples(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One sample per model response: time, server, exercise, decode and prefill tok/s (None: not timed)."""
    out = []
    for r in records:
        if r.get("ev") == "resp":
            out.append({"t": r["t"], "srv": r.get("srv", 0), "ex": r.get("ex"),
                        "decode": tokens_per_second(r.get("dn"), r.get("dms"), MIN_DECODE_TOKENS),
                        "prefill": tokens_per_second(r.get("pn"), r.get("pms"), MIN_PREFILL_TOKENS)})
    return out


def baseline(points: list[dict[str, Any]], start: float) -> float | None:
    """Median decode speed of the first minutes (see the module docstring); None with too few samples."""
    first = [p["decode"] for p in points if p["t"] - start <= BASELINE_SECONDS][:MAX_BASELINE]
    if len(first) < MIN_BASELINE:
        first = [p["decode"] for p in points[:MIN_BASELINE]]
    return statistics.median(first) if len(first) >= MIN_BASELINE else None


def slowdowns(points: list[dict[str, Any]], timed: list[dict[str, Any]], base: float | None, start: float,
              fraction: float, server: int) -> list[dict[str, Any]]:
    """The slowdown intervals of one server's samples (``points``; ``timed``: those with a decode
    speed, in time order; ``base``: their :func:`baseline`)."""
    if base is None:
        return []
    threshold = fraction * base
    first_after = next((i for i, p in enumerate(timed) if p["t"] - start > BASELINE_SECONDS), len(timed))
    first_after = min(first_after, MAX_BASELINE)
    events: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for i in range(max(first_after, WINDOW - 1), len(timed)):
        window = timed[i - WINDOW + 1: i + 1]
        median = statistics.median(p["decode"] for p in window)
        if median >= threshold:
            current = None
            continue
        slow = [p for p in window if p["decode"] < threshold]  # the interval runs from slow sample to slow sample
        if current is None:
            current = {"kind": "slowdown", "server": server, "start": slow[0]["t"], "end": slow[-1]["t"],
                       "baseline_tps": round(base, 2), "threshold_tps": round(threshold, 2),
                       "lowest_median_tps": round(median, 2)}
            events.append(current)
        current["end"] = slow[-1]["t"]
        current["lowest_median_tps"] = round(min(current["lowest_median_tps"], median), 2)
    for event in events:
        event["exercises"] = sorted({p["ex"] for p in points if event["start"] <= p["t"] <= event["end"] and p["ex"]})
    return events


def error_runs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs of ERROR_RUN or more failed requests in a row on one server."""
    by_server: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("ev") in ("resp", "err"):
            by_server[r.get("srv", 0)].append(r)
    events = []
    for server, seq in sorted(by_server.items()):
        run: list[dict[str, Any]] = []
        for r in [*seq, {"ev": "resp"}]:  # a sentinel success closes the last run
            if r["ev"] == "err":
                run.append(r)
                continue
            if len(run) >= ERROR_RUN:
                events.append({"kind": "http_errors", "server": server, "start": run[0]["t"], "end": run[-1]["t"],
                               "count": len(run), "errors": sorted({f"{e.get('kind')} {e.get('status') or ''}".strip()
                                                                    for e in run}),
                               "exercises": sorted({e["ex"] for e in run if e.get("ex")})})
            run = []
    return events


def in_flight(records: list[dict[str, Any]], t: float, server: int, margin: float = 60.0) -> list[str]:
    """Exercises a worker was on at ``t`` on ``server`` (started a try, not yet handed to the tests),
    and those with a failed request on it within ``margin`` seconds."""
    current: dict[str, tuple[str, int] | None] = {}
    for r in records:
        if r["t"] > t:
            break
        if r.get("ev") == "try":
            current[r["w"]] = (str(r["ex"]), int(r.get("srv", 0))) if r.get("ex") else None
        elif r.get("ev") == "tests":
            current[r["w"]] = None
    touched = {ex for entry in current.values() if entry for ex, srv in [entry] if srv == server}
    touched |= {r["ex"] for r in records if r.get("ev") == "err" and r.get("srv", 0) == server and r.get("ex")
                and abs(r["t"] - t) <= margin}
    return sorted(touched)


def restarts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"kind": "restart", "server": r.get("srv", 0), "start": r["t"], "end": r["t"], "how": r.get("how", ""),
             "exercises": in_flight(records, r["t"], r.get("srv", 0))}
            for r in records if r.get("ev") == "restart"]


def series(points: list[dict[str, Any]], start: float) -> list[list[Any]]:
    """``[seconds since start, server, decode, prefill]`` per sample, thinned to SERIES_POINTS."""
    step = max(1, -(-len(points) // SERIES_POINTS))
    return [[round(p["t"] - start, 1), p["srv"], p["decode"], p["prefill"]] for p in points[::step]]


def analyse(records: list[dict[str, Any]], *, fraction: float = DEFAULT_FRACTION,
            start: float | None = None) -> dict[str, Any]:
    """The health section of a run (``summary.json`` → ``health``) from its records in time order."""
    records = sorted(records, key=lambda r: r.get("t", 0))
    points = samples(records)
    begin = start if start is not None else (records[0]["t"] if records else 0.0)
    servers: dict[str, dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    for server in sorted({p["srv"] for p in points}):
        mine = [p for p in points if p["srv"] == server]
        decode = [p["decode"] for p in mine if p["decode"] is not None]
        prefill = [p["prefill"] for p in mine if p["prefill"] is not None]
        timed = [p for p in mine if p["decode"] is not None]
        base = baseline(timed, begin)
        servers[str(server)] = {
            "responses": len(mine),
            "timed": len(decode),
            "baseline_decode_tps": None if base is None else round(base, 2),
            "median_decode_tps": round(statistics.median(decode), 2) if decode else None,
            "median_prefill_tps": round(statistics.median(prefill), 2) if prefill else None,
        }
        events += slowdowns(mine, timed, base, begin, fraction, server)
    events += restarts(records) + error_runs(records)
    events.sort(key=lambda e: (e["start"], e["kind"]))
    for event in events:
        event["start_s"] = round(event["start"] - begin, 1)
        event["end_s"] = round(event["end"] - begin, 1)
    return {"start": begin, "fraction": fraction, "responses": len(points),
            "timed": sum(1 for p in points if p["decode"] is not None), "servers": servers, "events": events,
            "series": series(points, begin)}


def describe(event: dict[str, Any]) -> str:
    """One line for the terminal and the text report."""
    where = f"server {event['server']}"
    touched = ", ".join(event["exercises"][:12]) + (" …" if len(event["exercises"]) > 12 else "")
    exercises = f"; exercises: {touched}" if touched else ""
    if event["kind"] == "slowdown":
        return (f"{where} slowed down from {event['start_s']:.0f} s to {event['end_s']:.0f} s into the run: "
                f"rolling median decode {event['lowest_median_tps']:.3g} tok/s < {event['threshold_tps']:.3g} "
                f"(the first minutes' median {event['baseline_tps']:.3g} × fraction){exercises}")
    if event["kind"] == "restart":
        return f"{where} restarted {event['start_s']:.0f} s into the run ({event['how']}){exercises}"
    return (f"{where}: {event['count']} failed requests in a row from {event['start_s']:.0f} s to "
            f"{event['end_s']:.0f} s ({', '.join(event['errors'])}){exercises}")


def health_lines(health: dict[str, Any] | None) -> list[str]:
    """The health block of the text report (and the terminal summary)."""
    if not health:
        return []
    servers = health.get("servers") or {}
    if not health.get("timed"):
        speed = "unknown (the server reported no timings)" if health.get("responses") else "no model responses"
    else:
        speed = "; ".join(f"server {i}: decode {s['median_decode_tps'] or 0:.1f} tok/s, prefill "
                          + (f"{s['median_prefill_tps']:.1f}" if s["median_prefill_tps"] is not None else "unknown")
                          + " tok/s (medians per request)" for i, s in servers.items())
    lines = [f"Server health: {speed}"]
    events = health.get("events") or []
    if not events:
        lines.append(f"  no slowdown (rolling median below {health['fraction']:.0%} of the first minutes'), restart "
                     f"or run of {ERROR_RUN}+ failed requests")
    lines += [f"  WARNING: {describe(e)}" for e in events]
    return lines
