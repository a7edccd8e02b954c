"""The ToolBox: enabled tools, their display names and schemas, and the dispatch of one call.

``execute`` is the only entry point at run time. It resolves the name (tolerating the chat-
template leakage small models produce), prepares the arguments, runs the handler and turns
whatever happens, including an unexpected exception, into a filled ``ToolOutcome``.
"""

from __future__ import annotations

import time
from typing import Any

from agent.protocols import ToolOutcome
from agent.tools.args import apply_aliases, parse_arguments, validate
from agent.tools.base import Call, Context, Handler
from agent.tools.errors import PathRefused, ToolError
from agent.tools.specs import ToolSpec, normalise_name
from agent.tools.text import cap


def clean_tool_name(name: str) -> str:
    """First line, cut at ``<|`` (Harmony leakage), no ``functions.`` prefix, no call parens."""
    text = (name or "").strip().split("\n", 1)[0]
    text = text.split("<|", 1)[0].strip().strip("`\"'")
    if text.startswith("functions."):
        text = text[len("functions.") :]
    if text.endswith("()"):
        text = text[:-2]
    return text.strip()


class LocalToolBox:
    """ToolBox over one workspace; see ``agent.tools.build_toolbox``."""

    def __init__(
        self,
        ctx: Context,
        specs: dict[str, ToolSpec],
        index: dict[str, str],
        handlers: dict[str, Handler],
        order: list[str],
    ):
        self.ctx = ctx
        self._specs = specs
        self._index = index
        self._handlers = handlers
        self._order = order  # canonical names, config order
        self._by_display = {ctx.display[c]: c for c in order}
        self._schemas = [
            specs[c].schema(ctx.display[c], compact=ctx.options.compact_schemas, minimal=ctx.options.minimal_schemas)
            for c in order
        ]

    # -- ToolBox protocol -----------------------------------------------------------------------

    def schemas(self) -> list[dict[str, Any]]:
        """Built once per toolbox; the entries are shared, so copy one before changing it."""
        return list(self._schemas)

    def display_names(self) -> list[str]:
        return [self.ctx.display[c] for c in self._order]

    def execute(self, name: str, arguments: str | dict[str, Any]) -> ToolOutcome:
        started = time.perf_counter()
        call = Call(ctx=self.ctx, tool="")
        try:
            text = self._run(call, name, arguments)
            outcome = ToolOutcome(text=text, tool=call.tool)
        except ToolError as exc:
            if isinstance(exc, PathRefused):
                call.refused_path(exc)
            outcome = ToolOutcome(text=f"error: {exc.message}", tool=call.tool, is_error=True, error_kind=exc.kind)
        except Exception as exc:  # noqa: BLE001 - the model must get an answer, whatever broke
            message = str(exc).replace(self.ctx.workspace.root + "/", "").replace(self.ctx.workspace.root, ".")
            outcome = ToolOutcome(
                text=f"error: {type(exc).__name__}: {message}", tool=call.tool, is_error=True, error_kind="other"
            )
        outcome.text = cap(outcome.text, self.ctx.options.max_output_chars)
        outcome.changed_files = list(call.changed)
        outcome.refused_paths = list(call.refused)
        outcome.repairs = list(call.repairs)
        outcome.finish = call.finish
        outcome.finish_status = call.finish_status
        outcome.arguments = call.arguments
        outcome.duration = time.perf_counter() - started
        return outcome

    # -- internals ------------------------------------------------------------------------------

    def resolve(self, name: str, repairs: list[str] | None = None) -> str | None:
        """The canonical name of an enabled tool called ``name``, or None."""
        if name in self._by_display:
            return self._by_display[name]
        cleaned = clean_tool_name(name)
        canonical = self._by_display.get(cleaned) or self._index.get(normalise_name(cleaned))
        if canonical is not None and canonical in self._handlers and repairs is not None:
            repairs.append(f"tool name '{name.strip()[:60]}' -> '{self.ctx.display[canonical]}'")
        return canonical

    def _run(self, call: Call, name: str, arguments: str | dict[str, Any]) -> str:
        if not isinstance(name, str) or not clean_tool_name(name):
            raise ToolError("unknown_tool", f"missing tool name. Available tools: {', '.join(self.display_names())}")
        canonical = self.resolve(name, call.repairs)
        available = ", ".join(self.display_names())
        if canonical is None:
            shown = clean_tool_name(name)[:60]
            raise ToolError("unknown_tool", f"unknown tool '{shown}'. Available tools: {available}. Use one of these.")
        if canonical not in self._handlers:
            call.repairs.clear()
            raise ToolError(
                "unknown_tool", f"tool '{canonical}' is not enabled in this run. Available tools: {available}."
            )
        call.tool = canonical
        spec = self._specs[canonical]
        display = self.ctx.display[canonical]
        call.arguments = parse_arguments(spec, arguments, call.repairs, display)  # kept for the history
        args = validate(spec, apply_aliases(spec, call.arguments, call.repairs), call.repairs, display)
        return self._handlers[canonical](call, args)
