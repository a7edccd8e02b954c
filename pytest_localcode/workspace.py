"""The two copies of an exercise an item works with.

* The **workspace** is what a solver gets: stubs, tests (readable, not writable by the agent's
  tools), and the build files the language needs; never ``.meta/`` or the docs.
* The **grading copy** is rebuilt from the pristine exercise before every test run; only the
  solution is carried over (:mod:`pytest_localcode.carry` decides what that is), so edited tests,
  a ``conftest.py`` or a ``.cargo/config.toml`` gain nothing.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pytest_localcode.carry import CarryPlan, plan_carry
from pytest_localcode.errors import DatasetError
from pytest_localcode.exercises import Exercise, glob_match, matches_any
from pytest_localcode.languages import LanguageConf


@dataclass(frozen=True)
class Layout:
    solver_files: tuple[str, ...]
    protected: frozenset[str]
    tests: tuple[str, ...]


def layout(ex: Exercise, conf: LanguageConf) -> Layout:
    files = ex.files()
    solver = tuple(f for f in files if not matches_any(f, conf.workspace_exclude))
    protected = {f for f in solver if f in ex.test or f in ex.editor or matches_any(f, conf.protected)}
    protected -= set(ex.solution)
    return Layout(solver, frozenset(protected), ex.test)


def _copy(src: Path, dst: Path) -> None:
    """Copy content and mode but not the mtime: fresh mtimes make mtime-based build tools
    (cargo's fingerprints, make) rebuild instead of trusting artifacts of an earlier run."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        dst.unlink(missing_ok=True)
        dst.symlink_to(os.readlink(src))
        return
    shutil.copyfile(src, dst)
    shutil.copymode(src, dst)


def create_workspace(ex: Exercise, conf: LanguageConf, dest: Path) -> Layout:
    """Fresh solver view of ``ex`` in ``dest`` (which is replaced)."""
    lay = layout(ex, conf)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for rel in lay.solver_files:
        _copy(ex.path / rel, dest / rel)
    return lay


def reference_map(ex: Exercise, conf: LanguageConf) -> list[tuple[str, str]]:
    """(reference file, solution path) pairs: how the oracle writes the example solution."""
    rules = conf.reference
    pairs: list[tuple[str, str]] = []
    for example in ex.example:
        target = None
        for prefix, replacement in (rules.get("rewrite_prefix") or {}).items():
            if example.startswith(prefix):
                target = replacement + example[len(prefix) :]
        if target is None and rules.get("by_extension"):
            ext = Path(example).suffix
            candidates = [s for s in ex.solution if Path(s).suffix == ext]
            if len(candidates) == 1:
                target = candidates[0]
        if target is None:
            raise DatasetError(f"{ex.path}: cannot map reference file {example} onto the solution files "
                               f"{list(ex.solution)}")
        pairs.append((example, target))
    for extra in rules.get("extra", []):
        if (ex.path / extra["from"]).is_file():
            pairs.append((extra["from"], extra["to"]))
    return pairs


def install_reference(ex: Exercise, conf: LanguageConf, workspace: Path) -> list[str]:
    """Write the reference solution over the stubs (the ``oracle`` pseudo-model)."""
    written = []
    for src, dst in reference_map(ex, conf):
        _copy(ex.path / src, workspace / dst)
        written.append(dst)
    return written


def enable_all_tests(conf: LanguageConf, grade_dir: Path, lay: Layout) -> None:
    for rule in conf.enable_all_tests:
        targets = lay.tests if rule.files == "test" else [f for f in lay.solver_files if glob_match(f, rule.glob or "")]
        for rel in targets:
            path = grade_dir / rel
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            for pattern, replacement in rule.pairs:
                text = re.sub(pattern, replacement, text)
            path.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class GradingCopy:
    layout: Layout
    carry: CarryPlan


def create_grading_copy(ex: Exercise, conf: LanguageConf, workspace: Path, dest: Path) -> GradingCopy:
    """Pristine exercise + the agent's solution (see :mod:`pytest_localcode.carry`) + every test
    enabled, in ``dest``. A solution file the agent deleted is not restored."""
    lay = layout(ex, conf)
    plan = plan_carry(ex, conf, workspace, lay.protected)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for rel in lay.solver_files:
        if rel not in plan.deleted:
            _copy(ex.path / rel, dest / rel)
    for rel in plan.carried:
        if conf.manifest is not None and rel == conf.manifest.file and plan.manifest is not None:
            (dest / rel).write_text(plan.manifest, encoding="utf-8")
        else:
            _copy(workspace / rel, dest / rel)
    override = conf.overrides.get(ex.slug)
    if override and override.solution_as_test:
        src, dst = override.solution_as_test["from"], override.solution_as_test["to"]
        if (dest / src).is_file():
            shutil.copyfile(dest / src, dest / dst)
        shutil.copyfile(ex.path / src, dest / src)
    enable_all_tests(conf, dest, lay)
    (dest / conf.results_dir).mkdir(exist_ok=True)
    return GradingCopy(lay, plan)
