"""The edit tool: replace ``old`` with ``new`` in one file, forgiving but never guessing.

``old`` is looked up through a chain of ever looser matchers; the first matcher that finds it
wins, and it must find it exactly once (unless ``all``), so a loose match can never pick one of
several places. The loosest matcher ignores indentation and re-indents ``new`` by the same
offset, which is what small models get wrong most often. When nothing matches, the error shows
the most similar region of the file, not the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.tools.base import Call
from agent.tools.errors import ToolError
from agent.tools.fs import load_text, write_text
from agent.tools.text import (
    changed_ranges,
    closest_region_text,
    diff_counts,
    first_indent,
    normalise_unicode,
    reindent,
    snippet,
    split_text,
)

_LINE_NUMBER = re.compile(r"^\s*\d+(?:\| ?|\t|: |→)")


@dataclass
class Span:
    start: int  # offsets in the LF-normalised text
    end: int
    replacement: str


def _positions(text: str, needle: str) -> list[int]:
    out: list[int] = []
    if not needle:
        return out
    i = text.find(needle)
    while i >= 0:
        out.append(i)
        i = text.find(needle, i + len(needle))
    return out


def _exact(text: str, old: str, new: str) -> list[Span]:
    return [Span(p, p + len(old), new) for p in _positions(text, old)]


def _without_newline(text: str, old: str, new: str) -> list[Span]:
    if not old.endswith("\n") or len(old) < 2:
        return []
    return _exact(text, old[:-1], new[:-1] if new.endswith("\n") else new)


def _unicode(text: str, old: str, new: str) -> list[Span]:
    folded_text, folded_old = normalise_unicode(text), normalise_unicode(old)
    if folded_text == text and folded_old == old:
        return []
    return _exact(folded_text, folded_old, new) or _without_newline(folded_text, folded_old, new)


def _trim_blank_edges(lines: list[str]) -> tuple[int, int]:
    lo, hi = 0, len(lines)
    while lo < hi and not lines[lo].strip():
        lo += 1
    while hi > lo and not lines[hi - 1].strip():
        hi -= 1
    return lo, hi


def _trim_like(lines: list[str], lead: int, tail: int) -> list[str]:
    """Drop up to ``lead``/``tail`` blank lines at the edges, as were dropped from old."""
    lo, hi = 0, len(lines)
    while lo < lead and lo < hi and not lines[lo].strip():
        lo += 1
    while len(lines) - hi < tail and hi > lo and not lines[hi - 1].strip():
        hi -= 1
    return lines[lo:hi]


def _window(key: Callable[[str], str], reindent_new: bool) -> Callable[[str, str, str], list[Span]]:
    """A matcher comparing whole lines through ``key``."""

    def match(text: str, old: str, new: str) -> list[Span]:
        old_lines = old.split("\n")
        lo, hi = _trim_blank_edges(old_lines)
        core = old_lines[lo:hi]
        if not core:
            return []
        new_core = _trim_like(new.split("\n"), lo, len(old_lines) - hi)
        lines = text.split("\n")
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line) + 1)
        want = [key(line) for line in core]
        have = [key(line) for line in lines]
        n = len(core)
        spans: list[Span] = []
        i = 0
        while i <= len(lines) - n:
            if have[i] == want[0] and have[i : i + n] == want:
                window = lines[i : i + n]
                body = reindent(new_core, first_indent(core), first_indent(window)) if reindent_new else new_core
                end = offsets[i + n - 1] + len(lines[i + n - 1])
                if not body and end < len(text):
                    end += 1  # deleting whole lines: take their newline too
                spans.append(Span(offsets[i], end, "\n".join(body)))
                i += n
            else:
                i += 1
        return spans

    return match


MATCHERS: list[tuple[str, Callable[[str, str, str], list[Span]]]] = [
    ("exact", _exact),
    ("without the trailing newline", _without_newline),
    ("after normalising quotes, dashes and spaces", _unicode),
    ("as whole lines", _window(lambda s: s, False)),
    ("ignoring trailing whitespace", _window(lambda s: normalise_unicode(s).rstrip(), False)),
    ("ignoring indentation (new text re-indented to match)", _window(lambda s: normalise_unicode(s).strip(), True)),
]


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def find_spans(text: str, old: str, new: str, *, all_: bool, hint: int | None, rel: str) -> tuple[list[Span], str]:
    """The spans to replace and the matcher's name; ([], "") when ``old`` is nowhere."""
    for name, matcher in MATCHERS:
        spans = matcher(text, old, new)
        if not spans:
            continue
        if all_ or len(spans) == 1:
            return spans, name
        if hint is not None:
            chosen = [s for s in spans if _line_of(text, s.start) <= hint <= _line_of(text, max(s.end - 1, s.start))]
            if len(chosen) == 1:
                return chosen, name
        lines = ", ".join(str(_line_of(text, s.start)) for s in spans[:10])
        raise ToolError(
            "old_string_not_unique",
            f"old text occurs {len(spans)} times in {rel} (lines {lines}); include more surrounding lines to make "
            "it unique, set old_start to the line of the one you mean, or set all=true to replace every one",
        )
    return [], ""


