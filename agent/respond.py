"""What the agent does with a response: run its tool calls, or judge its text.

A mixin of :class:`agent.loop.Agent`, split out so the loop module holds only the request
cycle. Everything here decides whether the run goes on: ``finish`` ends it (unless a code change
is required and none was made), repeated or no-op turns trip the guard, and text answers are
accepted only when the config's requirements (``min_tool_calls``, ``require_code_change``) are
met, otherwise they cost a format retry (:mod:`agent.retries`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent import execute
from agent.config import AgentConfig
from agent.logs import RunLog
from agent.prompts import Resolver
from agent.protocols import ToolBox, ToolCall
from agent.retries import forced_call
from agent.state import RunState


class ResponseHandling:
    """Needs from the host class: ``cfg``, ``toolbox``, ``workspace``, ``display``,
    ``write_tools`` and ``resolve``."""

    cfg: AgentConfig
    toolbox: ToolBox
    workspace: Path
    display: list[str]
    write_tools: list[str]
    resolve: Resolver

    def _unique_ids(self, st: RunState, calls: list[ToolCall]) -> None:
        """Servers may repeat or omit ids (MLX: "call_0" every turn); templates need them unique."""
        for i, call in enumerate(calls):
            if not call.id or call.id in st.seen_ids:
                call.id = f"call_{st.metrics.turns}_{i}"
            st.seen_ids.add(call.id)

    def _tool_turn(
        self, st: RunState, log: RunLog, calls: list[ToolCall], content: str, reasoning: str, truncated: bool
    ) -> bool:
        self._unique_ids(st, calls)
        batch = execute.run_batch(
            calls,
            content=content,
            reasoning=reasoning,
            toolbox=self.toolbox,
            max_batch=self.cfg.max_batch_tool_calls,
            keep_reasoning=self.cfg.native_thinking,
            truncated=truncated,
        )
        st.transcript.append(batch.assistant)
        st.transcript.extend(batch.tool_messages)
        st.account(batch, log)
        if batch.finish is not None:
            if self.cfg.require_code_change and not st.code_changed:
                return self._retry(st, log, "finish_without_change")
            summary_text = batch.finish_args.get("summary")
            final = summary_text if isinstance(summary_text, str) and summary_text else content or batch.finish.text
            return st.stop("finish", final_text=final)
        signature = execute.signature(batch)
        st.repeat_streak = st.repeat_streak + 1 if signature == st.last_signature else 0
        st.last_signature = signature
        st.noop_streak = st.noop_streak + 1 if execute.all_noops(batch) else 0
        if max(st.repeat_streak, st.noop_streak) >= self.cfg.noop_guard_turns:
            log.event("noop_guard", repeat_streak=st.repeat_streak, noop_streak=st.noop_streak)
            return st.stop(
                "noop_guard",
                f"the model repeated the same tool calls or changed nothing for {self.cfg.noop_guard_turns} turns",
            )
        return False

    def _text_turn(self, st: RunState, log: RunLog, content: str, reasoning: str, analysis_only: bool) -> bool:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if self.cfg.native_thinking and reasoning:
            message["reasoning_content"] = reasoning
        st.transcript.append(message)
        if analysis_only:
            reason = "analysis_only"
        elif not content.strip():
            reason = "empty"
        elif st.tool_calls_made < self.cfg.min_tool_calls:
            reason = "no_tool_call"
        elif self.cfg.require_code_change and not st.code_changed:
            reason = "code_change"
        else:
            return st.stop("answer", final_text=content)
        return self._retry(st, log, reason)

    def _retry(self, st: RunState, log: RunLog, reason: str) -> bool:
        attempt = st.retries.take(reason)
        if attempt is None:
            if (
                reason in ("no_tool_call", "empty", "analysis_only")
                and self.cfg.auto_tool_call_on_failure
                and not st.auto_call_used
            ):
                return self._auto_call(st, log, reason)
            if reason == "empty" and not (self.cfg.min_tool_calls or self.cfg.require_code_change):
                return st.stop("answer", final_text="")
            return st.stop("format_retries_exhausted", f"{reason}: format retries exhausted ({st.retries.limit})")
        text = st.retries.message(reason, attempt, self.display, self.write_tools)
        st.transcript.append({"role": "user", "content": text})
        st.metrics.format_retries += 1
        st.retry_turns += 1
        st.force_tool = True
        log.event("format_retry", reason=reason, attempt=attempt, limit=st.retries.limit)
        log.event("feedback", reason=reason, message=text)
        return False

    def _auto_call(self, st: RunState, log: RunLog, reason: str) -> bool:
        """Retries spent: make the first step for the model (once per run) and carry on."""
        st.auto_call_used = True
        picked = forced_call(st.prompt, self.workspace, self.resolve)
        if picked is None:
            return st.stop(
                "format_retries_exhausted", f"{reason}: format retries exhausted and no tool to call for the model"
            )
        name, args = picked
        call = ToolCall(id=f"call_auto_{st.metrics.turns}", name=name, arguments=json.dumps(args))
        last = st.transcript.pop()  # the text answer becomes the assistant message carrying the call
        batch = execute.run_batch(
            [call],
            content=last.get("content", ""),
            reasoning=last.get("reasoning_content", ""),
            toolbox=self.toolbox,
            max_batch=None,
            keep_reasoning=self.cfg.native_thinking,
        )
        st.transcript.append(batch.assistant)
        st.transcript.extend(batch.tool_messages)
        st.retry_turns += 1
        log.event("forced_tool_call", name=name, arguments=args)
        st.account(batch, log, from_model=False)
        return False
