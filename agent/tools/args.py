"""From a model's raw ``arguments`` to the validated dict a handler gets: the one argument pipeline.

Every call the agent executes goes through it, in the ToolBox: :func:`parse_arguments` (JSON repair,
:func:`parse_json_arguments`), then :func:`apply_aliases` (argument names) and :func:`validate`
(coercion and schema checks). Small models misname arguments (``file_path``
for ``path``), send numbers as words or strings, write Python dicts, leave backslashes unescaped,
wrap JSON in fences or forget closing brackets. Each repair stage is tried only when the previous
ones failed, and every fix is recorded by name so the run's log can count them; what cannot be
fixed becomes a one-line error naming the valid parameters and showing an example call.

One policy for a string left open: it is beyond repair. Such a call was cut off mid-value
(``max_tokens``); closing the string would, say, write half a file as if it were whole.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from typing import Any

from agent.tools.errors import ToolError
from agent.tools.specs import ToolSpec

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", "none", ""}
_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict,
}


# -- JSON repair ----------------------------------------------------------------------------
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


def _first_object(text: str) -> Any:
    """The first JSON object in ``text``, ignoring what comes before and after it."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object")
    obj, _end = json.JSONDecoder(strict=False).raw_decode(text, start)
    return obj


def _close_brackets(text: str) -> str:
    """Close the brackets left open (outside strings); unchanged when a string is left open,
    because that call was cut off mid-value (see the module's policy)."""
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
    if in_str or not stack:
        return text
    out = text.rstrip()
    if out.endswith(","):
        out = out[:-1]
    elif out.endswith(":"):
        out += " null"
    return out + "".join(reversed(stack))


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


def _strict(text: str) -> tuple[Any, list[str]]:
    """Plain JSON, then JSON with raw control characters inside strings (Python reads those;
    llama.cpp rejects them in the history, so that counts as a repair)."""
    try:
        return json.loads(text), []
    except ValueError:
        return json.loads(text, strict=False), ["control characters in strings"]


def parse_json_arguments(raw: str) -> tuple[Any, list[str]]:
    """Parse ``raw`` into a Python value, returning the names of the repairs it needed.

    Raises ToolError("invalid_json") when no stage yields a value, among them for a string left
    open. A value that is not an object (a bare string, a list) is returned as it is: what it
    means depends on the tool (:func:`parse_arguments`).
    """
    text = raw.strip()
    if not text:
        return {}, []
    try:
        value, repairs = _strict(text)
    except ValueError:
        pass
    else:
        if isinstance(value, str) and value.strip().startswith("{"):
            try:
                return _strict(value)[0], ["double-encoded JSON"]
            except ValueError:
                pass
        return value, repairs
    repairs = []
    fence = _FENCE.match(text)
    if fence:
        text = fence.group(1).strip()
        repairs.append("code fence around JSON")
        try:
            value, more = _strict(text)
            return value, repairs + more
        except ValueError:
            pass
    try:
        value = _first_object(text)
        if isinstance(value, dict):
            return value, repairs + ["text around the JSON object"]
    except ValueError:
        pass
    fenced = list(repairs)
    current = text
    for name, transform in _STAGES:
        fixed = transform(current)
        if fixed == current:
            continue
        current = fixed
        repairs.append(name)
        for parse in (lambda t: json.loads(t, strict=False), _first_object):
            try:
                return parse(current), repairs
            except ValueError:
                pass
    for literal, before in ((text, fenced), (current, repairs)):  # as written, then with the stages' fixes
        try:
            value = _python_literal(literal)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict):
            return value, before + ["Python-style dict"]
    raise ToolError("invalid_json", f"invalid JSON: {_excerpt(text)!r}")


