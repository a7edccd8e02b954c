"""A GBNF grammar that makes the model's reply exactly one well-formed tool call.

Why: a 135M–270M model given ``tools`` answers in free text, echoes the prompt, or opens a call
and never closes it. llama.cpp derives its own tool-call grammar from the chat template, but that
grammar lets any amount of text come first (even with ``tool_choice: "required"``) and leaves the
argument strings unbounded; and it refuses a custom ``grammar`` next to ``tools`` (HTTP 400
"Cannot use custom grammar constraints with tools"). So under ``call_grammar`` the agent sends no
``tools`` and this grammar instead: the reply can only be one call to an enabled tool, written in
the template's own syntax (the same text the template renders for the calls in the history, so the
model sees one format throughout), with the arguments the schema declares, in schema order. The
call then comes back as ``content`` and :func:`agent.syntaxes.parse_content` reads it (the family
:data:`agent.syntaxes.GRAMMAR_SYNTAX` names for the grammar's syntax first).

Supported schema subset (what the tool specs use): string (``enum`` → literals), integer, number,
boolean; required properties always present, optional ones each optional, nothing else. A string
property named ``path`` is limited to path characters, so a looping model cannot make up a
200-character file name. ``max_string`` bounds the other strings, in characters: the call is then
closed by the grammar before ``max_tokens`` cuts it into invalid JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

# What surrounds the call in each syntax; the inner text is always {"name": …, "arguments": {…}}.
SYNTAXES = {
    "section": ('"<tool_calls>\\n["', '"]\\n</tool_calls>"'),  # [{...}] inside <tool_calls> (tiny templates)
    "tag": ('"<tool_call>\\n"', '"\\n</tool_call>"'),  # Qwen/Hermes style, one call per tag
    "json": ("", ""),  # the bare object
}
_CHAR = r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'
_PATH_CHARS = "[A-Za-z0-9_./-]"


def literal(text: str) -> str:
    """``text`` as a GBNF string literal (JSON escaping is a subset of what GBNF accepts)."""
    return json.dumps(text, ensure_ascii=False)


def _rule_name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9-]+", "-", text).strip("-").lower() or "x"


class _Builder:
    def __init__(self, max_string: int | None) -> None:
        self.rules: dict[str, str] = {}
        self.max_string = max_string

    def add(self, name: str, body: str) -> str:
        base, n = name, 2
        while name in self.rules and self.rules[name] != body:
            name, n = f"{base}-{n}", n + 1
        self.rules[name] = body
        return name

    def string(self) -> str:
        bound = f"{{0,{self.max_string}}}" if self.max_string else "*"
        self.add("char", _CHAR)
        return self.add("string", f'"\\"" char{bound} "\\""')

    def value(self, prop: str, schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return "(" + " | ".join(literal(json.dumps(v, ensure_ascii=False)) for v in schema["enum"]) + ")"
        if kind == "string" and prop == "path":
            return self.add("path", f'"\\"" {_PATH_CHARS}{{1,160}} "\\""')
        if kind == "string":
            return self.string()
        if kind == "integer":
            return self.add("integer", '"-"? [0-9]{1,9}')
        if kind == "number":
            return self.add("number", '"-"? [0-9]{1,9} ("." [0-9]{1,6})?')
        if kind == "boolean":
            return self.add("boolean", '"true" | "false"')
        raise ValueError(f"call_grammar: parameter {prop!r} has unsupported type {kind!r}")

    def arguments(self, name: str, params: dict[str, Any]) -> str:
        props: dict[str, Any] = params.get("properties") or {}
        required = [p for p in props if p in set(params.get("required") or ())]
        optional = [p for p in props if p not in required]
        rule = f"args-{_rule_name(name)}"
        pairs = [literal(f'"{p}": ') + " " + self.value(p, props[p]) for p in required]
        body = ' ", " '.join(pairs)
        if optional:
            chain = self._optional_chain(rule, [literal(f'"{p}": ') + " " + self.value(p, props[p]) for p in optional])
            body = f'{body} (", " {chain})?' if body else f"{chain}?"
        return self.add(rule, f'"{{" {body} "}}"' if body else '"{}"')

    def _optional_chain(self, rule: str, pairs: list[str]) -> str:
        """A rule for any non-empty, in-order subset of ``pairs``, comma-separated:
        chain(i) = pair_i (", " chain(i+1))? | chain(i+1); linear in the number of properties."""
        name = ""
        for i in range(len(pairs) - 1, -1, -1):
            body = pairs[i] if not name else f'{pairs[i]} (", " {name})? | {name}'
            name = self.add(f"{rule}-opt{i}", body)
        return name


def call_grammar(schemas: list[dict[str, Any]], syntax: str = "section", max_string: int | None = None) -> str:
    """GBNF for one call to one of ``schemas`` (OpenAI ``tools`` entries) in ``syntax``.

    Raises ValueError for an unknown syntax, no tools, or a parameter type outside the subset.
    """
    if syntax not in SYNTAXES:
        raise ValueError(f"call_grammar must be one of {', '.join(SYNTAXES)}, not {syntax!r}")
    if not schemas:
        raise ValueError("call_grammar needs at least one enabled tool")
    b = _Builder(max_string)
    alternatives = []
    for schema in schemas:
        fn = schema.get("function", schema)
        name = fn["name"]
        args = b.arguments(name, fn.get("parameters") or {})
        head = literal(f'{{"name": "{name}", "arguments": ')
        alternatives.append(b.add(f"call-{_rule_name(name)}", f'{head} {args} "}}"'))
    before, after = SYNTAXES[syntax]
    root = " ".join(x for x in (before, "(" + " | ".join(alternatives) + ")", after) if x)
    lines = [f"root ::= {root}"] + [f"{name} ::= {body}" for name, body in b.rules.items()]
    return "\n".join(lines) + "\n"
