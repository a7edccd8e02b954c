"""The message window and the context budget (done-criterion 4: history window)."""

from __future__ import annotations

import json

from agent.context import ELIDED, ContextPlanner, TokenEstimator, fit, groups, size, window
from tests.agent.conftest import assert_well_formed
from tests.support.scripted_server import tool_call


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def turn(n: int, calls: int = 1, output: str = "ok") -> list[dict]:
    ids = [f"c{n}_{i}" for i in range(calls)]
    assistant = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": i, "type": "function", "function": {"name": "read", "arguments": "{}"}} for i in ids],
    }
    return [assistant] + [{"role": "tool", "tool_call_id": i, "content": output} for i in ids]


def transcript(turns: int, calls: int = 2) -> list[dict]:
    msgs = [user("TASK")]
    for n in range(turns):
        msgs += turn(n, calls)
    return msgs


def test_groups_keep_tool_results_with_their_call() -> None:
    msgs = transcript(2, calls=3)
    assert groups(msgs) == [[0], [1, 2, 3, 4], [5, 6, 7, 8]]


def test_window_keeps_the_task_prompt_and_whole_groups() -> None:
    msgs = transcript(10, calls=2)  # 1 + 10 * 3 messages
    view = window(msgs, 8, pinned={0})
    assert view[0]["content"] == "TASK"
    assert len(view) == 7  # the prompt + two whole groups; a third would need 10
    assert view[1]["role"] == "assistant" and view[1:] == msgs[-6:]
    assert_well_formed(view)


def test_window_never_starts_on_an_orphan_tool_result() -> None:
    msgs = transcript(6, calls=4)
    for limit in range(2, len(msgs)):
        view = window(msgs, limit, pinned={0})
        assert_well_formed(view)
        assert view[0]["content"] == "TASK"


def test_window_keeps_a_group_bigger_than_the_limit() -> None:
    msgs = transcript(3, calls=6)
    view = window(msgs, 4, pinned={0})
    assert view == [msgs[0]] + msgs[-7:]


def test_window_keeps_both_task_prompts_of_a_continued_session() -> None:
    msgs = transcript(5) + [user("TRY 2: tests failed")] + turn(99)
    view = window(msgs, 5, pinned={0, 16})
    assert [m["content"] for m in view if m["role"] == "user"] == ["TASK", "TRY 2: tests failed"]
    assert_well_formed(view)


def test_window_zero_is_unlimited() -> None:
    msgs = transcript(30)
    assert window(msgs, 0) is msgs


def test_fit_elides_old_outputs_first_then_drops_groups() -> None:
    msgs = [user("TASK")]
    for n in range(6):
        msgs += turn(n, 1, output="x" * 1000)
    total = sum(size(m) for m in msgs)
    light = fit(msgs, total - 2500, pinned={id(msgs[0])})
    assert light.elided == 3 and light.dropped == 0
    assert light.messages[2]["content"] == ELIDED.format(n=1000) and light.messages[-1]["content"] == "x" * 1000
    assert msgs[2]["content"] == "x" * 1000  # the transcript itself is untouched
    hard = fit(msgs, 900, pinned={id(msgs[0])})
    assert hard.dropped > 0 and hard.messages[0]["content"] == "TASK"
    assert hard.chars <= 900 or hard.truncated
    assert_well_formed(hard.messages)


def test_fit_cuts_the_middle_of_one_huge_message() -> None:
    msgs = [user("head " + "y" * 20000 + " tail")]
    result = fit(msgs, 5000, pinned={id(msgs[0])})
    text = result.messages[0]["content"]
    assert result.truncated == 1 and text.startswith("head ") and text.endswith(" tail") and len(text) < 5200


def test_estimator_calibrates_on_the_server_count() -> None:
    est = TokenEstimator()
    assert est.tokens(3000) == 1000
    est.calibrate(4000, 1000)
    assert est.tokens(4000) == 1000 and est.chars_per_token == 4.0
    est.calibrate(100, 1000)  # nonsense is clamped
    assert est.chars_per_token == 1.5


