"""Working vs waiting time, prompt-cache figures, the pinned slot and a history that stays put.

A request that waits for a server slot sends no byte until the slot is free; the scripted server
plays that with ``delay`` (before any byte, not in its timings), and the real work with ``work``
(reported as the server's own time).
"""

from __future__ import annotations

import time

import pytest

from agent import AgentLimits, HttpChatClient
from agent.context import StableWindow, window
from agent.metrics import Metrics
from agent.protocols import ChatError, ChatResponse
from tests.support.scripted_server import ScriptedServer, tool_call

READ = {"tool_calls": [tool_call("read", {"path": "solution.py"})]}
FINISH = {"tool_calls": [tool_call("finish", {"summary": "done"})]}


def test_wait_is_the_round_trip_minus_the_servers_own_time() -> None:
    metrics = Metrics()
    timed = ChatResponse(usage={"prompt_tokens": 100}, timings={"prompt_ms": 200.0, "predicted_ms": 300.0},
                         elapsed=2.0)
    assert metrics.add_response(timed) == pytest.approx(1.5)
    assert metrics.add_response(ChatResponse(usage={"prompt_tokens": 100}, elapsed=1.0)) is None  # no timings
    assert metrics.wait_seconds == pytest.approx(1.5) and (metrics.timed_responses, metrics.model_responses) == (1, 2)


def test_cache_figures_keep_the_sessions_first_response_apart() -> None:
    metrics = Metrics()
    metrics.add_response(ChatResponse(usage={"prompt_tokens": 1000, "prompt_tokens_details": {"cached_tokens": 400}}),
                         first=True)
    metrics.add_response(ChatResponse(usage={"prompt_tokens": 1200}, timings={"cache_n": 1100}))  # llama.cpp's name
    metrics.add_response(ChatResponse(usage={"prompt_tokens": 1300}))  # says nothing about its cache
    assert (metrics.cached_tokens, metrics.cache_prompt_tokens) == (1500, 2200)
    assert (metrics.first_prompt_tokens, metrics.first_cached_tokens) == (1000, 400)


def test_a_queued_request_does_not_end_the_try(harness) -> None:
    """1.5 s queued (no byte), 1 s of working time allowed: the try goes on and finishes."""
    started = time.monotonic()
    result = harness.run([{**READ, "delay": 1.5, "work": 0.05}, {**FINISH, "work": 0.05}],
                         limits=AgentLimits(max_seconds=1.0), client={"working_deadline": True})
    assert result.stop_reason == "finish", result.error
    assert time.monotonic() - started > 1.5
    assert result.metrics["wait_seconds"] >= 1.4 and result.metrics["timed_responses"] == 2


def test_without_a_working_deadline_the_same_wait_ends_the_try(harness) -> None:
    result = harness.run([{**READ, "delay": 1.5, "work": 0.05}, FINISH], limits=AgentLimits(max_seconds=1.0))
    assert result.stop_reason == "deadline"


def test_working_time_still_ends_a_try(harness) -> None:
    """Work the server reports as its own (``work``) counts: three 0.6 s turns exceed 1.0 s."""
    result = harness.run([{**READ, "work": 0.6}] * 3 + [FINISH], limits=AgentLimits(max_seconds=1.0),
                         client={"working_deadline": True})
    assert result.stop_reason == "deadline"
    assert result.metrics["wait_seconds"] < 0.5


def test_generation_after_a_queue_is_cut_at_the_moved_deadline() -> None:
    slow = {"content": "x" * 200, "chunk_size": 1, "chunk_delay": 0.05, "delay": 0.8}
    with ScriptedServer([slow]) as server, HttpChatClient(server.url, working_deadline=True) as client:
        started = time.monotonic()
        with pytest.raises(ChatError, match="still generating"):
            client.complete({"messages": [{"role": "user", "content": "hi"}], "stream": True},
                            deadline=time.monotonic() + 0.5)
    assert 1.2 < time.monotonic() - started < 3.0  # 0.8 s queued + 0.5 s of generation, not 10 s


@pytest.mark.parametrize("slot", [None, 2])
def test_every_request_goes_to_the_agents_slot(harness, slot: int | None) -> None:
    plan = {"tool_calls": [tool_call("plan_solution", {"prompt": "how?"})]}
    harness.run([READ, plan, {"content": "a plan"}, FINISH], slot=slot,
                tools=["read", "plan_solution", "finish"])  # plan_solution asks through the side channel
    assert len(harness.requests) == 4
    assert [r.get("id_slot") for r in harness.requests] == [slot] * 4


def test_first_response_of_a_continued_session_is_not_a_first_turn(harness, tmp_path) -> None:
    session = tmp_path / "session.json"
    first = harness.run([READ, FINISH, READ, FINISH], session_file=session)
    assert first.metrics["first_prompt_tokens"] == harness.server.sent[0]["usage"]["prompt_tokens"]
    second = harness.agent.run("try 2", continue_session=True)
    assert second.metrics["first_prompt_tokens"] == 0 and second.metrics["cache_prompt_tokens"] > 0


def _turns(n: int) -> list[list[dict]]:
    """The transcript after each of n turns of one read each."""
    messages: list[dict] = [{"role": "user", "content": "TASK"}]
    out = []
    for i in range(n):
        messages = [*messages, {"role": "assistant", "content": "", "tool_calls": [
            {"id": f"c{i}", "type": "function", "function": {"name": "read", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": f"c{i}", "content": f"out {i}"}]
        out.append(messages)
    return out


def _breaks(views: list[list[dict]]) -> int:
    """Turns whose view does not start with the previous turn's view (the cache is lost there)."""
    return sum(1 for before, after in zip(views, views[1:]) if after[:len(before)] != before)


def test_stable_window_breaks_the_prefix_every_few_turns_not_every_turn() -> None:
    transcripts = _turns(30)
    sliding = [window(t, 12, pinned={0}) for t in transcripts]
    stable = StableWindow(12)
    steady = [stable.view(t, pinned={0}) for t in transcripts]
    assert _breaks(sliding) == 25  # once over the limit, every turn
    assert _breaks(steady) <= 9  # cut back to 6, then 3 turns that only append
    assert all(len(v) <= 12 and v[0]["content"] == "TASK" for v in steady)
    assert all(v[1]["role"] == "assistant" for v in steady)  # never an orphan tool result
