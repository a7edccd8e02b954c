"""Text helpers shared by the tools: output caps, line endings, diffs, snippets, fuzzy forms.

Kept free of I/O so the edit and patch engines can be tested on strings alone.
"""

from __future__ import annotations

import difflib
from collections import Counter

LONG_LINE = 2000  # characters of one line shown by read and snippets

# One character to one character, so offsets in the normalised text are offsets in the original.
_UNICODE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ",
        "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u205f": " ",
        "\u3000": " ", "\ufeff": " ",
    }
)


def cap(text: str, limit: int) -> str:
    """Keep the head and the tail of ``text`` within ``limit`` characters, saying what was cut."""
    if len(text) <= limit:
        return text
    marker_room = 60
    keep = max(limit - marker_room, 2)
    head = keep * 2 // 3
    tail = keep - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[len(text) - tail:]}"


def normalise_unicode(text: str) -> str:
    """Smart quotes, dashes and exotic spaces to ASCII, keeping every offset."""
    return text.translate(_UNICODE)


def split_text(text: str) -> tuple[list[str], str, bool]:
    """Lines without endings, the file's dominant line ending, and whether it ends with one."""
    crlf = text.count("\r\n")
    eol = "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"
    body = text.replace("\r\n", "\n")
    trailing = body.endswith("\n")
    if trailing:
        body = body[:-1]
    lines = body.split("\n") if body or trailing else []
    return lines, eol, trailing


def join_text(lines: list[str], eol: str, trailing: bool) -> str:
    if not lines:
        return ""
    return eol.join(lines) + (eol if trailing else "")


def count_lines(text: str) -> int:
    return len(split_text(text)[0])


_QUADRATIC_LIMIT = 250_000  # len(a) * len(b) above which the middle is not diffed line by line


def _trim(old: list[str], new: list[str]) -> tuple[int, int, int]:
    """Length of the common head, and where the common tail starts in old and in new."""
    lo = 0
    limit = min(len(old), len(new))
    while lo < limit and old[lo] == new[lo]:
        lo += 1
    hi_old, hi_new = len(old), len(new)
    while hi_old > lo and hi_new > lo and old[hi_old - 1] == new[hi_new - 1]:
        hi_old -= 1
        hi_new -= 1
    return lo, hi_old, hi_new


def _opcodes(old: list[str], new: list[str]) -> list[tuple[int, int, int, int]]:
    """(i1, i2, j1, j2) of the differing blocks; common head and tail are skipped first.

    Edits touch a few lines of a file, so trimming makes the diff cost proportional to the
    change, not to the file. A huge middle falls back to one block instead of a quadratic diff.
    """
    lo, hi_old, hi_new = _trim(old, new)
    a, b = old[lo:hi_old], new[lo:hi_new]
    if not a and not b:
        return []
    if not a or not b or len(a) * len(b) > _QUADRATIC_LIMIT:
        return [(lo, hi_old, lo, hi_new)]
    return [
        (lo + i1, lo + i2, lo + j1, lo + j2)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
        if tag != "equal"
    ]


def diff_counts(old: list[str], new: list[str]) -> tuple[int, int]:
    """Lines added and removed, from a real diff (not a line-count difference)."""
    lo, hi_old, hi_new = _trim(old, new)
    if (hi_old - lo) * (hi_new - lo) > _QUADRATIC_LIMIT:
        a, b = Counter(old[lo:hi_old]), Counter(new[lo:hi_new])
        return sum((b - a).values()), sum((a - b).values())
    blocks = _opcodes(old, new)
    return sum(j2 - j1 for _i1, _i2, j1, j2 in blocks), sum(i2 - i1 for i1, i2, _j1, _j2 in blocks)


def changed_ranges(old: list[str], new: list[str]) -> list[tuple[int, int]]:
    """0-based half-open ranges of ``new`` that differ from ``old`` (deletions give empty ranges)."""
    return [(j1, j2) for _i1, _i2, j1, j2 in _opcodes(old, new)]


def numbered(lines: list[str], first: int) -> str:
    """``first`` is the 1-based number of ``lines[0]``."""
    return "\n".join(f"{n:4d}| {cut_line(line)}" for n, line in enumerate(lines, first))


def cut_line(line: str, limit: int = LONG_LINE) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]}... [line cut, {len(line)} chars]"


def snippet(lines: list[str], ranges: list[tuple[int, int]], context: int = 3, max_lines: int = 60) -> str:
    """Numbered excerpts of ``lines`` around ``ranges``, merged, at most ``max_lines`` lines."""
    if not lines or not ranges:
        return ""
    windows: list[list[int]] = []
    for start, end in ranges:
        lo, hi = max(start - context, 0), min(max(end, start + 1) + context, len(lines))
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    parts: list[str] = []
    shown = 0
    for lo, hi in windows:
        if shown >= max_lines:
            parts.append(f"     (... {len(windows) - len(parts)} more changed region(s) not shown)")
            break
        hi = min(hi, lo + max_lines - shown)
        parts.append(numbered(lines[lo:hi], lo + 1))
        shown += hi - lo
    return "\n     ...\n".join(parts)




def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def first_indent(lines: list[str]) -> str:
    for line in lines:
        if line.strip():
            return indent_of(line)
    return ""


def reindent(lines: list[str], source: str, target: str) -> list[str]:
    """Move ``lines`` written at indentation ``source`` to ``target``, keeping relative indents."""
    if source == target:
        return list(lines)
    unit = "\t" if "\t" in target and " " not in target else " "
    delta = len(target) - len(source)
    out: list[str] = []
    for line in lines:
        if not line.strip():
            out.append(line)
        elif line.startswith(source):
            out.append(target + line[len(source):])
        elif delta > 0:
            out.append(unit * delta + line)
        else:
            own = indent_of(line)
            out.append(own[min(-delta, len(own)):] + line[len(own):])
    return out


def closest_region(lines: list[str], wanted: list[str]) -> tuple[int, int, float] | None:
    """The window of ``lines`` most similar to ``wanted`` (whitespace-insensitive): start, end, ratio.

    Used to show a model where its stale or misremembered text probably is, instead of the file.
    """
    wanted = [w for w in wanted if w.strip()] or wanted
    if not lines or not wanted:
        return None
    n = len(wanted)
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2("\n".join(w.strip() for w in wanted))
    stripped = [line.strip() for line in lines]
    step = 1 if len(lines) <= 4000 else len(lines) // 4000 + 1
    best_ratio, best_start = 0.0, 0
    for i in range(0, max(1, len(lines) - n + 1), step):
        matcher.set_seq1("\n".join(stripped[i : i + n]))
        if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio > best_ratio:
            best_ratio, best_start = ratio, i
    return best_start, min(best_start + n, len(lines)), best_ratio


def closest_region_text(lines: list[str], wanted: list[str], *, context: int = 2, max_lines: int = 30) -> str:
    """A short description of :func:`closest_region`, with the region numbered, for error messages."""
    found = closest_region(lines, wanted)
    if found is None or found[2] < 0.3:
        return "Nothing in the file looks similar; read the file to see its current content."
    start, end, ratio = found
    lo, hi = max(start - context, 0), min(end + context, len(lines), start + max_lines)
    return (
        f"The most similar region is lines {start + 1}-{end} ({ratio:.0%} similar):\n"
        f"{numbered(lines[lo:hi], lo + 1)}"
    )
