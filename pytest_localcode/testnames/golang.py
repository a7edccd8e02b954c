"""Go test names, subtests included, read statically from ``*_test.go`` files.

``go test -json`` names a subtest ``TestX/case_name``: the ``t.Run`` argument after Go's
rewriting (spaces to underscores, duplicates numbered ``#01``). Table-driven tests build that
argument from a field of each table entry, so the reader evaluates the small part of Go that
tables are written in: string and number literals, composite literals (slices, arrays, maps,
structs with keyed or positional fields), ``append``, ``fmt.Sprintf``, ``range`` and counting
``for`` loops, package and local variables. Anything else where a name comes from is a
:class:`NamesError` naming the file and line, never a guess: a solution that empties a table
must show up as missing names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_localcode.testnames.errors import NamesError
from pytest_localcode.testnames.lexer import LexError, Token, matching, tokenize

TEST_FUNC = re.compile(r"Test(?![a-z])\w*")
BUILD_LINE = re.compile(r"^//go:build\s+(.+)$", re.M)
MAX_SUBTESTS = 100_000
STATEMENT_ENDERS = {"break", "continue", "fallthrough", "return", "++", "--", ")", "]", "}"}


class Opaque:
    """A value the reader does not need (a function, a call result…)."""

    def __repr__(self) -> str:
        return "<opaque>"


OPAQUE = Opaque()


@dataclass
class Struct:
    fields: dict[str, Any]


@dataclass
class Type:
    kind: str  # slice, map, struct, named, pointer, other
    elem: Type | None = None
    key: Type | None = None
    fields: list[str] = field(default_factory=list)
    name: str = ""


@dataclass
class Lazy:
    """A variable's initializer, evaluated when a name needs it."""

    file: GoFile
    start: int
    end: int
    declared: Type | None = None


class GoFile:
    def __init__(self, path: str, text: str):
        self.path = path
        try:
            self.tokens = tokenize(text, "go", path)
        except LexError as exc:
            raise NamesError(str(exc)) from None
        # Go ends a statement at a line break after these tokens (its semicolon insertion).
        self.breaks = [False] * (len(self.tokens) + 1)
        for i in range(1, len(self.tokens)):
            prev = self.tokens[i - 1]
            ends = prev.kind in ("ident", "string", "char", "number") or prev.text in STATEMENT_ENDERS
            if self.tokens[i].line > prev.line and ends:
                self.breaks[i] = True
        self.breaks[len(self.tokens)] = True

    def tok(self, i: int) -> Token:
        if i >= len(self.tokens):
            raise NamesError(f"{self.path}: unexpected end of file")
        return self.tokens[i]

    def where(self, i: int) -> str:
        return f"{self.path}:{self.tokens[min(i, len(self.tokens) - 1)].line}" if self.tokens else self.path

    def fail(self, i: int, what: str) -> NamesError:
        return NamesError(f"{self.where(i)}: {what}")


# -- Go's subtest naming (testing/match.go) ---------------------------------------------------


def _is_space(ch: str) -> bool:
    r = ord(ch)
    if r < 0x2000:
        return ch in "\t\n\v\f\r \x85\xa0\u1680"
    return r <= 0x200A or r in (0x2028, 0x2029, 0x202F, 0x205F, 0x3000)


def _quote_rune(ch: str) -> str:
    r = ord(ch)
    if ch in "\a\b\f\n\r\t\v":
        return {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch]
    if r < 0x10000:
        return f"\\x{r:02x}" if r < 0x80 else f"\\u{r:04x}"
    return f"\\U{r:08x}"


