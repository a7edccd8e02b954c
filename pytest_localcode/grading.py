"""Run an exercise's own tests on a fresh grading copy and turn the result into a verdict.

Verdicts: ``pass`` (every defined test ran and passed), ``fail`` (a test failed or crashed),
``build_error`` (nothing ran and the command failed), ``timeout``, and ``error`` for harness
anomalies such as fewer tests running than the exercise defines with nothing failing — that is
how a silently disabled test suite shows up instead of inflating the score.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_localcode.exercises import Exercise
from pytest_localcode.languages import LanguageConf
from pytest_localcode.parsers import PARSERS, TestCounts
from pytest_localcode.sandbox.base import Sandbox, SandboxFactory
from pytest_localcode.workspace import create_grading_copy, defined_test_count

PROMPT_OUTPUT_CHARS = 6000


@dataclass
class TestRun:
    outcome: str
    defined: int
    executed: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failed_names: list[str] = field(default_factory=list)
    exit_code: int = 0
    duration: float = 0.0
    timed_out: bool = False
    oom_killed: bool = False
    reason: str = ""
    output: str = ""
    workdir: str = ""  # the grading copy's path as the test command saw it (scrubbed from output)

    @property
    def ok(self) -> bool:
        return self.outcome == "pass"

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("output")
        data.pop("workdir")
        return data


def classify(counts: TestCounts | None, defined: int, exit_code: int, timed_out: bool, oom: bool) -> tuple[str, str]:
    if timed_out:
        return "timeout", "tests timed out"
    if counts is None:
        if oom:
            return "fail", "killed: out of memory"
        if exit_code != 0:
            return "build_error", f"build failed or no test report (exit {exit_code})"
        return "error", "test command succeeded but wrote no test report"
    if counts.failed:
        first = ", ".join(counts.failed_names[:3])
        return "fail", f"{counts.failed} of {defined} tests failed ({first})"
    if counts.executed < defined:
        if exit_code != 0 or oom:
            cause = "out of memory" if oom else f"exit {exit_code}"
            return "fail", f"only {counts.executed} of {defined} tests ran ({cause})"
        return "error", f"harness error: only {counts.executed} of {defined} defined tests ran"
    if counts.executed > defined:
        return "error", f"harness error: {counts.executed} tests ran but the exercise defines {defined}"
    if exit_code != 0:
        return "fail", f"all {defined} tests passed but the test command exited {exit_code}"
    return "pass", f"{defined} of {defined} tests passed"


def clean_output(text: str, workdir: str, slug: str, limit: int = PROMPT_OUTPUT_CHARS) -> str:
    """Test output as shown to the model: no sandbox paths, no timings, bounded length."""
    text = text.replace(workdir + "/", "").replace(workdir, slug)
    text = re.sub(r"\b(in|took) \d+(\.\d+)?m?s\b", r"\1 <time>", text)
    text = re.sub(r"(after |Time:\s+)\d+(\.\d+)? ?m?s\b(, estimated \d+ ?m?s\b)?", r"\1<time>", text)  # JUnit, jest
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    if len(text) > limit:
        head = limit // 3
        text = text[:head] + f"\n...[{len(text) - limit} characters cut]...\n" + text[-(limit - head) :]
    return text


def test_run(outcome: str, reason: str, defined: int, counts: TestCounts | None, workdir: str, output: str,
             duration: float, **flags: Any) -> TestRun:
    counts = counts or TestCounts()
    return TestRun(outcome=outcome, defined=defined, executed=counts.executed, passed=counts.passed,
                   failed=counts.failed, skipped=counts.skipped, failed_names=counts.failed_names, duration=duration,
                   reason=reason, output=output, workdir=workdir, **flags)


def solution_unchanged(ex: Exercise, workspace: Path) -> bool:
    def same(rel: str) -> bool:
        mine = workspace / rel
        return mine.is_file() and mine.read_bytes() == (ex.path / rel).read_bytes()

    return all(same(rel) for rel in ex.solution)


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders only (shell braces in the scripts stay as they are)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def language_exports(conf: LanguageConf, values: dict[str, str]) -> str:
    """``export K="v" ...; `` for the language's env: its ``$LOCALCODE_*`` expand in the sandbox's shell,
    so the same text works in every sandbox (the tests and the agent's ``shell`` tool share it)."""
    exports = " ".join(f'{k}="{fill(v, values)}"' for k, v in conf.env.items())
    return f"export {exports}; " if exports else ""


class Grader:
    """Grades one exercise; owns nothing but the per-language data and a sandbox factory."""

    def __init__(self, sandboxes: SandboxFactory, worker: str = "main", timeout: float | None = None):
        self.sandboxes = sandboxes
        self.worker = worker
        self.timeout = timeout  # overrides the per-language test_timeout

    def grade(self, ex: Exercise, conf: LanguageConf, workspace: Path, grade_dir: Path) -> TestRun:
        lay = create_grading_copy(ex, conf, workspace, grade_dir)
        defined = defined_test_count(ex, conf, grade_dir, lay)
        sandbox = self.sandboxes.open(grade_dir, name=ex.slug, worker=self.worker)
        try:
            override = conf.overrides.get(ex.slug)
            if override and override.mutants:
                return self._grade_mutants(ex, conf, sandbox, grade_dir, lay.tests, defined)
            run = self._run_once(ex, conf, sandbox, grade_dir, lay.tests, defined)
            if override and override.require_change and run.ok and solution_unchanged(ex, workspace):
                run.outcome = "fail"
                run.reason = ("solution unchanged: this refactoring exercise's stub already passes, "
                              "the task is to rewrite it")
            return run
        finally:
            sandbox.close()

    def _script(self, ex: Exercise, conf: LanguageConf, sandbox: Sandbox, tests: tuple[str, ...]) -> str:
        """The test command, preceded by the language's environment."""
        values = {"slug": ex.slug, "workdir": sandbox.workdir, "worker": self.worker, "test_files": " ".join(tests)}
        return language_exports(conf, values) + fill(conf.test_script, values)

    def _run_once(
        self, ex: Exercise, conf: LanguageConf, sandbox: Sandbox, grade_dir: Path, tests: tuple[str, ...], defined: int
    ) -> TestRun:
        script = self._script(ex, conf, sandbox, tests)
        result = sandbox.exec(script, timeout=self.timeout or conf.test_timeout)
        counts = PARSERS[conf.parser](grade_dir / conf.parser_args.get("path", ""), result.output)
        outcome, reason = classify(counts, defined, result.exit_code, result.timed_out, result.oom_killed)
        return test_run(outcome, reason, defined, counts, sandbox.workdir, result.output, result.duration,
                        exit_code=result.exit_code, timed_out=result.timed_out, oom_killed=result.oom_killed)

    def _grade_mutants(
        self, ex: Exercise, conf: LanguageConf, sandbox: Sandbox, grade_dir: Path, tests: tuple[str, ...], defined: int
    ) -> TestRun:
        """The solution is a test suite: it must fail on each broken implementation and pass the good one."""
        override = conf.overrides[ex.slug]
        assert override.mutants is not None
        script = self._script(ex, conf, sandbox, tests)
        counts = TestCounts()
        outputs = []
        started = time.monotonic()
        timed_out = False
        for impl, expected in override.mutants.expect.items():
            result = sandbox.exec(script, timeout=self.timeout or conf.test_timeout, env={override.mutants.env: impl})
            timed_out |= result.timed_out
            verdict = "pass" if result.exit_code == 0 else "fail"
            label = f"{override.mutants.env}={impl}: suite should {expected}, it did {verdict}"
            outputs.append(f"== {label}\n{result.output}")
            counts.record(label, "passed" if verdict == expected else "failed")
        outcome, reason = classify(counts, defined, 0, timed_out, False)
        return test_run(outcome, reason, defined, counts, sandbox.workdir, "\n".join(outputs),
                        time.monotonic() - started, timed_out=timed_out)
