"""The tools the model calls, confined to one workspace directory.

Public API: :func:`toolbox_for` (the run's ToolBox from an agent config), :func:`build_toolbox`
(the ToolBox of ``agent.protocols`` from explicit options), :class:`ToolOptions`,
:data:`TOOL_NAMES`, :func:`resolve_tool_name`, :class:`UnknownToolError`.

Error kinds (``ToolOutcome.error_kind``) are those listed in ``agent.protocols`` plus:

* ``binary_file`` - read/edit of a file that is not text;
* ``shell_refused`` - a shell command matching the short deny-list of destructive patterns;
* ``unavailable`` - shell without a CommandRunner, model-call tools without a ModelCaller;
* ``model_call_failed`` - the ModelCaller raised or answered nothing.

Module map: ``specs`` (the JSON specs), ``args`` (the argument pipeline: JSON repair, aliases,
validation), ``registry`` (the ToolBox and dispatch), ``errors``, ``base`` (options, context,
per-call record), ``paths``/``globs`` (confinement, deny rules, walking), ``fs`` (read,
batch_read, write, ls), ``search`` (glob, grep, search), ``edit``, ``patch_parse``/``patch``
(apply_patch), ``shell``, ``control`` (finish), ``model_calls``, ``text`` (helpers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from pathlib import Path

from agent.config import AgentConfig, ConfigError
from agent.protocols import CommandRunner, ModelCaller, ToolBox
from agent.tools import control, edit, fs, model_calls, patch, search, shell
from agent.tools.base import Context, Handler, ToolOptions
from agent.tools.paths import Workspace
from agent.tools.registry import LocalToolBox, clean_tool_name
from agent.tools.specs import default_specs, normalise_name

__all__ = ["TOOL_NAMES", "ToolOptions", "UnknownToolError", "build_toolbox", "resolve_tool_name", "toolbox_for"]

HANDLERS: dict[str, Handler] = {
    "ls": fs.ls,
    "read": fs.read,
    "batch_read": fs.batch_read,
    "write": fs.write,
    "edit": edit.edit,
    "apply_patch": patch.apply_patch,
    "glob": search.glob,
    "grep": search.grep,
    "search": search.search,
    "shell": shell.shell,
    "finish": control.finish,
    "plan_solution": model_calls.plan_solution,
    "ask_questions": model_calls.ask_questions,
    "ask_agent": model_calls.ask_agent,
}
TOOL_NAMES: tuple[str, ...] = tuple(HANDLERS)


class UnknownToolError(ValueError):
    """A tool name in the agent config that is neither a tool nor an alias of one."""


def resolve_tool_name(name: str) -> str | None:
    """The canonical tool for a name or alias (any case, ``-`` or ``_``), or None."""
    return default_specs()[1].get(normalise_name(clean_tool_name(name)))


def _display_names(names: list[str], options: ToolOptions) -> tuple[list[str], dict[str, str]]:
    specs, index = default_specs()
    order: list[str] = []
    display: dict[str, str] = {}
    unknown: list[str] = []
    for name in names:
        canonical = index.get(normalise_name(name)) if isinstance(name, str) else None
        if canonical is None:
            unknown.append(str(name))
        elif canonical in display:
            raise ValueError(f"tool {name!r} is listed twice (as {display[canonical]!r})")
        else:
            order.append(canonical)
            display[canonical] = name.strip()
    if unknown:
        raise UnknownToolError(f"unknown tool(s) {', '.join(map(repr, unknown))}; valid: {', '.join(TOOL_NAMES)}")
    if options.tool_name_style == "alias":
        for canonical in order:
            if display[canonical] == canonical and specs[canonical].aliases:
                display[canonical] = specs[canonical].aliases[0]
    for key, shown in options.tool_aliases.items():
        canonical = index.get(normalise_name(key))
        if canonical is None:
            raise UnknownToolError(f"tool_aliases: unknown tool {key!r}; valid: {', '.join(TOOL_NAMES)}")
        if index.get(normalise_name(shown)) != canonical:
            raise ValueError(f"tool_aliases: {shown!r} is not an alias of {canonical!r}")
        if canonical in display:
            display[canonical] = shown
    return order, display


def build_toolbox(
    names: list[str],
    *,
    workspace: Path,
    runner: CommandRunner | None = None,
    read_only: Collection[str] = (),
    deny: Collection[str] = (),
    model_caller: ModelCaller | None = None,
    options: ToolOptions | None = None,
) -> ToolBox:
    """The ToolBox for ``names`` (config order; a listed alias becomes that tool's display name).

    Raises :class:`UnknownToolError` (a ValueError) for a name that is no tool or alias.
    """
    options = options or ToolOptions()
    specs, index = default_specs()
    missing = set(specs) ^ set(HANDLERS)
    if missing:
        raise RuntimeError(f"tool specs and handlers disagree: {sorted(missing)}")
    order, display = _display_names(list(names), options)
    ctx = Context(
        workspace=Workspace(workspace, read_only=read_only, deny=deny, aliases=options.workspace_aliases),
        options=options,
        runner=runner,
        model_caller=model_caller,
        display=display,
    )
    return LocalToolBox(ctx, specs, index, {c: HANDLERS[c] for c in order}, order)


def toolbox_for(
    cfg: AgentConfig,
    workspace: Path,
    runner: CommandRunner | None = None,
    read_only: Collection[str] = (),
    deny: Collection[str] = (),
    model_caller: ModelCaller | None = None,
) -> ToolBox:
    """The run's ToolBox: the config's tools, with the config keys that are ToolOptions fields of
    the same name. A bad value is a :class:`ConfigError` naming the key."""
    values = {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(ToolOptions)
        if getattr(cfg, f.name, None) not in (None, {}, [])
    }
    try:
        return build_toolbox(
            list(cfg.tools),
            workspace=workspace,
            runner=runner,
            read_only=tuple(read_only),
            deny=tuple(deny),
            model_caller=model_caller,
            options=ToolOptions(**values),
        )
    except ValueError as exc:  # UnknownToolError included
        key = next((k for k in values if k in str(exc)), "tools")
        raise ConfigError(f"{cfg.name}: key '{key}': {' '.join(str(exc).split())}") from exc