def _printable(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LMNPS" or ch == " "


def rewrite(name: str) -> str:
    return "".join("_" if _is_space(c) else c if _printable(c) else _quote_rune(c) for c in name)


def _subtest_number(name: str) -> tuple[str, int]:
    i = name.rfind("#")
    if i < 0:
        return name, 0
    prefix, suffix = name[:i], name[i + 1 :]
    if len(suffix) < 2 or (len(suffix) > 2 and suffix[0] == "0") or not suffix.isdigit():
        return name, 0
    if suffix == "00" and not prefix.endswith("/"):
        return name, 0
    return prefix, int(suffix)


class Namer:
    """``matcher.unique``: the name ``go test`` gives the n-th subtest called ``sub`` under ``parent``."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def unique(self, parent: str, sub: str) -> str:
        base = f"{parent}/{sub}"
        while True:
            n = self.seen.get(base, 0)
            self.seen[base] = n + 1
            if n == 0 and sub != "":
                prefix, nn = _subtest_number(base)
                if len(prefix) < len(base) and nn < self.seen.get(prefix, 0):
                    continue
                return base
            name = f"{base}#{n:02d}"
            if self.seen.get(name, 0):
                continue
            return name


# -- reading -------------------------------------------------------------------------------


def build_satisfied(text: str, tags: frozenset[str]) -> bool:
    """A ``//go:build`` line before the package clause, evaluated with ``tags`` (and go1.N) set."""
    m = BUILD_LINE.search(text.split("\npackage ", 1)[0])
    if not m:
        return True
    tokens = re.findall(r"[\w.]+|&&|\|\||!|\(|\)", m.group(1))
    pos = 0

    def peek() -> str:
        return tokens[pos] if pos < len(tokens) else ""

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def either() -> bool:
        value = both()
        while peek() == "||":
            take()
            value = both() or value
        return value

    def both() -> bool:
        value = unary()
        while peek() == "&&":
            take()
            value = unary() and value
        return value

    def unary() -> bool:
        tok = take() if pos < len(tokens) else ""
        if tok == "!":
            return not unary()
        if tok == "(":
            value = either()
            if peek() == ")":
                take()
            return value
        return tok in tags or tok.startswith("go1.")

    return either()


class Package:
    """The test files of one Go package: their declarations and the names their tests run."""

    def __init__(self, files: dict[str, str], tags: frozenset[str] = frozenset()):
        self.files = [GoFile(path, text) for path, text in sorted(files.items()) if build_satisfied(text, tags)]
        self.vars: dict[str, Lazy | Any] = {}
        self.variables: set[str] = set()  # package-level variables (not constants) of the test files
        self.types: dict[str, Type] = {}
        self.funcs: list[Func] = []
        for f in self.files:
            self._declarations(f)
        self.helpers = {fn.name: fn for fn in self.funcs}
        self.runners = self._runners()

    def _runners(self) -> set[str]:
        """Functions that start subtests, directly or through another such function."""
        runners: set[str] = set()
        changed = True
        while changed:
            changed = False
            for fn in self.funcs:
                if fn.name not in runners and fn.calls_any(runners | {"Run"}):
                    runners.add(fn.name)
                    changed = True
        return runners

    # -- top level ---------------------------------------------------------------------------
    def _declarations(self, f: GoFile) -> None:
        toks = f.tokens
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "ident" and t.text in ("var", "const") and (
                i == 0 or f.breaks[i] or toks[i - 1].text in (";", "}")
            ):
                i = self._var_decl(f, i + 1, t.text == "var")
            elif t.kind == "ident" and t.text == "type":
                i = self._type_decl(f, i + 1)
            elif t.kind == "ident" and t.text == "func":
                i = self._func_decl(f, i + 1)
            elif t.text in ("(", "[", "{"):
                i = matching(toks, i) + 1
            else:
                i += 1

    def _var_decl(self, f: GoFile, i: int, variable: bool) -> int:
        if f.tok(i).text == "(":
            end = matching(f.tokens, i)
            i += 1
            while i < end:
                i = self._var_spec(f, i, end, variable)
            return end + 1
        return self._var_spec(f, i, len(f.tokens), variable)

    def _var_spec(self, f: GoFile, i: int, limit: int, variable: bool) -> int:
        begin = i
        names = []
        while i < limit and f.tokens[i].kind == "ident":
            names.append(f.tokens[i].text)
            if f.tokens[i + 1].text != ",":
                i += 1
                break
            i += 2
        if variable:
            self.variables.update(names)
        for name in names:
            self.vars.setdefault(name, OPAQUE)
        declared = None
        if i < limit and f.tokens[i].text != "=" and not f.breaks[i]:
            declared, i = self._type(f, i)
        if i < limit and f.tokens[i].text == "=":
            start = i + 1
            end = self._expression_end(f, start, limit)
            if len(names) == 1:
                self.vars[names[0]] = Lazy(f, start, end, declared)
            else:
                for name in names:
                    self.vars[name] = OPAQUE
            i = end
        while i < limit and f.tokens[i].text == ";":
            i += 1
        return i if i > begin else begin + 1

    def _expression_end(self, f: GoFile, i: int, limit: int) -> int:
        """Index just past the expression starting at ``i`` (a line break or ``;`` ends it)."""
        while i < limit:
            t = f.tokens[i]
            if t.text in ("(", "[", "{"):
                i = matching(f.tokens, i) + 1
                if i >= limit or f.breaks[i] or f.tokens[i].text in (";", ")", ","):
                    return i
                continue
            if t.text in (";", ")") and t.kind == "punct":
                return i
            i += 1
            if i < limit and f.breaks[i]:
                return i
        return i

    def _type_decl(self, f: GoFile, i: int) -> int:
        if f.tok(i).text == "(":
            end = matching(f.tokens, i)
            i += 1
            while i < end:
                name = f.tokens[i].text
                typ, i = self._type(f, i + 1 + (f.tokens[i + 1].text == "="))
                self.types[name] = typ
                while i < end and f.tokens[i].text == ";":
                    i += 1
            return end + 1
        name = f.tok(i).text
        i += 1
        if f.tok(i).text == "[":  # type parameters
            i = matching(f.tokens, i) + 1
        if f.tok(i).text == "=":
            i += 1
        typ, i = self._type(f, i)
        self.types[name] = typ
        return i

    def _func_decl(self, f: GoFile, i: int) -> int:
        toks = f.tokens
        method = toks[i].text == "("
        if method:
            i = matching(toks, i) + 1
        name = toks[i].text
        i += 1
        if toks[i].text == "[":
            i = matching(toks, i) + 1
        params_start = i
        params_end = matching(toks, params_start)
        j = params_end + 1
        while j < len(toks) and toks[j].text != "{" and not (f.breaks[j] and toks[j].text == "func"):
            j = matching(toks, j) + 1 if toks[j].text in ("(", "[") else j + 1
        if j >= len(toks) or toks[j].text != "{":
            return j
        body_end = matching(toks, j)
        if not method:
            self.funcs.append(Func(f, name, j, body_end, self._params(f, params_start, params_end),
                                   self._testing_param(f, params_start, params_end)))
        return body_end + 1

    @staticmethod
    def _params(f: GoFile, start: int, end: int) -> list[str]:
        """Parameter names of the list at (start, end), in order ("" for an unnamed one)."""
        segments: list[list[Token]] = [[]]
        k = start + 1
        while k < end:
            t = f.tokens[k]
            if t.text == ",":
                segments.append([])
            elif t.text in ("(", "[", "{"):
                close = matching(f.tokens, k)
                segments[-1].extend(f.tokens[k : close + 1])
                k = close
            else:
                segments[-1].append(t)
            k += 1
        named = any(len(seg) > 1 and seg[0].kind == "ident" and seg[1].text != "." for seg in segments)
        return [seg[0].text if named and seg and seg[0].kind == "ident" else "" for seg in segments if seg]

    @staticmethod
    def _testing_param(f: GoFile, start: int, end: int) -> str:
        """The name of a ``*testing.T`` parameter in the list at (start, end), or ""."""
        toks = f.tokens
        for k in range(start + 1, end - 3):
            if toks[k].kind == "ident" and [t.text for t in toks[k + 1 : k + 5]] == ["*", "testing", ".", "T"]:
                return toks[k].text
        return ""

    # -- types -------------------------------------------------------------------------------
    def _type(self, f: GoFile, i: int) -> tuple[Type, int]:
        t = f.tok(i)
        if t.text == "[":
            close = matching(f.tokens, i)
            elem, j = self._type(f, close + 1)
            return Type("slice", elem=elem), j
        if t.text == "*":
            elem, j = self._type(f, i + 1)
            return Type("pointer", elem=elem), j
        if t.text == "map":
            close = matching(f.tokens, i + 1)
            key, _ = self._type(f, i + 2)
            elem, j = self._type(f, close + 1)
            return Type("map", elem=elem, key=key), j
        if t.text == "struct":
            close = matching(f.tokens, i + 1)
            return Type("struct", fields=self._fields(f, i + 2, close)), close + 1
        if t.text in ("interface", "func", "chan"):
            j = i + 1
            while j < len(f.tokens) and not f.breaks[j] and f.tokens[j].text not in (",", ")", "=", ";", "}"):
                if f.tokens[j].text in ("(", "[", "{"):
                    j = matching(f.tokens, j)
                j += 1
            return Type("other"), j
        if t.kind == "ident":
            j = i + 1
            name = t.text
            if j < len(f.tokens) and f.tokens[j].text == "." and f.tokens[j + 1].kind == "ident" and not f.breaks[j]:
                name = f"{name}.{f.tokens[j + 1].text}"
                j += 2
            if j < len(f.tokens) and f.tokens[j].text == "[" and not f.breaks[j]:  # generic instantiation
                j = matching(f.tokens, j) + 1
            return Type("named", name=name), j
        if t.text == "(":
            inner, _ = self._type(f, i + 1)
            return inner, matching(f.tokens, i) + 1
        raise f.fail(i, f"cannot read the type starting with {t.text!r}")

    def _fields(self, f: GoFile, start: int, end: int) -> list[str]:
        """Field names of a struct body, in order (an embedded field is named after its type)."""
        names: list[str] = []
        i = start
        while i < end:
            line_names = []
            j = i
            while j < end and f.tokens[j].kind == "ident" and f.tokens[j + 1].text == ",":
                line_names.append(f.tokens[j].text)
                j += 2
            if j < end and f.tokens[j].kind == "ident":
                after = f.tokens[j + 1] if j + 1 < end else None
                if after is None or f.breaks[j + 1] or after.text in (";", ".") or after.kind == "string":
                    embedded = f.tokens[j + 2].text if after is not None and after.text == "." else f.tokens[j].text
                    names.append(embedded)
                    j += 3 if after is not None and after.text == "." else 1
                else:
                    line_names.append(f.tokens[j].text)
                    _, j = self._type(f, j + 1)
                    names.extend(line_names)
            else:
                _, j = self._type(f, j + (f.tokens[j].text == "*"))
            if j < end and f.tokens[j].kind == "string":  # tag
                j += 1
            while j < end and f.tokens[j].text == ";":
                j += 1
            i = max(j, i + 1)
        return names

    def resolve(self, typ: Type | None) -> Type | None:
        seen = 0
        while typ is not None and typ.kind in ("named", "pointer") and seen < 20:
            typ = self.types.get(typ.name) if typ.kind == "named" else typ.elem
            seen += 1
        return typ

    # -- values ------------------------------------------------------------------------------
    def value_of(self, name: str, env: dict[str, Any], f: GoFile, i: int) -> Any:
        if name in env:
            value = env[name]
        elif name in self.vars:
            value = self.vars[name]
        else:
            raise f.fail(i, f"cannot tell what {name!r} is "
                            "(not a literal, a loop variable or a variable of the test files)")
        if isinstance(value, Lazy):
            value, _ = Evaluator(self, value.file, {}).expr(value.start, hint=value.declared)
            if name in self.vars:
                self.vars[name] = value
            else:
                env[name] = value
        return value


@dataclass
class Func:
    file: GoFile
    name: str
    start: int  # the body's "{"
    end: int  # its "}"
    params: list[str]
    tester: str  # the *testing.T parameter, or ""

    def calls_any(self, names: set[str]) -> bool:
        toks = self.file.tokens
        return any(toks[k].text in names and toks[k + 1].text == "(" for k in range(self.start, self.end))


class Evaluator:
    """Evaluates one expression of a file under ``env`` (loop variables and locals)."""

    def __init__(self, pkg: Package, f: GoFile, env: dict[str, Any], bare_composite: bool = True):
        self.pkg = pkg
        self.f = f
        self.env = env
        self.bare_composite = bare_composite

    def tok(self, i: int) -> Token:
        return self.f.tok(i)

    def expr(self, i: int, hint: Type | None = None) -> tuple[Any, int]:
        value, i = self.unary(i, hint)
        while i < len(self.f.tokens) and not self.f.breaks[i] and self.tok(i).text == "+":
            right, i = self.unary(i + 1, None)
            if isinstance(value, str) and isinstance(right, str):
                value = value + right
            elif isinstance(value, int) and isinstance(right, int):
                value = value + right
            else:
                value = OPAQUE
        while i < len(self.f.tokens) and not self.f.breaks[i] and self.tok(i).kind == "punct" and self.tok(i).text in (
            "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "&", "|", "^", "<<", ">>"
        ):
            _, i = self.unary(i + 1, None)
            value = OPAQUE
        return value, i

    def unary(self, i: int, hint: Type | None) -> tuple[Any, int]:
        t = self.tok(i)
        if t.kind == "punct" and t.text in ("&", "*", "!", "^", "<-"):
            value, j = self.unary(i + 1, hint.elem if hint is not None and hint.kind == "pointer" else hint)
            return (value if t.text == "&" else OPAQUE), j
        if t.kind == "punct" and t.text == "-":
            value, j = self.unary(i + 1, hint)
            return (-value if isinstance(value, int) else OPAQUE), j
        return self.primary(i, hint)

    def primary(self, i: int, hint: Type | None) -> tuple[Any, int]:
        f, t = self.f, self.tok(i)
        if t.kind == "string":
            value: Any = t.value
            i += 1
        elif t.kind == "char":
            value, i = t.value, i + 1
        elif t.kind == "number":
            try:
                value = int(t.text.replace("_", ""), 0)
            except ValueError:
                value = OPAQUE
            i += 1
        elif t.text == "{" and hint is not None:
            return self.composite(i, hint)
        elif t.text in ("[", "map", "struct"):
            typ, j = self.pkg._type(f, i)
            if j < len(f.tokens) and f.tokens[j].text == "{":
                return self.composite(j, typ)
            value, i = OPAQUE, j  # a conversion or type expression
        elif t.text == "func":
            j = matching(f.tokens, i + 1) + 1
            while j < len(f.tokens) and f.tokens[j].text != "{":
                j = matching(f.tokens, j) + 1 if f.tokens[j].text in ("(", "[") else j + 1
            value, i = OPAQUE, matching(f.tokens, j) + 1
        elif t.text == "(":
            saved, self.bare_composite = self.bare_composite, True
            value, j = self.expr(i + 1, hint)
            self.bare_composite = saved
            i = matching(f.tokens, i) + 1
        elif t.kind == "ident":
            return self.operand_name(i, hint)
        else:
            raise f.fail(i, f"cannot evaluate an expression starting with {t.text!r}")
        return self.postfix(value, i)

    def operand_name(self, i: int, hint: Type | None) -> tuple[Any, int]:
        f = self.f
        name = f.tokens[i].text
        nxt = f.tokens[i + 1] if i + 1 < len(f.tokens) else None
        qualified = nxt is not None and nxt.text == "." and i + 2 < len(f.tokens) and f.tokens[i + 2].kind == "ident"
        if qualified and name in ("fmt", "strconv", "strings"):
            call = f"{name}.{f.tokens[i + 2].text}"
            if i + 3 < len(f.tokens) and f.tokens[i + 3].text == "(":
                args, j = self.arguments(i + 3)
                return self.postfix(library_call(call, args), j)
        if name in ("true", "false", "nil", "iota"):
            return self.postfix(OPAQUE if name in ("nil", "iota") else name == "true", i + 1)
        if name == "append" and nxt is not None and nxt.text == "(":
            args, j, spread = self.arguments(i + 1, with_spread=True)
            return self.postfix(_append(args, spread), j)
        if name in ("len", "cap", "make", "new", "string", "int", "rune", "byte") and (
            nxt is not None and nxt.text == "("
        ):
            args, j = self.arguments(i + 1)
            if name == "len" and args and isinstance(args[0], (str, list)):
                return self.postfix(len(args[0]), j)
            if name == "string" and args and isinstance(args[0], int):
                return self.postfix(chr(args[0]), j)
            if name == "string" and args and isinstance(args[0], str):
                return self.postfix(args[0], j)
            return self.postfix(OPAQUE, j)
        if name in self.env or name in self.pkg.vars:
            return self.postfix(self.pkg.value_of(name, self.env, f, i), i + 1)
        # A type name: a composite literal T{…} or a conversion T(x) / pkg.T{…}
        typ, j = self.pkg._type(f, i)
        if j < len(f.tokens) and f.tokens[j].text == "{" and (self.bare_composite or typ.kind != "named"):
            return self.composite(j, typ)
        if j < len(f.tokens) and f.tokens[j].text == "(":
            args, k = self.arguments(j)
            single = len(args) == 1 and not isinstance(args[0], (list, dict, Struct))
            return self.postfix(args[0] if single else OPAQUE, k)
        return self.postfix(OPAQUE, j)

    def arguments(self, i: int, with_spread: bool = False) -> Any:
        """Arguments of the call whose "(" is at ``i`` (composite literals are allowed in them)."""
        saved, self.bare_composite = self.bare_composite, True
        try:
            return self._arguments(i, with_spread)
        finally:
            self.bare_composite = saved

    def _arguments(self, i: int, with_spread: bool) -> Any:
        end = matching(self.f.tokens, i)
        args: list[Any] = []
        spread = False
        j = i + 1
        while j < end:
            value, j = self.expr(j)
            args.append(value)
            if j < end and self.tok(j).text == "...":
                spread = True
                j += 1
            if j < end and self.tok(j).text == ",":
                j += 1
            elif j < end:
                raise self.f.fail(j, f"cannot read the call arguments near {self.tok(j).text!r}")
        return (args, end + 1, spread) if with_spread else (args, end + 1)

    def postfix(self, value: Any, i: int) -> tuple[Any, int]:
        f = self.f
        while i < len(f.tokens) and not f.breaks[i]:
            t = f.tokens[i]
            if t.text == "." and i + 1 < len(f.tokens) and f.tokens[i + 1].kind == "ident":
                name = f.tokens[i + 1].text
                if isinstance(value, Struct):
                    if name not in value.fields:
                        raise f.fail(i, f"the table entry has no field {name!r} here "
                                        f"(fields: {', '.join(value.fields)})")
                    value = value.fields[name]
                else:
                    value = OPAQUE
                i += 2
            elif t.text == "(":
                _, i = self.arguments(i)
                value = OPAQUE
            elif t.text == "[":
                close = matching(f.tokens, i)
                index, after = self.expr(i + 1)
                if after != close:  # a slice expression a[i:j]
                    value = OPAQUE
                elif isinstance(value, list) and isinstance(index, int) and 0 <= index < len(value):
                    value = value[index]
                elif isinstance(value, dict) and not isinstance(index, Opaque):
                    value = value.get(index, OPAQUE)
                else:
                    value = OPAQUE
                i = close + 1
            else:
                break
        return value, i

    def composite(self, i: int, typ: Type) -> tuple[Any, int]:
        """The literal whose "{" is at ``i``, of type ``typ``."""
        f = self.f
        end = matching(f.tokens, i)
        resolved = self.pkg.resolve(typ)
        kind = resolved.kind if resolved is not None else "other"
        elem_type = resolved.elem if resolved is not None else None
        items: list[tuple[Any, Any]] = []
        j = i + 1
        while j < end:
            key: Any = None
            if kind == "struct" and f.tokens[j].kind == "ident" and f.tokens[j + 1].text == ":":
                key, j = f.tokens[j].text, j + 2
                field_type = None
            else:
                value, k = self.expr(j, elem_type if kind != "map" else (resolved.key if resolved else None))
                if k < end and f.tokens[k].text == ":":
                    key, j = value, k + 1
                else:
                    items.append((None, value))
                    j = k
                    if j < end and f.tokens[j].text == ",":
                        j += 1
                    elif j < end:
                        raise f.fail(j, f"cannot read the composite literal near {f.tokens[j].text!r}")
                    continue
                field_type = None
            value, j = self.expr(j, elem_type if kind in ("slice", "map") else field_type)
            items.append((key, value))
            if j < end and f.tokens[j].text == ",":
                j += 1
            elif j < end:
                raise f.fail(j, f"cannot read the composite literal near {f.tokens[j].text!r}")
        if kind == "struct":
            assert resolved is not None
            fields: dict[str, Any] = {}
            for n, (key, value) in enumerate(items):
                if key is None:
                    if n >= len(resolved.fields):
                        raise f.fail(i, "more positional values than the struct has fields")
                    key = resolved.fields[n]
                fields[str(key)] = value
            return self.postfix(Struct(fields), end + 1)
        if kind == "map":
            return self.postfix(dict(items), end + 1)
        if kind == "slice":
            return self.postfix([value for _, value in items], end + 1)
        return self.postfix(OPAQUE, end + 1)


def _append(args: list[Any], spread: bool) -> Any:
    if not args or not isinstance(args[0], list):
        return OPAQUE
    rest = args[1:]
    if spread:
        if len(rest) != 1 or not isinstance(rest[0], list):
            return OPAQUE
        return args[0] + rest[0]
    return args[0] + rest


VERB = re.compile(r"%([-+# 0]*\d*(?:\.\d+)?)([dsvqxXc%])")


def library_call(call: str, args: list[Any]) -> Any:
    if call == "strconv.Itoa" and len(args) == 1 and isinstance(args[0], int):
        return str(args[0])
    if call in ("fmt.Sprintf", "fmt.Sprint") and args and all(isinstance(a, (str, int)) for a in args):
        if call == "fmt.Sprint":
            return "".join(str(a) for a in args)
        fmt, rest = str(args[0]), list(args[1:])

        def one(m: re.Match[str]) -> str:
            flags, verb = m.groups()
            if verb == "%":
                return "%"
            if not rest:
                raise ValueError("missing argument")
            arg = rest.pop(0)
            if verb == "q":
                return '"' + str(arg).replace("\\", "\\\\").replace('"', '\\"') + '"'
            if verb == "c" and isinstance(arg, int):
                return chr(arg)
            if verb in "xX" and isinstance(arg, int):
                text = format(arg, "x" if verb == "x" else "X")
            else:
                text = str(arg)
            width = re.match(r"[-+# 0]*(\d*)", flags)
            pad = int(width.group(1)) if width and width.group(1) else 0
            if "-" in flags:
                return text.ljust(pad)
            return text.rjust(pad, "0" if "0" in flags else " ")

        try:
            return VERB.sub(one, fmt)
        except ValueError:
            return OPAQUE
    if call == "strings.Repeat" and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], int):
        return args[0] * args[1]
    return OPAQUE


