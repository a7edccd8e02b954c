"""Counters for one run, reported as plain builtins (``RunResult.metrics``).

Token counts and speeds are sums of exactly what the server reported: ``usage`` for tokens,
``timings`` for processed/predicted counts and milliseconds. Rates are ratios of sums
(Σprompt_n / Σprompt_ms), never means of per-request rates, so a long request weighs what it
cost. Nothing here estimates: a server without ``timings`` (MLX) reports 0 tps.

Two figures need the server's own report and stay apart when it has none, so that a report can
call them unknown instead of zero:

* prompt-cache reuse: ``cached_tokens`` of ``cache_prompt_tokens``, the prompt tokens of the
  responses whose cache use the server reported (``usage.prompt_tokens_details.cached_tokens``,
  else llama.cpp's ``timings.cache_n``); ``first_*`` hold a session's first response, whose
  prefix no earlier turn could have cached;
* waiting: per response, the round trip minus the server's own ``prompt_ms + predicted_ms``,
  i.e. time queued for a slot (plus transport, template and tokenisation: milliseconds), summed
  in ``wait_seconds`` over the ``timed_responses``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.protocols import ChatResponse, ToolOutcome


def _num(value: Any) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def cached_of(usage: dict[str, Any], timings: dict[str, Any]) -> int | None:
    """Prompt tokens the server took from its cache, as it reported them; None when it did not."""
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        return int(details["cached_tokens"])
    if isinstance(timings.get("cache_n"), int):
        return int(timings["cache_n"])
    return None


def wait_of(resp: ChatResponse) -> float | None:
    """Seconds of the round trip the server did not spend on this request's prompt and reply."""
    timings = resp.timings or {}
    spent = [timings.get("prompt_ms"), timings.get("predicted_ms")]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spent):
        return None
    return max(0.0, resp.elapsed - sum(_num(v) for v in spent) / 1000.0)


@dataclass
class Metrics:
    turns: int = 0
    model_responses: int = 0
    tool_call_responses: int = 0
    tool_calls_total: int = 0
    tool_calls: Counter[str] = field(default_factory=Counter)
    tool_errors_total: int = 0
    tool_errors: Counter[str] = field(default_factory=Counter)
    tool_errors_by_tool: Counter[str] = field(default_factory=Counter)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    prompt_n: int = 0
    prompt_ms: float = 0.0
    predicted_n: int = 0
    predicted_ms: float = 0.0
    model_seconds: float = 0.0
    tool_seconds: float = 0.0
    finish_reasons: Counter[str] = field(default_factory=Counter)
    length_stops: int = 0
    context_overflows: int = 0
    format_retries: int = 0
    malformed_responses: int = 0
    # Where calls came from: structured by the server, or read by the agent from the text in the
    # model's own syntax (a server whose parser failed, or grammar mode: all)
    server_calls: int = 0
    recovered_calls: int = 0
    recovered_responses: int = 0  # responses whose calls were read from the text
    recovered_by_syntax: Counter[str] = field(default_factory=Counter)  # agent.syntaxes key → calls
    incomplete_calls: int = 0  # calls in the text that the end of the reply cut off (not run)
    http_errors: int = 0
    refused_paths: int = 0
    cache_prompt_tokens: int = 0  # prompt tokens of the responses whose cache use the server reported
    first_prompt_tokens: int = 0  # the session's first response (see the module docstring)
    first_cached_tokens: int = 0
    wait_seconds: float = 0.0
    timed_responses: int = 0  # responses with prompt_ms and predicted_ms (their wait is known)

    def add_response(self, resp: ChatResponse, *, first: bool = False) -> float | None:
        """Count one chat response and add the server's accounting as sent; ``first``: the
        session's first response. Returns the seconds it waited (None: the server sent no timings)."""
        self.model_responses += 1
        usage, timings = resp.usage or {}, resp.timings or {}
        prompt = int(_num(usage.get("prompt_tokens")))
        self.prompt_tokens += prompt
        self.completion_tokens += int(_num(usage.get("completion_tokens")))
        cached = cached_of(usage, timings)
        if cached is not None:
            self.cached_tokens += cached
            self.cache_prompt_tokens += prompt
            if first:
                self.first_prompt_tokens += prompt
                self.first_cached_tokens += cached
        self.prompt_n += int(_num(timings.get("prompt_n")))
        self.prompt_ms += _num(timings.get("prompt_ms"))
        self.predicted_n += int(_num(timings.get("predicted_n")))
        self.predicted_ms += _num(timings.get("predicted_ms"))
        self.model_seconds += resp.elapsed
        reason = resp.finish_reason or "none"
        self.finish_reasons[reason] += 1
        if reason == "length":
            self.length_stops += 1
        wait = wait_of(resp)
        if wait is not None:
            self.timed_responses += 1
            self.wait_seconds += wait
        return wait

    def add_recovered(self, syntax: str, calls: int, incomplete: bool) -> None:
        """Count the calls read from one reply's text, in ``syntax``."""
        if calls:
            self.recovered_calls += calls
            self.recovered_responses += 1
            self.recovered_by_syntax[syntax] += calls
        self.incomplete_calls += incomplete

    def add_tool(self, name: str, outcome: ToolOutcome) -> None:
        tool = outcome.tool or name
        self.tool_calls_total += 1
        self.tool_calls[tool] += 1
        self.tool_seconds += outcome.duration
        self.refused_paths += len(outcome.refused_paths)
        if outcome.is_error:
            self.tool_errors_total += 1
            self.tool_errors[outcome.error_kind or "other"] += 1
            self.tool_errors_by_tool[tool] += 1

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = dict(value) if isinstance(value, Counter) else value
        out["prefill_tps"] = self.prompt_n / self.prompt_ms * 1000 if self.prompt_ms else 0.0
        out["decode_tps"] = self.predicted_n / self.predicted_ms * 1000 if self.predicted_ms else 0.0
        return out
