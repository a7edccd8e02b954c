"""Confinement of every path a tool touches to the workspace.

A model's path is accepted only when, after decoding every disguise (URL encoding, Windows
separators and drives, ``~``, ``file://``, absolute spellings of the root) and resolving
symlinks, it names the workspace root or something under it. Anything else raises
:class:`PathRefused` (the ToolBox records it on the call). There is no auto-correction: a path
that does not exist is reported with near matches, never silently replaced by another file.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from agent.tools.errors import PathRefused, ToolError
from agent.tools.globs import compile_glob, walk_files

_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")
_ENV = re.compile(r"^\$(\{?\w+\}?)")


@dataclass(frozen=True)
class Target:
    """A confined path: ``rel`` (POSIX, as the model named it) and ``real`` (for I/O)."""

    rel: str
    real: str

    @property
    def exists(self) -> bool:
        return os.path.exists(self.real)

    @property
    def is_dir(self) -> bool:
        return os.path.isdir(self.real)


def _norm_rel(path: str) -> str:
    rel = posixpath.normpath(path.replace("\\", "/")).lstrip("/")
    return "." if rel in ("", ".") else rel


class Workspace:
    """The root directory plus its read-only and deny rules."""

    def __init__(
        self,
        root: Path | str,
        *,
        read_only: Collection[str] = (),
        deny: Collection[str] = (),
        aliases: Collection[str] = (),
    ):
        self.root = os.path.realpath(os.fspath(root))
        if not os.path.isdir(self.root):
            raise ValueError(f"workspace is not a directory: {root}")
        prefixes = {self.root, os.path.abspath(os.fspath(root))}
        prefixes.update(posixpath.normpath(a.replace("\\", "/")) for a in aliases if a)
        # Longest first; "/" is never a prefix (it would make every host path "inside").
        self.prefixes = sorted({p.rstrip("/") for p in prefixes} - {""}, key=len, reverse=True)
        self.read_only = {_norm_rel(p) for p in read_only}
        self.deny = [compile_glob(p) for p in deny]

    # -- rules ---------------------------------------------------------------------------------

    def denied(self, rel: str) -> bool:
        """True when ``rel`` or one of its parent directories matches a deny pattern."""
        if not self.deny or rel == ".":
            return False
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if any(g.match(sub) for g in self.deny):
                return True
        return False

    def is_read_only(self, target: Target) -> bool:
        if not self.read_only:
            return False
        for rel in {target.rel, self.rel_of(target.real)}:
            if rel in self.read_only or any(rel.startswith(p + "/") for p in self.read_only if p != "."):
                return True
        return "." in self.read_only

    def rel_of(self, real: str) -> str:
        return "." if real == self.root else real[len(self.root) + 1 :]

    # -- resolution ----------------------------------------------------------------------------

    def contains(self, raw: str) -> bool:
        """Whether ``raw`` names a path inside the workspace (lexically; symlinks not followed)."""
        return self._lexical(raw) is not None

    def _lexical(self, raw: str) -> str | None:
        """The workspace-relative form of ``raw``, or None when it points outside."""
        s = raw.strip().strip("`\"'").strip()
        if s.startswith("file://"):
            s = s[len("file://") :]
        s = s.replace("\\", "/")
        if s.startswith("~") or _ENV.match(s) or _DRIVE.match(s) or "\x00" in s:
            return None
        if s.startswith("/"):
            s = posixpath.normpath(s)
            for prefix in self.prefixes:
                if s == prefix or s.startswith(prefix + "/"):
                    s = s[len(prefix) :].lstrip("/")
                    break
            else:
                return None
        rel = posixpath.normpath(s) if s else "."
        if rel == ".." or rel.startswith(("../", "/")):
            return None
        return rel

    def resolve(self, raw: object, *, must_exist: bool = False) -> Target:
        """Confine ``raw`` or raise :class:`PathRefused` (or ToolError "not_found")."""
        if not isinstance(raw, str):
            raise ToolError("invalid_args", f"path must be a string, not {type(raw).__name__}")
        shown = raw.strip()[:200]
        rel = self._lexical(raw)
        if rel is not None and _PERCENT.search(raw):
            decoded = self._lexical(unquote(raw))
            if decoded is None or self.denied(decoded):
                rel = None
        if rel is None:
            raise PathRefused(
                raw, f"path '{shown}' is outside the workspace; use a path relative to the workspace root"
            )
        lexical_path = self.root if rel == "." else os.path.join(self.root, rel)
        real = os.path.realpath(lexical_path)
        if real != self.root and not real.startswith(self.root + "/"):
            raise PathRefused(raw, f"path '{shown}' leads outside the workspace (symlink)")
        if self.denied(rel) or self.denied(self.rel_of(real)):
            raise PathRefused(raw, f"access to '{rel}' is not allowed in this task")
        target = Target(rel=rel, real=real)
        if must_exist and not os.path.exists(real):
            raise ToolError("not_found", self.not_found_message(rel))
        return target

    # -- not found -----------------------------------------------------------------------------

    def near_matches(self, rel: str, limit: int = 5) -> list[str]:
        """Existing files whose path or name looks like ``rel`` (same name first)."""
        files = list(walk_files(self.root, skip=self.denied, limit=5000))
        name = rel.rsplit("/", 1)[-1]
        same_name = [f for f in files if f.rsplit("/", 1)[-1] == name and f != rel]
        close = difflib.get_close_matches(rel, files, n=limit, cutoff=0.6)
        by_name = {f.rsplit("/", 1)[-1]: f for f in files}
        close += [by_name[n] for n in difflib.get_close_matches(name, list(by_name), n=limit, cutoff=0.75)]
        out: list[str] = []
        for f in same_name + close:
            if f not in out and f != rel:
                out.append(f)
        return out[:limit]

    def not_found_message(self, rel: str) -> str:
        near = self.near_matches(rel)
        if near:
            return f"not found: {rel}. Did you mean: {', '.join(near)}?"
        return f"not found: {rel}"

    def require_writable(self, target: Target) -> None:
        """Refuse changes to the files the task marks read-only (tests, build files)."""
        if self.is_read_only(target):
            raise ToolError(
                "read_only",
                f"{target.rel} is a test/build file and is read-only; change the solution files instead",
            )
