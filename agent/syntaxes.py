"""Every model family's tool-call syntax as one table, and the parser it drives.

Why: when llama-server's parser for a family fails (broken in released builds for GLM and
Qwen3-Coder XML calls, absent for others), a call arrives as plain ``content``. Taking that as the
final answer ends the exercise with nothing done, so the agent reads the call itself, in the
model's own syntax. Each family is one :class:`Syntax` row of :data:`SYNTAXES`: how a call looks,
how its arguments are typed, how several calls are separated, which reasoning wrapper may come
first, and how the family is recognised from a chat template or a model name. The rows are data
(:class:`agent.callreader.Form` markers); agent/callreader.py has the four generic readers.

How a reply is read (:func:`parse_content`):

1. Calls between markers that run to the end of the reply (*strict*), the preferred family first,
   then the others. A family's marker inside a file body cannot read strictly (the rest of the body
   and the real call's closing markers follow it), so a body holding every family's markers comes
   back intact whatever is preferred.
2. Otherwise (the reply ends inside a call, bare JSON, prose after the calls): the reading whose
   first call starts earliest, since a marker inside a body starts after the call holding it.
   Bare JSON, which has no markers of its own, counts only where it ends the reply: followed by
   prose, it is an answer showing a call.

A call cut off by the end of the reply (``max_tokens``) is never returned as a call: its last
argument would be half a file. :attr:`Parsed.incomplete` names it, so the agent can say so to the
model instead of ending the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.callreader import Form, ParsedCall, ToolIndex, index_tools, read_form, typed_value
from agent.protocols import ToolCall

__all__ = [
    "GRAMMAR_SYNTAX",
    "SYNTAXES",
    "Parsed",
    "ParsedCall",
    "Reasoning",
    "Syntax",
    "detect_syntax",
    "parse_content",
    "split_reasoning",
    "split_text",
    "to_tool_calls",
    "typed_value",
]


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)


_NAME = r"[\w.\-]+"


@dataclass(frozen=True)
class Reasoning:
    """A wrapper around reasoning that may precede the calls.

    ``opened`` matches the wrapper at the start of the reply; ``unopened`` matches reasoning whose
    opening tag was already in the generation prompt (the reply starts inside it), if the family's
    templates prefill one.
    """

    name: str
    marker: str  # a literal every form of the wrapper holds (skips the patterns when absent)
    opened: re.Pattern[str]
    unopened: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Syntax:
    """One model family: its call forms and what the agent needs to know around them."""

    key: str
    label: str
    example: str  # one call as the family's template renders it
    arguments: str  # how argument values are typed
    several: str  # how several calls in one reply are separated
    forms: tuple[Form, ...]
    reasoning: tuple[Reasoning, ...] = ()
    # The wrapper of a final answer, group ``a`` the text shown (Harmony's final channel)
    answer: re.Pattern[str] | None = None
    # Recognising the family: a chat template containing every marker of any one group, or a
    # model name (GGUF file, HF repo or config name) matching ``model_names``.
    template_markers: tuple[tuple[str, ...], ...] = ()
    model_names: re.Pattern[str] | None = None


# Reasoning wrappers
_THINK = Reasoning(
    "think",
    "</think>",
    _re(r"\A\s*<think>(?P<r>.*?)</think>"),
    _re(r"\A(?P<r>(?:(?!<think>).)*?)</think>"),
)
_MISTRAL_THINK = Reasoning("[THINK]", "[/THINK]", _re(r"\A\s*\[THINK\](?P<r>.*?)\[/THINK\]"))
_HARMONY_ANALYSIS = Reasoning(
    "analysis channel",
    "<|channel|>",
    _re(
        r"\A(?:\s*(?:<\|start\|>\s*assistant\s*)?<\|channel\|>\s*analysis\s*<\|message\|>"
        r"(?P<r>.*?)(?:<\|end\|>|(?=<\|start\|>)|(?=<\|channel\|>)))+"
    ),
)

# Shared call forms
_QWEN_XML = Form(
    kind="pairs",
    trigger="<function=",
    open=_re(r"<(?:tool_call>\s*<)?function=[\"']?(?P<name>" + _NAME + r")[\"']?\s*>"),
    pair=_re(r"\s*<parameter=[\"']?(?P<key>[^>\"'\n]+?)[\"']?\s*>"),
    value_close=_re(r"</parameter>"),
    pad="\n",
    close=_re(r"\s*</function>(?:\s*</tool_call>)?"),
)
_KIMI_CALL = _re(
    r"<\|tool_call_begin\|>\s*(?:functions\.)?(?P<name>" + _NAME + r"?)(?::\d+)?\s*<\|tool_call_argument_begin\|>"
)
_DS = r"[｜|]"  # DeepSeek's full-width bar; some front ends print an ASCII one
_DS_SEP = r"[▁_ ]"


def _ds(words: str) -> str:
    return "<" + _DS + _DS_SEP.join(words.split()) + _DS + ">"


SYNTAXES: dict[str, Syntax] = {
    s.key: s
    for s in (
        Syntax(
            key="glm",
            label="GLM-4.5/4.6/4.7",
            example="<tool_call>read\n<arg_key>path</arg_key>\n<arg_value>a.py</arg_value>\n</tool_call>",
            arguments="strings verbatim between <arg_value> tags (non-strings as JSON); typed by the schema",
            several="one <tool_call> per call, newline-separated (4.5/4.6) or adjacent (4.7)",
            forms=(
                Form(
                    kind="pairs",
                    trigger="<tool_call>",
                    open=_re(r"<tool_call>\s*(?P<name>" + _NAME + r")\s*(?=<arg_key>|</tool_call>|\Z)"),
                    pair=_re(r"\s*<arg_key>\s*(?P<key>[^<]+?)\s*</arg_key>\s*<arg_value>"),
                    value_close=_re(r"</arg_value>"),
                    close=_re(r"\s*(?:</tool_call>|\Z)"),
                ),
            ),
            reasoning=(_THINK,),
            template_markers=(("<arg_key>",),),
            model_names=_re(r"glm[-_ ]?(?:4\.[5-9]|5)"),
        ),
        Syntax(
            key="qwen3_coder",
            label="Qwen3-Coder / Qwen3.5 XML",
            example="<tool_call>\n<function=read>\n<parameter=path>\na.py\n</parameter>\n</function>\n</tool_call>",
            arguments="strings between <parameter=…> tags, one newline of padding each side; typed by the schema",
            several="one <tool_call> per call, newline-separated",
            forms=(_QWEN_XML,),
            reasoning=(_THINK,),
            template_markers=(("<function=", "<parameter="),),
            model_names=_re(r"qwen[-_ ]?3[-_ .]?(?:\d+[-_ ]?)?coder|qwen[-_ ]?3\.5"),
        ),
        Syntax(
            key="step",
            label="Step-3.5-Flash",
            example="<tool_call>\n<function=read>\n<parameter=path>\na.py\n</parameter>\n</function>\n</tool_call>",
            arguments="as Qwen3-Coder XML: strings with one newline of padding each side; typed by the schema",
            several="one <tool_call> per call, adjacent (no separator)",
            forms=(_QWEN_XML,),
            reasoning=(_THINK,),
            template_markers=(("<function=", "<|im_start|>tool_response"),),
            model_names=_re(r"step[-_ ]?3"),
        ),
        Syntax(
            key="hermes",
            label="Qwen / Hermes JSON",
            example='<tool_call>\n{"name": "read", "arguments": {"path": "a.py"}}\n</tool_call>',
            arguments="JSON",
            several="one <tool_call> per call, newline-separated",
            forms=(
                Form(
                    kind="json",
                    trigger="<tool_call>",
                    open=_re(r"<tool_call>\s*(?=[\[{])"),
                    close=_re(r"\s*(?:</tool_call>|\Z)"),
                    array=True,
                ),
            ),
            reasoning=(_THINK,),
            template_markers=(("<tool_call>",),),
            model_names=_re(r"qwen|qwq|hermes|jan[-_ ]?v3|smollm3"),
        ),
        Syntax(
            key="harmony",
            label="gpt-oss Harmony",
            example="<|channel|>commentary to=functions.read <|constrain|>json<|message|>{\"path\": \"a.py\"}<|call|>",
            arguments="JSON",
            several="one assistant message per call (<|call|> ends each; <|start|>assistant opens the next)",
            forms=(
                Form(
                    kind="named",
                    trigger="to=",
                    open=_re(
                        r"(?:<\|start\|>\s*assistant\s*)?(?:<\|channel\|>\s*\w+\s*)?"
                        r"to=(?:functions\.)?(?P<name>" + _NAME + r")\s*"
                        r"(?:<\|channel\|>\s*\w+\s*)?(?:<\|constrain\|>\s*)?(?:[\w\-]+\s*)?<\|message\|>"
                    ),
                    close=_re(r"\s*(?:<\|call\|>|<\|end\|>)?"),
                ),
            ),
            reasoning=(_HARMONY_ANALYSIS,),
            answer=_re(
                r"\A\s*(?:<\|start\|>\s*assistant\s*)?<\|channel\|>\s*final\s*<\|message\|>(?P<a>.*?)"
                r"(?:<\|return\|>|<\|end\|>)?\s*\Z"
            ),
            template_markers=(("<|channel|>", "<|message|>"),),
            model_names=_re(r"gpt[-_ ]?oss"),
        ),
        Syntax(
            key="mistral",
            label="Mistral / Devstral",
            example='[TOOL_CALLS]read[ARGS]{"path": "a.py"}',
            arguments="JSON",
            several="[TOOL_CALLS] before each call (v11+), or one JSON list after it (v3)",
            forms=(
                Form(
                    kind="named",
                    trigger="[TOOL_CALLS]",
                    open=_re(
                        r"\[TOOL_CALLS\]\s*(?P<name>" + _NAME + r")\s*"
                        r"(?:\[CALL_ID\]\s*[\w\-]+\s*)?(?:\[ARGS\]\s*)?(?=\{)"
                    ),
                ),
                Form(kind="json", trigger="[TOOL_CALLS]", open=_re(r"\[TOOL_CALLS\]\s*(?=[\[{])"), array=True),
            ),
            reasoning=(_MISTRAL_THINK,),
            template_markers=(("[TOOL_CALLS]",),),
            model_names=_re(r"mistral|mixtral|devstral|ministral|magistral|codestral"),
        ),
        Syntax(
            key="llama3",
            label="Llama 3.x JSON",
            example='{"name": "read", "parameters": {"path": "a.py"}}',
            arguments="JSON (built-in tools: Python keyword arguments after <|python_tag|>)",
            several="one call per message in the template; ';' or whitespace between objects accepted",
            forms=(
                Form(
                    kind="python",
                    trigger="<|python_tag|>",
                    open=_re(r"<\|python_tag\|>\s*(?P<name>" + _NAME + r")\.call\("),
                ),
                Form(kind="json", trigger="<|python_tag|>", open=_re(r"<\|python_tag\|>\s*(?=\{)"), array=True),
                Form(
                    kind="json",
                    trigger='"name"',
                    open=_re(r"(?:```(?:json)?\s*)?(?=\{\s*\"(?:name|function)\"\s*:)"),
                    close=_re(r"(?:\s*```)?"),
                    separator=_re(r"\s*;?\s*"),
                    known_only=True,
                ),
            ),
            template_markers=(("<|python_tag|>",), ("<|start_header_id|>", '"parameters"')),
            model_names=_re(r"llama[-_ ]?3"),
        ),
        Syntax(
            key="minimax",
            label="MiniMax-M2",
            example='<minimax:tool_call>\n<invoke name="read">\n<parameter name="path">a.py</parameter>\n'
            "</invoke>\n</minimax:tool_call>",
            arguments="strings verbatim between <parameter name=…> tags (non-strings as JSON); typed by the schema",
            several="<invoke> elements, newline-separated, inside one <minimax:tool_call> section",
            forms=(
                Form(
                    kind="pairs",
                    trigger="<minimax:tool_call>",
                    section=(_re(r"<minimax:tool_call>\s*"), _re(r"\s*(?:</minimax:tool_call>|\Z)")),
                    open=_re(r"<invoke\s+name=[\"']?(?P<name>[^\"'>\s]+)[\"']?\s*>"),
                    pair=_re(r"\s*<parameter\s+name=[\"']?(?P<key>[^\"'>]+?)[\"']?\s*>"),
                    value_close=_re(r"</parameter>"),
                    close=_re(r"\s*</invoke>"),
                ),
            ),
            reasoning=(_THINK,),
            template_markers=(("<minimax:tool_call>",),),
            model_names=_re(r"minimax"),
        ),
        Syntax(
            key="kimi",
            label="Kimi-K2",
            example="<|tool_calls_section_begin|><|tool_call_begin|>functions.read:0<|tool_call_argument_begin|>"
            '{"path": "a.py"}<|tool_call_end|><|tool_calls_section_end|>',
            arguments="JSON",
            several="<|tool_call_begin|>…<|tool_call_end|> per call, adjacent, inside one section",
            forms=(
                Form(
                    kind="named",
                    trigger="<|tool_calls_section_begin|>",
                    section=(
                        _re(r"<\|tool_calls_section_begin\|>\s*"),
                        _re(r"\s*(?:<\|tool_calls_section_end\|>|\Z)"),
                    ),
                    open=_KIMI_CALL,
                    close=_re(r"\s*(?:<\|tool_call_end\|>|\Z)"),
                ),
                Form(  # the section's own tokens left out
                    kind="named",
                    trigger="<|tool_call_begin|>",
                    open=_KIMI_CALL,
                    close=_re(r"\s*(?:<\|tool_call_end\|>|\Z)"),
                ),
            ),
            reasoning=(_THINK,),
            template_markers=(("<|tool_calls_section_begin|>",),),
            model_names=_re(r"kimi"),
        ),
        Syntax(
            key="deepseek",
            label="DeepSeek-V3.x / R1",
            example="<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>read<｜tool▁sep｜>{\"path\": \"a.py\"}"
            "<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
            arguments="JSON (R1/V3: in a json code fence; V3.1: bare); V3.2 DSML: strings with string=\"true|false\"",
            several="<｜tool▁call▁begin｜>…<｜tool▁call▁end｜> per call inside one section "
            "(R1: newline-separated); "
            "V3.2: <｜DSML｜invoke> elements inside <｜DSML｜function_calls>",
            forms=(
                Form(  # R1 / V3: function<｜tool▁sep｜>name\n```json\n{…}\n```
                    kind="named",
                    trigger="tool",
                    section=(_re(_ds("tool calls begin") + r"\s*"), _re(r"\s*(?:" + _ds("tool calls end") + r"|\Z)")),
                    open=_re(
                        _ds("tool call begin") + r"\s*function\s*" + _ds("tool sep") + r"\s*(?P<name>" + _NAME
                        + r")\s*(?:```(?:json)?\s*)?"
                    ),
                    close=_re(r"\s*(?:```\s*)?(?:" + _ds("tool call end") + r"|\Z)"),
                ),
                Form(  # V3.1: name<｜tool▁sep｜>{…}
                    kind="named",
                    trigger="tool",
                    section=(_re(_ds("tool calls begin") + r"\s*"), _re(r"\s*(?:" + _ds("tool calls end") + r"|\Z)")),
                    open=_re(_ds("tool call begin") + r"\s*(?P<name>" + _NAME + r")\s*" + _ds("tool sep") + r"\s*"),
                    close=_re(r"\s*(?:" + _ds("tool call end") + r"|\Z)"),
                ),
                Form(  # V3.2 DSML
                    kind="pairs",
                    trigger="DSML",
                    section=(
                        _re(r"<[｜|]DSML[｜|]function_calls>\s*"),
                        _re(r"\s*(?:</[｜|]DSML[｜|]function_calls>|\Z)"),
                    ),
                    open=_re(r"<[｜|]DSML[｜|]invoke\s+name=\"(?P<name>[^\"]+)\"\s*>"),
                    pair=_re(
                        r"\s*<[｜|]DSML[｜|]parameter\s+name=\"(?P<key>[^\"]+)\""
                        r"(?:\s+string=\"(?P<string>true|false)\")?\s*>"
                    ),
                    value_close=_re(r"</[｜|]DSML[｜|]parameter>"),
                    close=_re(r"\s*</[｜|]DSML[｜|]invoke>"),
                ),
            ),
            reasoning=(_THINK,),
            template_markers=(("tool▁calls▁begin",), ("｜DSML｜",)),
            model_names=_re(r"deepseek"),
        ),
        Syntax(
            key="tool_calls",
            label="localcode <tool_calls> section (agent/configs/templates, call_grammar)",
            example='<tool_calls>\n[{"name": "read", "arguments": {"path": "a.py"}}]\n</tool_calls>',
            arguments="JSON",
            several="one JSON list of calls inside one <tool_calls> section",
            forms=(
                Form(
                    kind="json",
                    trigger="<tool_calls>",
                    open=_re(r"<tool_calls>\s*(?=[\[{])"),
                    close=_re(r"\s*(?:</tool_calls>|\Z)"),
                    array=True,
                ),
            ),
            reasoning=(_THINK,),
            template_markers=(("<tool_calls>",),),
        ),
    )
}

# Which family each ``call_grammar`` syntax of agent/grammar.py writes.
GRAMMAR_SYNTAX = {"section": "tool_calls", "tag": "hermes", "json": "llama3"}

# Detection order: most specific markers first (a Qwen3-Coder template also contains <tool_call>).
_DETECT_ORDER = (
    "harmony", "kimi", "deepseek", "minimax", "glm", "step", "qwen3_coder", "tool_calls", "hermes",
    "mistral", "llama3",
)
_NAME_ORDER = (
    "deepseek", "qwen3_coder", "step", "glm", "kimi", "minimax", "harmony", "mistral", "hermes", "llama3",
)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Parsed:
    """The calls found in one reply's content and what surrounds them."""

    calls: list[ParsedCall]
    syntax: str  # the SYNTAXES key that matched
    text: str = ""  # content outside the calls and the reasoning
    reasoning: str = ""  # reasoning found before the calls (<think>, analysis channel, [THINK])
    incomplete: str | None = None  # name of a call the reply ended inside ("" if unnamed)
    strict: bool = True  # False: prose followed the calls (a lenient parse)


