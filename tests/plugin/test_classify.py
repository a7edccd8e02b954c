"""classify(): every verdict from a report, the names the exercise defines, the canaries and the exit."""

from __future__ import annotations

import pytest

from pytest_localcode.canaries import Canaries
from pytest_localcode.grading import classify
from pytest_localcode.parsers import Report
from pytest_localcode.verdict import Facts

DEFINED = ["t.a", "t.b", "t.c"]
PROOF = "80779853376"
CANARIES = Canaries(must_pass=["t.Canary.ok1"], must_fail=["t.Canary.no1"], proof=PROOF)


def report(own: dict[str, str], canaries: str = "honest", **kw: object) -> Report:
    r = Report(**kw)  # type: ignore[arg-type]
    if canaries in ("honest", "first"):
        r.add("t.Canary.ok1", "passed")
        r.add("t.Canary.no1", "failed", f"AssertionError: {PROOF} != 5")
    elif canaries == "all-pass":
        r.add("t.Canary.ok1", "passed")
        r.add("t.Canary.no1", "passed")
    elif canaries == "no-proof":
        r.add("t.Canary.ok1", "passed")
        r.add("t.Canary.no1", "failed", "AssertionError")
    for name, status in own.items():
        r.add(name, status)
    return r


ALL_PASS = dict.fromkeys(DEFINED, "passed")


def verdict(r: Report | None, exit_code: int = 1, canaries: Canaries | None = CANARIES, **facts: object):
    return classify(r, DEFINED, canaries, Facts(exit_code=exit_code, **facts))  # type: ignore[arg-type]


def test_honest_pass() -> None:
    v = verdict(report(ALL_PASS))
    assert (v.outcome, v.reason) == ("pass", "3 of 3 tests passed")
    assert (v.counts.executed, v.counts.passed, v.missing, v.unexpected, v.forgery) == (3, 3, [], [], [])


def test_honest_failure_names_the_tests() -> None:
    v = verdict(report({**ALL_PASS, "t.b": "failed"}))
    assert v.outcome == "fail" and v.reason == "1 of 3 tests failed (t.b)"


def test_fewer_tests_ran_is_a_fail_with_the_names_not_a_harness_error() -> None:
    v = verdict(report({"t.a": "passed"}))
    assert v.outcome == "fail"
    assert v.reason == "2 of 3 defined tests did not run: t.b, t.c" and v.missing == ["t.b", "t.c"]
    skipped = verdict(report({**ALL_PASS, "t.c": "skipped"}))
    assert skipped.outcome == "fail" and skipped.missing == ["t.c"]


def test_nothing_ran_because_the_module_did_not_load() -> None:
    r = Report(load_errors=["proverb_test: ImportError: no module proverb"])
    v = verdict(r, exit_code=2)
    assert v.outcome == "build_error"
    assert v.reason == "no test ran: the tests did not build or load (proverb_test: ImportError: no module proverb)"
    assert v.forgery == []  # absent canaries are no evidence when nothing ran
    # go test -json reports a build failure as events without a test
    assert verdict(Report(), exit_code=1).reason == "no test ran: the tests did not build or load (exit 1)"


def test_no_report() -> None:
    assert verdict(None, exit_code=2).outcome == "build_error"
    assert verdict(None, exit_code=0, oom=True).reason == "killed: out of memory"
    v = verdict(None, exit_code=0)
    assert v.outcome == "forged" and "exited 0 without writing its report" in v.reason


def test_defines_no_tests_is_a_harness_error() -> None:
    v = classify(report({}), [], CANARIES, Facts(exit_code=1))
    assert v.outcome == "error" and "defines no tests" in v.reason


def test_timeout() -> None:
    assert verdict(report({}), timed_out=True).outcome == "timeout"


@pytest.mark.parametrize(("r", "exit_code", "evidence"), [
    (report(ALL_PASS, canaries="all-pass"), 1, "which must fail, passed"),
    (report(ALL_PASS, canaries="no-proof"), 1, "failed without its expected message"),
    (report(ALL_PASS, canaries="none"), 1, "harness canaries are missing from the report"),
    (report(ALL_PASS), 0, "exited 0, yet a harness canary must fail"),
    (report({**ALL_PASS, "t.b2": "passed"}), 1, "tests the exercise does not define: t.b2"),
], ids=["must-fail-passed", "no-proof", "canaries-missing", "exit-0", "undefined-test"])
def test_forgery_evidence(r: Report, exit_code: int, evidence: str) -> None:
    v = verdict(r, exit_code=exit_code)
    assert v.outcome == "forged", v.reason
    assert v.reason.startswith("forged: ") and any(evidence in line for line in v.forgery), v.forgery


