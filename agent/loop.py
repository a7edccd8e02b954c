"""The agent: a loop of chat requests with native tool calls until the model is done.

One :meth:`Agent.run` is one try of one task. Each turn sends a view of the transcript (window
and context budget, see :mod:`agent.history` / :mod:`agent.budget`), recovers tool calls the
server left in the text (:mod:`agent.recovery`), then hands the response to
:mod:`agent.respond`: execute its tool calls (:mod:`agent.execute`) or take its text as the
answer, unless the config demands tool use first (:mod:`agent.retries`). Model and server
misbehaviour never raises: the run ends with a stop reason and, for failures, a one-line ``error``.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from agent.budget import ContextPlanner, Plan
from agent.config import AgentConfig, ConfigError
from agent.grammar import call_grammar
from agent.history import size, window
from agent.logs import RunLog, preview
from agent.prompts import few_shot, name_map, system_prompt
from agent.protocols import (
    ChatClient,
    ChatError,
    ChatResponse,
    CommandRunner,
    ToolBox,
)
from agent.recovery import recover_tool_calls, split_harmony
from agent.request import build_request, summary
from agent.respond import ResponseHandling
from agent.result import AgentLimits, RunResult
from agent.retries import WRITE_TOOLS
from agent.session import load_session, save_session
from agent.sidechannel import SideChannel
from agent.state import RunState
from agent.toolbox import canonical_resolver, make_toolbox


class Agent(ResponseHandling):
    """One configured agent in one workspace; :meth:`run` once per try.

    ``context_window`` is the server's per-slot context (None: asked from ``/props``, else
    learned from an overflow error). ``runner`` runs the ``shell`` tool; ``read_only`` (paths)
    and ``deny`` (globs), workspace-relative, are enforced by the tools. ``on_event`` receives every log
    event as a dict; ``on_delta(kind, text)`` streamed text. The constructor raises
    :class:`ConfigError` for a config whose prompt, few-shot file or tool list is unusable.
    """

    def __init__(
        self,
        cfg: AgentConfig,
        *,
        client: ChatClient,
        workspace: Path,
        runner: CommandRunner | None = None,
        read_only: Collection[str] = (),
        deny: Collection[str] = (),
        log_dir: Path | None = None,
        session_file: Path | None = None,
        limits: AgentLimits | None = None,
        context_window: int | None = None,
        model_name: str | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        toolbox: ToolBox | None = None,
        on_delta: Callable[[str, str], None] | None = None,
    ) -> None:
        self.cfg, self.client = cfg, client
        self.workspace = Path(workspace).resolve()
        self.log_dir, self.session_file = log_dir, session_file
        self.limits = limits or AgentLimits()
        self.model = model_name or cfg.model or cfg.name
        self.on_event, self.on_delta = on_event, on_delta
        self.side = SideChannel(client, self.model)
        self.toolbox = toolbox or make_toolbox(cfg, self.workspace, runner, read_only, deny, self.side)
        self.schemas = self.toolbox.schemas()
        self.display = self.toolbox.display_names()
        canonical = canonical_resolver()
        self.resolve = name_map(list(cfg.tools), self.display, canonical)
        # names that make a JSON object in content a tool call: shown, listed and canonical names
        self.known = (
            set(self.display) | set(cfg.tools) | ({canonical(t) or t for t in cfg.tools} if canonical else set())
        )
        self.write_tools = [n for n in (self.resolve(t) for t in WRITE_TOOLS) if n]
        self.system = system_prompt(cfg, self.schemas, self.resolve, self.workspace)
        self.examples = few_shot(cfg, self.schemas, self.resolve)
        self._system_message = {"role": "system", "content": self.system}  # one object: its encoding is cached
        self.grammar = self._grammar()
        tools_chars = 0 if self.grammar else len(json.dumps(self.schemas))  # the template renders them
        fixed = size({"content": self.system}) + sum(size(m) for m in self.examples) + tools_chars
        self.planner = ContextPlanner(cfg.max_tokens, fixed, context_window or self._server_context())

    def _grammar(self) -> str | None:
        """The GBNF forcing one call per reply (``call_grammar``), built once per agent."""
        if not self.cfg.call_grammar:
            return None
        try:
            return call_grammar(self.schemas, self.cfg.call_grammar, self.cfg.grammar_max_string)
        except ValueError as exc:
            raise ConfigError(f"{self.cfg.name}: key 'call_grammar': {exc}") from exc

    def _server_context(self) -> int | None:
        props_fn = getattr(self.client, "server_props", None)
        if props_fn is None:
            return None
        try:
            props = props_fn() or {}
        except Exception:  # noqa: BLE001 - props are optional
            return None
        n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx") or props.get("n_ctx")
        return n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None

    # -- run -----------------------------------------------------------------------------------
    def run(self, prompt: str, *, continue_session: bool = False) -> RunResult:
        history = load_session(self.session_file) if continue_session else []
        st = RunState(self.cfg, self.limits, prompt, history)
        log = RunLog(self.log_dir, self.cfg.name, self.on_event)
        self.side.attach(st.metrics, st.deadline)
        self.planner.reset()
        log.event(
            "session_start",
            agent=self.cfg.name,
            model=self.model,
            workspace=str(self.workspace),
            continue_session=continue_session,
            resumed_messages=len(history),
            tools=self.display,
            context_window=self.planner.n_ctx,
            max_turns=st.max_turns,
        )
        for warning in self.cfg.warnings:
            log.event("config_warning", message=warning)
        try:
            while not self._turn(st, log):
                pass
        except Exception as exc:  # noqa: BLE001 - a bug here must not take the harness down
            log.event("internal_error", error=repr(exc), traceback=traceback.format_exc())
            st.stop("error", f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        finally:
            self.side.detach()
            if self.session_file is not None:
                save_session(
                    self.session_file,
                    agent=self.cfg.name,
                    model=self.model,
                    workspace=self.workspace,
                    messages=st.transcript,
                )
            metrics = st.metrics.as_dict()
            log.event(
                "usage",
                **{
                    k: metrics[k]
                    for k in ("prompt_tokens", "completion_tokens", "cached_tokens", "prefill_tps", "decode_tps")
                },
            )
            log.event(
                "stop",
                stop_reason=st.stop_reason,
                error=st.error,
                turns=st.metrics.turns,
                duration=round(time.monotonic() - st.started, 3),
                metrics=metrics,
            )
            log.close(self.system, self.examples, st.transcript)
        return RunResult(
            stop_reason=st.stop_reason or "error",
            error=st.error,
            final_text=st.final_text,
            metrics=metrics,
            messages=st.transcript,
            refused_paths=st.refused,
            changed_files=st.changed,
            log_files=dict(log.paths),
            duration=time.monotonic() - st.started,
        )

    def _limit(self, st: RunState) -> str | None:
        if st.deadline is not None and time.monotonic() >= st.deadline:
            return "deadline"
        if (
            self.limits.max_total_tokens
            and st.metrics.prompt_tokens + st.metrics.completion_tokens >= self.limits.max_total_tokens
        ):
            return "token_limit"
        if st.metrics.turns - st.retry_turns >= st.max_turns or st.metrics.turns >= 3 * st.max_turns:
            return "max_turns"
        return None

    def _turn(self, st: RunState, log: RunLog) -> bool:
        """One request and its handling; True when the run is over."""
        if reason := self._limit(st):
            return st.stop(reason)
        st.metrics.turns += 1
        resp = self._request(st, log)
        if resp is None:
            return True
        content, reasoning, calls = resp.content, resp.reasoning, list(resp.tool_calls)
        if not calls and content:
            recovered, rest = recover_tool_calls(content, self.known)
            if recovered:
                calls, content = recovered, rest
                st.metrics.recovered_calls += len(recovered)
                st.metrics.recovered_responses += 1
                log.event("recovered_calls", turn=st.metrics.turns, names=[c.name for c in recovered])
        analysis_only = False
        if not calls and (harmony := split_harmony(content)):
            reasoning = (reasoning + "\n" + harmony[0]).strip()
            content = harmony[1]
            analysis_only = not content
        if calls:
            return self._tool_turn(st, log, calls, content, reasoning, resp.finish_reason == "length")
        return self._text_turn(st, log, content, reasoning, analysis_only)

    # -- requests -------------------------------------------------------------------------------
    def _request(self, st: RunState, log: RunLog) -> ChatResponse | None:
        view = window(st.transcript, self.cfg.history_max_messages, st.pinned)
        if len(view) < len(st.transcript):
            log.event("history_trim", kept=len(view), total=len(st.transcript))
        pinned_ids = {id(st.transcript[i]) for i in st.pinned}
        for attempt in (1, 2):
            plan = self.planner.plan(view, pinned_ids)
            if plan is None:
                st.stop(
                    "error",
                    f"context_overflow: the prompt does not fit the {self.planner.n_ctx}-token context window even after trimming",
                )
                return None
            if plan.trimmed is not None:
                log.event(
                    "context_trim",
                    elided=plan.trimmed.elided,
                    dropped=plan.trimmed.dropped,
                    truncated=plan.trimmed.truncated,
                    est_prompt_tokens=plan.prompt_tokens,
                )
            body = self._body(plan, st.force_tool)
            log.last_request(body)
            log.event("request", turn=st.metrics.turns, est_prompt_tokens=plan.prompt_tokens, **summary(body))
            try:
                resp = self.client.complete(body, deadline=st.deadline, on_delta=self.on_delta)
            except ChatError as exc:
                log.event("http_error", kind=exc.kind, status=exc.status, error=str(exc), body=exc.body[:2000])
                if exc.kind == "context_overflow" and attempt == 1:
                    st.metrics.context_overflows += 1
                    self.planner.overflowed(exc.body, plan.chars)
                    continue
                if exc.kind == "context_overflow":
                    st.metrics.context_overflows += 1
                if exc.kind == "timeout" and st.deadline is not None and time.monotonic() >= st.deadline - 0.5:
                    st.stop("deadline", str(exc))
                    return None
                st.metrics.http_errors += 1
                st.stop("error", str(exc))
                return None
            st.force_tool = False
            st.metrics.add_response(resp)
            self.planner.learn(plan.chars, (resp.usage or {}).get("prompt_tokens"))
            log.event(
                "response",
                turn=st.metrics.turns,
                finish_reason=resp.finish_reason,
                content=preview(resp.content),
                reasoning_chars=len(resp.reasoning),
                tool_calls=[c.name for c in resp.tool_calls],
                usage=resp.usage,
                timings=resp.timings,
                elapsed=round(resp.elapsed, 4),
                request_id=resp.request_id,
            )
            return resp
        return None

    def _body(self, plan: Plan, force_tool: bool) -> dict[str, Any]:
        messages = [self._system_message, *self.examples, *plan.messages]
        return build_request(
            self.cfg,
            messages,
            self.schemas,
            model=self.model,
            max_tokens=plan.max_tokens,
            force_tool=force_tool,
            grammar=self.grammar,
        )
