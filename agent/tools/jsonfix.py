"""Turning a model's raw ``arguments`` text into a dict, repairing what small models break.

Each stage is tried only when the previous ones failed, and every stage that was needed is
reported by name so the run's log can count format repairs.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from typing import Any

from agent.tools.base import ToolError

_FENCE = re.compile(r"^\s*```[\w+-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_BAD_ESCAPE = re.compile(r'(?<!\\)((?:\\\\)*)\\(?=[^"\\/bfnrtu])')
_BARE_WORD = re.compile(r'("[\w-]+"\s*:\s*)([A-Za-z][A-Za-z \-]*[A-Za-z])(\s*[,}\]])')

_UNITS = {
    "zero": 0, "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}


def number_word(text: str) -> int | None:
    """``"ten"`` → 10, ``"forty-two"`` → 42, ``"a hundred and five"`` → 105; None if not a number."""
    words = [w for w in re.split(r"[\s-]+", text.strip().lower()) if w and w != "and"]
    if not words:
        return None
    total = current = 0
    seen = False
    for w in words:
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = (current or 1) * 100
        elif w == "thousand":
            total += (current or 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _loads(text: str) -> Any:
    """Strict-ish JSON: control characters inside strings are tolerated, junk after is not."""
    return json.loads(text, strict=False)


def _first_object(text: str) -> Any:
    """The first JSON object in ``text``, ignoring what comes after it."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object")
    obj, _end = json.JSONDecoder(strict=False).raw_decode(text, start)
    return obj


def _close_brackets(text: str) -> str:
    """Close an unterminated string and any brackets left open (outside strings)."""
    stack: list[str] = []
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack and stack[-1] == ch:
            stack.pop()
    return text + ('"' if in_str else "") + "".join(reversed(stack))


def _python_literal(text: str) -> Any:
    """``{'a': True}`` and friends; warnings about odd escapes are not the model's business."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.literal_eval(text)


def _number_words(text: str) -> str:
    def sub(m: re.Match[str]) -> str:
        value = number_word(m.group(2))
        return f"{m.group(1)}{value}{m.group(3)}" if value is not None else m.group(0)

    return _BARE_WORD.sub(sub, text)


# (name, transform) applied cumulatively; after each, the text is parsed again.
_STAGES = [
    ("invalid escapes", lambda t: _BAD_ESCAPE.sub(r"\1\\\\", t)),
    ("trailing commas", lambda t: _TRAILING_COMMA.sub(r"\1", t)),
    ("single quotes", lambda t: t.replace("'", '"') if '"' not in t else t),
    ("missing closing brackets", _close_brackets),
    ("number words", _number_words),
]


def parse_json_arguments(raw: str) -> tuple[Any, list[str]]:
    """Parse ``raw`` into a Python value, returning the names of the repairs it needed."""
    text = raw.strip()
    if not text:
        return {}, []
    repairs: list[str] = []
    try:
        value = _loads(text)
    except ValueError:
        pass
    else:
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                inner = _loads(value)
                return inner, ["double-encoded JSON"]
            except ValueError:
                pass
        return value, repairs

    fence = _FENCE.match(text)
    if fence:
        text = fence.group(1).strip()
        repairs.append("code fence around JSON")
        try:
            return _loads(text), repairs
        except ValueError:
            pass
    try:
        value = _first_object(text)
        if isinstance(value, dict):
            return value, repairs + ["text after the JSON object"]
    except ValueError:
        pass
    err: Exception | None = None
    fenced = list(repairs)
    current = text
    for name, transform in _STAGES:
        fixed = transform(current)
        if fixed == current:
            continue
        current = fixed
        repairs.append(name)
        for parse in (_loads, _first_object):
            try:
                return parse(current), repairs
            except ValueError as exc:
                err = exc
    try:
        value = _python_literal(text)
        if isinstance(value, dict):
            return value, fenced + ["Python-style dict"]
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        _loads(text)
    except ValueError as exc:
        err = exc
    raise ToolError("invalid_json", f"invalid JSON in tool arguments: {err}. Raw: {raw.strip()[:100]!r}")


_BEGIN = "*** Begin Patch"
_END = "*** End Patch"
_ESCAPE = re.compile(r'\\(["\\/bfnrt])')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def extract_patch(raw: str) -> str | None:
    """Find a ``*** Begin Patch`` envelope in broken JSON (or plain text) and unescape it."""
    start = raw.find(_BEGIN)
    if start < 0:
        return None
    end = raw.find(_END, start)
    body = raw[start : end + len(_END)] if end >= 0 else raw[start:].rstrip().rstrip("}").rstrip().rstrip('"')
    if "\n" not in body and "\\n" in body:
        body = _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)
    return body
