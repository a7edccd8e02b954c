"""Rescue tool calls the server did not parse, and arguments that are not valid JSON.

A local model often emits its call as text (the server's template parser missed it, or the
model drifted into another family's syntax). Taking that text as the final answer ends the run
for nothing, so :func:`recover_tool_calls` extracts the calls from ``content``. And a call cut off
by ``max_tokens`` has broken JSON arguments; llama.cpp answers HTTP 500 when such a call is sent
back in history, so :func:`repair_arguments` either fixes them or says they are beyond repair.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from agent.protocols import ToolCall

_S = re.DOTALL
_HARMONY_CALL = re.compile(
    r"(?:<\|start\|>assistant)?\s*(?:<\|channel\|>\s*commentary\s*)?to=(?:functions\.)?([\w\-.]+)"
    r"[^<]*(?:<\|channel\|>[^<]*)?(?:<\|constrain\|>[^<]*)?<\|message\|>(.*?)(?:<\|call\|>|<\|end\|>|<\|return\|>|$)",
    _S,
)
_SECTION = re.compile(r"<tool_calls>(.*?)(?:</tool_calls>|$)", _S)
_PER_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", _S)
_XML_FUNCTION = re.compile(r"<function=([\w\-.]+)>(.*?)(?:</function>|$)", _S)
_XML_PARAM = re.compile(r"<parameter=([\w\-.]+)>\n?(.*?)\n?</parameter>", _S)
_MISTRAL = re.compile(r"\[TOOL_CALLS\](.*)$", _S)
_MISTRAL_ARGS = re.compile(r"\s*([\w\-.]+)\s*\[ARGS\]", _S)
_FENCE = re.compile(r"```(?:json|JSON|tool_call)?\s*\n?(.*?)```", _S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


# -- arguments --------------------------------------------------------------------------------
def _close_open(text: str) -> str | None:
    """Close the open brackets of ``text``; None when a string is left open.

    An open string means the call was cut off mid-value (max_tokens): closing it would, say,
    write half a file as if it were whole, so that is reported as beyond repair instead.
    """
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    if in_string:
        return None
    out = text.rstrip()
    if out.endswith(","):
        out = out[:-1]
    elif out.endswith(":"):
        out += " null"
    return out + "".join(reversed(stack))


def repair_arguments(raw: str | dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[str]]:
    """Arguments as a dict plus the repairs applied, or ``(None, [])`` when beyond repair."""
    if isinstance(raw, dict):
        return raw, []
    text = (raw or "").strip()
    if not text:
        return {}, ["empty_arguments"]
    candidates: list[tuple[str, str]] = [("", text)]
    fenced = _FENCE.search(text)
    if fenced:
        candidates.append(("code_fence", fenced.group(1).strip()))
    body = candidates[-1][1]
    start = body.find("{")
    if start > 0:
        candidates.append(("leading_text", body[start:]))
        body = body[start:]
    candidates.append(("trailing_comma", _TRAILING_COMMA.sub(r"\1", body)))
    if '"' not in body:
        candidates.append(("single_quotes", _TRAILING_COMMA.sub(r"\1", body.replace("'", '"'))))
    closed = _close_open(_TRAILING_COMMA.sub(r"\1", body))
    if closed is not None:
        candidates.append(("unclosed", closed))
    for repair, candidate in candidates:
        value, notes = _decode_object(candidate)
        if value is not None:
            return value, ([repair] if repair else []) + notes
    return None, []


def _decode_object(text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The first JSON value of ``text`` if it is an object (or a string holding one)."""
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None, []
    notes = ["trailing_text"] if text[end:].strip() else []
    if isinstance(value, str):  # double-encoded: "{\"path\": ...}"
        try:
            value = json.loads(value)
        except ValueError:
            return None, []
        notes.append("double_encoded")
    return (value, notes) if isinstance(value, dict) else (None, [])


