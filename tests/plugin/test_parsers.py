"""Each report parser on reports as the runners write them, and on broken ones: names as the name
readers spell them, failure messages kept, a malformed or cut report a one-line problem."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_localcode.parsers import PARSERS, catch_xml, go_json, jest_json, junit_xml, libtest


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def statuses(report) -> dict[str, str]:
    return {c.name: c.status for c in report.cases}


PYTEST_XML = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3">
<testcase classname="proverb_test.ProverbTest" name="test_zero_pieces" time="0.001"/>
<testcase classname="proverb_test.ProverbTest" name="test_one_piece" time="0.001">
  <failure message="AssertionError: 80779853376 != 5">Traceback ... AssertionError</failure></testcase>
<testcase classname="proverb_test.ProverbTest" name="test_skipped" time="0"><skipped message="no"/></testcase>
</testsuite></testsuites>"""


def test_junit_names_statuses_and_messages(tmp_path: Path) -> None:
    report = junit_xml(write(tmp_path, "junit.xml", PYTEST_XML), "")
    assert report is not None and report.problem is None
    assert statuses(report) == {"proverb_test.ProverbTest.test_zero_pieces": "passed",
                                "proverb_test.ProverbTest.test_one_piece": "failed",
                                "proverb_test.ProverbTest.test_skipped": "skipped"}
    assert "80779853376 != 5" in report.cases[1].message


def test_junit_java_method_parentheses_are_dropped(tmp_path: Path) -> None:
    xml = ('<testsuite name="JUnit Jupiter"><testcase name="scoreIsZero()" classname="BowlingGameTest"/>'
           '<testcase name="strike()" classname="BowlingGameTest"><failure message="expected: 5L but was: 9L" '
           'type="org.opentest4j.AssertionFailedError">stack</failure></testcase></testsuite>')
    report = junit_xml(write(tmp_path, "TEST-junit-jupiter.xml", xml), "")
    assert report is not None
    assert statuses(report) == {"BowlingGameTest.scoreIsZero": "passed", "BowlingGameTest.strike": "failed"}
    assert "but was: 9L" in report.cases[1].message


def test_junit_collection_error_is_a_load_error_not_a_test(tmp_path: Path) -> None:
    xml = ('<testsuites><testsuite name="pytest" errors="1"><testcase classname="" name="proverb_test">'
           '<error message="collection failure">ImportError: cannot import name \'proverb\'</error></testcase>'
           '</testsuite></testsuites>')
    report = junit_xml(write(tmp_path, "junit.xml", xml), "")
    assert report is not None and report.cases == []
    assert report.load_errors == ["proverb_test: ImportError: cannot import name 'proverb'"]


def test_junit_pytest_internal_error_is_a_load_error(tmp_path: Path) -> None:
    xml = ('<testsuites><testsuite name="pytest" errors="1"><testcase classname="pytest" name="internal">'
           '<error message="internal error">SystemExit: 0</error></testcase></testsuite></testsuites>')
    report = junit_xml(write(tmp_path, "junit.xml", xml), "")
    assert report is not None and report.cases == [] and report.load_errors == ["pytest: SystemExit: 0"]


def test_junit_missing_empty_truncated(tmp_path: Path) -> None:
    assert junit_xml(tmp_path / "absent.xml", "") is None
    empty = junit_xml(write(tmp_path, "empty.xml", ""), "")
    assert empty is not None and empty.problem == "empty.xml is empty"
    cut = junit_xml(write(tmp_path, "cut.xml", PYTEST_XML[:200]), "")
    assert cut is not None and cut.cases == [] and cut.problem is not None
    assert cut.problem.startswith("cut.xml is not well-formed XML (") and "\n" not in cut.problem


def jest_report(cases: list[dict], **suite: object) -> str:
    return json.dumps({"numTotalTests": len(cases), "testResults": [{"name": "/w/space-age.spec.js", "status": "passed",
                                                                   "assertionResults": cases, **suite}]})