def to_tool_calls(parsed: Parsed) -> list[ToolCall]:
    """``parsed.calls`` as :class:`agent.protocols.ToolCall` (raw JSON ``arguments``, no id)."""
    return [
        ToolCall(id="", name=c.name, arguments=c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments))
        for c in parsed.calls
    ]


_ALL_REASONING: tuple[Reasoning, ...] = tuple(dict.fromkeys(r for s in SYNTAXES.values() for r in s.reasoning))
_ANALYSIS = _re(r"<\|channel\|>\s*analysis\s*<\|message\|>(.*?)(?:<\|end\|>|(?=<\|start\|>)|(?=<\|channel\|>))")


def split_reasoning(text: str, syntax: str | None = None, *, prefilled: bool = True) -> tuple[str, str]:
    """(reasoning, rest) for a reply that opens with one of the family's reasoning wrappers
    (any family's where ``syntax`` is None); ("", text) when it does not.

    Reasoning whose opening tag was in the generation prompt (the reply starts inside it) counts
    only if no call of the family opens before its closing tag: otherwise that tag is text inside
    a call's argument. ``prefilled=False`` leaves that form out (only wrappers the reply opens).
    """
    syntaxes = [SYNTAXES[syntax]] if syntax else list(SYNTAXES.values())
    for wrapper in SYNTAXES[syntax].reasoning if syntax else _ALL_REASONING:
        if wrapper.marker not in text:
            continue
        for pattern in (wrapper.opened, wrapper.unopened) if prefilled else (wrapper.opened,):
            m = pattern.match(text) if pattern is not None else None
            if m and wrapper is _HARMONY_ANALYSIS:
                return "\n".join(r.strip() for r in _ANALYSIS.findall(m.group(0))), text[m.end() :]
            if m and pattern is wrapper.unopened and _opens_call(m.group("r"), syntaxes):
                continue
            if m:
                return m.group("r").strip(), text[m.end() :]
    return "", text


