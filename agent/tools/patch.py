"""The apply_patch tool: all files or none.

Every section is resolved, checked and applied in memory first; only when the whole patch
applies are files written, and a write failure halfway restores what was already written. Hunks
are placed in order (a cursor moves down the file), an ``@@`` header that names an existing line
anchors its hunk, and context is matched exactly first, then with looser whitespace, never by
picking one of several equal places. Line endings and the final newline are kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from agent.tools.base import Call
from agent.tools.errors import ToolError
from agent.tools.fs import load_text, write_text
from agent.tools.paths import Target
from agent.tools.patch_parse import FileChange, Hunk, parse_patch
from agent.tools.text import (
    changed_ranges,
    closest_region_text,
    diff_counts,
    first_indent,
    join_text,
    normalise_unicode,
    reindent,
    snippet,
    split_text,
)

Ops = list[tuple[str, str]]  # a hunk's (" " | "-" | "+", line) pairs

# (name, key, re-indent added lines)
_LEVELS: list[tuple[str, Callable[[str], str], bool]] = [
    ("exact", lambda s: s, False),
    ("trailing whitespace", lambda s: s.rstrip(), False),
    ("indentation", lambda s: normalise_unicode(s).strip(), True),
]


def _find(keys: list[str], want: list[str], start: int) -> list[int]:
    n = len(want)
    return [i for i in range(start, len(keys) - n + 1) if keys[i] == want[0] and keys[i : i + n] == want]


def _variants(hunk: Hunk) -> list[Ops]:
    """The hunk's ops, then without blank context lines at its edges (models add or drop them)."""
    ops = hunk.ops
    lo, hi = 0, len(ops)
    while lo < hi and ops[lo] == (" ", ""):
        lo += 1
    while hi > lo and ops[hi - 1] == (" ", ""):
        hi -= 1
    return [ops] if (lo, hi) == (0, len(ops)) else [ops, ops[lo:hi]]


def _locate(lines: list[str], hunk: Hunk, cursor: int, ordered: bool, rel: str, number: int) -> tuple[int, Ops, bool]:
    """Where the hunk applies: (line index, ops used, re-indent) or a ToolError."""
    variants = _variants(hunk)
    for _name, key, loose in _LEVELS:
        keys = [key(line) for line in lines]
        for ops in variants:
            want = [key(t) for op, t in ops if op != "+"]
            if not want:
                continue
            if hunk.eof and len(want) <= len(keys) and keys[len(keys) - len(want) :] == want:
                return len(lines) - len(want), ops, loose
            found = _find(keys, want, cursor)
            if found and (len(found) == 1 or ordered):
                return found[0], ops, loose
            if not found and cursor:
                found = _find(keys, want, 0)
                if len(found) == 1:
                    return found[0], ops, loose
            if len(found) > 1:
                at = ", ".join(str(i + 1) for i in found[:10])
                raise ToolError(
                    "patch_context_not_unique",
                    f"hunk {number} of {rel} matches {len(found)} places (lines {at}); add an '@@ <line>' anchor "
                    "or more unique context lines",
                )
    old = hunk.old
    expected = "\n".join(f"  {line}" for line in old[:8]) + ("\n  ..." if len(old) > 8 else "")
    raise ToolError(
        "patch_context_not_found",
        f"hunk {number} of {rel}: these context/removed lines were not found:\n{expected}\n"
        + closest_region_text(lines, old)
        + "\nRead the file and copy the lines exactly.",
    )


def apply_hunks(text: str, hunks: list[Hunk], rel: str, repairs: list[str]) -> str:
    """``text`` with every hunk applied, or a ToolError naming the hunk that does not fit."""
    lines, eol, trailing = split_text(text)
    if not text:
        trailing = True
    cursor = 0
    edits: list[tuple[int, int, list[str]]] = []  # (start, removed count, new lines)
    for number, hunk in enumerate(hunks, 1):
        anchored = False
        if hunk.anchor:
            wanted = normalise_unicode(hunk.anchor).strip()
            keys = [normalise_unicode(line).strip() for line in lines]
            hits = [i for i in range(cursor, len(lines)) if keys[i] == wanted] or (
                [i for i in range(len(lines)) if keys[i] == wanted] if cursor else []
            )
            if hits:
                # The anchor may also be the hunk's first context line; then the hunk starts on it.
                repeats = bool(hunk.old) and normalise_unicode(hunk.old[0]).strip() == wanted
                cursor, anchored = hits[0] + (0 if repeats else 1), True
            else:
                repairs.append(f"patch: @@ anchor not found in {rel}, ignored: {hunk.anchor[:60]!r}")
        if not hunk.old:
            at = cursor if anchored and not hunk.eof else len(lines)
            edits.append((at, 0, [t for op, t in hunk.ops if op == "+"]))
            continue
        pos, ops, loose = _locate(lines, hunk, cursor, anchored or number > 1, rel, number)
        old_used = [t for op, t in ops if op != "+"]
        source, target = first_indent(old_used), first_indent(lines[pos : pos + len(old_used)])
        out: list[str] = []
        j = pos
        for op, line in ops:
            if op == " ":
                out.append(lines[j])
                j += 1
            elif op == "-":
                j += 1
            else:
                out.append(reindent([line], source, target)[0] if loose else line)
        edits.append((pos, j - pos, out))
        cursor = j
    edits.sort(key=lambda e: e[0])
    for (a_start, a_len, _), (b_start, _b_len, _) in zip(edits, edits[1:]):
        if b_start < a_start + a_len:
            raise ToolError("patch_invalid", f"two hunks of {rel} change the same lines")
    for start, removed, new in reversed(edits):
        lines[start : start + removed] = new
    return join_text(lines, eol, trailing)