# -- calls in content ------------------------------------------------------------------------
def _json_values(text: str) -> list[Any]:
    """Every top-level JSON object/array in ``text``, in order."""
    out, decoder, i = [], json.JSONDecoder(), 0
    while i < len(text):
        j = min((k for k in (text.find("{", i), text.find("[", i)) if k >= 0), default=-1)
        if j < 0:
            break
        try:
            value, end = decoder.raw_decode(text, j)
        except ValueError:
            repaired, _ = repair_arguments(text[j:])
            if repaired is not None and j == text.find("{", i):
                out.append(repaired)
            break
        out.append(value)
        i = end
    return out


def _calls_in(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, list):
        return [call for item in value for call in _calls_in(item)]
    if not isinstance(value, dict):
        return []
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return []
    args: Any = next((value[k] for k in ("arguments", "parameters", "args", "input") if k in value), {})
    return [(name, args)]


def _xml_calls(text: str) -> list[tuple[str, Any]]:
    return [(m.group(1), {k: v for k, v in _XML_PARAM.findall(m.group(2))}) for m in _XML_FUNCTION.finditer(text)]


def _mistral_calls(text: str) -> list[tuple[str, Any]]:
    text = text.strip()
    if text.startswith("["):
        return [c for v in _json_values(text) for c in _calls_in(v)]
    calls = []
    for part in re.split(r"\[TOOL_CALLS\]", text):
        m = _MISTRAL_ARGS.match(part) or re.match(r"\s*([\w\-.]+)\s*(?=\{)", part)
        if m:
            values = _json_values(part[m.end() :])
            calls.append((m.group(1), values[0] if values else {}))
    return calls


def recover_tool_calls(content: str, known: Collection[str] = ()) -> tuple[list[ToolCall], str]:
    """Tool calls written into ``content`` and the text left around them.

    Tagged syntaxes are taken whatever the name (the toolbox answers unknown names); bare or
    fenced JSON only when the name is a known tool, so an answer that *shows* JSON stays text.
    """
    found: list[tuple[str, Any]] = []
    rest = content
    for pattern, parse in (
        (_HARMONY_CALL, lambda m: [(m.group(1), (_json_values(m.group(2)) or [m.group(2).strip()])[0])]),
        (_SECTION, lambda m: [c for v in _json_values(m.group(1)) for c in _calls_in(v)]),
        (_PER_CALL, lambda m: _xml_calls(m.group(1)) or [c for v in _json_values(m.group(1)) for c in _calls_in(v)]),
        (_XML_FUNCTION, lambda m: _xml_calls(m.group(0))),
        (_MISTRAL, lambda m: _mistral_calls(m.group(1))),
    ):
        if "<" not in rest and "[TOOL_CALLS]" not in rest and "to=" not in rest:
            break
        for m in list(pattern.finditer(rest)):
            calls = parse(m)
            if calls:
                found += calls
                rest = rest.replace(m.group(0), "", 1)
    if not found and known:
        blocks: list[re.Match[str] | None] = list(_FENCE.finditer(rest))
        if not blocks and rest.strip().startswith("{"):
            blocks = [None]  # the whole content is one JSON object
        for block in blocks:
            text = block.group(1) if block else rest
            calls = [c for v in _json_values(text) for c in _calls_in(v) if c[0] in known]
            if calls:
                found += calls
                rest = rest.replace(block.group(0), "", 1) if block else ""
    tool_calls = [
        ToolCall(id="", name=name.strip(), arguments=args if isinstance(args, str) else json.dumps(args))
        for name, args in found
    ]
    return tool_calls, rest.strip()


def split_harmony(content: str) -> tuple[str, str] | None:
    """gpt-oss channel text leaked into ``content`` → (analysis, final), or None if not Harmony."""
    if "<|channel|>" not in content and not content.startswith("<|start|>"):
        return None
    stop = r"(?=<\|end\|>|<\|return\|>|<\|start\|>|<\|channel\|>|$)"
    analysis = "".join(re.findall(r"<\|channel\|>\s*analysis\s*<\|message\|>(.*?)" + stop, content, _S))
    final = "".join(re.findall(r"<\|channel\|>\s*final\s*<\|message\|>(.*?)" + stop, content, _S))
    if not analysis and not final:
        return None
    return analysis.strip(), final.strip()
