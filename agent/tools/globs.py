"""One glob dialect for the whole toolbox (glob tool, include filters, deny patterns).

Rules, the same everywhere so a model cannot see two behaviours:

* ``*`` and ``?`` never cross ``/``; ``**`` crosses any number of directories; ``{a,b}`` and
  ``[abc]`` work as in shells;
* a pattern without ``/`` matches a file's *name* at any depth (``*.py`` finds ``src/a.py``);
* a pattern with ``/`` matches the whole workspace-relative path (``src/*.py``, ``.meta/**``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from functools import lru_cache

# Directories that hold caches, dependencies or build output: never listed, walked or searched.
JUNK_DIRS = frozenset(
    {
        ".git", "node_modules", "__pycache__", "build", "target", ".localcode", ".pytest_cache",
        ".mypy_cache", ".ruff_cache", ".gradle", ".venv", ".tox", ".idea", ".cache",
    }
)


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    depth = 0  # inside {...}
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
        elif c == "{":
            depth += 1
            out.append("(?:")
            i += 1
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
            i += 1
        elif c == "," and depth:
            out.append("|")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    out.extend(")" * depth)
    return "".join(out)


class Glob:
    """A compiled pattern; :meth:`match` takes a workspace-relative POSIX path."""

    def __init__(self, pattern: str):
        pattern = pattern.strip().replace("\\", "/")
        while pattern.startswith("./"):
            pattern = pattern[2:]
        self.pattern = pattern
        self.by_name = "/" not in pattern.rstrip("/")
        try:
            self._re = re.compile(_translate(pattern.rstrip("/") if self.by_name else pattern), re.DOTALL)
        except re.error:
            self._re = re.compile(re.escape(pattern))

    def match(self, rel: str) -> bool:
        if self.by_name:
            return self._re.fullmatch(rel.rsplit("/", 1)[-1]) is not None
        return self._re.fullmatch(rel) is not None


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> Glob:
    return Glob(pattern)


def walk_files(
    root: str,
    start_rel: str = ".",
    *,
    skip: Callable[[str], bool] | None = None,
    limit: int = 20000,
) -> Iterator[str]:
    """Workspace-relative paths of the files under ``start_rel``, sorted, never leaving ``root``.

    Junk directories are pruned, symlinked directories are not entered, and a symlinked file is
    yielded only when its target lies inside ``root``. ``skip(rel)`` prunes further (deny rules).
    """
    real_root = root.rstrip("/") or "/"
    start = real_root if start_rel in ("", ".") else os.path.join(real_root, start_rel)
    count = 0
    for dirpath, dirnames, filenames in os.walk(start):
        rel_dir = os.path.relpath(dirpath, real_root).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        kept = []
        for d in sorted(dirnames):
            rel = prefix + d
            if d in JUNK_DIRS or os.path.islink(os.path.join(dirpath, d)) or (skip and skip(rel)):
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = prefix + name
            if skip and skip(rel):
                continue
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not target.startswith(real_root + "/") or not os.path.isfile(target):
                    continue
            yield rel
            count += 1
            if count >= limit:
                return
