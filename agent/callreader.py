"""Reading tool calls of one form out of text: the generic readers the syntax table is written in.

agent/syntaxes.py describes each model family's calls as :class:`Form` rows; this module reads
them. A form is one of four kinds of call (JSON object, name + JSON arguments, name + verbatim
key/value pairs, name + Python keyword arguments) with its markers as regular expressions.

Reading is a best-first search over where each call and each value may end. With JSON there is
one answer. With verbatim values (GLM, Qwen3-Coder XML, MiniMax, DeepSeek DSML) a value could end
at any later closing tag, and a file body that holds this very syntax's calls gives several valid
readings: the ranking in :class:`_Reader` picks the one a model meant, and the search stops there,
so an unambiguous reply costs one pass.

**Strict** reading: from the call's start to the end of the text there is nothing but calls,
separators and end-of-turn tokens (as every template renders them), or the end of the text cuts
the last call off. A marker inside a body is followed by the rest of the body and the real call's
closing markers, so it never reads strictly. **Lenient** reading lets prose follow a call.
"""

from __future__ import annotations

import ast
import bisect
import functools
import heapq
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["END_OF_TURN", "Form", "Found", "ParsedCall", "ToolIndex", "index_tools", "read_form", "typed_value"]


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)


_WS = _re(r"\s*")


