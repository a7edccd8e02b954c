"""Format retries: what to tell a model that answered when it should have acted.

Each reason has its own attempt counter, capped by ``max_format_retries``; the attempt shown to
the model starts at 1 and is counted once (the original counted twice and said "attempt 2"
first). A retry also forces ``tool_choice: "required"`` on the next request, as a string.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REASONS = {
    "no_tool_call": "you answered without calling a tool. Respond with a tool call now.",
    "code_change": "no file has been changed yet. Make the code change now with a tool call.",
    "finish_without_change": "finish was called before any file was changed. Change the code first, then call finish.",
    "analysis_only": "your response held only analysis, no tool call and no answer. Respond with a tool call now.",
    "empty": "your response was empty (or cut off by the token limit). Respond with a short tool call now.",
}
WRITE_TOOLS = ("apply_patch", "edit", "write")


class FormatRetries:
    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.used: Counter[str] = Counter()

    def take(self, reason: str) -> int | None:
        """The attempt number (1-based) for ``reason``, or None when its retries are spent."""
        group = "code_change" if reason == "finish_without_change" else reason
        if self.used[group] >= self.limit:
            return None
        self.used[group] += 1
        return self.used[group]

    def message(self, reason: str, attempt: int, tools: list[str], write_tools: list[str]) -> str:
        text = f"FORMAT ERROR (attempt {attempt}/{self.limit}): {REASONS[reason]}"
        if reason in ("code_change", "finish_without_change") and write_tools:
            return text + f" Use one of: {', '.join(write_tools)}."
        return text + (f" Available tools: {', '.join(tools)}." if tools else "")


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