def _load(call: Call, target: Target) -> tuple[str, bytes]:
    text = load_text(call, target)
    with open(target.real, "rb") as fh:
        return text, fh.read()


def apply_patch(call: Call, args: dict[str, Any]) -> str:
    changes = parse_patch(args["patch"], call.repairs)
    ws = call.ctx.workspace
    targets: dict[str, Target] = {}
    before: dict[str, str | None] = {}  # text before the patch (None: did not exist)
    raw: dict[str, bytes | None] = {}  # bytes before the patch, for rollback
    after: dict[str, str | None] = {}
    report: list[str] = []

    def open_target(path: str) -> Target:
        target = ws.resolve(path)
        if target.is_dir:
            raise ToolError("is_directory", f"{target.rel} is a directory")
        call.ctx.workspace.require_writable(target)
        if target.rel not in targets:
            targets[target.rel] = target
            if target.exists:
                before[target.rel], raw[target.rel] = _load(call, target)
            else:
                before[target.rel], raw[target.rel] = None, None
            after[target.rel] = before[target.rel]
        return target

    def existing(change: FileChange) -> Target:
        target = open_target(change.path)
        if after[target.rel] is None:
            raise ToolError("not_found", ws.not_found_message(target.rel) + f" (in '*** {change.kind.title()} File:')")
        return target

    for change in changes:
        if change.kind == "add":
            target = open_target(change.path)
            verb = "replaced" if after[target.rel] is not None else "added"
            after[target.rel] = "\n".join(change.lines) + "\n" if change.lines else ""
            report.append(f"{verb} {target.rel}")
        elif change.kind == "delete":
            target = existing(change)
            after[target.rel] = None
            report.append(f"deleted {target.rel}")
        else:
            target = existing(change)
            text = after[target.rel] or ""
            if change.hunks:
                text = apply_hunks(text, change.hunks, target.rel, call.repairs)
            if change.move_to:
                dest = open_target(change.move_to)
                after[target.rel], after[dest.rel] = None, text
                report.append(f"moved {target.rel} -> {dest.rel}")
            else:
                after[target.rel] = text
                report.append(f"updated {target.rel}")
    changed = [rel for rel in targets if after[rel] != before[rel]]
    if not changed:
        raise ToolError("no_change", "the patch leaves every file as it was")
    _commit(call, targets, changed, after, raw)
    return _summary(changed, before, after, report)


def _commit(
    call: Call,
    targets: dict[str, Target],
    changed: list[str],
    after: dict[str, str | None],
    raw: dict[str, bytes | None],
) -> None:
    """Write every changed file; on failure restore the ones already written."""
    done: list[str] = []
    try:
        for rel in changed:
            content = after[rel]
            if content is None:
                os.remove(targets[rel].real)
            else:
                write_text(targets[rel], content)
            done.append(rel)
    except OSError as exc:
        failed = rel
        for back in done:
            original = raw[back]
            if original is None:
                os.remove(targets[back].real)
            else:
                with open(targets[back].real, "wb") as fh:
                    fh.write(original)
        raise ToolError("other", f"could not write {failed}: {exc.strerror or exc}; no file was changed") from None
    for rel in changed:
        call.changed_file(rel)


def _summary(changed: list[str], before: dict[str, str | None], after: dict[str, str | None], report: list[str]) -> str:
    details: list[str] = []
    previews: list[str] = []
    for rel in changed:
        old = split_text(before[rel] or "")[0]
        new = split_text(after[rel] or "")[0] if after[rel] is not None else []
        added, removed = diff_counts(old, new)
        details.append(f"{rel} (+{added} -{removed})" if after[rel] is not None else f"{rel} (deleted)")
        if before[rel] is not None and after[rel] is not None and len(previews) < 3:
            shown = snippet(new, changed_ranges(old, new), context=2, max_lines=20)
            if shown:
                previews.append(f"{rel}:\n{shown}")
    head = f"ok: patch applied: {'; '.join(report)}. Changed: {', '.join(details)}"
    return head + ("\n" + "\n".join(previews) if previews else "")