class Body:
    """Walks a test function's body: loops, local variables and ``t.Run`` calls."""

    def __init__(self, pkg: Package, f: GoFile, namer: Namer, test: str, testers: set[str],
                 emit: Callable[[str], None], followed: set[tuple[str, int]]):
        self.pkg = pkg
        self.f = f
        self.namer = namer
        self.test = test
        self.testers = testers
        self.emit = emit
        self.followed = followed  # (file, token index) of every Run call walked through
        self.depth = 0

    def statement_start(self, i: int, start: int) -> bool:
        return i == start or self.f.breaks[i] or self.f.tokens[i - 1].text in ("{", ";")

    def block(self, start: int, end: int, env: dict[str, Any]) -> None:
        f, toks = self.f, self.f.tokens
        env = dict(env)
        i = start
        while i < end:
            t = toks[i]
            if t.kind == "ident" and t.text == "for":
                i = self._for(i, env)
            elif t.kind == "ident" and toks[i + 1].text == ":=" and self.statement_start(i, start):
                exp_end = self.pkg._expression_end(f, i + 2, end)
                env[t.text] = Lazy(f, i + 2, exp_end)
                i = exp_end
            elif t.kind == "ident" and t.text == "var" and (
                self.statement_start(i, start) and toks[i + 1].kind == "ident"
            ):
                name, j = toks[i + 1].text, i + 2
                declared = None
                if toks[j].text not in ("=", ",") and not f.breaks[j]:
                    declared, j = self.pkg._type(f, j)
                if toks[j].text == "=":
                    exp_end = self.pkg._expression_end(f, j + 1, end)
                    env[name] = Lazy(f, j + 1, exp_end, declared)
                    i = exp_end
                else:
                    env[name] = OPAQUE
                    i = j
            elif t.kind == "ident" and t.text in self.testers and (
                [x.text for x in toks[i + 1 : i + 4]] == [".", "Run", "("]
            ):
                i = self._run(i + 3, env)
            elif t.kind == "ident" and t.text in self.pkg.runners and toks[i + 1].text == "(" and (
                t.text not in env and (i == start or toks[i - 1].text != ".")
            ):
                i = self._helper(i, env)
            else:
                i += 1

    def _loop_body(self, i: int) -> int:
        """The "{" opening the body of the loop whose header starts at ``i``: the first one at the
        header's level whose block ends a line (a composite literal in the header, ``[]int{1, 2}``,
        is followed by more of the header on the same line)."""
        toks = self.f.tokens
        j = i
        while j < len(toks):
            if toks[j].text in ("(", "["):
                j = matching(toks, j) + 1
                continue
            if toks[j].text == "{":
                close = matching(toks, j)
                if close + 1 >= len(toks) or self.f.breaks[close + 1] or toks[close + 1].text in ("}", ";"):
                    return j
                j = close + 1
                continue
            j += 1
        raise self.f.fail(i, "cannot find the loop's body")

    def _for(self, i: int, env: dict[str, Any]) -> int:
        toks = self.f.tokens
        open_ = self._loop_body(i + 1)
        close = matching(toks, open_)
        if not any(toks[k].text in self.pkg.runners | {"Run"} and toks[k + 1].text == "(" for k in range(open_, close)):
            return close + 1  # no subtest inside: the loop does not matter for names
        header = toks[i + 1 : open_]
        texts = [t.text for t in header]
        if "range" in texts:
            bindings = self._ranging(i, texts.index("range"), header, env)
        else:
            bindings = self._counting(i, header, env)
        for binding in bindings:
            self.block(open_ + 1, close, {**env, **binding})
        return close + 1

    def _ranging(self, i: int, r: int, header: list[Token], env: dict[str, Any]) -> list[dict[str, Any]]:
        f = self.f
        targets = [t.text for t in header[: max(r - 1, 0)] if t.kind == "ident"]
        iterable, _ = Evaluator(self.pkg, f, env, bare_composite=False).expr(i + 1 + r + 1)
        if isinstance(iterable, list):
            pairs: list[tuple[Any, Any]] = list(enumerate(iterable))
        elif isinstance(iterable, dict):
            pairs = list(iterable.items())
        elif isinstance(iterable, int) and not isinstance(iterable, bool):
            pairs = [(n, n) for n in range(iterable)]
        elif isinstance(iterable, str):
            pairs = list(enumerate(iterable))
        else:
            raise f.fail(i, "subtests run in a loop over something the reader cannot enumerate")
        bindings = []
        for key, value in pairs:
            binding = dict(zip(targets, (key, value)))
            binding.pop("_", None)
            bindings.append(binding)
        return bindings

    def _counting(self, i: int, header: list[Token], env: dict[str, Any]) -> list[dict[str, Any]]:
        """``for v := A; v <op> B; v++`` with bounds the reader can evaluate."""
        m = re.fullmatch(r"(\w+) := (-?\w+) ; (\w+) (<=|<|>=|>) (-?\w+) ; (\w+) (\+\+|--)",
                         " ".join(t.text for t in header))
        if not m or not (m.group(1) == m.group(3) == m.group(6)):
            raise self.f.fail(i, "subtests run in a loop the reader cannot count")

        def number(text: str) -> int:
            if text.lstrip("-").isdigit():
                return int(text)
            value = self.pkg.value_of(text, env, self.f, i)
            if not isinstance(value, int):
                raise self.f.fail(i, f"subtests run in a loop bounded by {text!r}, which the reader cannot evaluate")
            return value

        v, op, bound = number(m.group(2)), m.group(4), number(m.group(5))
        step = 1 if m.group(7) == "++" else -1
        within = {"<=": lambda x: x <= bound, "<": lambda x: x < bound,
                  ">=": lambda x: x >= bound, ">": lambda x: x > bound}[op]
        values: list[int] = []
        while within(v) and len(values) < MAX_SUBTESTS:
            values.append(v)
            v += step
        return [{m.group(1): v} for v in values]

    def _helper(self, i: int, env: dict[str, Any]) -> int:
        """A call to a test-file function that starts subtests: walk its body with its arguments."""
        fn = self.pkg.helpers[self.f.tokens[i].text]
        if self.depth > 8:
            raise self.f.fail(i, f"subtests started through {fn.name} recursively: the reader cannot name them")
        args, after = Evaluator(self.pkg, self.f, env).arguments(i + 1)
        raw = self._argument_names(i + 1)
        callee_env = {p: a for p, a in zip(fn.params, args) if p}
        testers = {p for p, name in zip(fn.params, raw) if p and name in self.testers}
        inner = Body(self.pkg, fn.file, self.namer, self.test, testers, self.emit, self.followed)
        inner.depth = self.depth + 1
        inner.block(fn.start + 1, fn.end, callee_env)
        return after

    def _argument_names(self, paren: int) -> list[str]:
        """Each argument of the call at ``paren`` as a bare name ("" when it is not one)."""
        toks = self.f.tokens
        end = matching(toks, paren)
        names: list[str] = []
        current: list[Token] = []
        k = paren + 1
        while k < end:
            if toks[k].text == ",":
                names.append(current[0].text if len(current) == 1 else "")
                current = []
            elif toks[k].text in ("(", "[", "{"):
                close = matching(toks, k)
                current.extend(toks[k : close + 1])
                k = close
            else:
                current.append(toks[k])
            k += 1
        names.append(current[0].text if len(current) == 1 else "")
        return names

    def _run(self, paren: int, env: dict[str, Any]) -> int:
        f, toks = self.f, self.f.tokens
        self.followed.add((f.path, paren - 1))
        value, j = Evaluator(self.pkg, f, env).expr(paren + 1)
        if not isinstance(value, str):
            raise f.fail(paren, "a subtest's name is not a value the reader can evaluate")
        name = self.namer.unique(self.test, rewrite(value))
        self.emit(name)
        end = matching(toks, paren)
        if j < end and toks[j].text == ",":
            j += 1
        if j < end and toks[j].text == "func":
            params_end = matching(toks, j + 1)
            param = Package._testing_param(f, j + 1, params_end)
            k = params_end + 1
            while toks[k].text != "{":
                k += 1
            inner = Body(self.pkg, f, self.namer, name, {param} if param else set(), self.emit, self.followed)
            inner.block(k + 1, matching(toks, k), env)
        return end + 1


