"""The names of the tests an exercise defines, read statically from its (pristine) test files.

Grading compares these with the names in the runner's report: a test that did not run, ran
twice, or was never defined is visible by name, not hidden in a count. Which reader a language
uses, and which files it reads, is data (``test_names`` in ``exercises_conf/<language>.yaml``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_localcode.testnames import golang, readers
from pytest_localcode.testnames.errors import NamesError

__all__ = ["READERS", "NamesError", "declared_variables", "read_names"]


def _go(files: dict[str, str], options: dict[str, Any]) -> list[str]:
    return golang.read_package(files, frozenset(options.get("build_tags", ())))


READERS: dict[str, Callable[[dict[str, str], dict[str, Any]], list[str]]] = {
    "python": readers.python_names,
    "javascript": readers.javascript_names,
    "java": readers.java_names,
    "catch": readers.catch_names,
    "rust": readers.rust_names,
    "go": _go,
}


def _go_variables(files: dict[str, str], options: dict[str, Any]) -> set[str]:
    return golang.package_variables(files, frozenset(options.get("build_tags", ())))


# Readers that also know the variables the test files declare (a table of cases a solution must not touch).
VARIABLES: dict[str, Callable[[dict[str, str], dict[str, Any]], set[str]]] = {"go": _go_variables}


def _texts(root: Path, files: list[str]) -> dict[str, str]:
    texts = {}
    for rel in files:
        try:
            texts[rel] = (root / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise NamesError(f"{rel}: cannot read the test file ({exc})") from None
    return texts


def declared_variables(reader: str, root: Path, files: list[str], options: dict[str, Any]) -> set[str]:
    """Variables the test files declare, for the readers that know them (else none)."""
    if reader not in VARIABLES:
        return set()
    try:
        return VARIABLES[reader](_texts(root, files), options)
    except (NamesError, IndexError, KeyError, ValueError, RecursionError):
        return set()


def read_names(reader: str, root: Path, files: list[str], options: dict[str, Any]) -> list[str]:
    """Names defined by ``files`` (relative to ``root``); an unreadable file is a :class:`NamesError`."""
    texts = _texts(root, files)
    try:
        return READERS[reader](texts, options)
    except NamesError:
        raise
    except (IndexError, KeyError, ValueError, StopIteration, RecursionError) as exc:
        # A construct the reader does not know, met where it expected another: one line, never a traceback.
        raise NamesError(f"{', '.join(files)}: the {reader} name reader cannot read this test file "
                         f"({type(exc).__name__}: {exc})") from None
