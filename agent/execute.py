"""Execute one response's tool calls and build the messages that go back into history.

Invariants the chat templates (and llama.cpp) need: every tool call in the assistant message gets
exactly one tool message, in order, even when a call errs, exceeds ``max_batch_tool_calls`` or
comes after ``finish``; and every call's ``arguments`` in history is a valid JSON object (the
model's own text when it is one, else the arguments as the ToolBox repaired them, else ``{}``),
because llama-server answers HTTP 500 to broken JSON in history. Text the model wrote alongside
its calls is kept. Arguments are repaired in one place, the ToolBox (``agent.tools.args``): this
module hands it the model's raw text.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from agent.protocols import ToolBox, ToolCall, ToolOutcome

TRUNCATED_HINT = (
    " The response was cut off by the token limit: send a smaller call (e.g. change the file in several edits)."
)


@dataclass
class Batch:
    assistant: dict[str, Any]
    tool_messages: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[tuple[ToolCall, ToolOutcome]] = field(default_factory=list)
    executable: int = 0  # well-formed calls that reached a tool
    malformed: int = 0  # calls whose name or arguments were unusable
    finish: ToolOutcome | None = None


def _error(text: str, kind: str, tool: str = "") -> ToolOutcome:
    return ToolOutcome(text=f"error: {text}", tool=tool, is_error=True, error_kind=kind)


def _execute(toolbox: ToolBox, name: str, arguments: str) -> ToolOutcome:
    started = time.perf_counter()
    try:
        outcome = toolbox.execute(name, arguments)
    except Exception as exc:  # noqa: BLE001 - the ToolBox contract says never raise; be sure
        outcome = _error(f"tool {name} failed: {type(exc).__name__}: {exc}", "other", name)
    if not outcome.duration:
        outcome.duration = time.perf_counter() - started
    return outcome


def history_arguments(raw: str, parsed: dict[str, Any] | None) -> str:
    """The ``arguments`` text kept in history: always a JSON object."""
    try:
        if isinstance(json.loads(raw), dict):
            return raw
    except ValueError:
        pass
    return json.dumps(parsed, ensure_ascii=False) if parsed is not None else "{}"


def run_batch(
    calls: list[ToolCall],
    *,
    content: str,
    reasoning: str,
    toolbox: ToolBox,
    max_batch: int | None,
    keep_reasoning: bool,
    truncated: bool = False,
) -> Batch:
    history_calls: list[dict[str, Any]] = []
    batch = Batch(assistant={"role": "assistant", "content": content})
    for i, call in enumerate(calls):
        name = call.name.strip()
        if batch.finish is not None:
            outcome = _error("not executed: finish was called earlier in this response", "after_finish", name)
        elif max_batch is not None and i >= max_batch:
            outcome = _error(
                f"not executed: at most {max_batch} tool call(s) per response; "
                "send this call again in your next response",
                "batch_limit",
                name,
            )
        elif not name:
            batch.malformed += 1
            outcome = _error("tool call without a tool name", "unknown_tool")
        else:
            outcome = _execute(toolbox, name, call.arguments)
            if outcome.error_kind == "invalid_json":
                batch.malformed += 1
                if truncated:
                    outcome.text += TRUNCATED_HINT
            elif outcome.error_kind != "unknown_tool":
                batch.executable += 1
            if outcome.finish:
                batch.finish = outcome
        arguments = history_arguments(call.arguments, outcome.arguments)
        history_calls.append({"id": call.id, "type": "function", "function": {"name": name, "arguments": arguments}})
        batch.outcomes.append((call, outcome))
        batch.tool_messages.append({"role": "tool", "tool_call_id": call.id, "name": name, "content": outcome.text})
    batch.assistant["tool_calls"] = history_calls
    if keep_reasoning and reasoning:
        batch.assistant["reasoning_content"] = reasoning
    return batch


def signature(batch: Batch) -> str:
    """What the model did and saw this turn, to notice it repeating itself."""
    return json.dumps([[c.name, o.arguments, o.text] for c, o in batch.outcomes], sort_keys=True, default=str)


NOOP_KINDS = {"no_change", "repeated_noop"}


def all_noops(batch: Batch) -> bool:
    return bool(batch.outcomes) and all(o.is_error and o.error_kind in NOOP_KINDS for _, o in batch.outcomes)
