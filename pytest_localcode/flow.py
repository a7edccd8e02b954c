"""One exercise, end to end: workspace → try 1 → tests → (try 2 with the failures → tests).

Runs inside the item's setup. The result is saved atomically as soon as the exercise ends, so an
interrupted run loses at most the exercise in flight.
"""

from __future__ import annotations

import difflib
import os
import shutil
import time
from pathlib import Path

from pytest_localcode.carry import plan_carry
from pytest_localcode.exercises import Exercise
from pytest_localcode.grading import Grader, TestRun, clean_output
from pytest_localcode.languages import LanguageConf
from pytest_localcode.prompting import first_prompt, retry_prompt
from pytest_localcode.results import ExerciseResult, TryRecord, save
from pytest_localcode.solvers import Solver, TryContext
from pytest_localcode.workspace import create_workspace, layout

REPORT_OUTPUT_CHARS = 20000
DIFF_CHARS = 30000


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines(True) if path.is_file() else []


def solution_diff(ex: Exercise, conf: LanguageConf, workspace: Path) -> str:
    """Unified diff against the pristine exercise of what grading took from the workspace, of the
    solution files the agent deleted, and of the files it wrote that are evidence of tampering."""
    plan = plan_carry(ex, conf, workspace, layout(ex, conf).protected)
    chunks: list[str] = []
    for rel in sorted({*plan.carried, *plan.deleted, *plan.suspicious_files}):
        chunks.extend(difflib.unified_diff(_lines(ex.path / rel), _lines(workspace / rel), f"a/{rel}", f"b/{rel}"))
    text = "".join(chunks)
    return text if len(text) <= DIFF_CHARS else text[:DIFF_CHARS] + "\n...[diff cut]...\n"


def _record(number: int, test: TestRun, attempt_metrics: dict, stop: str, agent_s: float) -> TryRecord:
    return TryRecord(
        number=number,
        outcome=test.outcome,
        tests=test.summary(),
        agent=attempt_metrics,
        stop_reason=stop,
        agent_seconds=round(agent_s, 3),
        test_seconds=round(test.duration, 3),
    )


SHELL_CACHE = "shell-cache"  # the agent shell's private build cache (see AgentSolver.open_shell)


def discard(tree: Path) -> None:
    """Remove a build cache (hundreds of MB for Rust) once its exercise ends; Go and Cargo leave
    read-only directories behind, so permissions are opened before deleting."""
    if not tree.is_dir():
        return
    for root, _dirs, _files in os.walk(tree):
        os.chmod(root, 0o700)
    shutil.rmtree(tree, ignore_errors=True)


def run_exercise(
    ex: Exercise,
    conf: LanguageConf,
    solver: Solver,
    grader: Grader,
    item_dir: Path,
    *,
    tries: int,
    model: str,
    provenance: dict | None = None,
    epoch: int = 1,
    epochs: int = 1,
    seed: int | None = None,
) -> ExerciseResult:
    started = time.time()
    clock = time.monotonic()
    result = ExerciseResult(ex.language, ex.slug, model, max_tries=tries, started=started, provenance=provenance or {},
                            epoch=epoch, epochs=epochs, seed=seed)
    workspace = item_dir / "workspace" / ex.slug
    lay = create_workspace(ex, conf, workspace)
    grade_dir = item_dir / "grade" / ex.slug
    prompt = first_prompt(ex, lay.protected)
    last: TestRun | None = None
    try:
        for number in range(1, tries + 1):
            ctx = TryContext(ex, conf, workspace, item_dir, number, prompt, lay.protected, seed, epoch)
            t0 = time.monotonic()
            attempt = solver.attempt(ctx)
            agent_s = time.monotonic() - t0
            result.refused_paths.extend(attempt.refused_paths)
            result.transcript = attempt.transcript or result.transcript
            if attempt.error:
                result.tries.append(
                    TryRecord(number, "not_run", agent=attempt.metrics, stop_reason=attempt.stop_reason,
                              agent_seconds=round(agent_s, 3), error=attempt.error)
                )
                result.error = attempt.error
                break
            last = grader.grade(ex, conf, workspace, grade_dir)
            (item_dir / f"tests_try{number}.txt").write_text(last.output, encoding="utf-8")
            result.tries.append(_record(number, last, attempt.metrics, attempt.stop_reason, agent_s))
            if last.outcome == "error":
                result.error = f"{ex.name}: {last.reason}"
                break
            if last.outcome == "forged":  # a finding about the model: no second try to do it again
                break
            if last.ok or solver.deterministic:
                break
            prompt = retry_prompt(ex, clean_output(last.output_for_model, last.workdir, ex.slug))
    except BaseException as exc:
        # Ctrl-C, a lost server…: the saved result is marked incomplete so a resume redoes it.
        result.error = f"interrupted: {type(exc).__name__}: {exc}".strip(": ")
        raise
    finally:
        result.wall_seconds = round(time.monotonic() - clock, 3)
        result.finished = time.time()
        if last is not None:
            result.final_test_output = clean_output(last.output, last.workdir, ex.slug, REPORT_OUTPUT_CHARS)
        result.solution_diff = solution_diff(ex, conf, workspace)
        save(result, item_dir)
        discard(item_dir / SHELL_CACHE)
    return result

