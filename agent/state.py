"""The mutable state of one run, and how a batch of tool results updates it.

Kept out of the loop so that the loop reads as control flow, and so that everything one try
accumulates (transcript, counters, streaks, changed and refused paths) is visibly per-run: a
second ``Agent.run`` starts from a fresh :class:`RunState`.
"""

from __future__ import annotations

import time
from typing import Any

from agent.config import AgentConfig
from agent.execute import Batch
from agent.logs import RunLog, preview
from agent.metrics import Metrics
from agent.result import AgentLimits
from agent.retries import FormatRetries


class RunState:
    def __init__(self, cfg: AgentConfig, limits: AgentLimits, prompt: str, history: list[dict[str, Any]]) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + limits.max_seconds if limits.max_seconds else None
        self.max_turns = limits.max_turns or cfg.max_turns
        self.prompt = prompt
        self.transcript = history + [{"role": "user", "content": prompt}]
        first_user = next((i for i, m in enumerate(history) if m.get("role") == "user"), None)
        # indices of the task prompts (try 1's and this one), never trimmed from what is sent
        self.pinned = [len(self.transcript) - 1] + ([first_user] if first_user is not None else [])
        self.metrics = Metrics()
        self.retries = FormatRetries(cfg.max_format_retries)
        self.retry_turns = 0  # turns spent on format retries: not counted against max_turns
        self.force_tool = False  # the next request carries tool_choice "required"
        self.auto_call_used = False
        self.tool_calls_made = 0
        self.code_changed = False
        self.changed: list[str] = []
        self.refused: list[str] = []
        self.seen_ids: set[str] = set()
        self.last_signature = ""
        self.repeat_streak = 0
        self.noop_streak = 0
        self.stop_reason: str | None = None
        self.error: str | None = None
        self.final_text = ""

    def stop(self, reason: str, error: str | None = None, final_text: str | None = None) -> bool:
        """Record why the run ends; returns True so callers can ``return st.stop(...)``."""
        self.stop_reason, self.error = reason, error
        if final_text is not None:
            self.final_text = final_text
        return True

    def account(self, batch: Batch, log: RunLog, *, from_model: bool = True) -> None:
        """Count a batch's calls and results, and log each pair.

        ``from_model=False`` for the call the agent makes itself when retries are spent: its
        tool call is counted and logged, but it is no model response, so it must not raise
        ``tool_call_responses`` (the share of responses that were tool calls).
        """
        turn = self.metrics.turns
        self.tool_calls_made += len(batch.outcomes)
        if batch.executable and from_model:
            self.metrics.tool_call_responses += 1
        if batch.malformed and from_model:
            self.metrics.malformed_responses += 1
        for call, _args, outcome in batch.outcomes:
            self.metrics.add_tool(call.name.strip() or "?", outcome)
            log.event(
                "tool_call",
                turn=turn,
                id=call.id,
                name=call.name,
                arguments=preview(call.arguments, 300),
                repairs=outcome.repairs,
            )
            log.event(
                "tool_result",
                turn=turn,
                id=call.id,
                tool=outcome.tool or call.name,
                is_error=outcome.is_error,
                error_kind=outcome.error_kind,
                result=preview(outcome.text),
                duration=round(outcome.duration, 4),
                changed_files=outcome.changed_files,
                refused_paths=outcome.refused_paths,
            )
            self.refused.extend(outcome.refused_paths)
            for path in outcome.changed_files:
                self.code_changed = True
                if path not in self.changed:
                    self.changed.append(path)
