"""Format retries: attempt counting from 1, forcing as a string, exhaustion (done-criterion 4)."""

from __future__ import annotations

from agent.config import AgentConfig
from agent.prompts import FormatRetries
from agent.wire import build_request
from tests.agent.conftest import assert_well_formed
from tests.support.scripted_server import tool_call

WRITE = tool_call("write", {"path": "solution.py", "content": "def answer():\n    return 42\n"})


def user_texts(messages: list[dict]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


def test_attempts_count_from_one_and_once_per_retry() -> None:
    retries = FormatRetries(2)
    assert [retries.take("no_tool_call"), retries.take("no_tool_call"), retries.take("no_tool_call")] == [1, 2, None]
    assert retries.take("code_change") == 1  # each reason has its own counter
    assert retries.take("finish_without_change") == 2  # ...shared with its sibling
    assert retries.take("code_change") is None
    assert FormatRetries(0).take("empty") is None
    assert retries.message("no_tool_call", 1, ["read", "write"], []).startswith("FORMAT ERROR (attempt 1/2):")


def test_no_tool_call_retries_then_succeeds(harness) -> None:
    result = harness.run(
        [
            {"content": "I think the answer is 42."},
            {"content": "Still thinking."},
            {"tool_calls": [WRITE]},
            {"content": "Done."},
        ],
        min_tool_calls=1,
        max_format_retries=2,
    )
    assert result.stop_reason == "answer" and result.final_text == "Done."
    feedback = user_texts(result.messages)[1:]
    assert [f.split(":")[0] for f in feedback] == ["FORMAT ERROR (attempt 1/2)", "FORMAT ERROR (attempt 2/2)"]
    assert "Available tools: read, write, edit, ls, finish" in feedback[0]
    assert result.metrics["format_retries"] == 2
    choices = [r.get("tool_choice") for r in harness.requests]
    assert choices == [None, "required", "required", None]  # forced only right after a retry, as a string
    assert result.metrics["turns"] == 4
    assert_well_formed(result.messages)


def test_retry_turns_do_not_count_against_max_turns(harness) -> None:
    result = harness.run(
        [{"content": "hm"}, {"content": "hm"}, {"tool_calls": [WRITE]}, {"tool_calls": [tool_call("finish", {})]}],
        min_tool_calls=1,
        max_format_retries=2,
        max_turns=2,
    )
    assert result.stop_reason == "finish" and result.metrics["turns"] == 4


def test_retries_exhausted(harness) -> None:
    result = harness.run(
        [{"content": "no"}, {"content": "no"}, {"content": "no"}], min_tool_calls=1, max_format_retries=2
    )
    assert result.stop_reason == "format_retries_exhausted"
    assert "no_tool_call" in result.error
    assert len(harness.requests) == 3 and result.metrics["format_retries"] == 2


def test_auto_tool_call_on_failure_reads_the_named_file(harness) -> None:
    result = harness.run(
        [{"content": "no"}, {"content": "no"}, {"tool_calls": [WRITE]}, {"tool_calls": [tool_call("finish", {})]}],
        "Fix solution.py please.",
        min_tool_calls=1,
        max_format_retries=1,
        auto_tool_call_on_failure=True,
    )
    assert result.stop_reason == "finish", result.error
    forced = result.messages[3]
    assert forced["role"] == "assistant" and forced["content"] == "no"  # the text and the forced call share one message
    assert forced["tool_calls"][0]["function"] == {"name": "read", "arguments": '{"path": "solution.py"}'}
    assert "def answer" in result.messages[4]["content"]
    assert_well_formed(result.messages)


def test_require_code_change_blocks_an_early_finish(harness, workspace) -> None:
    result = harness.run(
        [
            {"tool_calls": [tool_call("finish", {"summary": "nothing to do"})]},
            {"tool_calls": [WRITE]},
            {"tool_calls": [tool_call("finish", {"summary": "fixed"})]},
        ],
        require_code_change=True,
        max_format_retries=1,
    )
    assert result.stop_reason == "finish" and result.final_text == "fixed"
    feedback = user_texts(result.messages)[1]
    assert feedback.startswith("FORMAT ERROR (attempt 1/1): finish was called before any file was changed")
    assert feedback.endswith("Use one of: edit, write.")  # enabled write tools, patch-style first
    assert harness.requests[1]["tool_choice"] == "required"


def test_require_code_change_exhausted(harness) -> None:
    result = harness.run(
        [{"content": "Looks fine."}, {"content": "Really fine."}], require_code_change=True, max_format_retries=1
    )
    assert result.stop_reason == "format_retries_exhausted" and result.error.startswith("code_change")


def test_analysis_only_harmony_content_is_retried(harness) -> None:
    leak = "<|channel|>analysis<|message|>We need to write the file.<|end|>"
    result = harness.run(
        [{"content": leak}, {"tool_calls": [WRITE]}, {"content": "<|channel|>final<|message|>All done."}],
        max_format_retries=1,
        native_thinking=True,
    )
    assert result.stop_reason == "answer" and result.final_text == "All done."
    assert result.messages[1] == {"role": "assistant", "content": "", "reasoning_content": "We need to write the file."}
    assert "only analysis" in user_texts(result.messages)[1]


def test_tool_choice_is_always_sent_as_a_string() -> None:
    cfg = AgentConfig(
        name="t",
        prompt="p",
        tool_choice="auto",
        request_overrides={"tool_choice": {"type": "function", "function": {"name": "write"}}},
    )
    tools = [{"type": "function", "function": {"name": "write", "parameters": {}}}]
    body = build_request(cfg, [], tools, model="m", max_tokens=10)
    assert body["tool_choice"] == "required"
    assert (
        build_request(AgentConfig(name="t", prompt="p"), [], tools, model="m", max_tokens=10, force_tool=True)[
            "tool_choice"
        ]
        == "required"
    )
    assert "tool_choice" not in build_request(
        AgentConfig(name="t", prompt="p", tool_choice="required"), [], [], model="m", max_tokens=10
    )


def test_request_fields_map_to_what_llama_cpp_reads() -> None:
    cfg = AgentConfig(
        name="t",
        prompt="p",
        cache=False,
        think=False,
        think_level="low",
        top_k=40,
        seed=7,
        max_batch_tool_calls=1,
        stream=True,
        request_overrides={"messages": "ignored", "n_probs": 2},
    )
    body = build_request(
        cfg,
        [{"role": "user", "content": "x"}],
        [{"type": "function", "function": {"name": "w"}}],
        model="m",
        max_tokens=99,
    )
    assert body["cache_prompt"] is False and "cache" not in body
    assert body["chat_template_kwargs"] == {"enable_thinking": False} and "think" not in body
    assert body["reasoning_effort"] == "low"
    assert (body["top_k"], body["seed"], body["n_probs"], body["max_tokens"]) == (40, 7, 2, 99)
    assert body["messages"] == [{"role": "user", "content": "x"}]
    assert body["stream_options"] == {"include_usage": True}
    assert body["parallel_tool_calls"] is False and "top_p" not in body
    auto = build_request(
        AgentConfig(name="t", prompt="p", cache="auto", think="auto", stream=False), [], [], model="m", max_tokens=1
    )
    assert not {"cache_prompt", "chat_template_kwargs", "stream_options", "tools"} & set(auto)