def test_planner_reserves_room_for_the_reply() -> None:
    planner = ContextPlanner(max_tokens=1000, fixed_chars=300, context_window=4096)
    msgs = [user("TASK")] + turn(1, 1, output="z" * 30000)
    plan = planner.plan(msgs, {id(msgs[0])})
    assert plan is not None and plan.trimmed is not None
    assert plan.prompt_tokens + plan.max_tokens + planner.margin() <= 4096
    assert plan.max_tokens == 1000
    assert ContextPlanner(1000, 300, None).plan(msgs, set()).max_tokens == 1000  # no window known: no trimming


def test_agent_trims_to_fit_a_small_context(harness) -> None:
    """Outputs far beyond the window: every request still fits, the prompt is always sent."""
    big = "\n".join(f"line {i} " + "q" * 60 for i in range(400))  # ~27k chars per read
    (harness.workspace / "big.txt").write_text(big)
    script = [{"tool_calls": [tool_call("read", {"path": "big.txt"})], "content": f"step {i}"} for i in range(5)]
    script.append({"tool_calls": [tool_call("finish", {})]})
    result = harness.run(script, server={"n_ctx": 12000}, max_tokens=800, noop_guard_turns=10)
    assert result.stop_reason == "finish", result.error
    assert result.metrics["context_overflows"] == 0
    assert all(s["status"] == 200 for s in harness.server.sent)
    for body in harness.requests:
        assert body["messages"][1]["content"] == "Make answer() return 42."
        assert body["max_tokens"] <= 800
        assert_well_formed(body["messages"][1:])
    events = [json.loads(line) for line in open(result.log_files["jsonl"])]
    assert any(e["event"] == "context_trim" for e in events)
    assert all(m["content"] != "" for m in result.messages if m["role"] == "tool")  # full transcript kept


def _three_big_reads(harness) -> list[dict]:
    for n in range(3):
        (harness.workspace / f"big{n}.txt").write_text((f"{n}" * 60 + "\n") * 300)
    return [{"tool_calls": [tool_call("read", {"path": f"big{n}.txt"})]} for n in range(3)] + [
        {"tool_calls": [tool_call("finish", {})]}
    ]


def test_props_context_prevents_any_overflow(harness) -> None:
    result = harness.run(_three_big_reads(harness), server={"n_ctx": 6000})
    assert result.stop_reason == "finish", result.error
    assert harness.agent.planner.n_ctx == 6000  # from GET /props
    assert result.metrics["context_overflows"] == 0
    assert [s["status"] for s in harness.server.sent] == [200] * 4


def test_context_overflow_is_trimmed_and_retried_once(harness, monkeypatch) -> None:
    """No window known up front: the server's 400 teaches n_ctx, the request is retried smaller."""
    from agent.client import HttpChatClient

    monkeypatch.setattr(HttpChatClient, "server_props", lambda self: {})
    result = harness.run(_three_big_reads(harness), server={"n_ctx": 6000})
    assert result.stop_reason == "finish", result.error
    assert result.metrics["context_overflows"] == 1
    statuses = [s["status"] for s in harness.server.sent]
    assert statuses.count(400) == 1 and statuses[-1] == 200
    assert harness.agent.planner.n_ctx == 6000  # learned from the error body
    assert result.metrics["http_errors"] == 0


def test_context_that_cannot_fit_stops_with_an_error(harness) -> None:
    result = harness.run([{"content": "never"}], "x" * 40000, context_window=2000)
    assert result.stop_reason == "error" and "context" in result.error
    assert harness.requests == [] or all(s["status"] == 200 for s in harness.server.sent)


def test_agent_sends_a_window_with_the_prompt_and_whole_groups(harness) -> None:
    script = [{"tool_calls": [tool_call("read", {"path": "solution.py"}), tool_call("ls", {})]} for _ in range(2)]
    script += [
        {"tool_calls": [tool_call("read", {"path": "test_solution.py"})]},
        {"tool_calls": [tool_call("finish", {})]},
    ]
    result = harness.run(script, history_max_messages=4, noop_guard_turns=5)
    assert result.stop_reason == "finish"
    for body in harness.requests:
        sent = body["messages"][1:]  # after the system prompt
        assert sent[0]["content"] == "Make answer() return 42." and len(sent) <= 4
        assert_well_formed(sent)
    assert [len(b["messages"]) - 1 for b in harness.requests] == [1, 4, 4, 3]
    assert len(result.messages) == 1 + 3 + 3 + 2 + 2  # the transcript itself is complete
