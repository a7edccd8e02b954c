"""Test names of the Python, JavaScript, Java, C++ (Catch2) and Rust suites, read statically.

Each reader returns the names exactly as the matching report parser in
:mod:`pytest_localcode.parsers` spells them, one per test the runner will report (so duplicates
are duplicates). A construct that would make a name unknowable statically (a computed title, a
parameterized test) is a :class:`NamesError` naming the file and line.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from pytest_localcode.parsers import JEST_SEPARATOR
from pytest_localcode.testnames.errors import NamesError
from pytest_localcode.testnames.lexer import LexError, Token, matching, tokenize

CANARY_ENV = "LOCALCODE_CANARY_"  # the environment from which run-time canaries take their names


def _tokens(text: str, dialect: str, path: str) -> list[Token]:
    try:
        return tokenize(text, dialect, path)
    except LexError as exc:
        raise NamesError(str(exc)) from None


# -- Python (pytest over unittest classes and test functions) --------------------------------


def python_names(files: dict[str, str], options: dict[str, Any]) -> list[str]:
    """``<module>.<Class>.<method>`` and ``<module>.<function>``, as pytest's JUnit XML names them."""
    names: list[str] = []
    for path, text in files.items():
        try:
            tree = ast.parse(text, filename=path)
        except SyntaxError as exc:
            raise NamesError(f"{path}:{exc.lineno}: not valid Python ({exc.msg})") from None
        module = path[: -len(".py")].replace("/", ".")
        classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                names.append(f"{module}.{node.name}")
            elif isinstance(node, ast.ClassDef) and _collected_class(node, classes):
                names.extend(f"{module}.{node.name}.{m}" for m in _test_methods(node, classes, set()))
    return names


def _base_names(cls: ast.ClassDef) -> list[str]:
    return [b.attr if isinstance(b, ast.Attribute) else b.id if isinstance(b, ast.Name) else "" for b in cls.bases]


def _is_testcase(cls: ast.ClassDef, classes: dict[str, ast.ClassDef], seen: set[str]) -> bool:
    for base in _base_names(cls):
        if base.endswith("TestCase"):
            return True
        if base in classes and base not in seen and _is_testcase(classes[base], classes, seen | {base}):
            return True
    return False