_ANSWERS = tuple(s.answer for s in SYNTAXES.values() if s.answer is not None)


def split_text(text: str, syntax: str | None = None) -> tuple[str, str]:
    """(reasoning, answer) of a reply that holds no call: its reasoning wrapper and an answer
    wrapper (Harmony's final channel) taken off; ``("", text)`` when it has neither.

    The family's own wrappers first; then any family's that the reply itself opens (a closing
    ``</think>`` alone counts as the end of reasoning only for families whose prompts open it).
    """
    reasoning, rest = split_reasoning(text, syntax)
    if rest is text and syntax is not None:
        reasoning, rest = split_reasoning(text, prefilled=False)
    for pattern in _ANSWERS:
        if m := pattern.match(rest):
            return reasoning, m.group("a").strip()
    return (reasoning, rest.strip()) if rest is not text else ("", text)


def _opens_call(text: str, syntaxes: list[Syntax]) -> bool:
    return any(
        f.trigger in text and (f.section[0] if f.section else f.open).search(text)
        for s in syntaxes
        for f in s.forms
    )


_TRIGGERS = tuple(dict.fromkeys(f.trigger for s in SYNTAXES.values() for f in s.forms))


def _readings(
    text: str, syntax: Syntax, tools: dict[str, ToolIndex], strict: bool
) -> Iterator[tuple[Parsed, int, bool]]:
    """Each of the family's forms' parse of ``text``: (parsed, where its first call starts,
    whether the form has no markers of its own, bare JSON)."""
    found_reasoning, rest = split_reasoning(text, syntax.key)
    # Reasoning first; if what looked like its end was inside a call, the whole text.
    for reasoning, body in [(found_reasoning, rest)] + ([("", text)] if rest is not text else []):
        found_any = False
        for form in syntax.forms:
            if form.trigger not in body:
                continue
            found = read_form(body, form, tools, strict)
            if found is not None and form.known_only and found.text.strip() != body[: found.start].strip():
                found = None  # bare JSON with prose after it: an answer that shows a call
            if found is not None:
                found_any = True
                parsed = Parsed(found.calls, syntax.key, found.text.strip(), reasoning, found.incomplete, strict)
                yield parsed, len(text) - len(body) + found.start, form.known_only
        if found_any:
            return