def _skip(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where ``pattern``, one that matches the empty string (spaces, separators), ends from ``pos``."""
    m = pattern.match(text, pos)
    return m.end() if m else pos


@dataclass(frozen=True)
class Form:
    """One way a family writes its calls.

    ``kind`` names the generic reader:

    * ``json``: the call is a JSON object ``{"name": …, "arguments"|"parameters": {…}}`` right
      after ``open`` (a JSON list of them where ``array``); arguments are typed by JSON.
    * ``named``: ``open`` captures the name (group ``name``), one JSON object of arguments follows.
    * ``pairs``: ``open`` captures the name; each argument opens with ``pair`` (group ``key``, and
      ``string`` = "true"/"false" where the syntax says whether the value is a string) and its value
      runs verbatim to ``value_close``. Values are strings, typed with the tool's JSON schema;
      ``pad`` is stripped once from each end (the template adds it around every value).
    * ``python``: ``open`` captures the name and ``(``; Python keyword arguments up to ``)``.

    ``section`` (open, close) wraps all the calls of one reply; ``separator`` is what may stand
    between two calls (or sections); ``close`` ends one call. ``known_only`` accepts a call only
    when its name is one of the tools (for bare JSON, which an answer may merely show). ``trigger``
    is a substring the reply must contain for this form to be tried at all (the fast path).
    """

    kind: Literal["json", "named", "pairs", "python"]
    trigger: str
    open: re.Pattern[str]
    close: re.Pattern[str] = _WS
    section: tuple[re.Pattern[str], re.Pattern[str]] | None = None
    separator: re.Pattern[str] = _WS
    pair: re.Pattern[str] | None = None
    value_close: re.Pattern[str] | None = None
    pad: str = ""
    array: bool = False
    known_only: bool = False


# End-of-turn tokens a server run with --special leaves in content after the last call.
END_OF_TURN = (
    "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<|return|>", "<|call|>", "</s>", "[e~[",
    "<｜end▁of▁sentence｜>", "<|end▁of▁sentence|>", "<|endoftext|>", "<|user|>", "<|observation|>",
    "<end_of_turn>",
)
_TAIL = _re(r"(?:\s|" + "|".join(re.escape(t) for t in END_OF_TURN) + r")*\Z")


@dataclass(frozen=True)
class ParsedCall:
    """One call: its name and arguments (a dict; raw JSON text where it did not decode, for the
    tool's own repair to try, as :meth:`agent.protocols.ToolBox.execute` accepts either)."""

    name: str
    arguments: dict[str, Any] | str


@dataclass(frozen=True)
class ToolIndex:
    """What the reader needs of one tool's schema: its parameters and the required ones."""

    properties: Mapping[str, Any]
    required: tuple[str, ...]


def index_tools(schemas: Sequence[Mapping[str, Any]]) -> dict[str, ToolIndex]:
    """Tool name → its parameters, from OpenAI ``tools`` entries (or bare function entries)."""
    out: dict[str, ToolIndex] = {}
    for entry in schemas:
        fn = entry.get("function", entry) if isinstance(entry, dict) else {}
        name = fn.get("name") if isinstance(fn, dict) else None
        if isinstance(name, str):
            params = fn.get("parameters")
            params = params if isinstance(params, dict) else {}
            props = params.get("properties")
            required = params.get("required")
            out[name] = ToolIndex(
                props if isinstance(props, dict) else {},
                tuple(r for r in required if isinstance(r, str)) if isinstance(required, list) else (),
            )
    return out


def _types_of(schema: Mapping[str, Any] | None) -> list[str]:
    if not isinstance(schema, Mapping):
        return []
    kind = schema.get("type")
    if isinstance(kind, str):
        types = [kind]
    else:
        types = [t for t in kind if isinstance(t, str)] if isinstance(kind, list) else []
    for key in ("anyOf", "oneOf"):
        for sub in schema.get(key) or ():
            types += _types_of(sub)
    if not types and isinstance(schema.get("enum"), list):
        types = sorted({"string" if isinstance(v, str) else "boolean" if isinstance(v, bool) else
                        "integer" if isinstance(v, int) else "number" if isinstance(v, float) else "null"
                        for v in schema["enum"]})
    return types


_INTEGER = re.compile(r"[-+]?\d+")


def typed_value(raw: str, schema: Mapping[str, Any] | None, string_flag: str | None = None) -> Any:
    """A string value from an XML-like syntax as the schema's type.

    Strings stay verbatim (newlines included). A value that does not convert stays a string, for
    the tool's own validation to report. ``True``/``None`` are accepted besides ``true``/``null``:
    a template's ``|string`` filter writes Python's spelling.
    """
    if string_flag == "true":
        return raw
    text = raw.strip()
    if string_flag == "false":
        try:
            return json.loads(text)
        except ValueError:
            pass
    types = _types_of(schema)
    if not types or "string" in types:
        return raw
    low = text.lower()
    for kind in types:
        if kind == "null" and low in ("null", "none"):
            return None
        if kind == "boolean" and low in ("true", "false"):
            return low == "true"
        if kind == "integer" and _INTEGER.fullmatch(text):
            return int(text)
        if kind == "number":
            try:
                number = float(text)
            except ValueError:
                continue
            return int(text) if _INTEGER.fullmatch(text) else number
        if kind in ("array", "object"):
            expected = list if kind == "array" else dict
            for decode in (json.loads, ast.literal_eval):
                try:
                    value = decode(text)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
                if isinstance(value, expected):
                    return value
    return raw


_DECODER = json.JSONDecoder(strict=False)
_NAME_IN_JSON = re.compile(r'"name"\s*:\s*"([^"\\]*)"')
_ARGS_IN_JSON = re.compile(r'"(?:arguments|parameters)"\s*:\s*\{')
# Words between a JSON call and its closing tag that a lenient reading drops.
_PROSE = _re(r"[^<>{}\[\]]{0,200}")
# What is left when a reply ends inside a call's closing markers: only tags, the last one cut.
_ONLY_TAGS = _re(r"(?:\s|</?[^<>\s]*(?:>|\Z))*\Z")


_NUMBER = _re(r"-?\d*(?:\.\d*)?(?:[eE][-+]?\d*)?")


def _string_end(text: str, i: int) -> int | None:
    """The index after the JSON string opening at ``i``, None if the text ends inside it."""
    i += 1
    while True:
        j = text.find('"', i)
        if j < 0:
            return None
        k = j
        while k > i and text[k - 1] == "\\":
            k -= 1
        if (j - k) % 2 == 0:
            return j + 1
        i = j + 1


def _json_cut(text: str, pos: int) -> bool:
    """Whether ``text[pos:]`` is a valid beginning of a JSON value that the text's end cut off.

    Only then is a call reported as incomplete: text that is merely not JSON (an escaped quote in
    a file body, say) is not a call at all.
    """
    stack: list[str] = []
    expect, i, n = "value", pos, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if expect == "colon":
            if ch != ":":
                return False
            expect, i = "value", i + 1
            continue
        if expect == "comma":
            if ch == ",":
                expect, i = ("key" if stack[-1] == "{" else "value"), i + 1
                continue
            if ch != ("}" if stack[-1] == "{" else "]"):
                return False
            stack.pop()
            i += 1
            if not stack:
                return False  # complete
            continue
        if ch in "}]" and expect in ("key_or_end", "value_or_end") and ch == ("}" if stack[-1] == "{" else "]"):
            stack.pop()
            i += 1
            if not stack:
                return False
            expect = "comma"
            continue
        if expect in ("key", "key_or_end"):
            if ch != '"':
                return False
            end = _string_end(text, i)
            if end is None:
                return True
            expect, i = "colon", end
            continue
        # a value
        if ch in "{[":
            stack.append(ch)
            expect, i = ("key_or_end" if ch == "{" else "value_or_end"), i + 1
            continue
        if ch == '"':
            end = _string_end(text, i)
            if end is None:
                return True
            i = end
        elif ch in "-0123456789":
            i = _skip(_NUMBER, text, i)
            if i >= n:
                return True
        else:
            word = next((w for w in ("true", "false", "null") if text.startswith(w, i)), None)
            if word is None:
                return any(w.startswith(text[i:]) for w in ("true", "false", "null"))
            i += len(word)
        if not stack:
            return False
        expect = "comma"
    return True


class _GiveUp(Exception):
    """The search met a pathological reply (too many candidate readings): no reading."""


@dataclass
class _Attempt:
    """One call opening being read; ``eof`` is set when the text ended before the call did."""

    name: str
    eof: bool = False


@functools.cache
def _lead(pattern: re.Pattern[str], trigger: str) -> int:
    """How far before its trigger an opening may start: 0 when the pattern starts with it."""
    return 0 if pattern.pattern.startswith(re.escape(trigger)) else 64


_Rank = tuple[int, int, int, int, int]
_ZERO: _Rank = (0, 0, 0, 0, 0)


def _plus(rank: _Rank, cut: int = 0, problems: int = 0, inner: int = 0, calls: int = 0, absent: int = 0) -> _Rank:
    return rank[0] + cut, rank[1] + problems, rank[2] + inner, rank[3] + calls, rank[4] + absent


def _mistyped(raw: str, schema: Mapping[str, Any] | None, flag: str | None) -> bool:
    """Whether a verbatim value fails its schema's non-string type (``"4</parameter>…"`` for an
    integer): the sign of a value that swallowed text after its real end."""
    types = _types_of(schema)
    if flag == "true" or not types or "string" in types:
        return False
    return isinstance(typed_value(raw, schema, flag), str)


@dataclass
class _Reading:
    calls: list[ParsedCall]
    end: int
    cut: str | None
    rank: _Rank


class _Reader:
    """Finds the best reading of one form's calls from a start in ``text``.

    A reading's rank, lowest best: (the end of the text cut a call off; schema problems: required
    arguments missing, arguments or tools the schemas do not name, values that fail their
    non-string type; values holding their own closing tag; calls; the tools' parameters left
    out). Where a verbatim value could end at several closing tags, each gives a valid reading: a
    file body holding this very syntax's calls can be read as those calls. Preferring values
    without closing tags keeps several real calls apart; then fewer calls keeps a body's pretend
    calls inside it; a reading where one value swallows the next argument, or that reads text as
    an unknown argument, comes after those: the swallowed arguments are left out, or the value
    no longer fits its type. The search is best-first
    (Dijkstra) over reading states, a value's candidate closing tags generated one at a time, so
    an unambiguous reply costs one pass and an ambiguous one stops at the best reading.

    Strict: a reading runs to the end of the text (only separators and end-of-turn tokens after
    its last call), or into a call the end of the text cut off. Lenient: it may stop after any call.
    """

    def __init__(self, text: str, form: Form, tools: dict[str, ToolIndex], strict: bool) -> None:
        self.text, self.form, self.tools, self.strict = text, form, tools, strict
        self.closers: list[re.Match[str]] = list(form.value_close.finditer(text)) if form.value_close else []
        self.closer_starts = [c.start() for c in self.closers]
        self.pops = 0  # states expanded, all searches together: a bound on pathological replies
        self.greedy = False  # each value ends at its first closing tag after which the call goes on

    def starts(self, pos: int = 0) -> Iterator[int]:
        """Where a call (or section) opens, in order. Every opening holds the form's trigger
        within its first 64 characters, so only the windows before each trigger are tried (a
        scan of every position would dominate the cost of reading a reply)."""
        pattern = self.form.section[0] if self.form.section else self.form.open
        text, trigger, last = self.text, self.form.trigger, pos
        lead = _lead(pattern, trigger)
        t = text.find(trigger, pos)
        while t >= 0:
            for p in range(max(last, t - lead), t + 1):
                if pattern.match(text, p):
                    yield p
                    last = p + 1
                    break
            t = text.find(trigger, max(t + 1, last))

    def read(self, start: int) -> _Reading | None:
        """The best reading from ``start``."""
        heap: list[tuple[_Rank, int, tuple[Any, ...], Any, Any]] = [(_ZERO, 0, ("block", start), None, None)]
        parents: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        seq = 0
        while heap:
            rank, _, node, parent, emitted = heapq.heappop(heap)
            if node in parents:
                continue
            parents[node] = (parent, emitted)
            if node[0] == "goal":
                return self._reading(node, parents, rank)
            self.pops += 1
            if self.pops > 50000:
                raise _GiveUp
            for step, next_node, out in self._steps(node):
                seq += 1
                heapq.heappush(heap, (_plus(rank, *step), seq, next_node, node, out))
        return None

    def _reading(self, goal: tuple[Any, ...], parents: dict[tuple[Any, ...], tuple[Any, Any]], rank: _Rank) -> _Reading:
        emitted: list[Any] = []
        node: Any = goal
        while node is not None:
            node, out = parents[node]
            if out is not None:
                emitted.append(out)
        calls: list[ParsedCall] = []
        pairs: dict[str, tuple[str, str | None]] = {}
        end, cut = goal[1], None
        for out in reversed(emitted):
            if out[0] == "pair":
                pairs[out[1]] = (out[2], out[3])
            elif out[0] == "close":  # a call of the pairs kind ends
                tool = self.tools.get(out[1]) or ToolIndex({}, ())
                args = {k: typed_value(v, tool.properties.get(k), f) for k, (v, f) in pairs.items()}
                calls.append(ParsedCall(out[1], args))
                pairs = {}
            elif out[0] == "calls":
                calls += out[1]
            else:
                cut = out[1]
        return _Reading(calls, end, cut, rank)

    # Each step: ((cut, problems, inner, calls) added, the next state, what it emits)
    def _steps(self, node: tuple[Any, ...]) -> Iterator[tuple[tuple[int, ...], tuple[Any, ...], Any]]:
        kind = node[0]
        form, text = self.form, self.text
        if kind == "block":
            if form.section is None:
                yield (), ("call", node[1], False), None
            elif m := form.section[0].match(text, node[1]):
                yield (), ("call", m.end(), True), None
        elif kind == "call":
            yield from self._call(node[1], node[2])
        elif kind == "pairs":
            yield from self._pair_steps(*node[1:])
        elif kind == "value":
            yield from self._value_steps(*node[1:])
        elif kind == "after":
            end, in_section = node[1], node[2]
            if not in_section:
                yield (), ("after_block", end), None
                return
            assert form.section is not None
            nxt = _skip(form.separator, text, end)
            if nxt < len(text):
                yield (), ("call", nxt, True), None
            if close := form.section[1].match(text, end):
                yield (), ("after_block", close.end()), None
            elif not self.strict:
                yield (), ("goal", end), None
        elif kind == "after_block":
            end = node[1]
            if not self.strict or _TAIL.match(text, end):
                yield (), ("goal", end), None
            nxt = _skip(form.separator, text, end)
            if nxt < len(text):
                yield (), ("block", nxt), None

    def _call(self, pos: int, in_section: bool) -> Iterator[tuple[tuple[int, ...], tuple[Any, ...], Any]]:
        m = self.form.open.match(self.text, pos)
        if not m:
            return
        attempt = _Attempt(m.groupdict().get("name") or "")
        if self.form.kind == "pairs":
            unknown = 1 if self.tools and attempt.name not in self.tools else 0
            yield (0, unknown, 0, 1), ("pairs", m.end(), attempt.name, frozenset(), in_section), None
            return
        read = {"json": self._json_call, "named": self._named_call}.get(self.form.kind, self._python_call)
        found = read(m.end(), attempt)
        if found is not None and (not self.form.known_only or all(c.name in self.tools for c in found[0])):
            yield (0, 0, 0, len(found[0])), ("after", found[1], in_section), ("calls", found[0])
        if attempt.eof:
            yield (1,), ("goal", len(self.text)), ("cut", attempt.name)

    def _pair_steps(
        self, pos: int, name: str, keys: frozenset[str], in_section: bool
    ) -> Iterator[tuple[tuple[int, ...], tuple[Any, ...], Any]]:
        form, text = self.form, self.text
        assert form.pair is not None
        m = form.pair.match(text, pos)
        if m is None:  # the call ends here
            attempt = _Attempt(name)
            end = self._closed(pos, attempt)
            tool = self.tools.get(name) or ToolIndex({}, ())
            missing = len(set(tool.required) - keys)
            if end is not None and (text[pos:end].strip() or keys and not missing):
                absent = len(set(tool.properties) - keys)
                yield (0, missing, 0, 0, absent), ("after", end, in_section), ("close", name)
            elif end is not None or attempt.eof:
                # The end of the reply, no closing marker: complete only with every required
                # argument (a stop word may cut the marker; max_tokens cuts between arguments).
                yield (1,), ("goal", len(text)), ("cut", name)
            return
        key = m.group("key").strip()
        if key in keys:  # an argument given twice: this "pair" is text inside a value
            return
        first = bisect.bisect_left(self.closer_starts, m.end())
        if first == len(self.closers):
            yield (1,), ("goal", len(text)), ("cut", name)  # the reply ended inside this value
            return
        props = (self.tools.get(name) or ToolIndex({}, ())).properties
        unknown = 1 if props and key not in props else 0  # an alias, or text inside a value
        flag = m.groupdict().get("string")
        yield (0, unknown), ("value", m.end(), key, flag, first, first, name, keys, in_section), None

    def _value_steps(
        self,
        start: int,
        key: str,
        flag: str | None,
        first: int,
        i: int,
        name: str,
        keys: frozenset[str],
        in_section: bool,
    ) -> Iterator[tuple[tuple[int, ...], tuple[Any, ...], Any]]:
        """The value ends at candidate closing tag ``i``; tag ``i + 1`` is the next candidate."""
        form, text = self.form, self.text
        assert form.pair is not None
        close = self.closers[i]
        after = close.end()
        nxt = form.pair.match(text, after)
        if nxt and nxt.group("key").strip() not in keys | {key} or not nxt and self._may_end(after, in_section):
            value = text[start : close.start()]
            if form.pad and value.startswith(form.pad):
                value = value[len(form.pad) :]
            if form.pad and value.endswith(form.pad):
                value = value[: -len(form.pad)]
            schema = (self.tools.get(name) or ToolIndex({}, ())).properties.get(key)
            bad = int(_mistyped(value, schema, flag))
            yield (0, bad), ("pairs", after, name, keys | {key}, in_section), ("pair", key, value, flag)
            if self.greedy:
                return
        elif _ONLY_TAGS.match(text, after):
            yield (1,), ("goal", len(text)), ("cut", name)
        if i + 1 < len(self.closers):  # a longer value, holding closing tag i: one inner tag more
            longer = ("value", start, key, flag, first, i + 1, name, keys, in_section)
            yield (0, 0, 1 if i == first else 0, 0), longer, None

    def complete_possible(self) -> bool:
        """Whether a reading could run to the end: the text ends with the end of a call whose
        last value closes at the last closing tag, or of a call without arguments."""
        if self.form.kind != "pairs":
            return True
        in_section = self.form.section is not None
        if self.closers and self._may_end(self.closers[-1].end(), in_section):
            return True
        last = None
        for opening in self.form.open.finditer(self.text):
            last = opening
        return last is not None and self._may_end(last.end(), in_section)

    def _may_end(self, pos: int, in_section: bool) -> bool:
        """Whether a call may close at ``pos``: its closing markers, then another call, the end of
        the section, or (strict) the end of the reply. A quick look ahead, so that a closing tag
        inside a file body, followed by more of the body, is not explored as a reading."""
        form, text = self.form, self.text
        close = form.close.match(text, pos)
        if close is None:
            return False
        end = close.end()
        if not self.strict or _TAIL.match(text, end):
            return True
        nxt = _skip(form.separator, text, end)
        if in_section and form.section is not None:
            section_end = form.section[1].match(text, end)
            if form.open.match(text, nxt):
                return True
            if section_end is None:
                return False
            after = section_end.end()
            nxt = _skip(form.separator, text, after)
            return bool(_TAIL.match(text, after) or form.section[0].match(text, nxt))
        return bool((form.section[0] if form.section else form.open).match(text, nxt))

    def _closed(self, end: int, attempt: _Attempt) -> int | None:
        """Where the call ends if its closing markers follow ``end`` (lenient, after JSON: also
        when a few words of prose stand before them)."""
        close = self.form.close.match(self.text, end)
        if close:
            return close.end()
        if _ONLY_TAGS.match(self.text, end):
            attempt.eof = True  # the reply ended inside the closing markers
        elif not self.strict and self.form.kind != "pairs":
            later = self._first_close(end)
            if later is not None and _PROSE.fullmatch(self.text, end, later.start()):
                return later.end()
        return None

    def _decode(self, pos: int, attempt: _Attempt) -> tuple[Any, int] | None:
        pos = _skip(_WS, self.text, pos)
        try:
            return _DECODER.raw_decode(self.text, pos)
        except ValueError:
            if _json_cut(self.text, pos):
                attempt.eof = True
                found = _NAME_IN_JSON.search(self.text, pos)
                attempt.name = attempt.name or (found.group(1) if found else "")
            return None

    def _json_call(self, pos: int, attempt: _Attempt) -> tuple[list[ParsedCall], int] | None:
        decoded = self._decode(pos, attempt)
        if decoded is None:
            return None if attempt.eof or self.strict else self._raw_object(pos)
        value, end = decoded
        items = value if isinstance(value, list) and self.form.array else [value]
        calls = [c for c in (_json_object_call(v) for v in items) if c is not None]
        close = self._closed(end, attempt) if calls and len(calls) == len(items) else None
        return (calls, close) if close is not None else None

    def _named_call(self, pos: int, attempt: _Attempt) -> tuple[list[ParsedCall], int] | None:
        decoded = self._decode(pos, attempt)
        if decoded is None:
            return None if attempt.eof or self.strict else self._raw_arguments(pos, attempt)
        value, end = decoded
        if isinstance(value, str):  # double-encoded: "{\"path\": …}"
            try:
                value = json.loads(value)
            except ValueError:
                return None
        close = self._closed(end, attempt) if isinstance(value, dict) else None
        return ([ParsedCall(attempt.name, value)], close) if close is not None else None

    def _first_close(self, pos: int) -> re.Match[str] | None:
        """The first closing marker after ``pos`` that is more than blank (an optional one, or the
        spaces of a form that has no closing marker)."""
        return next((c for c in self.form.close.finditer(self.text, pos) if c.group().strip()), None)

    def _close_or_end(self, pos: int) -> re.Match[str] | None:
        """The first closing marker after ``pos``, else the end of the reply where the form's
        closing marker may be left out (a stop word ate it, or the form has none)."""
        return self._first_close(pos) or self.form.close.match(self.text, len(self.text))

    def _raw_arguments(self, pos: int, attempt: _Attempt) -> tuple[list[ParsedCall], int] | None:
        """Arguments that are not valid JSON (a trailing comma, single quotes…), kept as text up to
        the call's closing marker for the tool's own repair (lenient mode, object-like text only)."""
        close = self._close_or_end(pos)
        raw = self.text[pos : close.start()].strip() if close else ""
        return ([ParsedCall(attempt.name, raw)], close.end()) if close and raw[:1] == "{" and raw[-1:] == "}" else None

    def _raw_object(self, pos: int) -> tuple[list[ParsedCall], int] | None:
        """A call object that is not valid JSON: its name, and its arguments as text for the tool's
        own repair (lenient mode, up to the form's closing marker or the end of the reply). When
        the object's own closing brace is missing (a stop word), the arguments run to the end."""
        close = self._close_or_end(pos)
        raw = self.text[pos : close.start()].strip() if close else ""
        name, args = _NAME_IN_JSON.search(raw), _ARGS_IN_JSON.search(raw)
        if not (close and name and args and raw.endswith("}")):
            return None
        end = raw.rfind("}") if raw.count("{") == raw.count("}") else len(raw)
        return [ParsedCall(name.group(1), raw[args.end() - 1 : end].strip())], close.end()

    def _python_call(self, pos: int, attempt: _Attempt) -> tuple[list[ParsedCall], int] | None:
        """``name.call(k="v", …)``: up to the first ``)`` after which the arguments parse."""
        end = self.text.find(")", pos)
        while end >= 0:
            try:
                node = ast.parse(f"f({self.text[pos:end]})", mode="eval").body
            except SyntaxError:
                end = self.text.find(")", end + 1)
                continue
            if not isinstance(node, ast.Call) or node.args:
                return None
            try:
                args = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
            except ValueError:
                return None
            return [ParsedCall(attempt.name, args)], end + 1
        return None


def _json_object_call(value: Any) -> ParsedCall | None:
    """``{"name": …, "arguments"|"parameters": …}`` (or OpenAI's ``{"function": {…}}``) as a call."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    args: Any = next((value[k] for k in ("arguments", "parameters", "args", "input") if k in value), {})
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return ParsedCall(name.strip(), args)
    if args is None:
        args = {}
    return ParsedCall(name.strip(), args) if isinstance(args, dict) else None


@dataclass
class Found:
    """The calls one form reads in a text."""

    calls: list[ParsedCall]
    start: int  # where the first call starts
    text: str  # the text around the calls
    incomplete: str | None  # the call the end of the text cut off ("" when unnamed), if any


def read_form(text: str, form: Form, tools: dict[str, ToolIndex], strict: bool) -> Found | None:
    """The calls ``form`` reads in ``text``, or None.

    Strict: the best reading from the first start whose reading runs to the end of the text.
    Lenient: each call that reads, scanning on past the prose between them.
    """
    reader = _Reader(text, form, tools, strict)
    try:
        if strict:
            if not reader.complete_possible():
                # Only a call cut off by the end of the text can be read: the first one, each
                # value ending at its first closing tag (no search for longer values).
                reader.greedy = True
                start = next(reader.starts(), None)
                reading = reader.read(start) if start is not None else None
                if start is None or reading is None:
                    return None
                return Found(reading.calls, start, text[:start], reading.cut)
            # The first start that reads: a marker inside a call's body always starts after the
            # call. (So prose that quotes a complete call of the same syntax before the real call
            # reads as one call whose last value holds the rest: a known limit.)
            for start in reader.starts():
                reading = reader.read(start)
                if reading is not None:
                    return Found(reading.calls, start, text[:start], reading.cut)
            return None
        pieces: list[str] = []
        found: list[ParsedCall] = []
        first, pos, cut = -1, 0, None
        while cut is None:
            hit = next(((s, r) for s in reader.starts(pos) if (r := reader.read(s)) is not None), None)
            if hit is None:
                break
            start, reading = hit
            first = start if first < 0 else first
            pieces.append(text[pos:start])
            found += reading.calls
            pos, cut = max(reading.end, start + 1), reading.cut
        if first < 0:
            return None
        pieces.append(text[pos:])
        return Found(found, first, "\n".join(p.strip() for p in pieces if p.strip()), cut)
    except _GiveUp:
        return None