def _collected_class(cls: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> bool:
    """pytest collects unittest.TestCase subclasses, and ``Test*`` classes without ``__init__``."""
    if _is_testcase(cls, classes, {cls.name}):
        return True
    has_init = any(isinstance(n, ast.FunctionDef) and n.name == "__init__" for n in cls.body)
    return cls.name.startswith("Test") and not has_init


def _test_methods(cls: ast.ClassDef, classes: dict[str, ast.ClassDef], seen: set[str]) -> list[str]:
    """Test methods, inherited ones (from classes of the same file) first, without duplicates."""
    found: dict[str, None] = {}
    for base in _base_names(cls):
        if base in classes and base not in seen:
            for name in _test_methods(classes[base], classes, seen | {cls.name}):
                found[name] = None
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            found[node.name] = None
    return list(found)


# -- JavaScript (jest) ------------------------------------------------------------------------

JEST_BLOCKS = {"describe", "xdescribe", "fdescribe"}
JEST_TESTS = {"test", "it", "xtest", "xit", "fit"}
JEST_MODIFIERS = {"skip", "only", "concurrent", "failing"}


def _literal_title(tokens: list[Token], i: int, path: str) -> tuple[str, int]:
    """A title made of string literals joined with ``+``, starting at ``i``; returns it and the next index."""
    parts = []
    while True:
        tok = tokens[i]
        if tok.kind != "string" or tok.value is None:
            raise NamesError(f"{path}:{tok.line}: a test title that is not a plain string ({tok.text[:40]}): "
                             "the reader cannot name it")
        parts.append(tok.value)
        i += 1
        if tokens[i].text != "+":
            return "".join(parts), i
        i += 1


def javascript_names(files: dict[str, str], options: dict[str, Any]) -> list[str]:
    """``describe › … › test`` titles, as jest's JSON report names its assertion results."""
    names: list[str] = []
    for path, text in files.items():
        tokens = _tokens(text, "javascript", path)
        blocks: list[tuple[str, int]] = []  # (describe title, index of its closing parenthesis)
        i = 0
        while i < len(tokens):
            while blocks and i > blocks[-1][1]:
                blocks.pop()
            tok = tokens[i]
            if tok.kind != "ident" or tok.text not in JEST_BLOCKS | JEST_TESTS or (
                i and tokens[i - 1].text in (".", "?.")
            ):
                i += 1
                continue
            j = i + 1
            modifiers = []
            while tokens[j].text == "." and tokens[j + 1].kind == "ident":
                modifiers.append(tokens[j + 1].text)
                j += 2
            if tokens[j].text != "(" or not set(modifiers) <= JEST_MODIFIERS | {"todo", "each"}:
                i += 1
                continue
            if "each" in modifiers:
                raise NamesError(f"{path}:{tok.line}: {tok.text}.each builds titles at run time: "
                                 "the reader cannot name them")
            if [t.text for t in tokens[j + 1 : j + 4]] == ["process", ".", "env"] and (
                tokens[j + 5].text.startswith(CANARY_ENV)
            ):
                i = j + 1  # a harness canary, named at run time: not one of the exercise's tests
                continue
            title, _ = _literal_title(tokens, j + 1, path)
            close = matching(tokens, j)
            if tok.text in JEST_BLOCKS:
                blocks.append((title, close))
            elif "todo" not in modifiers:
                names.append(JEST_SEPARATOR.join([*(b[0] for b in blocks), title]))
            i = j + 1
    return names


# -- Java (JUnit 5) ---------------------------------------------------------------------------

UNNAMEABLE_JAVA = {"ParameterizedTest", "RepeatedTest", "TestFactory", "TestTemplate"}
JAVA_MODIFIERS = {"public", "protected", "private", "static", "final", "abstract", "synchronized", "default"}


def java_names(files: dict[str, str], options: dict[str, Any]) -> list[str]:
    """``<package.>Class.method`` of every ``@Test`` method (nested classes joined with ``$``)."""
    names: list[str] = []
    for path, text in files.items():
        tokens = _tokens(text, "java", path)
        package = ""
        classes: list[tuple[str, int]] = []  # (name, index of its closing brace)
        i = 0
        while i < len(tokens):
            while classes and i > classes[-1][1]:
                classes.pop()
            tok = tokens[i]
            if tok.text == "package" and not classes and tok.kind == "ident":
                end = next(k for k in range(i, len(tokens)) if tokens[k].text == ";")
                package = "".join(t.text for t in tokens[i + 1 : end]) + "."
                i = end + 1
                continue
            if _type_declaration(tokens, i):
                name = tokens[i + 1].text
                j = i + 2
                while j < len(tokens) and tokens[j].text != "{":
                    j += 1
                classes.append((name, matching(tokens, j)))
                i = j + 1
                continue
            if tok.text == "@" and tokens[i + 1].kind == "ident" and tokens[i + 1].text != "interface":
                annotation = tokens[i + 1].text
                if annotation in UNNAMEABLE_JAVA:
                    raise NamesError(f"{path}:{tok.line}: @{annotation} names its tests at run time: "
                                     "the reader cannot name them")
                if annotation == "Test" and classes:
                    method = _annotated_method(tokens, i, path)
                    names.append(f"{package}{'$'.join(c[0] for c in classes)}.{method}")
            i += 1
    return names


def _type_declaration(tokens: list[Token], i: int) -> bool:
    """``class X``, ``interface X``, ``enum X``, ``record X(`` (not ``Foo.class``, not a variable named record)."""
    tok = tokens[i]
    if tok.kind != "ident" or tok.text not in ("class", "interface", "enum", "record") or (
        i and tokens[i - 1].text == "."
    ):
        return False
    if i + 2 >= len(tokens) or tokens[i + 1].kind != "ident":
        return False
    return tok.text != "record" or tokens[i + 2].text in ("(", "<")


def _annotated_method(tokens: list[Token], i: int, path: str) -> str:
    """The name of the method an annotation at ``i`` belongs to."""
    j = i
    while j < len(tokens):
        if tokens[j].text == "@":
            j += 2
            while tokens[j].text == ".":
                j += 2
            if tokens[j].text == "(":
                j = matching(tokens, j) + 1
            continue
        if tokens[j].kind == "ident" and tokens[j + 1].text == "(" and tokens[j].text not in JAVA_MODIFIERS:
            return tokens[j].text
        if tokens[j].text in (";", "{", "}", "="):
            break
        j += 1
    raise NamesError(f"{path}:{tokens[i].line}: an @Test annotation the reader cannot attach to a method")


# -- C++ (Catch2) -------------------------------------------------------------------------------


def catch_names(files: dict[str, str], options: dict[str, Any]) -> list[str]:
    """Every ``TEST_CASE`` (and ``TEST_CASE_METHOD`` / ``SCENARIO``) name, as Catch's XML names it."""
    names: list[str] = []
    for path, text in files.items():
        for region in options.get("strip", ()):
            text = re.sub(region, lambda m: "\n" * m.group(0).count("\n"), text, flags=re.M | re.S)
        tokens = _tokens(text, "cpp", path)
        for i, tok in enumerate(tokens):
            if tok.kind != "ident" or tokens[i + 1 : i + 2] == [] or tokens[i + 1].text != "(":
                continue
            if i and tokens[i - 1].text == "define":
                continue
            if tok.text in ("TEST_CASE", "SCENARIO", "TEST_CASE_METHOD"):
                j = i + 2
                if tok.text == "TEST_CASE_METHOD":
                    while tokens[j].text != ",":
                        j += 1
                    j += 1
                parts = []
                while tokens[j].kind == "string" and (value := tokens[j].value) is not None:
                    parts.append(value)
                    j += 1
                if not parts:
                    raise NamesError(f"{path}:{tok.line}: a {tok.text} without a literal name: "
                                     "the reader cannot name it")
                name = "".join(parts)
                names.append(f"Scenario: {name}" if tok.text == "SCENARIO" else name)
    return names


# -- Rust (libtest) -----------------------------------------------------------------------------

CFG_TRUE = {"test", "unix", "debug_assertions"}
RUST_ITEMS = {"use", "struct", "enum", "impl", "static", "const", "type", "trait"}  # items a #[test] cannot precede


def _cfg(tokens: list[Token], i: int, end: int) -> bool:
    """Evaluate a ``cfg(...)`` predicate between ``i`` and ``end`` (features all enabled)."""

    def one(k: int) -> tuple[bool, int]:
        tok = tokens[k]
        if tok.text in ("all", "any", "not") and tokens[k + 1].text == "(":
            close = matching(tokens, k + 1)
            values, k2 = [], k + 2
            while k2 < close:
                v, k2 = one(k2)
                values.append(v)
                if tokens[k2].text == ",":
                    k2 += 1
            result = all(values) if tok.text == "all" else any(values) if tok.text == "any" else not values[0]
            return result, close + 1
        if tokens[k + 1].text == "=":
            key, value = tok.text, tokens[k + 2].value
            known = {("target_os", "linux"), ("target_family", "unix")}
            return (key == "feature" or (key, value) in known), k + 3
        return tok.text in CFG_TRUE, k + 1

    value, _ = one(i)
    return value


def rust_names(files: dict[str, str], options: dict[str, Any]) -> list[str]:
    """``<target>::<module path>::<fn>`` of every ``#[test]`` fn, the target being the file's stem."""
    names: list[str] = []
    for path, text in files.items():
        target = path.rsplit("/", 1)[-1].removesuffix(".rs")
        tokens = _tokens(text, "rust", path)
        mods: list[tuple[str, int]] = []
        pending_test = False
        enabled = True
        i = 0
        while i < len(tokens):
            while mods and i > mods[-1][1]:
                mods.pop()
            tok = tokens[i]
            if tok.text == "#" and tokens[i + 1].text == "!" and tokens[i + 2].text == "[":
                i = matching(tokens, i + 2) + 1
                continue
            if tok.text == "#" and tokens[i + 1].text == "[":
                close = matching(tokens, i + 1)
                attr = tokens[i + 2].text
                if attr == "test" and close == i + 3:
                    pending_test = True
                elif attr == "cfg" and tokens[i + 3].text == "(":
                    enabled = enabled and _cfg(tokens, i + 4, matching(tokens, i + 3))
                elif attr in ("rstest", "test_case", "case", "quickcheck", "proptest"):
                    raise NamesError(f"{path}:{tok.line}: #[{attr}] generates tests: the reader cannot name them")
                i = close + 1
                continue
            if tok.kind == "ident" and tok.text == "macro_rules":
                raise NamesError(f"{path}:{tok.line}: a macro_rules! in a test file may generate tests: "
                                 "the reader cannot name them")
            if tok.kind == "ident" and tok.text == "mod" and tokens[i + 1].kind == "ident":
                name = tokens[i + 1].text
                if tokens[i + 2].text == "{":
                    close = matching(tokens, i + 2)
                    if enabled:
                        mods.append((name, close))
                        i += 3
                    else:
                        i = close + 1
                else:
                    i += 3
                pending_test, enabled = False, True
                continue
            if tok.kind == "ident" and tok.text == "fn" and tokens[i + 1].kind == "ident":
                if pending_test and enabled:
                    names.append("::".join([target, *(m[0] for m in mods), tokens[i + 1].text]))
                pending_test, enabled = False, True
                j = i + 2
                while j < len(tokens) and tokens[j].text not in ("{", ";"):
                    j = matching(tokens, j) + 1 if tokens[j].text in ("(", "[") else j + 1
                i = matching(tokens, j) + 1 if j < len(tokens) and tokens[j].text == "{" else j + 1
                continue
            if tok.text in (";", "}") or (tok.kind == "ident" and tok.text in RUST_ITEMS):
                if tok.text in ("struct", "enum", "impl", "trait"):
                    j = i + 1
                    while j < len(tokens) and tokens[j].text not in ("{", ";"):
                        j += 1
                    i = matching(tokens, j) + 1 if j < len(tokens) and tokens[j].text == "{" else j + 1
                    pending_test, enabled = False, True
                    continue
                if tok.text != "}":
                    pending_test, enabled = False, True
            i += 1
    return names