def parse_content(
    text: str,
    schemas: Sequence[Mapping[str, Any]] = (),
    prefer: str | None = None,
    known: Collection[str] = (),
) -> Parsed | None:
    """The tool calls written into ``text`` (a reply's ``content``), or None when there are none.

    ``schemas`` (OpenAI ``tools`` entries) type the arguments of XML-like syntaxes and name the
    tools that bare JSON may call, as do the names in ``known`` (aliases, canonical names);
    ``prefer`` (a :data:`SYNTAXES` key) is tried before the other families. A reply that ends
    inside a call gives a :class:`Parsed` whose ``incomplete`` names that call and whose ``calls``
    hold only the complete calls before it.
    """
    if prefer is not None and prefer not in SYNTAXES:
        raise ValueError(f"unknown tool-call syntax {prefer!r}; known: {', '.join(SYNTAXES)}")
    present = {trigger for trigger in _TRIGGERS if trigger in text} if text else set()
    if not present:
        return None  # the common case, a reply of prose or code: one scan per marker
    keys = ([prefer] if prefer else []) + [k for k in SYNTAXES if k != prefer]
    order = [SYNTAXES[k] for k in keys if any(f.trigger in present for f in SYNTAXES[k].forms)]
    tools = index_tools(schemas)
    for name in known:
        tools.setdefault(name, ToolIndex({}, ()))
    # 1. Complete calls, between markers, that run to the end of the reply: the preferred family first.
    others: list[tuple[int, int, int, Parsed]] = []
    for rank, syntax in enumerate(order):
        for parsed, start, bare in _readings(text, syntax, tools, strict=True):
            if parsed.incomplete is None and not bare:
                return parsed
            others.append((start, 0, rank, parsed))
    # 2. A reply that ends inside a call, bare JSON, or prose after the calls: the reading whose
    # first call starts earliest is the real one (a marker inside a call's body starts later);
    # then strict over lenient, then the preferred family.
    for rank, syntax in enumerate(order):
        for parsed, start, _ in _readings(text, syntax, tools, strict=False):
            others.append((start, 1, rank, parsed))
    return min(others, key=lambda o: o[:3])[3] if others else None


# ---------------------------------------------------------------------------------------------
# Detection


def detect_syntax(chat_template: str | None = None, model_name: str | None = None) -> str | None:
    """The family (a :data:`SYNTAXES` key) of a chat template's text, else of a model's name
    (a config name, GGUF file name or HF repo), or None when neither says."""
    if chat_template:
        for key in _DETECT_ORDER:
            if any(all(marker in chat_template for marker in group) for group in SYNTAXES[key].template_markers):
                return key
    if model_name:
        low = model_name.lower()
        for key in _NAME_ORDER:
            pattern = SYNTAXES[key].model_names
            if pattern is not None and pattern.search(low):
                return key
    return None