def test_duplicated_names() -> None:
    r = report(ALL_PASS)
    r.add("t.a", "passed")
    v = verdict(r)
    assert v.outcome == "forged" and "more often than the exercise defines it: t.a" in v.reason
    r = report(ALL_PASS)
    r.add("t.Canary.no1", "failed", PROOF)
    assert "reported 2 times" in verdict(r).reason
    # a name the exercise defines twice (jest allows equal titles) must appear twice
    twice = classify(report({"t.a": "passed"}) , ["t.a", "t.a"], CANARIES, Facts(exit_code=1))
    assert twice.outcome == "fail" and twice.missing == ["t.a"]


def test_must_pass_canary_failing_is_forged() -> None:
    r = Report()
    r.add("t.Canary.ok1", "failed", "boom")
    r.add("t.Canary.no1", "failed", PROOF)
    for name in DEFINED:
        r.add(name, "passed")
    assert "which must pass, failed" in verdict(r).reason


def test_crash_explains_missing_canaries() -> None:
    """A crash (signal exit, cut report) stops the run: missing canaries then prove nothing, and
    the verdict is a fail, never a pass."""
    r = report({"t.a": "passed"}, canaries="none", problem="catch.xml is cut short")
    v = verdict(r, exit_code=139)
    assert v.outcome == "fail" and v.forgery == [] and "unreadable" in v.reason
    # libtest prints failure messages at the end: a binary that aborted never printed the canary's
    cut = report({"t.a": "passed"}, canaries="no-proof", problem="the test process of demo ended before reporting")
    assert verdict(cut, exit_code=101).outcome == "fail"


def test_a_run_the_canaries_do_not_vouch_for_never_passes() -> None:
    """A complete report of passes with the canaries absent and a signal's exit status is what a
    solution writes before killing its own process: a fail (not forged: real crashes look alike)."""
    v = verdict(report(ALL_PASS, canaries="none"), exit_code=139)
    assert v.outcome == "fail" and v.forgery == []
    assert v.reason.startswith("the harness canaries did not run (") and "crashed (exit 139)" in v.reason
    cut_message = verdict(report(ALL_PASS, canaries="no-proof"), exit_code=134)
    assert cut_message.outcome == "fail" and "message was cut off" in cut_message.reason


def test_tampering_files_make_any_run_forged() -> None:
    v = verdict(report(ALL_PASS), tampering=["pytest.py: has the name of a module the test run imports"])
    assert v.outcome == "forged" and "pytest.py" in v.reason
    assert verdict(None, exit_code=2, tampering=["build.rs: runs code"]).outcome == "forged"
    assert verdict(report({}), timed_out=True, tampering=["x: y"]).outcome == "forged"


def test_solution_that_needs_the_test_files() -> None:
    v = verdict(report(ALL_PASS), solo_build_error="it uses testCases, declared by the test files")
    assert v.outcome == "forged" and "builds only together with the test files" in v.reason
    # when the tests do not build either, it is an ordinary build error
    assert verdict(None, exit_code=2, solo_build_error="undefined: Solve").outcome == "build_error"


def test_without_canaries_the_exit_status_counts() -> None:
    """Grading without canaries (a language that has none configured, the mutant exercise)."""
    r = report(ALL_PASS, canaries="none")
    assert verdict(r, exit_code=0, canaries=None).outcome == "pass"
    v = verdict(r, exit_code=1, canaries=None)
    assert v.outcome == "fail" and "exited 1" in v.reason


def test_malformed_report_is_a_fail_with_the_problem() -> None:
    v = verdict(Report(problem="junit.xml is not well-formed XML (line 1, column 4)"), exit_code=1)
    assert v.outcome == "fail"
    assert v.reason == "test report unreadable: junit.xml is not well-formed XML (line 1, column 4)"