def _apply(text: str, spans: list[Span]) -> str:
    pieces: list[str] = []
    cursor = 0
    for span in sorted(spans, key=lambda s: s.start):
        pieces.append(text[cursor : span.start])
        pieces.append(span.replacement)
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _strip_line_numbers(text: str) -> str | None:
    lines = text.split("\n")
    body = [line for line in lines if line.strip()]
    if not body or not all(_LINE_NUMBER.match(line) for line in body):
        return None
    return "\n".join(_LINE_NUMBER.sub("", line, count=1) for line in lines)


def _replace_lines(body: str, new: str, start: int, end: int | None, rel: str) -> str:
    lines, _eol, trailing = split_text(body)
    end = start if end is None else end
    if not 1 <= start <= len(lines):
        raise ToolError("invalid_args", f"old_start {start} is outside {rel} (lines 1-{len(lines)})")
    if not start <= end <= len(lines):
        raise ToolError("invalid_args", f"old_end {end} must be between old_start ({start}) and {len(lines)}")
    new_lines = split_text(new)[0] if new else []
    out = lines[: start - 1] + new_lines + lines[end:]
    return "\n".join(out) + ("\n" if out and trailing else "")


def edit(call: Call, args: dict[str, Any]) -> str:
    target = call.ctx.workspace.resolve(args["path"])
    call.ctx.workspace.require_writable(target)
    original = load_text(call, target)
    _lines, eol, _trailing = split_text(original)
    body = original.replace("\r\n", "\n") if eol == "\r\n" else original
    new = args["new"].replace("\r\n", "\n")
    old = args.get("old")
    hint = args.get("old_start")
    all_ = bool(args.get("all"))
    note = ""
    if old is None:
        if hint is None:
            raise ToolError(
                "missing_arg", "missing 'old' (the exact text to replace), or old_start/old_end for a line range"
            )
        updated, count = _replace_lines(body, new, hint, args.get("old_end"), target.rel), 1
    else:
        old = old.replace("\r\n", "\n")
        if old == new:
            raise ToolError("no_change", "old and new are identical, so there is nothing to change")
        if not old:
            if body:
                raise ToolError(
                    "invalid_args", "old is empty; give the exact text to replace (or write the whole file)"
                )
            spans, method = [Span(0, 0, new)], "exact"
        else:
            spans, method = find_spans(body, old, new, all_=all_, hint=hint, rel=target.rel)
        if not spans:
            stripped_old, stripped_new = _strip_line_numbers(old), _strip_line_numbers(new)
            if stripped_old is not None:
                call.repairs.append("line numbers stripped from old" + (" and new" if stripped_new is not None else ""))
                new = stripped_new if stripped_new is not None else new
                spans, method = find_spans(body, stripped_old, new, all_=all_, hint=hint, rel=target.rel)
        if not spans:
            raise ToolError(
                "old_string_not_found",
                f"old text not found in {target.rel}. "
                + closest_region_text(body.split("\n"), old.split("\n"))
                + "\nCopy the exact current text (whitespace and quotes included) into old.",
            )
        if method != "exact":
            note = f" (matched {method})"
        updated, count = _apply(body, spans), len(spans)
    if updated == body:
        raise ToolError("no_change", f"the edit leaves {target.rel} unchanged")
    write_text(target, updated.replace("\n", "\r\n") if eol == "\r\n" else updated)
    call.changed_file(target.rel)
    before, after = split_text(body)[0], split_text(updated)[0]
    added, removed = diff_counts(before, after)
    shown = snippet(after, changed_ranges(before, after), context=3)
    plural = "s" if count != 1 else ""
    head = f"ok: edited {target.rel}: {count} replacement{plural} (+{added} -{removed} lines){note}"
    return head + ("\n" + shown if shown else "")
