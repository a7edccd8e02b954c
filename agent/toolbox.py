"""Build the run's :class:`ToolBox` from the config, through ``agent.tools.build_toolbox``.

Kept apart from the loop so the loop depends only on the ToolBox protocol (tests pass fakes)
and the mapping of config keys to ``ToolOptions`` lives in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from pathlib import Path

from agent.config import AgentConfig, ConfigError
from agent.protocols import CommandRunner, ModelCaller, ToolBox

# AgentConfig keys that are ToolOptions fields of the same name.
OPTION_KEYS = (
    "max_output_chars",
    "shell_timeout",
    "read_style",
    "tool_name_style",
    "tool_aliases",
    "compact_schemas",
    "minimal_schemas",
    "workspace_aliases",
)


def make_toolbox(
    cfg: AgentConfig,
    workspace: Path,
    runner: CommandRunner | None,
    read_only: Collection[str],
    deny: Collection[str],
    model_caller: ModelCaller | None,
) -> ToolBox:
    from agent.tools import ToolOptions, build_toolbox

    accepted = {f.name for f in dataclasses.fields(ToolOptions)}
    values = {k: getattr(cfg, k) for k in OPTION_KEYS if k in accepted and getattr(cfg, k) not in (None, {}, [])}
    if values.get("tool_name_style") == "canonical":  # the default; the tools only name "alias"
        del values["tool_name_style"]
    try:
        options = ToolOptions(**values)
        return build_toolbox(
            list(cfg.tools),
            workspace=workspace,
            runner=runner,
            read_only=tuple(read_only),
            deny=tuple(deny),
            model_caller=model_caller,
            options=options,
        )
    except ValueError as exc:  # UnknownToolError included
        key = next((k for k in values if k in str(exc)), "tools")
        raise ConfigError(f"{cfg.name}: key '{key}': {' '.join(str(exc).split())}") from exc


def canonical_resolver() -> Callable[[str], str | None] | None:
    """The tools package's alias → canonical resolver (None if it is not importable)."""
    try:
        from agent.tools import resolve_tool_name
    except ImportError:
        return None
    return resolve_tool_name
