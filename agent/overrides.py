"""Typing rules for config values, shared by JSON files and ``--key value`` overrides.

The CLI hands every value over as a string; :func:`coerce` turns it into what the key expects
(``--max_turns 30``, ``--tools read,write,finish``, ``--think auto``, ``--top_p none``), and
:func:`kind_error` checks any value against the key's kind so JSON files get the same rules.
"""

from __future__ import annotations

import json
from typing import Any, Literal

Kind = Literal["str", "str?", "int", "int?", "float", "float?", "bool", "bool?", "list", "list?", "dict", "auto?"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}

_DEPRECATED_PREFIXES = ("task_", "flow", "history_tool_")
_DEPRECATED = {
    "benchmark_output_mode",
    "history_mode",
    "history_keep_first",
    "history_strip_thinking",
    "phase_control",
    "phase_log",
    "progress_injection",
    "progress_max_tokens",
    "read_loop_nudge_threshold",
    "finish_nudge_remaining_turns",
}


def deprecated(key: str) -> bool:
    """Keys the original agent once read and later dropped (features.md §3.1)."""
    return key in _DEPRECATED or key.startswith(_DEPRECATED_PREFIXES)


def parse_bool(text: str) -> bool | None:
    low = text.strip().lower()
    return True if low in _TRUE else False if low in _FALSE else None


def coerce(kind: Kind, raw: str) -> Any:
    """Best-effort conversion of a CLI string; a value that does not fit is returned unchanged
    so that :func:`kind_error` reports it with the key's name."""
    text = raw.strip()
    if kind.endswith("?") and text.lower() in ("none", "null"):
        return None
    base = kind.rstrip("?")
    try:
        if base == "int":
            return int(text)
        if base == "float":
            return float(text)
        if base in ("bool", "auto"):
            if base == "auto" and text.lower() == "auto":
                return "auto"
            flag = parse_bool(text)
            return raw if flag is None else flag
        if base == "list":
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        if base == "dict":
            return json.loads(text)
    except ValueError:
        return raw
    return raw


def kind_error(kind: Kind, value: Any) -> str | None:
    """Why ``value`` does not fit ``kind`` (a phrase), or None."""
    if value is None:
        return None if kind.endswith("?") else "must not be null"
    base = kind.rstrip("?")
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "auto": isinstance(value, bool) or value == "auto",
        "list": isinstance(value, list),
        "dict": isinstance(value, dict),
    }[base]
    if ok:
        return None
    return {
        "str": "must be a string",
        "int": "must be an integer",
        "float": "must be a number",
        "bool": "must be true or false",
        "auto": 'must be true, false or "auto"',
        "list": "must be a list",
        "dict": "must be an object",
    }[base]


def split_cli_overrides(argv: list[str]) -> dict[str, str]:
    """``["--max-turns", "30", "--tools", "read,write"]`` → ``{"max_turns": "30", "tools": "read,write"}``.

    Every flag needs a value (``--flag=value`` works too); raises ValueError otherwise.
    """
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise ValueError(f"unexpected argument {arg!r}")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(argv) or (argv[i + 1].startswith("--") and len(argv[i + 1]) > 2):
                raise ValueError(f"--{key} needs a value")
            value = argv[i + 1]
            i += 1
        out[key.replace("-", "_")] = value
        i += 1
    return out
