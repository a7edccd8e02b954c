"""Run an exercise's own tests on a fresh grading copy and turn the result into a verdict.

Per run: the grading copy (pristine exercise + the solution, :mod:`pytest_localcode.carry`),
harness canaries with random names in its test files (:mod:`pytest_localcode.canaries`), the
names of the tests it defines (:mod:`pytest_localcode.testnames`), the test command with its
report in a directory named at random, and the verdict (:mod:`pytest_localcode.verdict`).
"""

from __future__ import annotations

import io
import re
import secrets
import time
import tokenize as pytokenize
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_localcode.canaries import Canaries, own_names, plant, scrub
from pytest_localcode.carry import CarryPlan
from pytest_localcode.errors import DatasetError
from pytest_localcode.exercises import Exercise, matches_any
from pytest_localcode.languages import LanguageConf, fill
from pytest_localcode.parsers import PARSERS, Report
from pytest_localcode.sandbox.base import Sandbox, SandboxFactory
from pytest_localcode.testnames import NamesError, declared_variables, read_names
from pytest_localcode.testnames.lexer import LexError, tokenize
from pytest_localcode.verdict import KEPT, OUTCOMES, Facts, Verdict, classify
from pytest_localcode.workspace import GradingCopy, create_grading_copy, reference_map

__all__ = ["OUTCOMES", "Grader", "TestRun", "classify", "clean_output"]

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
    missing: list[str] = field(default_factory=list)  # defined tests that did not run
    unexpected: list[str] = field(default_factory=list)  # reported tests the exercise does not define
    forgery: list[str] = field(default_factory=list)  # the integrity checks that failed (evidence of a forged run)
    suspicious_files: list[str] = field(default_factory=list)  # the solution's files the evidence names
    not_carried: list[str] = field(default_factory=list)  # changed files grading did not take
    exit_code: int = 0
    duration: float = 0.0
    timed_out: bool = False
    oom_killed: bool = False
    reason: str = ""
    output: str = ""
    workdir: str = ""  # the grading copy's path as the test command saw it (scrubbed from output)
    canary_markers: list[str] = field(default_factory=list)  # what the output shows of the canaries

    @property
    def output_for_model(self) -> str:
        """The output without the harness canaries' failures (they are not the model's to fix)."""
        return scrub(self.output, self.canary_markers)

    @property
    def ok(self) -> bool:
        return self.outcome == "pass"

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        for internal in ("output", "workdir", "canary_markers"):
            data.pop(internal)
        return data


def test_run(verdict: Verdict, defined: int, workdir: str, output: str, duration: float,
             carry: CarryPlan, **flags: Any) -> TestRun:
    counts = verdict.counts
    suspicious: list[str] = []
    if verdict.outcome == "forged":  # the files the findings name, else every file the solution changed
        suspicious = carry.suspicious_files or sorted({*carry.carried, *carry.deleted})
    return TestRun(outcome=verdict.outcome, defined=defined, executed=counts.executed, passed=counts.passed,
                   failed=counts.failed, skipped=counts.skipped, failed_names=counts.failed_names,
                   missing=verdict.missing, unexpected=verdict.unexpected, forgery=verdict.forgery,
                   suspicious_files=suspicious, not_carried=carry.ignored[:KEPT],
                   duration=duration, reason=verdict.reason, output=output, workdir=workdir, **flags)


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


def normalized(text: str, syntax: str, where: str) -> list[str]:
    """The tokens of a source file: whitespace, layout and comments do not count."""
    if syntax == "python":
        try:
            return [t.string for t in pytokenize.generate_tokens(io.StringIO(text).readline)
                    if t.type not in (pytokenize.COMMENT, pytokenize.NL, pytokenize.NEWLINE, pytokenize.INDENT,
                                      pytokenize.DEDENT, pytokenize.ENDMARKER)]
        except (pytokenize.TokenError, SyntaxError):
            return text.split()
    try:
        return [t.text for t in tokenize(text, syntax, where)]
    except (LexError, KeyError):
        return text.split()


