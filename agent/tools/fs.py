"""File tools: read, batch_read, write, ls.

Reads are cut at line boundaries with a footer that says how to continue, so a model never
gets half a line or a silent truncation. Writes report a real diff and catch the loop small
models fall into: writing the same content again and again.
"""

from __future__ import annotations

import os
from typing import Any

from agent.tools.base import Call
from agent.tools.errors import PathRefused, ToolError
from agent.tools.globs import JUNK_DIRS
from agent.tools.paths import Target
from agent.tools.text import count_lines, cut_line, diff_counts, split_text

MAX_READ_BYTES = 512 * 1024
DEFAULT_LIMIT = 2000
MAX_LS_ENTRIES = 500


def load_text(call: Call, target: Target) -> str:
    """The text of an existing regular file, or a ToolError saying why not."""
    if not os.path.exists(target.real):
        raise ToolError("not_found", call.ctx.workspace.not_found_message(target.rel))
    if os.path.isdir(target.real):
        hint = call.ctx.tool_ref("ls")
        raise ToolError("is_directory", f"{target.rel} is a directory" + (f"; use {hint} to list it" if hint else ""))
    size = os.path.getsize(target.real)
    if size > MAX_READ_BYTES:
        raise ToolError("too_large", f"{target.rel} is too large to read ({size} bytes, limit {MAX_READ_BYTES})")
    with open(target.real, "rb") as fh:
        data = fh.read()
    if b"\x00" in data[:8192]:
        raise ToolError("binary_file", f"{target.rel} is a binary file")
    return data.decode("utf-8", errors="replace")