def package_variables(files: dict[str, str], tags: frozenset[str] = frozenset()) -> set[str]:
    """The package-level variables the test files declare (a solution must not need them)."""
    return Package(files, tags).variables


def read_package(files: dict[str, str], tags: frozenset[str] = frozenset()) -> list[str]:
    """Every test and subtest name ``go test -json`` reports for these test files, in run order."""
    pkg = Package(files, tags)
    found: list[str] = []
    namer = Namer()
    calls: set[tuple[str, int]] = set()
    followed: set[tuple[str, int]] = set()
    for fn in pkg.funcs:
        toks = fn.file.tokens
        calls |= {(fn.file.path, k) for k in range(fn.start, fn.end)
                  if toks[k].text == "Run" and toks[k - 1].text == "."}
        if TEST_FUNC.fullmatch(fn.name) and fn.tester:
            found.append(fn.name)
            Body(pkg, fn.file, namer, fn.name, {fn.tester}, found.append, followed).block(fn.start + 1, fn.end, {})
    missed = sorted(calls - followed)
    if missed:
        path, k = missed[0]
        line = next(f for f in pkg.files if f.path == path).tokens[k].line
        raise NamesError(f"{path}:{line}: a subtest is started where the reader cannot follow it "
                         f"(a helper function, or a loop over nothing): it cannot name {len(missed)} subtest call(s)")
    return found
