"""Rescue tool calls the server left in the text.

A local model often emits its call as text (the server's template parser missed it, the model
drifted into another family's syntax, or ``call_grammar`` made it write the call as text on
purpose). Taking that text as the final answer ends the run for nothing, so
:func:`calls_from_content` extracts the calls from ``content``: it is the one entry point the loop
uses, so the parser behind it can be swapped. Their arguments stay raw text: the ToolBox repairs
them like any other call's (``agent.tools.args``). :func:`split_harmony` separates gpt-oss channel
text that leaked into ``content``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from agent.protocols import ToolCall
from agent.tools.args import parse_json_arguments
from agent.tools.errors import ToolError

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
            if j == text.find("{", i):  # a broken object (e.g. cut off by a stop word): repaired
                try:
                    repaired, _ = parse_json_arguments(text[j:])
                except ToolError:
                    break
                if isinstance(repaired, dict):
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
    return [(m.group(1), dict(_XML_PARAM.findall(m.group(2)))) for m in _XML_FUNCTION.finditer(text)]


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


def calls_from_content(content: str, known: Collection[str] = ()) -> tuple[list[ToolCall], str]:
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