def is_reference(ex: Exercise, conf: LanguageConf, grade_dir: Path) -> bool:
    """The graded solution files are the exercise's own reference solution, byte for byte."""
    try:
        pairs = reference_map(ex, conf)
    except DatasetError:
        return False
    return bool(pairs) and all((grade_dir / dst).is_file()
                               and (grade_dir / dst).read_bytes() == (ex.path / src).read_bytes()
                               for src, dst in pairs)


def solution_unchanged(ex: Exercise, conf: LanguageConf, grade_dir: Path, copy: GradingCopy) -> bool:
    """The graded solution is the stub, ignoring whitespace and comments: its files (the solution
    files left and the ones it added), in path order, hold the same tokens as the stub's. The
    exercise's reference solution is never "unchanged" (Java ledger's is the stub reformatted)."""
    if is_reference(ex, conf, grade_dir):
        return False
    manifest = conf.manifest.file if conf.manifest else None
    mine = sorted(({r for r in ex.solution if (grade_dir / r).is_file()} | set(copy.carry.carried)) - {manifest})
    stub = sorted(r for r in ex.solution if r != manifest)

    def tokens(root: Path, files: list[str]) -> list[str]:
        texts = [(rel, (root / rel).read_text(encoding="utf-8", errors="replace")) for rel in files]
        return [t for rel, text in texts for t in normalized(text, conf.syntax, rel)]

    return tokens(grade_dir, mine) == tokens(ex.path, stub)


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
        copy = create_grading_copy(ex, conf, workspace, grade_dir)
        override = conf.overrides.get(ex.slug)
        sandbox = self.sandboxes.open(grade_dir, name=ex.slug, worker=self.worker)
        try:
            if override and override.mutants:
                return self._grade_mutants(ex, conf, sandbox, grade_dir, copy)
            try:
                defined, canaries = self._names(ex, conf, grade_dir)
            except NamesError as exc:
                verdict = Verdict("error", f"harness error: cannot read the exercise's test names: {exc}")
                return test_run(verdict, 0, sandbox.workdir, "", 0.0, copy.carry)
            run = self._run_once(ex, conf, sandbox, grade_dir, copy, defined, canaries)
            if override and override.require_change and run.ok and solution_unchanged(ex, conf, grade_dir, copy):
                run.outcome = "fail"
                run.reason = ("solution unchanged: this refactoring exercise's stub already passes, and the graded "
                              "solution is the stub but for whitespace and comments")
            return run
        finally:
            sandbox.close()

    @staticmethod
    def _name_files(ex: Exercise, conf: LanguageConf, grade_dir: Path) -> list[str]:
        rule = conf.test_names
        if rule.files == "test":
            return [f for f in ex.test if (grade_dir / f).is_file()]
        return sorted(p.relative_to(grade_dir).as_posix() for p in grade_dir.glob(rule.glob or "") if p.is_file()
                      and not matches_any(p.relative_to(grade_dir).as_posix(), (f"{conf.results_dir}/**",)))

    def _names(self, ex: Exercise, conf: LanguageConf, grade_dir: Path) -> tuple[list[str], Canaries | None]:
        """The exercise's own test names, and the canaries planted next to them."""
        files = self._name_files(ex, conf, grade_dir)
        rule, reader = conf.canary, conf.test_names
        if rule is None:
            return read_names(reader.reader, grade_dir, files, reader.options), None
        canaries = plant(rule, grade_dir, files)
        after = [f for f in self._name_files(ex, conf, grade_dir)
                 if not (rule.runtime and f in canaries.files and f not in files)]
        names = read_names(reader.reader, grade_dir, after, reader.options)
        seen = {canaries.id_of(n) for n in names} - {None}
        if not rule.runtime and seen != set(canaries.ids):
            raise NamesError(f"the harness canaries written into {', '.join(canaries.files)} were not found by the "
                             f"{reader.reader} name reader (check canary in exercises_conf/{conf.language}.yaml)")
        return own_names(names, canaries), canaries

    def _script(self, ex: Exercise, conf: LanguageConf, sandbox: Sandbox, tests: tuple[str, ...],
                report_dir: str = "") -> str:
        """The test command, preceded by the language's environment."""
        values = {"slug": ex.slug, "workdir": sandbox.workdir, "worker": self.worker, "test_files": " ".join(tests),
                  "report_dir": report_dir}
        return language_exports(conf, values) + fill(conf.test_script, values)

    def _solo_build(self, ex: Exercise, conf: LanguageConf, sandbox: Sandbox, grade_dir: Path) -> str:
        """Evidence ("" for none) that the solution reaches into the test files' variables: built
        without the tests, it lacks one of them."""
        rule = conf.solo_build
        if rule is None:
            return ""
        values = {"slug": ex.slug, "workdir": sandbox.workdir, "worker": self.worker}
        script = language_exports(conf, values) + fill(rule.command, values)
        result = sandbox.exec(script, timeout=self.timeout or conf.test_timeout)
        if result.exit_code == 0 or result.timed_out:
            return ""
        names = conf.test_names
        variables = declared_variables(names.reader, grade_dir, self._name_files(ex, conf, grade_dir), names.options)
        used = sorted(set(re.findall(rule.undefined, result.output)) & variables)
        if not used:
            return ""  # an ordinary compile error: the test run shows it
        return f"it uses {', '.join(used)}, declared by the test files"

    def _run_once(self, ex: Exercise, conf: LanguageConf, sandbox: Sandbox, grade_dir: Path, copy: GradingCopy,
                  defined: list[str], canaries: Canaries | None) -> TestRun:
        solo_error = self._solo_build(ex, conf, sandbox, grade_dir)
        report_dir = f"{conf.results_dir}/{secrets.token_hex(8)}"
        (grade_dir / report_dir).mkdir(parents=True)
        script = self._script(ex, conf, sandbox, copy.layout.tests, report_dir)
        result = sandbox.exec(script, timeout=self.timeout or conf.test_timeout, env=canaries.env if canaries else None)
        path = fill(conf.parser_args.get("path", ""), {"report_dir": report_dir})
        report = PARSERS[conf.parser](grade_dir / path, result.output)
        facts = Facts(result.exit_code, result.timed_out, result.oom_killed, solo_error, copy.carry.tampering)
        verdict = classify(report, defined, canaries, facts)
        return test_run(verdict, len(defined), sandbox.workdir, result.output, result.duration, copy.carry,
                        exit_code=result.exit_code, timed_out=result.timed_out, oom_killed=result.oom_killed,
                        canary_markers=canaries.markers if canaries else [])

    def _grade_mutants(self, ex: Exercise, conf: LanguageConf, sandbox: Sandbox, grade_dir: Path,
                       copy: GradingCopy) -> TestRun:
        """The solution is a test suite: it must fail on each broken implementation and pass the good one."""
        override = conf.overrides[ex.slug]
        assert override.mutants is not None
        script = self._script(ex, conf, sandbox, copy.layout.tests, conf.results_dir)
        report = Report()
        outputs = []
        started = time.monotonic()
        timed_out = False
        for impl, expected in override.mutants.expect.items():
            result = sandbox.exec(script, timeout=self.timeout or conf.test_timeout, env={override.mutants.env: impl})
            timed_out |= result.timed_out
            observed = "pass" if result.exit_code == 0 else "fail"
            label = f"{override.mutants.env}={impl}: suite should {expected}, it did {observed}"
            outputs.append(f"== {label}\n{result.output}")
            report.add(label, "passed" if observed == expected else "failed")
        labels = [c.name for c in report.cases]
        verdict = classify(report, labels, None, Facts(timed_out=timed_out, tampering=copy.carry.tampering))
        return test_run(verdict, len(labels), sandbox.workdir, "\n".join(outputs), time.monotonic() - started,
                        copy.carry, timed_out=timed_out)
