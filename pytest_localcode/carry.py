"""What grading takes from the agent's workspace, and what in it is evidence of tampering.

The grading copy is the pristine exercise plus the solution: the files ``files.solution`` names
and new source files where the language's ``carry`` globs allow them (the solution's own source
folders), never a test file, a build or runner configuration, or a file that can shadow what the
test run imports. A solution file the agent deleted stays deleted. A build manifest that belongs
to the solution (Rust's ``Cargo.toml``) is never taken whole: the pristine one gets the agent's
dependency entries, each checked, and nothing else. Files and manifest keys whose only use is to
change how the tests run are recorded as tampering: grading then says ``forged``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pytest_localcode.exercises import Exercise, glob_match, matches_any
from pytest_localcode.languages import LanguageConf, Manifest

BUILD_DIRS = ("node_modules", "build", "target")  # outputs of the agent's own builds: never graded


@dataclass
class CarryPlan:
    carried: list[str] = field(default_factory=list)  # workspace files copied over the pristine exercise
    deleted: list[str] = field(default_factory=list)  # solution files the agent removed
    ignored: list[str] = field(default_factory=list)  # new or changed files grading does not take
    tampering: list[str] = field(default_factory=list)  # "path: why", one per finding
    manifest: str | None = None  # the merged manifest's text, when the agent changed it

    @property
    def suspicious_files(self) -> list[str]:
        return sorted({finding.split(": ", 1)[0] for finding in self.tampering})


def workspace_files(workspace: Path, conf: LanguageConf) -> list[str]:
    """Regular files of the workspace (never symlinks, never the agent's build outputs)."""
    found = []
    for root, dirs, files in os.walk(workspace, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not (Path(root) / d).is_symlink() and d not in BUILD_DIRS)
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(workspace).as_posix()
            if path.is_symlink() or not path.is_file() or matches_any(rel, conf.workspace_exclude):
                continue
            found.append(rel)
    return found


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def plan_carry(ex: Exercise, conf: LanguageConf, workspace: Path, protected: frozenset[str]) -> CarryPlan:
    plan = CarryPlan()
    override = conf.overrides.get(ex.slug)
    is_test_suite = {override.solution_as_test["from"]} if override and override.solution_as_test else set()
    for rel in workspace_files(workspace, conf):
        pristine = ex.path / rel
        if pristine.is_file() and pristine.read_bytes() == (workspace / rel).read_bytes():
            continue  # unchanged: the grading copy has it from the pristine exercise
        flag = next((f for f in conf.tampering.files if glob_match(rel, f.pattern)), None)
        if flag is not None:
            plan.tampering.append(f"{rel}: {flag.why}")
        elif conf.manifest is not None and rel == conf.manifest.file:
            _merge(plan, conf.manifest, pristine, workspace / rel)
        elif rel in protected or rel in ex.test:
            plan.ignored.append(rel)
        elif rel in ex.solution or (matches_any(rel, conf.carry) and not matches_any(rel, conf.never_carry)):
            plan.carried.append(rel)
            text = _read(workspace / rel)
            # Go counter's solution is a test suite: the content rules do not apply to it
            for content in conf.tampering.content if rel not in is_test_suite else ():
                if re.search(content.pattern, text, re.M):
                    plan.tampering.append(f"{rel}: {content.why}")
        else:
            plan.ignored.append(rel)
    manifest = conf.manifest.file if conf.manifest else None
    plan.deleted = [rel for rel in ex.solution if rel != manifest and not (workspace / rel).is_file()]
    return plan


# -- the manifest --------------------------------------------------------------------------

HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
ENTRY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(.+?)\s*$", re.S)
KEY = re.compile(r"(?:^|[{,])\s*([A-Za-z0-9_-]+)\s*=")


def _table_of(line: str) -> str | None:
    """The table a header line opens (``[[test]]`` keeps its brackets), or None for another line."""
    stripped = line.strip()
    if stripped.startswith("[["):
        return stripped.split("#")[0].strip()
    m = HEADER.match(line)
    return re.sub(r"\s+", "", m.group(1)).replace('"', "") if m else None


def tables(text: str) -> list[tuple[str, list[str]]]:
    """(table name, its lines, header included) in order; "" is the part before the first header."""
    out: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        name = _table_of(line)
        if name is not None:
            out.append((name, [line]))
        else:
            out[-1][1].append(line)
    return out


def _entries(lines: list[str]) -> list[str]:
    """``key = value`` entries of a table, a value spanning lines (an array) joined to its key."""
    entries: list[str] = []
    depth = 0
    for line in lines:
        code = line.split("#", 1)[0] if '"' not in line else line
        if depth == 0:
            if not code.strip():
                continue
            entries.append(line)
        else:
            entries[-1] += "\n" + line
        depth += code.count("[") + code.count("{") - code.count("]") - code.count("}")
        depth = max(depth, 0)
    return entries


def _entry_allowed(entry: str, keys: tuple[str, ...]) -> bool:
    m = ENTRY.match(entry)
    if not m:
        return False
    value = m.group(2)
    if value.startswith('"'):
        return True
    if value.startswith("{"):
        return all(k in keys for k in KEY.findall(value))
    return False


def _merge(plan: CarryPlan, rule: Manifest, pristine: Path, agent: Path) -> None:
    """The pristine manifest with the agent's ``rule.table`` entries (those that pass) instead of its own."""
    agent_text = _read(agent)
    for flag in rule.tampering:
        if re.search(flag.pattern, agent_text, re.M):
            plan.tampering.append(f"{rule.file}: {flag.why}")
    taken: list[str] = []
    for name, lines in tables(agent_text):
        body = lines[1:] if name else lines
        if name == rule.table:
            for entry in _entries(body):
                if _entry_allowed(entry, rule.keys):
                    taken.append(entry)
                else:
                    plan.ignored.append(f"{rule.file} [{rule.table}] {entry.split('=')[0].strip()}")
        elif name.startswith(rule.table + "."):
            entries = _entries(body)
            keys = [m.group(1) if (m := ENTRY.match(e)) else "" for e in entries]
            if all(k in rule.keys for k in keys):
                inline = ", ".join(" ".join(e.split()) for e in entries)
                taken.append(f"{name[len(rule.table) + 1:]} = {{ {inline} }}")
            else:
                plan.ignored.append(f"{rule.file} [{name}]")
    kept = [line for name, lines in tables(_read(pristine) if pristine.is_file() else "")
            if name != rule.table and not name.startswith(rule.table + ".") for line in lines]
    plan.manifest = "\n".join(kept).rstrip("\n") + f"\n\n[{rule.table}]\n" + "".join(e + "\n" for e in taken)
    plan.carried.append(rule.file)