def write_text(target: Target, text: str) -> None:
    os.makedirs(os.path.dirname(target.real) or ".", exist_ok=True)
    with open(target.real, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


# -- read --------------------------------------------------------------------------------------


def render(call: Call, target: Target, text: str, args: dict[str, Any]) -> str:
    """The lines of ``text`` that ``args`` ask for, numbered or raw, within the output budget."""
    lines = split_text(text)[0]
    total = len(lines)
    if total == 0:
        return f"({target.rel} is empty)"
    style = args.get("format") or call.ctx.options.read_style
    if "line_start" in args or ("line_end" in args and "offset" not in args):
        start = args.get("line_start", 1) - 1
    else:
        start = args.get("offset", 0)
    if "line_end" in args:
        end = args["line_end"]
        if end < start + 1:
            raise ToolError("invalid_args", f"line_end ({end}) is before line_start ({start + 1})")
    else:
        end = start + args.get("limit", DEFAULT_LIMIT)
    if start >= total:
        unit = "line" if total == 1 else "lines"
        return f"(past the end: {target.rel} has only {total} {unit}; there is no more content)"
    end = min(end, total)
    budget = call.ctx.options.max_output_chars - 200
    out: list[str] = []
    used = 0
    n = start
    while n < end:
        line = cut_line(lines[n])
        shown = f"{n + 1:4d}| {line}" if style == "numbered" else line
        if used + len(shown) + 1 > budget and out:
            break
        out.append(shown)
        used += len(shown) + 1
        n += 1
    if n < total:
        out.append(f"(... {total - n} more lines; continue with line_start={n + 1})")
    return "\n".join(out)


def read(call: Call, args: dict[str, Any]) -> str:
    target = call.ctx.workspace.resolve(args["path"])
    return render(call, target, load_text(call, target), args)


def batch_read(call: Call, args: dict[str, Any]) -> str:
    """Every file in turn; one file's error is shown in place and does not fail the others."""
    parts: list[str] = []
    failures: list[ToolError] = []
    for raw in args["paths"]:
        try:
            target = call.ctx.workspace.resolve(raw)
            body = render(call, target, load_text(call, target), {})
            parts.append(f"=== {target.rel} ===\n{body}")
        except ToolError as exc:
            if isinstance(exc, PathRefused):
                call.refused_path(exc)
            failures.append(exc)
            parts.append(f"=== {str(raw)[:200]} ===\nerror: {exc.message}")
    if len(failures) == len(parts):  # (refusals are counted above, so plain ToolErrors from here)
        if len(failures) == 1:
            raise ToolError(failures[0].kind, failures[0].message)
        raise ToolError(failures[0].kind, "no file could be read:\n" + "\n\n".join(parts))
    return "\n\n".join(parts)


# -- write -------------------------------------------------------------------------------------


def write(call: Call, args: dict[str, Any]) -> str:
    target = call.ctx.workspace.resolve(args["path"])
    call.ctx.workspace.require_writable(target)
    content: str = args["content"]
    if target.is_dir:
        raise ToolError("is_directory", f"{target.rel} is a directory; give a file path")
    existed = os.path.exists(target.real)
    old: str | None = None
    if existed and os.path.getsize(target.real) <= MAX_READ_BYTES:
        with open(target.real, "rb") as fh:
            old = fh.read().decode("utf-8", errors="replace")
    if old is not None and old == content:
        streak = call.ctx.noop_writes.get(target.rel, 0) + 1
        call.ctx.noop_writes[target.rel] = streak
        if streak > 1:
            hint = call.ctx.tool_ref("finish")
            raise ToolError(
                "repeated_noop",
                f"{target.rel} already has exactly this content (identical write #{streak}); "
                "writing it again changes nothing. Make a different change"
                + (f", or call {hint} if the work is done." if hint else "."),
            )
        return f"ok: no changes - {target.rel} already has this content"
    try:
        write_text(target, content)
    except (NotADirectoryError, FileExistsError):
        raise ToolError("invalid_args", f"cannot create {target.rel}: a parent of it is a file") from None
    except OSError as exc:
        raise ToolError("other", f"cannot write {target.rel}: {exc.strerror or type(exc).__name__}") from None
    call.changed_file(target.rel)
    new_lines = split_text(content)[0]
    if not existed:
        return f"ok: created {target.rel} (+{len(new_lines)} lines)"
    if old is None:
        return f"ok: replaced {target.rel} (now {len(new_lines)} lines)"
    added, removed = diff_counts(split_text(old)[0], new_lines)
    return f"ok: updated {target.rel} (+{added} -{removed} lines, now {count_lines(content)} lines)"


# -- ls ----------------------------------------------------------------------------------------


def _entries(call: Call, real: str, rel: str) -> list[tuple[str, bool]]:
    ws = call.ctx.workspace
    out: list[tuple[str, bool]] = []
    with os.scandir(real) as it:
        for entry in it:
            child = entry.name if rel == "." else f"{rel}/{entry.name}"
            if entry.name in JUNK_DIRS or ws.denied(child):
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if target != ws.root and not target.startswith(ws.root + "/"):
                    continue  # never show a way out of the workspace
                is_dir = os.path.isdir(target)
            out.append((entry.name, is_dir))
    out.sort(key=lambda e: (not e[1], e[0]))
    return out


def ls(call: Call, args: dict[str, Any]) -> str:
    target = call.ctx.workspace.resolve(args.get("path", "."), must_exist=True)
    if not target.is_dir:
        return target.rel
    depth = args.get("depth", 1)
    lines: list[str] = []

    def walk(real: str, rel: str, level: int) -> None:
        for name, is_dir in _entries(call, real, rel):
            if len(lines) >= MAX_LS_ENTRIES:
                return
            lines.append("  " * level + name + ("/" if is_dir else ""))
            if is_dir and level + 1 < depth and not os.path.islink(os.path.join(real, name)):
                walk(os.path.join(real, name), name if rel == "." else f"{rel}/{name}", level + 1)

    walk(target.real, target.rel, 0)
    if not lines:
        return f"({target.rel} is an empty directory)" if target.rel != "." else "(empty directory)"
    if len(lines) >= MAX_LS_ENTRIES:
        lines.append(f"(... listing stopped at {MAX_LS_ENTRIES} entries; list a subdirectory)")
    return "\n".join(lines)
