"""Read how many test cases ran, passed and failed, from each framework's machine-readable output.

Every parser returns :class:`TestCounts`; ``None`` means the report file is missing or unreadable
(typically: the build failed before any test ran). Names of failed tests are kept (bounded) so
the report and the try-2 prompt can say which tests failed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_NAMES = 50


@dataclass
class TestCounts:
    executed: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failed_names: list[str] = field(default_factory=list)

    def add_failure(self, name: str) -> None:
        self.failed += 1
        if len(self.failed_names) < MAX_NAMES:
            self.failed_names.append(name)

    def record(self, name: str, status: str) -> None:
        """One test case: status is "passed", "failed" or "skipped"."""
        if status == "skipped":
            self.skipped += 1
            return
        self.executed += 1
        if status == "passed":
            self.passed += 1
        else:
            self.add_failure(name)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def junit_xml(path: Path, output: str) -> TestCounts | None:
    """pytest --junitxml and the JUnit Platform console launcher's legacy XML report."""
    text = _read(path)
    if not text:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    counts = TestCounts()
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")
        failed = case.find("failure") is not None or case.find("error") is not None
        counts.record(name, "skipped" if case.find("skipped") is not None else "failed" if failed else "passed")
    # pytest reports a collection error (e.g. ImportError of the solution) as an <error> with
    # no testcase for the tests it could not collect: those tests did not run.
    return counts


def jest_json(path: Path, output: str) -> TestCounts | None:
    text = _read(path)
    if not text:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    counts = TestCounts()
    for suite in data.get("testResults", []):
        for case in suite.get("assertionResults", []):
            status = case.get("status")
            kind = "skipped" if status in ("pending", "skipped", "todo",
                                           "disabled") else "passed" if status == "passed" else "failed"
            counts.record(case.get("fullName") or case.get("title", "?"), kind)
    return counts


def go_json(path: Path, output: str) -> TestCounts | None:
    """``go test -json``: count top-level tests (table-driven subtests live inside them)."""
    text = _read(path)
    if text is None:
        return None
    counts = TestCounts()
    seen = False
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        seen = True
        test = event.get("Test")
        action = event.get("Action")
        if not test or "/" in test or action not in ("pass", "fail", "skip"):
            continue
        counts.record(test, {"skip": "skipped", "pass": "passed"}.get(action, "failed"))
    return counts if seen else None


LIBTEST_LINE = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored)\b", re.M)


def libtest(path: Path, output: str) -> TestCounts | None:
    """Rust's libtest text output (its JSON format needs a nightly compiler)."""
    text = _read(path) or output
    counts = TestCounts()
    matched = False
    for name, status in LIBTEST_LINE.findall(text):
        matched = True
        counts.record(name, {"ignored": "skipped", "ok": "passed"}.get(status, "failed"))
    if not matched and "test result:" not in text:
        return None
    return counts


def catch_xml(path: Path, output: str) -> TestCounts | None:
    """Catch2's XML reporter: one <TestCase> per TEST_CASE with an <OverallResult>."""
    text = _read(path)
    if not text:
        return None
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        # A crash (e.g. a segfault) leaves a truncated file: count what completed.
        cases = re.findall(r'<TestCase name="([^"]*)".*?<OverallResult success="(true|false)"', text, re.S)
        if not cases:
            return None
        counts = TestCounts()
        for name, ok in cases:
            counts.record(name, "passed" if ok == "true" else "failed")
        return counts
    counts = TestCounts()
    for case in root.iter("TestCase"):
        result = case.find("OverallResult")
        ok = result is not None and result.get("success") == "true"
        counts.record(case.get("name", "?"), "passed" if ok else "failed")
    return counts


PARSERS: dict[str, Callable[[Path, str], TestCounts | None]] = {
    "junit_xml": junit_xml,
    "jest_json": jest_json,
    "go_json": go_json,
    "libtest": libtest,
    "catch_xml": catch_xml,
}
