"""Finding files and text: glob, grep and search (grep under another name).

Pure Python over one walker (``globs.walk_files``), so results are the same on every machine:
no ripgrep-or-fallback split, junk directories skipped, deny rules applied, symlinks never
followed out of the workspace.
"""

from __future__ import annotations

import os
import re
from typing import Any

from agent.tools.base import Call
from agent.tools.errors import PathRefused, ToolError
from agent.tools.globs import compile_glob, walk_files

MAX_GLOB_RESULTS = 100
MAX_SCAN_FILES = 5000
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_MATCH_LINE = 300
DEFAULT_MAX_RESULTS = 100


def _under(call: Call, path: object) -> tuple[str, str, bool]:
    """(rel, real, is_dir) of the search root, confined and existing."""
    target = call.ctx.workspace.resolve(path if path is not None else ".", must_exist=True)
    return target.rel, target.real, target.is_dir


def glob(call: Call, args: dict[str, Any]) -> str:
    pattern = (args.get("pattern") or "*").strip()
    path = args.get("path")
    for prefix in call.ctx.workspace.prefixes:  # an absolute pattern inside the workspace
        if pattern.startswith(prefix + "/"):
            pattern, path = pattern[len(prefix) + 1 :], "."
            call.repairs.append("absolute glob pattern made relative to the workspace")
            break
    rel, _real, is_dir = _under(call, path)
    if not is_dir:
        raise ToolError("invalid_args", f"{rel} is a file, not a directory; give a directory as path")
    # Paths in the pattern are relative to the search directory.
    if pattern.startswith(("/", "~")) or ".." in pattern.split("/"):
        raise PathRefused(pattern, f"pattern '{pattern[:200]}' must be relative to the search directory")
    matcher = compile_glob(pattern)
    prefix = "" if rel == "." else rel + "/"
    found: list[str] = []
    truncated = False
    for path in walk_files(call.ctx.workspace.root, rel, skip=call.ctx.workspace.denied):
        if matcher.match(path[len(prefix):]):
            if len(found) >= MAX_GLOB_RESULTS:
                truncated = True
                break
            found.append(path)
    if not found:
        where = "the workspace" if rel == "." else rel
        return f"no files found matching '{pattern}' in {where}"
    found.sort()
    if truncated:
        found.append(f"(results truncated at {MAX_GLOB_RESULTS}; use a narrower pattern or path)")
    return "\n".join(found)


def _compile(args: dict[str, Any]) -> re.Pattern[str]:
    pattern = args["pattern"]
    flags = re.IGNORECASE if args.get("ignore_case") else 0
    if args.get("literal"):
        return re.compile(re.escape(pattern), flags)
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ToolError(
            "invalid_regex", f"invalid regular expression {pattern!r}: {exc}. Set literal=true to search plain text"
        ) from None


def _read_lines(real: str) -> list[str] | None:
    try:
        if os.path.getsize(real) > MAX_FILE_BYTES:
            return None
        with open(real, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if b"\x00" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace").splitlines()


def grep(call: Call, args: dict[str, Any]) -> str:
    regex = _compile(args)
    rel, real, is_dir = _under(call, args.get("path"))
    include = compile_glob(args["include"]) if args.get("include") else None
    limit = args.get("max_results", DEFAULT_MAX_RESULTS)
    ws = call.ctx.workspace
    if is_dir:
        files = walk_files(ws.root, rel, skip=ws.denied, limit=MAX_SCAN_FILES + 1)
    else:
        files = iter([rel])
    prefix = "" if rel == "." or not is_dir else rel + "/"
    hits: list[str] = []
    scanned = 0
    more = scan_limit = False
    for path in files:
        if include and not include.match(path[len(prefix):]):
            continue
        scanned += 1
        if scanned > MAX_SCAN_FILES:
            scan_limit = True
            break
        lines = _read_lines(os.path.join(ws.root, path) if is_dir else real)
        if lines is None:
            continue
        for number, line in enumerate(lines, 1):
            if regex.search(line):
                if len(hits) >= limit:
                    more = True
                    break
                text = line if len(line) <= MAX_MATCH_LINE else line[:MAX_MATCH_LINE] + "..."
                hits.append(f"{path}:{number}:{text}")
        if more:
            break
    if not hits:
        where = "the workspace" if rel == "." else rel
        note = f" (only the first {MAX_SCAN_FILES} files were searched)" if scan_limit else ""
        return f"no matches for {args['pattern']!r} in {where}{note}"
    if more:
        hits.append(f"(stopped after {limit} matches; narrow the pattern, path or include)")
    elif scan_limit:
        hits.append(f"(only the first {MAX_SCAN_FILES} files were searched; narrow the path or include)")
    return "\n".join(hits)


search = grep
