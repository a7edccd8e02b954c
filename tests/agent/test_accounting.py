"""Tokens and speeds equal exactly what the server reported (done-criterion 2)."""

from __future__ import annotations

import pytest

from tests.support.scripted_server import tool_call

SCRIPT = [
    {"reasoning": "think " * 30, "tool_calls": [tool_call("read", {"path": "solution.py"})]},
    {"status": 503, "error": "busy"},  # retried by the client: no accounting
    {"content": "no tool here"},  # a format retry (no code change yet): still a response that cost tokens
    {
        "content": "Now writing.",
        "tool_calls": [tool_call("write", {"path": "solution.py", "content": "def answer():\n    return 42\n" * 20})],
    },
    {"tool_calls": [tool_call("plan_solution", {"prompt": "how?"})]},
    {"content": "Plan: return 42."},  # the side-channel answer to plan_solution
    {"tool_calls": [tool_call("finish", {"summary": "ok"})]},
]


@pytest.mark.parametrize("stream", [True, False])
def test_tokens_and_tps_are_exact_sums(harness, stream: bool) -> None:
    result = harness.run(
        SCRIPT,
        stream=stream,
        tools=["read", "write", "plan_solution", "finish"],
        min_tool_calls=1,
        require_code_change=True,
        max_format_retries=2,
    )
    assert result.stop_reason == "finish", result.error
    sent = [s for s in harness.server.sent if s["status"] == 200]
    assert [s["stream"] for s in sent] == [stream] * 4 + [False, stream]  # the side-channel call never streams
    m, t = result.metrics, harness.server.totals()
    assert m["prompt_tokens"] == sum(s["usage"]["prompt_tokens"] for s in sent) == t["prompt_tokens"]
    assert m["completion_tokens"] == t["completion_tokens"]
    assert m["cached_tokens"] == t["cached_tokens"] > 0
    assert (m["prompt_n"], m["predicted_n"]) == (t["prompt_n"], t["predicted_n"])
    assert m["prompt_ms"] == t["prompt_ms"] and m["predicted_ms"] == t["predicted_ms"]
    assert m["prefill_tps"] == t["prompt_n"] / t["prompt_ms"] * 1000
    assert m["decode_tps"] == t["predicted_n"] / t["predicted_ms"] * 1000
    assert m["model_responses"] == 6 and m["format_retries"] == 1
    assert m["finish_reasons"] == {"tool_calls": 4, "stop": 2}
    assert m["tool_calls"] == {"read": 1, "write": 1, "plan_solution": 1, "finish": 1}


def test_tps_is_a_ratio_of_sums_not_a_mean_of_rates(harness) -> None:
    timings = [
        {"prompt_n": 1000, "prompt_ms": 500.0, "predicted_n": 10, "predicted_ms": 1000.0},  # 2000 t/s, 10 t/s
        {"prompt_n": 10, "prompt_ms": 1000.0, "predicted_n": 1000, "predicted_ms": 500.0},  # 10 t/s, 2000 t/s
    ]
    result = harness.run(
        [
            {"tool_calls": [tool_call("ls", {})], "timings": timings[0]},
            {"tool_calls": [tool_call("finish", {})], "timings": timings[1]},
        ]
    )
    assert result.metrics["prefill_tps"] == pytest.approx(1010 / 1500 * 1000)  # a mean of rates would give 1005
    assert result.metrics["decode_tps"] == pytest.approx(1010 / 1500 * 1000)


def test_usage_on_the_finish_chunk_and_no_timings(harness) -> None:
    """Forks put usage on the finish chunk; MLX sends no timings: tokens count, tps stay 0."""
    result = harness.run(
        [
            {"tool_calls": [tool_call("ls", {})], "usage_in_finish_chunk": True, "timings": False, "ping": 3},
            {"tool_calls": [tool_call("finish", {})], "timings": False},
        ]
    )
    m = result.metrics
    assert m["prompt_tokens"] == harness.server.totals()["prompt_tokens"] > 0
    assert m["completion_tokens"] == harness.server.totals()["completion_tokens"]
    assert (m["prompt_n"], m["prompt_ms"], m["prefill_tps"], m["decode_tps"]) == (0, 0.0, 0.0, 0.0)


def test_prometheus_counter_matches_prompt_n(harness) -> None:
    """The server's /metrics counts processed prompt tokens (Σ prompt_n), as llama-server does."""
    import httpx

    result = harness.run([{"tool_calls": [tool_call("ls", {})]}, {"tool_calls": [tool_call("finish", {})]}])
    text = httpx.get(harness.server.url + "/metrics").text
    counters = dict(line.split() for line in text.splitlines() if not line.startswith("#"))
    assert float(counters["llamacpp:prompt_tokens_total"]) == result.metrics["prompt_n"]
    assert float(counters["llamacpp:tokens_predicted_total"]) == result.metrics["predicted_n"]


METRIC_KEYS = {
    "turns", "model_responses", "tool_call_responses", "tool_calls_total", "tool_calls", "tool_errors_total",
    "tool_errors", "tool_errors_by_tool", "prompt_tokens", "completion_tokens", "cached_tokens", "prompt_n",
    "prompt_ms", "predicted_n", "predicted_ms", "prefill_tps", "decode_tps", "model_seconds", "tool_seconds",
    "finish_reasons", "length_stops", "context_overflows", "format_retries", "malformed_responses",
    "server_calls", "recovered_calls", "recovered_responses", "recovered_by_syntax", "incomplete_calls", "http_errors",
    "refused_paths", "cache_prompt_tokens",
    "first_prompt_tokens", "first_cached_tokens", "wait_seconds", "timed_responses",
}  # fmt: skip


def test_metric_names_are_exactly_the_documented_ones_and_plain_data(harness) -> None:
    import json
    import pickle

    from tests.support.scripted_server import solution_script

    result = harness.run(solution_script({"solution.py": "def answer():\n    return 42\n"}))
    assert result.stop_reason == "finish"
    assert set(result.metrics) == METRIC_KEYS
    assert json.loads(json.dumps(result.metrics)) == result.metrics  # builtins only
    assert pickle.loads(pickle.dumps(result)) == result  # crosses xdist workers
