"""The verdict of one test run, from the runner's report compared with what the exercise defines.

Verdicts: ``pass`` (every defined test ran, by name, and passed, and the canaries behaved),
``fail`` (a test failed, or some did not run — the solution's doing, with the reason),
``build_error`` (nothing ran and the command failed), ``timeout``, ``forged`` (the run shows
tampering with the grader: a canary that must fail passed or is missing, a test reported twice or
one the exercise does not define, a solution that builds only with the test files, a file whose
only use is to change how tests run), and ``error`` for the harness's own failures (an exercise
that defines no tests, test files the name reader cannot read).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pytest_localcode.canaries import Canaries
from pytest_localcode.parsers import Case, Report, TestCounts

OUTCOMES = ("pass", "fail", "build_error", "timeout", "error", "forged")
SHOWN = 3  # names quoted in a reason
KEPT = 50  # names kept in a result file


@dataclass
class Facts:
    """What the test command itself said, besides its report."""

    exit_code: int = 0
    timed_out: bool = False
    oom: bool = False
    solo_build_error: str = ""  # the solution alone lacks variables of the test files (which)
    tampering: list[str] = field(default_factory=list)  # findings in the solution's files


@dataclass
class Verdict:
    outcome: str
    reason: str
    counts: TestCounts = field(default_factory=TestCounts)
    missing: list[str] = field(default_factory=list)  # defined tests that did not run (or were skipped)
    unexpected: list[str] = field(default_factory=list)  # reported tests the exercise does not define
    forgery: list[str] = field(default_factory=list)  # one line per failed integrity check


def _quote(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _by_canary(report: Report, canaries: Canaries) -> dict[str, list[Case]]:
    found: dict[str, list[Case]] = {}
    for case in report.cases:
        ident = canaries.id_of(case.name)
        if ident is not None:
            found.setdefault(ident, []).append(case)
    return found


def _canary_unproven(report: Report, canaries: Canaries) -> str:
    """Why the canaries do not vouch for this run ("" when every one is there, as it must be)."""
    found = _by_canary(report, canaries)
    absent = [i for i in canaries.ids if i not in found]
    if absent:
        return f"the harness canaries did not run ({_quote(absent)})"
    if any(canaries.proof not in found[i][0].message for i in canaries.must_fail):
        return "a harness canary's failure message was cut off"
    return ""


def _canary_findings(report: Report, canaries: Canaries, ran_own: int, crashed: bool) -> list[str]:
    findings = []
    found = _by_canary(report, canaries)
    for cases in found.values():
        if len(cases) > 1:
            findings.append(f"harness canary {cases[0].name!r} is reported {len(cases)} times")
    absent = [i for i in canaries.ids if i not in found]
    for ident in canaries.must_pass:
        case = found[ident][0] if ident in found else None
        if case is not None and case.status != "passed":
            findings.append(f"harness canary {case.name!r}, which must pass, {case.status}: "
                            "the test framework was tampered with")
    for ident in canaries.must_fail:
        case = found[ident][0] if ident in found else None
        if case is None:
            continue
        if case.status == "passed":
            findings.append(f"harness canary {case.name!r}, which must fail, passed: assertions do not fail")
        elif case.status == "skipped":
            findings.append(f"harness canary {case.name!r}, which must fail, was skipped")
        elif canaries.proof not in case.message and not crashed:  # a crash can cut the message off
            findings.append(f"harness canary {case.name!r} failed without its expected message: "
                            "the report was not written by the test run")
    if absent and ran_own and not crashed:
        findings.append(f"harness canaries are missing from the report ({_quote(absent)}) while {ran_own} of the "
                        "exercise's tests ran")
    return findings


def classify(report: Report | None, defined: list[str], canaries: Canaries | None, facts: Facts) -> Verdict:
    """Compare the report with the names the exercise defines (``defined``, one per test)."""
    if not defined:
        return Verdict("error", "harness error: the exercise defines no tests (the name reader found none)")
    total = len(defined)
    forgery = list(facts.tampering)
    if facts.timed_out:
        return _forged(forgery, Verdict("timeout", "tests timed out"))
    if report is None:
        if forgery:
            return _forged(forgery, Verdict("fail", ""))
        if facts.oom:
            return Verdict("fail", "killed: out of memory")
        if facts.exit_code != 0:
            return Verdict("build_error", f"build failed or no test report (exit {facts.exit_code})")
        return _forged(["the test command exited 0 without writing its report: "
                        "the test run was cut short by the solution"],
                       Verdict("fail", ""))

    expected = Counter(defined)
    own = [c for c in report.cases if canaries is None or not canaries.is_harness(c.name)]
    reported = Counter(c.name for c in own)
    counts = TestCounts()
    ran: Counter[str] = Counter()
    for case in own:
        if case.name in expected and ran[case.name] < expected[case.name]:
            ran[case.name] += 1
            counts.record(case.name, case.status)
    unexpected = sorted(n for n in reported if n not in expected)
    twice = sorted(n for n in reported if n in expected and reported[n] > expected[n])
    ran_names = Counter(c.name for c in own if c.status != "skipped" and c.name in expected)
    missing = list((expected - ran_names).elements())
    if twice:
        forgery.append(f"the report names a test more often than the exercise defines it: {_quote(twice)}")
    if unexpected:
        forgery.append(f"the report has tests the exercise does not define: {_quote(unexpected)}")
    crashed = facts.oom or facts.exit_code >= 128 or report.problem is not None
    if canaries is not None:
        forgery += _canary_findings(report, canaries, counts.executed, crashed)
        if facts.exit_code == 0:  # a canary always fails: an honest test command never succeeds
            forgery.append("the test command exited 0, yet a harness canary must fail: its exit status was forged")
    if facts.solo_build_error and counts.executed:
        forgery.append(f"the solution builds only together with the test files: {facts.solo_build_error}")
    verdict = Verdict("pass", f"{total} of {total} tests passed", counts, missing[:KEPT], unexpected[:KEPT])
    if forgery:
        return _forged(forgery, verdict)
    if report.problem:
        return _with(verdict, "fail", f"test report unreadable: {report.problem}")
    unproven = _canary_unproven(report, canaries) if canaries is not None and report.cases else ""
    if not report.cases and facts.exit_code != 0:  # not even a canary ran: the tests did not build or load
        return _with(verdict, "build_error", f"no test ran: the tests did not build or load ({_cause(report, facts)})")
    if counts.failed:
        return _with(verdict, "fail", f"{counts.failed} of {total} tests failed ({_quote(counts.failed_names)})")
    if missing:
        if not counts.executed:
            return _with(verdict, "fail", f"none of the {total} defined tests ran ({_cause(report, facts)})")
        return _with(verdict, "fail", f"{len(missing)} of {total} defined tests did not run: {_quote(missing)}")
    if facts.oom:
        return _with(verdict, "fail", "killed: out of memory")
    if unproven:  # only a crash gets here (else it is forged): a run the canaries do not vouch for never passes
        return _with(verdict, "fail", f"{unproven}: the test process crashed (exit {facts.exit_code})")
    # With canaries the command fails by design (one of them must); the report says the rest.
    if facts.exit_code != 0 and canaries is None:
        return _with(verdict, "fail", f"all {total} tests passed but the test command exited {facts.exit_code}")
    return verdict


def _cause(report: Report, facts: Facts) -> str:
    return report.load_errors[0] if report.load_errors else "out of memory" if facts.oom else f"exit {facts.exit_code}"


def _with(verdict: Verdict, outcome: str, reason: str) -> Verdict:
    verdict.outcome, verdict.reason = outcome, reason
    return verdict


def _forged(findings: list[str], verdict: Verdict) -> Verdict:
    if not findings:
        return verdict
    verdict.forgery = findings[:KEPT]
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    return _with(verdict, "forged", f"forged: {findings[0]}{more}")