def _excerpt(text: str, limit: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


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


# -- the pipeline ---------------------------------------------------------------------------
def parse_arguments(
    spec: ToolSpec, raw: str | dict[str, Any] | None, repairs: list[str], display: str | None = None
) -> dict[str, Any]:
    """Raw ``arguments`` (dict or JSON text) → dict, recording each repair."""
    if isinstance(raw, dict):
        value: Any = raw
    elif raw is None:
        value = {}
    elif not isinstance(raw, str):
        raise ToolError("invalid_json", f"tool arguments must be a JSON object, not {type(raw).__name__}")
    else:
        try:
            value, fixes = parse_json_arguments(raw)
            repairs.extend(f"json: {f}" for f in fixes)
        except ToolError:
            patch = extract_patch(raw) if spec.name == "apply_patch" else None
            if patch is None:
                raise ToolError(
                    "invalid_json",
                    f"invalid JSON in the arguments of {display or spec.name}: {_excerpt(raw)!r}."
                    " Send the call again with the arguments as one JSON object.",
                ) from None
            repairs.append("json: patch extracted from raw arguments")
            value = {"patch": patch}
    if isinstance(value, dict):
        return dict(value)
    if value is None:
        return {}
    # A bare value: usable when the tool has exactly one required parameter.
    if spec.required and len(spec.required) == 1 and value not in (None, "", []):
        key = spec.required[0]
        repairs.append(f"bare {type(value).__name__} used as '{key}'")
        return {key: value}
    raise ToolError("invalid_json", f"tool arguments must be a JSON object. {example_line(spec)}")


def example_line(spec: ToolSpec, display: str | None = None) -> str:
    return f"Example: {display or spec.name}({json.dumps(spec.example, ensure_ascii=False)})"


def _params_line(spec: ToolSpec) -> str:
    parts = [p if p in spec.required else p + "?" for p in spec.properties]
    return ", ".join(parts) or "(none)"


def apply_aliases(spec: ToolSpec, args: dict[str, Any], repairs: list[str]) -> dict[str, Any]:
    """Rename alias keys to canonical ones; a key already given canonically wins."""
    props = spec.properties
    lowered = {k.lower(): k for k in props}
    out: dict[str, Any] = {}
    renamed: list[tuple[str, str]] = []
    for key, value in args.items():
        if key in props:
            out[key] = value
    for key, value in args.items():
        if key in props:
            continue
        norm = key.strip().lstrip("-").lower().replace("-", "_")
        target = lowered.get(norm) or spec.arg_aliases.get(norm) or spec.arg_aliases.get(key)
        if target is None:
            out[key] = value  # unknown: reported by validate()
        elif target in out:
            repairs.append(f"arg '{key}' dropped: '{target}' already given")
        else:
            out[target] = value
            renamed.append((key, target))
    repairs.extend(f"arg alias '{k}' -> '{t}'" for k, t in renamed)
    return out


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        s = value.strip()
        try:
            f = float(s)
        except ValueError:
            return number_word(s)
        return int(f) if f.is_integer() else None
    return None


def _coerce(name: str, value: Any, schema: dict[str, Any], repairs: list[str]) -> Any:
    kind = schema.get("type")
    if kind == "integer" and not (isinstance(value, int) and not isinstance(value, bool)):
        number = _to_int(value)
        if number is None:
            raise ToolError("invalid_args", f"argument '{name}' must be a whole number, not {value!r}")
        repairs.append(f"arg '{name}' coerced to integer")
        return number
    if kind == "boolean" and not isinstance(value, bool):
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            repairs.append(f"arg '{name}' coerced to boolean")
            return text in _TRUE
    if kind == "array" and not isinstance(value, list):
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                try:
                    parsed = json.loads(stripped)
                    if isinstance(parsed, list):
                        repairs.append(f"arg '{name}' parsed from a JSON string")
                        return parsed
                except ValueError:
                    pass
            repairs.append(f"arg '{name}' wrapped in a list")
            return [value]
    if kind == "string" and not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            repairs.append(f"arg '{name}' coerced to string")
            return str(value)
        if isinstance(value, (dict, list)) and name in ("content", "new", "old"):
            repairs.append(f"arg '{name}' serialised as JSON text")
            return json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    return value


def _check(name: str, value: Any, schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    expected = _TYPES.get(kind or "")
    if expected is not None and (not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))):
        return f"argument '{name}' must be {'an' if kind in ('integer', 'array', 'object') else 'a'} {kind}"
    if "enum" in schema and value not in schema["enum"]:
        return f"argument '{name}' must be one of: {', '.join(map(str, schema['enum']))}"
    if "minimum" in schema and value < schema["minimum"]:
        return f"argument '{name}' must be at least {schema['minimum']}"
    if "maximum" in schema and value > schema["maximum"]:
        return f"argument '{name}' must be at most {schema['maximum']}"
    if kind == "array":
        if len(value) < schema.get("minItems", 0):
            return f"argument '{name}' needs at least {schema['minItems']} item(s)"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"argument '{name}' takes at most {schema['maxItems']} items, got {len(value)}"
        item_type = _TYPES.get(schema.get("items", {}).get("type", ""))
        if item_type and not all(isinstance(v, item_type) for v in value):
            return f"every item of '{name}' must be a {schema['items']['type']}"
    return None


def validate(spec: ToolSpec, args: dict[str, Any], repairs: list[str], display: str) -> dict[str, Any]:
    """Coerce and check ``args`` against the spec's schema; raise a one-line ToolError if wrong."""
    props = spec.properties
    unknown = [k for k in args if k not in props]
    if unknown:
        raise ToolError(
            "invalid_args",
            f"unknown argument(s) {', '.join(repr(k) for k in unknown)} for {display}; "
            f"valid: {_params_line(spec)}. {example_line(spec, display)}",
        )
    out: dict[str, Any] = {}
    for key, value in args.items():
        if value is None and key not in spec.required:
            continue
        out[key] = _coerce(key, value, props[key], repairs) if value is not None else value
    for key in spec.required:
        value = out.get(key)
        empty = value is None or (props[key].get("minLength") and isinstance(value, str) and not value.strip())
        if empty:
            raise ToolError(
                "missing_arg",
                f"missing required argument '{key}' for {display}; parameters: {_params_line(spec)}. "
                f"{example_line(spec, display)}",
            )
    for key, value in out.items():
        problem = _check(key, value, props[key])
        if problem:
            raise ToolError("invalid_args", f"{problem}. {example_line(spec, display)}")
    return out
