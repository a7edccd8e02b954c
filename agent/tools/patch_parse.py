"""Parsing patches: the Codex ``*** Begin Patch`` envelope, and plain unified diffs as a fallback.

Parsing is lenient where intent is unambiguous (a missing ``*** End Patch``, code fences, a
heredoc wrapper, context lines that lost their leading space) and records each leniency as a
repair; it is strict where guessing could change the wrong text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.tools.errors import ToolError

BEGIN, END = "*** Begin Patch", "*** End Patch"
_UNIFIED_HUNK = re.compile(r"^-\d+(?:,\d+)?\s+\+\d+(?:,\d+)?\s*@@\s?(.*)$")
_GIT_NOISE = (
    "diff --git", "index ", "new file mode", "deleted file mode", "similarity", "rename ", "old mode", "new mode",
)
_HEADERS = ("*** Update File:", "*** Add File:", "*** Delete File:")
FORMAT_HELP = (
    "Expected format:\n*** Begin Patch\n*** Update File: path\n@@ optional existing line near the change\n"
    " context\n-removed\n+added\n*** End Patch"
)


@dataclass
class Hunk:
    anchor: str | None = None
    ops: list[tuple[str, str]] = field(default_factory=list)  # (" " | "-" | "+", line)
    eof: bool = False

    @property
    def old(self) -> list[str]:
        return [t for op, t in self.ops if op != "+"]

    @property
    def changes(self) -> bool:
        return any(op != " " for op, _ in self.ops)


@dataclass
class FileChange:
    kind: str  # "add" | "delete" | "update"
    path: str
    move_to: str | None = None
    hunks: list[Hunk] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # content of an added file


def _strip_wrapping(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if lines and lines[0].lstrip().startswith("```"):
        lines = lines[1:]
        if lines and lines[-1].strip() == "```":
            lines = lines[:-1]
    return lines


def _anchor(header: str) -> str | None:
    text = header[2:].strip()
    unified = _UNIFIED_HUNK.match(text)
    if unified:
        text = unified.group(1).strip()
    elif text.endswith("@@"):
        text = text[:-2].strip()
    return text or None


def parse_patch(text: str, repairs: list[str]) -> list[FileChange]:
    lines = _strip_wrapping(text.replace("\r\n", "\n").split("\n"))
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    if starts:
        body_start = starts[0] + 1
    else:
        headers = [i for i, line in enumerate(lines) if line.lstrip().startswith(_HEADERS)]
        if headers:
            repairs.append("patch: missing '*** Begin Patch'")
            body_start = headers[0]
        elif any(line.startswith("--- ") for line in lines) and any(line.startswith("+++ ") for line in lines):
            repairs.append("patch: unified diff read as a patch")
            return _parse_unified(lines)
        else:
            raise ToolError("patch_invalid", f"the patch must start with '{BEGIN}'. {FORMAT_HELP}")
    ends = [i for i in range(body_start, len(lines)) if lines[i].strip() == END]
    if not ends:
        repairs.append("patch: missing '*** End Patch'")
    return _parse_envelope(lines[body_start : ends[0] if ends else len(lines)], body_start, repairs)


def _parse_envelope(lines: list[str], first: int, repairs: list[str]) -> list[FileChange]:
    changes: list[FileChange] = []
    current: FileChange | None = None
    hunk: Hunk | None = None
    loose = 0
    for n, line in enumerate(lines, first + 1):
        head = line.lstrip()
        if head.startswith(_HEADERS):
            kind = {"U": "update", "A": "add", "D": "delete"}[head[4]]
            current = FileChange(kind, head.split(":", 1)[1].strip())
            changes.append(current)
            hunk = None
            continue
        if head.startswith("*** Move to:"):
            if current is None or current.kind != "update":
                raise ToolError("patch_invalid", f"line {n}: '*** Move to:' must follow an '*** Update File:' line")
            current.move_to = head.split(":", 1)[1].strip()
            continue
        if head.startswith("*** End of File"):
            if hunk is not None:
                hunk.eof = True
            continue
        if current is None:
            if line.strip():
                raise ToolError("patch_invalid", f"line {n}: expected a file header, got {line[:80]!r}. {FORMAT_HELP}")
            continue
        if current.kind == "delete":
            if line.strip():
                raise ToolError("patch_invalid", f"line {n}: '*** Delete File:' takes no content lines")
            continue
        if current.kind == "add":
            if line.startswith("+"):
                current.lines.append(line[1:])
            else:
                current.lines.append(line)
                loose += bool(line.strip())
            continue
        if line.startswith("@@"):
            hunk = Hunk(anchor=_anchor(line))
            current.hunks.append(hunk)
        elif hunk is None and line.startswith(("--- ", "+++ ")):
            repairs.append("patch: unified-diff file header ignored")
        elif line[:1] in (" ", "+", "-") or line == "":
            if hunk is None:
                if line == "":
                    continue
                hunk = Hunk()
                current.hunks.append(hunk)
            hunk.ops.append((line[:1] or " ", line[1:]))
        elif line.startswith("\\"):
            continue  # "\ No newline at end of file"
        else:
            if hunk is None:
                hunk = Hunk()
                current.hunks.append(hunk)
            hunk.ops.append((" ", line))
            loose += 1
    if loose:
        repairs.append(f"patch: {loose} line(s) without a ' '/'+'/'-' prefix read as context/content")
    return _finish(changes)


def _finish(changes: list[FileChange]) -> list[FileChange]:
    if not changes:
        raise ToolError("patch_invalid", f"the patch contains no file changes. {FORMAT_HELP}")
    for change in changes:
        if not change.path:
            raise ToolError("patch_invalid", f"a '*** {change.kind.title()} File:' header has no path")
        if change.kind == "add":
            while change.lines and change.lines[-1] == "":
                change.lines.pop()
        if change.kind == "update":
            change.hunks = [h for h in change.hunks if h.changes]
            if not change.hunks and not change.move_to:
                raise ToolError("patch_invalid", f"the section for {change.path} has no '+' or '-' lines")
    return changes


def _unified_path(raw: str) -> str:
    return raw[4:].split("\t", 1)[0].strip()


def _parse_unified(lines: list[str]) -> list[FileChange]:
    changes: list[FileChange] = []
    current: FileChange | None = None
    hunk: Hunk | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            src, dst = _unified_path(line), _unified_path(lines[i + 1])
            if src.startswith("a/") and dst.startswith("b/"):
                src, dst = src[2:], dst[2:]
            if src == "/dev/null":
                current = FileChange("add", dst)
            elif dst == "/dev/null":
                current = FileChange("delete", src)
            else:
                current = FileChange("update", src, move_to=dst if dst != src else None)
            changes.append(current)
            hunk = None
            i += 2
            continue
        i += 1
        if line.startswith(_GIT_NOISE) or current is None or line.startswith("\\"):
            continue
        if line.startswith("@@"):
            hunk = Hunk(anchor=_anchor(line))
            current.hunks.append(hunk)
        elif hunk is not None and (line[:1] in (" ", "+", "-") or line == ""):
            hunk.ops.append((line[:1] or " ", line[1:]))
    for change in changes:
        if change.kind == "add":
            change.lines = [t for h in change.hunks for op, t in h.ops if op == "+"]
            change.hunks = []
    return _finish(changes)
