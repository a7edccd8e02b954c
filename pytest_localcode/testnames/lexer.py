"""A tokenizer for the brace languages of the dataset (Go, JavaScript, Java, Rust, C++).

The name readers need string values decoded exactly (a test's name is a string literal), and
comments, character literals and regular expressions skipped without being mistaken for code;
nothing else of the grammar. One scanner with a per-dialect table keeps the five honest.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass


class LexError(ValueError):
    """The text cannot be tokenized (an unterminated string or comment): names the line."""


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, char, number, punct
    text: str
    line: int  # 1-based
    value: str | None = None  # a string literal's decoded value (None: has interpolation)


@dataclass(frozen=True)
class Dialect:
    quotes: str = '"'  # delimiters of ordinary strings with backslash escapes
    raw_backtick: bool = False  # Go: `raw`
    template_backtick: bool = False  # JavaScript: `text ${expr}`
    char_quote: bool = True  # 'x' is a character literal
    rust_raw: bool = False  # r"…", r#"…"#, b"…", lifetimes 'a
    cpp_raw: bool = False  # R"delim(…)delim" and encoding prefixes
    java_text_block: bool = False  # """ … """
    nested_comments: bool = False  # Rust: /* /* */ */
    regex_literals: bool = False  # JavaScript: /…/flags where an operand may start
    multiline_strings: bool = False  # Rust: a "…" literal may span lines


DIALECTS = {
    "go": Dialect(raw_backtick=True),
    "javascript": Dialect(quotes="\"'", template_backtick=True, char_quote=False, regex_literals=True),
    "java": Dialect(java_text_block=True),
    "rust": Dialect(rust_raw=True, nested_comments=True, multiline_strings=True),
    "cpp": Dialect(cpp_raw=True),
}

PUNCT = sorted(
    "... <<= >>= ->* :: -> ++ -- << >> <= >= == != && || += -= *= /= %= &= |= ^= := => <- ?. ?? "
    "{ } ( ) [ ] ; , . : ? ~ ! + - * / % & | ^ < > = # @ $ \\".split(),
    key=len,
    reverse=True,
)
IDENT = re.compile(r"[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
           "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?", "$": "$", "\n": ""}
ESCAPE = re.compile(r"\\(u\{[0-9A-Fa-f]+\}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|[0-7]{1,3}|.)", re.S)
# After these, a "/" starts a regular expression, not a division (JavaScript).
REGEX_AFTER = {"(", ",", "=", ":", "[", "!", "&", "|", "?", "{", "}", ";", "+", "-", "*", "%", "<", ">", "~", "^",
               "=>", "==", "!=", "&&", "||", "return", "typeof", "case", "in", "of", "new", "delete", "void", "throw"}


def decode(body: str) -> str:
    """Backslash escapes of a string literal's body, as the compilers read them."""

    def one(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc.startswith("u{"):
            return chr(int(esc[2:-1], 16))
        if len(esc) > 1 and esc[0] in "uUx":
            return chr(int(esc[1:], 16))
        if esc[0] in "01234567" and esc != "0":
            return chr(int(esc, 8))
        return ESCAPES.get(esc, esc)

    return ESCAPE.sub(one, body)


def _string_pattern(quote: str, multiline: bool) -> re.Pattern[str]:
    q = re.escape(quote)
    other = f"[^{q}\\\\]" if multiline else f"[^{q}\\\\\n]"
    return re.compile(f"{q}((?:{other}|\\\\.)*){q}", re.S)


MASTER = re.compile(
    r"(?P<ws>\s+)|(?P<line>//[^\n]*)|(?P<ident>[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*)"
    r"|(?P<number>\.?\d(?:[eEpP][+-]|[\w.])*)|(?P<punct>" + "|".join(re.escape(p) for p in PUNCT) + r"|.)",
    re.S,
)
RUST_RAW = re.compile(r'b?r(#*)"')
CPP_RAW = re.compile(r'(?:u8|u|U|L)?R"([^()\\\s]{0,16})\(')
CPP_PREFIX = re.compile(r"(?:u8|u|U|L)(?=[\"'])")
RUST_CHAR = re.compile(r"'(?:\\.[^'\n]*|[^'\\\n])'")


class Scanner:
    def __init__(self, text: str, dialect: Dialect, where: str):
        self.text = text
        self.d = dialect
        self.where = where
        self.pos = 0
        self.tokens: list[Token] = []
        self.strings = {q: _string_pattern(q, dialect.multiline_strings) for q in dialect.quotes}
        self.chars = _string_pattern("'", False)

    def line_at(self, pos: int) -> int:
        return bisect.bisect_right(self.newlines, pos) + 1

    @functools.cached_property
    def newlines(self) -> list[int]:
        return [m.start() for m in re.finditer("\n", self.text)]

    def fail(self, what: str, pos: int) -> LexError:
        return LexError(f"{self.where}:{self.line_at(pos)}: {what}")

    def emit(self, kind: str, start: int, end: int, value: str | None = None) -> None:
        self.tokens.append(Token(kind, self.text[start:end], start, value))
        self.pos = end

    def closing(self, closing: str, start: int, what: str) -> int:
        end = self.text.find(closing, start)
        if end < 0:
            raise self.fail(f"unterminated {what}", self.pos)
        return end

    def quoted(self, pattern: re.Pattern[str], kind: str, start: int) -> None:
        m = pattern.match(self.text, self.pos)
        if not m:
            raise self.fail(f"unterminated {'string' if kind == 'string' else 'character literal'}", start)
        self.emit(kind, start, m.end(), decode(m.group(1)))

    def template(self) -> None:
        """A JavaScript template literal; one with ${…} has no static value."""
        text, start = self.text, self.pos
        i = start + 1
        interpolated = False
        while True:
            if i >= len(text):
                raise self.fail("unterminated template literal", start)
            ch = text[i]
            if ch == "\\":
                i += 2
            elif ch == "`":
                break
            elif text.startswith("${", i):
                interpolated = True
                depth, i = 1, i + 2
                while depth and i < len(text):
                    depth += {"{": 1, "}": -1}.get(text[i], 0)
                    i += 1
            else:
                i += 1
        self.emit("string", start, i + 1, None if interpolated else decode(text[start + 1 : i]))

    def regex_allowed(self) -> bool:
        if not self.tokens:
            return True
        last = self.tokens[-1]
        return last.kind in ("punct", "ident") and last.text in REGEX_AFTER

    def regex(self) -> None:
        text, start = self.text, self.pos
        i, in_class = start + 1, False
        while i < len(text) and text[i] != "\n":
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "[":
                in_class = True
            elif ch == "]":
                in_class = False
            elif ch == "/" and not in_class:
                break
            i += 1
        else:
            raise self.fail("unterminated regular expression", start)
        i += 1
        while i < len(text) and (text[i].isalnum() or text[i] == "_"):
            i += 1
        self.emit("regex", start, i)

    def block_comment(self) -> None:
        start = self.pos
        if not self.d.nested_comments:
            self.pos = self.closing("*/", start + 2, "comment") + 2
            return
        depth, i, text = 0, start, self.text
        while i < len(text):
            if text.startswith("/*", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("*/", i):
                depth, i = depth - 1, i + 2
                if depth == 0:
                    self.pos = i
                    return
            else:
                i += 1
        raise self.fail("unterminated comment", start)

    def prefixed_string(self) -> bool:
        """Rust r"…"/r#"…"#/b"…" and C++ R"d(…)d"/u8"…"/L"…": True when one was read."""
        text, start = self.text, self.pos
        if self.d.rust_raw:
            m = RUST_RAW.match(text, start)
            if m:
                end = self.closing('"' + m.group(1), m.end(), "raw string")
                self.emit("string", start, end + 1 + len(m.group(1)), text[m.end() : end])
                return True
            if text.startswith(('b"', "b'"), start):
                self.pos += 1
                self.quote_or_char(start)
                return True
        if self.d.cpp_raw:
            m = CPP_RAW.match(text, start)
            if m:
                delim = ")" + m.group(1) + '"'
                end = self.closing(delim, m.end(), "raw string")
                self.emit("string", start, end + len(delim), text[m.end() : end])
                return True
            m = CPP_PREFIX.match(text, start)
            if m:
                self.pos = m.end()
                self.quote_or_char(start)
                return True
        return False

    def quote_or_char(self, start: int) -> None:
        ch = self.text[self.pos]
        if ch == "'" and self.d.char_quote:
            if self.d.rust_raw and not RUST_CHAR.match(self.text, self.pos):
                m = IDENT.match(self.text, self.pos + 1)  # a lifetime or label ('a), not a character
                self.emit("ident", start, m.end() if m else self.pos + 1)
                return
            self.quoted(self.chars, "char", start)
            return
        self.quoted(self.strings[ch], "string", start)

    def run(self) -> list[Token]:
        text, d = self.text, self.d
        n = len(text)
        while self.pos < n:
            ch = text[self.pos]
            if ch == "/" and text.startswith("/*", self.pos):
                self.block_comment()
            elif ch in d.quotes or (ch == "'" and d.char_quote):
                self.quote_or_char(self.pos)
            elif ch == "`" and d.raw_backtick:
                end = self.closing("`", self.pos + 1, "raw string")
                self.emit("string", self.pos, end + 1, text[self.pos + 1 : end].replace("\r", ""))
            elif ch == "`" and d.template_backtick:
                self.template()
            elif d.java_text_block and text.startswith('\"\"\"', self.pos):
                end = self.closing('\"\"\"', self.pos + 3, "text block")
                self.emit("string", self.pos, end + 3, decode(text[self.pos + 3 : end].split("\n", 1)[-1]))
            elif ch == "/" and d.regex_literals and not text.startswith("//", self.pos) and self.regex_allowed():
                self.regex()
            elif ch in "bruULR" and (d.rust_raw or d.cpp_raw) and self.prefixed_string():
                continue
            else:
                m = MASTER.match(text, self.pos)
                assert m is not None
                kind = m.lastgroup or "punct"
                if kind in ("ws", "line"):
                    self.pos = m.end()
                else:
                    self.emit(kind, self.pos, m.end())
        return [Token(t.kind, t.text, self.line_at(t.line), t.value) for t in self.tokens]


def tokenize(text: str, dialect: str, where: str = "<text>") -> list[Token]:
    """Tokens of ``text`` (comments and whitespace dropped); :class:`LexError` names the line."""
    return Scanner(text, DIALECTS[dialect], where).run()


def matching(tokens: list[Token], start: int) -> int:
    """Index of the bracket closing the one at ``start`` (or len(tokens) when it is never closed)."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    opening = tokens[start].text
    closing = pairs[opening]
    depth = 0
    for i in range(start, len(tokens)):
        tok = tokens[i]
        if tok.kind != "punct":
            continue
        if tok.text in pairs:
            depth += 1
        elif tok.text in pairs.values():
            depth -= 1
            if depth == 0:
                if tok.text != closing:
                    return len(tokens)
                return i
    return len(tokens)