def test_jest_names_join_describe_titles(tmp_path: Path) -> None:
    cases = [
        {"ancestorTitles": ["Space Age"], "title": "age on Earth", "status": "passed", "failureMessages": []},
        {"ancestorTitles": ["Space Age", "inner"], "title": "age on Mars", "status": "failed",
         "failureMessages": ["Error: expect(received).toBe(expected)\n\n"
                             "Expected: 5\nReceived: \x1b[31m80779853376\x1b[39m"]},
        {"ancestorTitles": [], "title": "todo one", "status": "todo", "failureMessages": []},
    ]
    report = jest_json(write(tmp_path, "jest.json", jest_report(cases)), "")
    assert report is not None
    assert statuses(report) == {"Space Age › age on Earth": "passed", "Space Age › inner › age on Mars": "failed",
                                "todo one": "skipped"}
    assert "Received: 80779853376" in report.cases[1].message  # colour codes removed


def test_jest_suite_that_failed_to_run(tmp_path: Path) -> None:
    text = jest_report([], status="failed", message="  ● Test suite failed to run\n\n    SyntaxError: Unexpected token")
    report = jest_json(write(tmp_path, "jest.json", text), "")
    assert report is not None and report.cases == []
    assert report.load_errors == ["space-age.spec.js: ● Test suite failed to run"]


def test_jest_malformed(tmp_path: Path) -> None:
    for text, problem in (('{"testResults": [', "jest.json is not valid JSON ("),
                          ('[1, 2]', "jest.json is not a jest report"), ('{"x": 1}', "jest.json is not a jest report")):
        report = jest_json(write(tmp_path, "jest.json", text), "")
        assert report is not None and report.problem is not None and report.problem.startswith(problem), text


GO_EVENTS = [
    {"Action": "start", "Package": "alphametics"},
    {"Action": "run", "Test": "TestSolve"},
    {"Action": "run", "Test": "TestSolve/puzzle_with_three_letters"},
    {"Action": "output", "Test": "TestSolve/puzzle_with_three_letters",
     "Output": "    alphametics_test.go:18: got 80779853376\n"},
    {"Action": "fail", "Test": "TestSolve/puzzle_with_three_letters"},
    {"Action": "pass", "Test": "TestSolve/leading_zero"},
    {"Action": "skip", "Test": "TestSolve/skipped_one"},
    {"Action": "fail", "Test": "TestSolve"},
    {"Action": "fail", "Package": "alphametics"},
]


def test_go_every_test_and_subtest(tmp_path: Path) -> None:
    text = "\n".join(json.dumps(e) for e in GO_EVENTS) + "\n"
    report = go_json(write(tmp_path, "go-test.json", text), "")
    assert report is not None and report.problem is None
    assert statuses(report) == {"TestSolve/puzzle_with_three_letters": "failed", "TestSolve/leading_zero": "passed",
                                "TestSolve/skipped_one": "skipped", "TestSolve": "failed"}
    assert "got 80779853376" in report.cases[0].message


def test_go_truncated_or_foreign_lines(tmp_path: Path) -> None:
    lines = [json.dumps(e) for e in GO_EVENTS]
    cut = go_json(write(tmp_path, "cut.json", "\n".join(lines[:5]) + '\n{"Action": "pa'), "")
    assert cut is not None and "1 line(s) are not go test -json events" in (cut.problem or "")
    foreign = go_json(write(tmp_path, "foreign.json", "--- PASS: TestSolve (0.00s)\nok\n"), "")
    assert foreign is not None and foreign.cases == [] and "no go test -json events" in (foreign.problem or "")
    assert go_json(write(tmp_path, "empty.json", ""), "") is None  # nothing ran: the build failed


