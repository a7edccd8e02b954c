"""From raw arguments to a validated dict: parsing, name aliases, coercion, schema checks.

Small models misname arguments (``file_path`` for ``path``), send numbers as words or strings,
and wrap JSON in fences. Each fix is recorded as a repair; what cannot be fixed becomes a
one-line error naming the valid parameters and showing an example call.
"""

from __future__ import annotations

import json
from typing import Any

from agent.tools.base import ToolError
from agent.tools.jsonfix import extract_patch, number_word, parse_json_arguments
from agent.tools.specs import ToolSpec

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off", "none", ""}
_TYPES = {
    "string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict,
}


def parse_arguments(spec: ToolSpec, raw: str | dict[str, Any] | None, repairs: list[str]) -> dict[str, Any]:
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
                raise
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


def prepare(spec: ToolSpec, raw: str | dict[str, Any] | None, repairs: list[str], display: str) -> dict[str, Any]:
    """parse → aliases → coerce/validate, the whole argument pipeline of one call."""
    args = parse_arguments(spec, raw, repairs)
    args = apply_aliases(spec, args, repairs)
    return validate(spec, args, repairs, display)
