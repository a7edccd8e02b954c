"""Shared pieces of the tool handlers: options, the toolbox's context, and the per-call record.

A handler is a plain function ``handler(call, args) -> str``. It returns the success text, or
raises :class:`agent.tools.errors.ToolError` with a stable ``kind`` (see ``agent.tools`` for the
list). Everything a call touches besides its text (refused paths, changed files, repairs, finish)
goes on the :class:`Call`, so the ToolBox can fill a ``ToolOutcome`` honestly whatever path the
handler took.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.protocols import CommandRunner, ModelCaller
from agent.tools.errors import PathRefused
from agent.tools.paths import Workspace

MAX_SHELL_TIMEOUT = 600.0
READ_STYLES = ("numbered", "raw")


@dataclass
class ToolOptions:
    """Per-run knobs of the toolbox (they come from the agent config)."""

    max_output_chars: int = 20000  # cap for every tool's text, head and tail kept
    shell_timeout: float = 60.0  # default and ceiling for one shell command, at most 600 s
    read_style: str = "numbered"  # "numbered" | "raw"
    tool_name_style: str | None = None  # None | "alias": show each tool by its first alias
    tool_aliases: dict[str, str] = field(default_factory=dict)  # canonical -> display name
    compact_schemas: bool = False  # one-line descriptions, no parameter descriptions
    minimal_schemas: bool = False  # only each tool's essential parameters, type only (tiny models)
    workspace_aliases: tuple[str, ...] = ()  # absolute prefixes that mean the workspace root

    def __post_init__(self) -> None:
        if self.read_style not in READ_STYLES:
            raise ValueError(f"read_style must be one of {', '.join(READ_STYLES)}, not {self.read_style!r}")
        if self.tool_name_style == "canonical":  # the spelled-out default
            self.tool_name_style = None
        if self.tool_name_style not in (None, "alias"):
            raise ValueError(f"tool_name_style must be None or 'alias', not {self.tool_name_style!r}")
        if self.max_output_chars < 200:
            raise ValueError("max_output_chars must be at least 200")
        if not 0 < self.shell_timeout <= MAX_SHELL_TIMEOUT:
            raise ValueError(f"shell_timeout must be in (0, {MAX_SHELL_TIMEOUT:g}] seconds")
        self.workspace_aliases = tuple(self.workspace_aliases)


@dataclass
class Context:
    """State shared by every call of one toolbox (one agent run in one workspace)."""

    workspace: Workspace
    options: ToolOptions
    runner: CommandRunner | None = None
    model_caller: ModelCaller | None = None
    display: dict[str, str] = field(default_factory=dict)  # enabled canonical -> display name
    noop_writes: dict[str, int] = field(default_factory=dict)  # rel path -> identical writes in a row

    def tool_ref(self, canonical: str) -> str | None:
        """The display name of an enabled tool, for hints; None when it is not enabled."""
        return self.display.get(canonical)

    def mark_changed(self, rel: str) -> None:
        """A real change resets the no-op streak of that file."""
        self.noop_writes.pop(rel, None)


@dataclass
class Call:
    """What one tool call did besides its text; filled by the handler as it goes."""

    ctx: Context
    tool: str
    refused: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    finish: bool = False
    finish_status: str | None = None
    arguments: dict[str, Any] | None = None  # as parsed from the model's text, before aliases

    def refused_path(self, exc: PathRefused) -> None:
        """Count a refusal the handler answers itself (one file of several); a PathRefused that
        leaves the handler is counted by the ToolBox."""
        self.refused.append(exc.path)

    def changed_file(self, rel: str) -> None:
        if rel not in self.changed:
            self.changed.append(rel)
        self.ctx.mark_changed(rel)


Handler = Callable[[Call, dict[str, Any]], str]