CARGO = """   Compiling forth v1.7.0 (/work/forth)
    Finished `test` profile [unoptimized + debuginfo] target(s) in 1.2s
     Running tests/alloc-attack.rs (/cache/debug/deps/alloc_attack-1)

running 1 test
test alloc_attack ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

     Running tests/forth.rs (/cache/debug/deps/forth-2)

running 3 tests
test __localcode_ab12 ... FAILED
test parsing_and_numbers::numbers_just_get_pushed_onto_the_stack ... ok
test addition::can_add_two_numbers ... ignored

failures:

---- __localcode_ab12 stdout ----
thread '__localcode_ab12' panicked at tests/forth.rs:9:5:
assertion `left == right` failed
  left: 80779853376
 right: 80779853377


failures:
    __localcode_ab12

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s
"""


def test_libtest_names_are_qualified_by_target(tmp_path: Path) -> None:
    report = libtest(write(tmp_path, "cargo-test.txt", CARGO), "")
    assert report is not None and report.problem is None
    assert statuses(report) == {"alloc-attack::alloc_attack": "passed", "forth::__localcode_ab12": "failed",
                                "forth::parsing_and_numbers::numbers_just_get_pushed_onto_the_stack": "passed",
                                "forth::addition::can_add_two_numbers": "skipped"}
    failed = next(c for c in report.cases if c.status == "failed")
    assert "left: 80779853376" in failed.message


def test_libtest_crashed_binary_and_build_failure(tmp_path: Path) -> None:
    crashed = CARGO.split("failures:")[0] + "error: test failed, to rerun pass `--test forth`\n"
    report = libtest(write(tmp_path, "crash.txt", crashed), "")
    assert report is not None and "forth ended before reporting its result" in (report.problem or "")
    build = "   Compiling forth v1.7.0\nerror[E0425]: cannot find value `x`\nerror: could not compile `forth`\n"
    assert libtest(write(tmp_path, "build.txt", build), "") is None


CATCH = """<?xml version="1.0" encoding="UTF-8"?>
<Catch name="space-age">
  <Group name="space-age">
    <TestCase name="localcode ab ok" filename="space_age_test.cpp" line="9"><OverallResult success="true"/></TestCase>
    <TestCase name="age_in_seconds &amp; more" filename="space_age_test.cpp" line="19">
      <Expression success="false" type="REQUIRE" filename="space_age_test.cpp" line="20">
        <Original>123456LL * 654321LL == 80779853377LL</Original>
        <Expanded>80779853376 (0x12ce3d3b40) == 80779853377 (0x12ce3d3b41)</Expanded>
      </Expression>
      <OverallResult success="false"/>
    </TestCase>
    <OverallResults successes="1" failures="1" expectedFailures="0"/>
  </Group>
  <OverallResults successes="1" failures="1" expectedFailures="0"/>
</Catch>
"""


def test_catch_names_and_expanded_expression(tmp_path: Path) -> None:
    report = catch_xml(write(tmp_path, "catch.xml", CATCH), "")
    assert report is not None and report.problem is None
    assert statuses(report) == {"localcode ab ok": "passed", "age_in_seconds & more": "failed"}
    assert "80779853376 (0x12ce3d3b40) == 80779853377" in report.cases[1].message


def test_catch_cut_short_keeps_completed_cases(tmp_path: Path) -> None:
    cut = CATCH[: CATCH.index("<OverallResults")]
    report = catch_xml(write(tmp_path, "catch.xml", cut), "")
    assert report is not None
    assert statuses(report) == {"localcode ab ok": "passed", "age_in_seconds & more": "failed"}
    assert report.problem is not None and "cut short or malformed" in report.problem


def test_every_parser_survives_garbage(tmp_path: Path) -> None:
    garbage = write(tmp_path, "garbage", "\x00\xff<<<{{{ not a report ]]]\n" * 50)
    for name, parse in PARSERS.items():
        report = parse(garbage, "")
        assert report is None or report.problem is not None or report.cases == [], name
