"""The agent: a loop of chat requests with native tool calls until the model is done.

Read it top to bottom: :meth:`Agent.run` runs one :meth:`Agent._turn` after another. A turn sends
a view of the transcript that fits the context (:mod:`agent.context`), reads tool calls the
server left in the text in the model's own syntax (:mod:`agent.syntaxes`: the run's family
first), then either executes the calls (:mod:`agent.execute`) or judges the text as the answer,
unless the config demands tool use first or the reply ended inside a call (a format retry,
:mod:`agent.prompts`). Every way a run ends is a ``raise Stop(...)`` in this module, caught in
one place, :meth:`Agent.run`. Model and server misbehaviour never raises out of ``run``: the run
ends with a stop reason and, for failures, a one-line ``error``.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from agent import execute
from agent.client import chat_template_of, context_of, props_of
from agent.config import AgentConfig, ConfigError, declared_syntax, resolve_syntax
from agent.context import ContextPlanner, Plan, StableWindow, size
from agent.grammar import call_grammar
from agent.logs import RunLog, load_session, preview, save_session
from agent.metrics import Metrics
from agent.prompts import WRITE_TOOLS, FormatRetries, few_shot, name_map, system_prompt
from agent.protocols import (
    AgentLimits,
    ChatClient,
    ChatError,
    ChatResponse,
    CommandRunner,
    RunResult,
    ToolBox,
    ToolCall,
)
from agent.syntaxes import parse_content, split_text, to_tool_calls
from agent.tools import resolve_tool_name, toolbox_for
from agent.wire import build_request, summary


class Stop(Exception):
    """Ends the run; raised where the agent decides so, caught only in :meth:`Agent.run`.

    Reasons: ``finish`` (the model called the finish tool), ``answer`` (it answered in text, all
    requirements met), ``max_turns``, ``deadline``, ``token_limit``, ``noop_guard`` (it kept
    repeating itself or changing nothing), ``format_retries_exhausted``, ``error`` (server,
    transport or internal failure; ``error`` says what).
    """

    def __init__(self, reason: str, error: str | None = None, *, final_text: str = "") -> None:
        super().__init__(reason)
        self.reason, self.error, self.final_text = reason, error, final_text


class RunState:
    """Everything one try accumulates; a second :meth:`Agent.run` starts from a fresh one."""

    def __init__(self, cfg: AgentConfig, limits: AgentLimits, prompt: str, history: list[dict[str, Any]]) -> None:
        self.started = time.monotonic()
        # the limit counts working time: it moves on by the time requests waited (see wall_deadline)
        self.deadline = self.started + limits.max_seconds if limits.max_seconds else None
        self.max_turns = limits.max_turns or cfg.max_turns
        self.prompt = prompt
        self.transcript = history + [{"role": "user", "content": prompt}]
        first_user = next((i for i, m in enumerate(history) if m.get("role") == "user"), None)
        # indices of the task prompts (try 1's and this one), never trimmed from what is sent
        self.pinned = [len(self.transcript) - 1] + ([first_user] if first_user is not None else [])
        self.metrics = Metrics()
        self.first_response = not history  # a session's first response: nothing before it could be cached
        self.window = StableWindow(cfg.history_max_messages)
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

    def wall_deadline(self) -> float | None:
        """The working-time limit on the wall clock: the deadline plus what requests waited so far
        (queued for a server slot), so that waiting for a shared server never ends a try."""
        return None if self.deadline is None else self.deadline + self.metrics.wait_seconds

    def add_response(self, resp: ChatResponse) -> float | None:
        wait = self.metrics.add_response(resp, first=self.first_response)
        self.first_response = False
        return wait

    def record(self, batch: execute.Batch, log: RunLog, *, from_model: bool = True) -> None:
        """Add a batch's messages to the transcript, count its calls and results, log each pair.

        ``from_model=False`` for the call the agent makes itself when retries are spent: its
        tool call is counted and logged, but it is no model response, so it must not raise
        ``tool_call_responses`` (the share of responses that were tool calls).
        """
        self.transcript.append(batch.assistant)
        self.transcript.extend(batch.tool_messages)
        turn = self.metrics.turns
        self.tool_calls_made += len(batch.outcomes)
        if batch.executable and from_model:
            self.metrics.tool_call_responses += 1
        if batch.malformed and from_model:
            self.metrics.malformed_responses += 1
        for call, outcome in batch.outcomes:
            self.metrics.add_tool(call.name.strip() or "?", outcome)
            log.event("tool_call", turn=turn, id=call.id, name=call.name, arguments=preview(call.arguments, 300),
                      repairs=outcome.repairs)
            log.event("tool_result", turn=turn, id=call.id, tool=outcome.tool or call.name, is_error=outcome.is_error,
                      error_kind=outcome.error_kind, result=preview(outcome.text), duration=round(outcome.duration, 4),
                      changed_files=outcome.changed_files, refused_paths=outcome.refused_paths)
            self.refused.extend(outcome.refused_paths)
            for path in outcome.changed_files:
                self.code_changed = True
                if path not in self.changed:
                    self.changed.append(path)


class SideChannel:
    """The :class:`agent.protocols.ModelCaller` handed to reasoning tools (plan_solution, ask_questions).

    Side questions go to the same server, so their tokens are part of the run's cost and they
    respect its deadline. They carry no ``tools``, so no tool-call history may go through here
    (the tools send a fresh conversation).
    """

    def __init__(self, client: ChatClient, model: str, slot: int | None = None) -> None:
        self.client, self.model, self.slot = client, model, slot
        self.run: RunState | None = None

    def ask(self, messages: list[dict[str, Any]], *, max_tokens: int, temperature: float) -> str:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                                "temperature": temperature, "stream": False}
        if self.slot is not None:
            body["id_slot"] = self.slot
        resp = self.client.complete(body, deadline=self.run.wall_deadline() if self.run else None)
        if self.run is not None:
            self.run.add_response(resp)
        return resp.content


class Agent:
    """One configured agent in one workspace; :meth:`run` once per try.

    ``context_window`` is the server's per-slot context (None: asked from ``/props``, else
    learned from an overflow error). ``runner`` runs the ``shell`` tool; ``read_only`` (paths)
    and ``deny`` (globs), workspace-relative, are enforced by the tools. ``prompt_overlay`` names
    a key of the config's ``prompt_overlays``. ``on_event`` receives every log event as a dict;
    ``on_delta(kind, text)`` streamed text. ``chat_template`` is the server's template (the
    harness reads it once per run; None: asked from ``/props`` when the config does not name its
    tool-call syntax); with the model's name it decides the run's syntax (:func:`resolve_syntax`).
    ``slot``: the llama-server slot every request of this agent goes to (``id_slot``), so each
    turn finds the previous turns in that slot's prompt cache; None lets the server choose. The
    constructor raises :class:`ConfigError` for a config whose prompt, few-shot file or tool list
    is unusable.
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
        prompt_overlay: str | None = None,
        chat_template: str | None = None,
        slot: int | None = None,
    ) -> None:
        self.cfg, self.client, self.slot = cfg, client, slot
        self.workspace = Path(workspace).resolve()
        self.log_dir, self.session_file = log_dir, session_file
        self.limits = limits or AgentLimits()
        self.model = model_name or cfg.model or cfg.name
        self.on_event, self.on_delta = on_event, on_delta
        self.side = SideChannel(client, self.model, slot)
        self.toolbox = toolbox or toolbox_for(cfg, self.workspace, runner, read_only, deny, self.side)
        self.schemas = self.toolbox.schemas()
        self.display = self.toolbox.display_names()
        self.resolve = name_map(list(cfg.tools), self.display, resolve_tool_name)
        # names that make a JSON object in content a tool call: shown, listed and canonical names
        self.known = set(self.display) | set(cfg.tools) | {resolve_tool_name(t) or t for t in cfg.tools}
        self.write_tools = [n for n in (self.resolve(t) for t in WRITE_TOOLS) if n]
        self.system = system_prompt(cfg, self.schemas, self.resolve, prompt_overlay)
        self.examples = few_shot(cfg, self.schemas, self.resolve)
        self._system_message = {"role": "system", "content": self.system}  # one object: its encoding is cached
        self.grammar = self._grammar()
        ask_template = chat_template is None and declared_syntax(cfg) is None
        props = props_of(client) if ask_template or not context_window else {}  # one /props read at most
        if ask_template:
            chat_template = chat_template_of(props)
        self.syntax = resolve_syntax(cfg, chat_template, self.model)  # the family read first
        tools_chars = 0 if self.grammar else len(json.dumps(self.schemas))  # the template renders them
        fixed = size({"content": self.system}) + sum(size(m) for m in self.examples) + tools_chars
        self.planner = ContextPlanner(cfg.max_tokens, fixed, context_window or context_of(props))

    def _grammar(self) -> str | None:
        """The GBNF forcing one call per reply (``call_grammar``), built once per agent."""
        if not self.cfg.call_grammar:
            return None
        try:
            return call_grammar(self.schemas, self.cfg.call_grammar, self.cfg.grammar_max_string)
        except ValueError as exc:
            raise ConfigError(f"{self.cfg.name}: key 'call_grammar': {exc}") from exc

    # -- run -------------------------------------------------------------------------------------
    def run(self, prompt: str, *, continue_session: bool = False) -> RunResult:
        history = load_session(self.session_file) if continue_session else []
        st = RunState(self.cfg, self.limits, prompt, history)
        log = RunLog(self.log_dir, self.cfg.name, self.on_event)
        self.side.run = st
        self.planner.reset()
        log.event("session_start", agent=self.cfg.name, model=self.model, workspace=str(self.workspace),
                  continue_session=continue_session, resumed_messages=len(history), tools=self.display,
                  context_window=self.planner.n_ctx, max_turns=st.max_turns, tool_syntax=self.syntax)
        for warning in self.cfg.warnings:
            log.event("config_warning", message=warning)
        stop: Stop | None = None  # stays None only when an interrupt (KeyboardInterrupt) ends the run
        try:
            while True:
                self._turn(st, log)
        except Stop as end:
            stop = end
        except Exception as exc:  # noqa: BLE001 - a bug here must not take the harness down
            log.event("internal_error", error=repr(exc), traceback=traceback.format_exc())
            stop = Stop("error", f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        finally:
            metrics = self._end(st, log, stop)
        return RunResult(
            stop_reason=stop.reason,
            error=stop.error,
            final_text=stop.final_text,
            metrics=metrics,
            messages=st.transcript,
            refused_paths=st.refused,
            changed_files=st.changed,
            log_files=dict(log.paths),
            duration=time.monotonic() - st.started,
        )

    def _end(self, st: RunState, log: RunLog, stop: Stop | None) -> dict[str, Any]:
        """Save the session, write the closing events and the log files; the run's metrics."""
        self.side.run = None
        if self.session_file is not None:
            save_session(self.session_file, agent=self.cfg.name, model=self.model, workspace=self.workspace,
                         messages=st.transcript)
        metrics = st.metrics.as_dict()
        usage_keys = ("prompt_tokens", "completion_tokens", "cached_tokens", "prefill_tps", "decode_tps")
        log.event("usage", **{k: metrics[k] for k in usage_keys})
        log.event("stop", stop_reason=stop and stop.reason, error=stop and stop.error, turns=st.metrics.turns,
                  duration=round(time.monotonic() - st.started, 3), metrics=metrics)
        log.close(self.system, self.examples, st.transcript)
        return metrics

    def _turn(self, st: RunState, log: RunLog) -> None:
        """One request and what its response asks for."""
        self._check_limits(st)
        st.metrics.turns += 1
        resp = self._request(st, log)
        content, reasoning, calls = resp.content, resp.reasoning, list(resp.tool_calls)
        st.metrics.server_calls += len(calls)
        cut: str | None = None  # the call the end of the reply cut off (max_tokens), if any
        if not calls and content:
            parsed = parse_content(content, self.schemas, self.syntax, self.known)
            if parsed is not None:
                calls, content, cut = to_tool_calls(parsed), parsed.text, parsed.incomplete
                reasoning = reasoning or parsed.reasoning
                st.metrics.add_recovered(parsed.syntax, len(calls), cut is not None)
                log.event("recovered_calls", turn=st.metrics.turns, syntax=parsed.syntax,
                          names=[c.name for c in calls], incomplete=cut)
        analysis_only = False
        if not calls and content:
            found, content = split_text(content, self.syntax)
            reasoning = (reasoning + "\n" + found).strip() if found else reasoning
            analysis_only = bool(found) and not content
        if calls:
            self._tool_turn(st, log, calls, content, reasoning, resp.finish_reason == "length")
            if cut is not None:
                self._retry(st, log, "incomplete_call", stop=False)
        elif cut is not None:
            self._text_turn(st, log, content, reasoning, "incomplete_call")
        else:
            self._text_turn(st, log, content, reasoning, "analysis_only" if analysis_only else None)

    def _check_limits(self, st: RunState) -> None:
        deadline = st.wall_deadline()
        if deadline is not None and time.monotonic() >= deadline:
            raise Stop("deadline")
        total = st.metrics.prompt_tokens + st.metrics.completion_tokens
        if self.limits.max_total_tokens and total >= self.limits.max_total_tokens:
            raise Stop("token_limit")
        if st.metrics.turns - st.retry_turns >= st.max_turns or st.metrics.turns >= 3 * st.max_turns:
            raise Stop("max_turns")

    # -- requests --------------------------------------------------------------------------------
    def _request(self, st: RunState, log: RunLog) -> ChatResponse:
        """The model's response to the transcript, trimmed to fit (once more after an overflow)."""
        view = st.window.view(st.transcript, st.pinned)
        if len(view) < len(st.transcript):
            log.event("history_trim", kept=len(view), total=len(st.transcript))
        pinned_ids = {id(st.transcript[i]) for i in st.pinned}
        for attempt in (1, 2):
            plan = self.planner.plan(view, pinned_ids)
            if plan is None:
                raise Stop("error", f"context_overflow: the prompt does not fit the {self.planner.n_ctx}-token "
                                    "context window even after trimming")
            if plan.trimmed is not None:
                log.event("context_trim", elided=plan.trimmed.elided, dropped=plan.trimmed.dropped,
                          truncated=plan.trimmed.truncated, est_prompt_tokens=plan.prompt_tokens)
            body = self._body(plan, st.force_tool)
            log.last_request(body)
            log.event("request", turn=st.metrics.turns, est_prompt_tokens=plan.prompt_tokens, **summary(body))
            try:
                resp = self.client.complete(body, deadline=st.wall_deadline(), on_delta=self.on_delta)
            except ChatError as exc:
                log.event("http_error", kind=exc.kind, status=exc.status, error=str(exc), body=exc.body[:2000])
                if exc.kind == "context_overflow":
                    st.metrics.context_overflows += 1
                    if attempt == 1:
                        self.planner.overflowed(exc.body, plan.chars)
                        continue
                deadline = st.wall_deadline()
                if exc.kind == "timeout" and deadline is not None and time.monotonic() >= deadline - 0.5:
                    raise Stop("deadline", str(exc)) from None
                st.metrics.http_errors += 1
                raise Stop("error", str(exc)) from None
            st.force_tool = False
            wait = st.add_response(resp)
            self.planner.learn(plan.chars, (resp.usage or {}).get("prompt_tokens"))
            log.event("response", turn=st.metrics.turns, finish_reason=resp.finish_reason,
                      content=preview(resp.content),
                      reasoning_chars=len(resp.reasoning), tool_calls=[c.name for c in resp.tool_calls],
                      usage=resp.usage, timings=resp.timings, elapsed=round(resp.elapsed, 4),
                      wait=None if wait is None else round(wait, 4), request_id=resp.request_id)
            return resp
        raise AssertionError("unreachable: the second attempt returns or raises")

    def prefix(self) -> list[dict[str, Any]]:
        """What every request starts with: the system prompt and the few-shot examples."""
        return [self._system_message, *self.examples]

    def _body(self, plan: Plan, force_tool: bool) -> dict[str, Any]:
        messages = [*self.prefix(), *plan.messages]
        return build_request(self.cfg, messages, self.schemas, model=self.model, max_tokens=plan.max_tokens,
                             force_tool=force_tool, grammar=self.grammar, slot=self.slot)

    # -- what the response asks for ------------------------------------------------------------
    def _tool_turn(
        self, st: RunState, log: RunLog, calls: list[ToolCall], content: str, reasoning: str, truncated: bool
    ) -> None:
        for i, call in enumerate(calls):  # servers repeat or omit ids (MLX: "call_0" every turn)
            if not call.id or call.id in st.seen_ids:
                call.id = f"call_{st.metrics.turns}_{i}"
            st.seen_ids.add(call.id)
        batch = execute.run_batch(calls, content=content, reasoning=reasoning, toolbox=self.toolbox,
                                  max_batch=self.cfg.max_batch_tool_calls, keep_reasoning=self.cfg.native_thinking,
                                  truncated=truncated)
        st.record(batch, log)
        if batch.finish is not None:
            if self.cfg.require_code_change and not st.code_changed:
                return self._retry(st, log, "finish_without_change")
            summary_text = (batch.finish.arguments or {}).get("summary")
            final = summary_text if isinstance(summary_text, str) and summary_text else content or batch.finish.text
            raise Stop("finish", final_text=final)
        signature = execute.signature(batch)
        st.repeat_streak = st.repeat_streak + 1 if signature == st.last_signature else 0
        st.last_signature = signature
        st.noop_streak = st.noop_streak + 1 if execute.all_noops(batch) else 0
        if max(st.repeat_streak, st.noop_streak) >= self.cfg.noop_guard_turns:
            log.event("noop_guard", repeat_streak=st.repeat_streak, noop_streak=st.noop_streak)
            raise Stop("noop_guard", f"the model repeated the same tool calls or changed nothing for "
                                     f"{self.cfg.noop_guard_turns} turns")

    def _text_turn(self, st: RunState, log: RunLog, content: str, reasoning: str, problem: str | None) -> None:
        """A reply without a call to run: the answer, unless ``problem`` (a format-retry reason)
        or the config's demands make it a format error."""
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if self.cfg.native_thinking and reasoning:
            message["reasoning_content"] = reasoning
        st.transcript.append(message)
        if problem is not None:
            reason = problem
        elif not content.strip():
            reason = "empty"
        elif st.tool_calls_made < self.cfg.min_tool_calls:
            reason = "no_tool_call"
        elif self.cfg.require_code_change and not st.code_changed:
            reason = "code_change"
        else:
            raise Stop("answer", final_text=content)
        self._retry(st, log, reason)

    def _retry(self, st: RunState, log: RunLog, reason: str, *, stop: bool = True) -> None:
        """Tell the model what was wrong and force a tool call next; stop when retries are spent
        (``stop=False``: carry on without a word, the turn did run calls)."""
        attempt = st.retries.take(reason)
        if attempt is None and not stop:
            return
        if attempt is None:
            if (reason in ("no_tool_call", "empty", "analysis_only") and self.cfg.auto_tool_call_on_failure
                    and not st.auto_call_used):
                return self._auto_call(st, log, reason)
            if reason == "empty" and not (self.cfg.min_tool_calls or self.cfg.require_code_change):
                raise Stop("answer")
            raise Stop("format_retries_exhausted", f"{reason}: format retries exhausted ({st.retries.limit})")
        text = st.retries.message(reason, attempt, self.display, self.write_tools)
        st.transcript.append({"role": "user", "content": text})
        st.metrics.format_retries += 1
        st.retry_turns += 1
        st.force_tool = True
        log.event("format_retry", reason=reason, attempt=attempt, limit=st.retries.limit)
        log.event("feedback", reason=reason, message=text)

    def _auto_call(self, st: RunState, log: RunLog, reason: str) -> None:
        """Retries spent: make the first step for the model (once per run) and carry on."""
        st.auto_call_used = True
        picked = forced_call(st.prompt, self.workspace, self.resolve)
        if picked is None:
            raise Stop("format_retries_exhausted",
                       f"{reason}: format retries exhausted and no tool to call for the model")
        name, args = picked
        call = ToolCall(id=f"call_auto_{st.metrics.turns}", name=name, arguments=json.dumps(args))
        last = st.transcript.pop()  # the text answer becomes the assistant message carrying the call
        batch = execute.run_batch([call], content=last.get("content", ""), reasoning=last.get("reasoning_content", ""),
                                  toolbox=self.toolbox, max_batch=None, keep_reasoning=self.cfg.native_thinking)
        st.retry_turns += 1
        log.event("forced_tool_call", name=name, arguments=args)
        st.record(batch, log, from_model=False)


_PATHISH = re.compile(r"[\w][\w./-]*\.[A-Za-z0-9]{1,5}\b")


def forced_call(
    prompt: str, workspace: Path, resolve: Callable[[str], str | None]
) -> tuple[str, dict[str, Any]] | None:
    """A harmless first step when the model never calls a tool: read a file the task names,
    else list the workspace, else nothing (the caller then stops)."""
    read = resolve("read")
    if read:
        for token in _PATHISH.findall(prompt):
            candidate = (workspace / token).resolve()
            if candidate.is_file() and workspace.resolve() in candidate.parents:
                return read, {"path": token}
        files = sorted(p for p in workspace.iterdir() if p.is_file() and not p.name.startswith("."))
        if files:
            return read, {"path": files[0].name}
    for name, args in (("ls", {"path": "."}), ("glob", {"pattern": "*"})):
        shown = resolve(name)
        if shown:
            return shown, args
    return None
