"""Read each framework's machine-readable report: which test ran, under what name, with what result.

Every parser returns a :class:`Report` (the cases in report order, with the failure message of
each failed one, bounded) or ``None`` when there is no report at all (typically: the build failed
before any test ran). A report that exists but cannot be read whole — truncated, malformed,
written by something other than the runner — keeps what could be read and says what is wrong in
``problem``: one line, never an exception. Names are spelled as the static name readers of
:mod:`pytest_localcode.testnames` spell them, so grading compares them directly.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_NAMES = 50
MESSAGE_CHARS = 2000
ANSI = re.compile(r"\x1b\[[0-9;]*m")
JEST_SEPARATOR = " › "


@dataclass
class Case:
    name: str
    status: str  # passed / failed / skipped
    message: str = ""


@dataclass
class Report:
    cases: list[Case] = field(default_factory=list)
    problem: str | None = None  # the report could not be read whole: why (one line)
    load_errors: list[str] = field(default_factory=list)  # a test file the runner could not load

    def add(self, name: str, status: str, message: str = "") -> None:
        self.cases.append(Case(name, status, ANSI.sub("", message)[:MESSAGE_CHARS]))


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


def _one_line(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in ANSI.sub("", text).splitlines() if part.strip()), "")
    return line[:limit]


def junit_xml(path: Path, output: str) -> Report | None:
    """pytest --junitxml and the JUnit Platform console launcher's legacy XML report."""
    text = _read(path)
    if text is None:
        return None
    if not text.strip():
        return Report(problem=f"{path.name} is empty")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return Report(problem=f"{path.name} is not well-formed XML ({exc})")
    report = Report()
    for case in root.iter("testcase"):
        name, classname = case.get("name", ""), case.get("classname", "")
        failure = case.find("failure")
        error = case.find("error")
        problem = failure if failure is not None else error
        message = (error.get("message") or "") if error is not None else ""
        if error is not None and (not classname and "collection failure" in message
                                  or (classname, name, message) == ("pytest", "internal", "internal error")):
            # pytest: a test module that could not be imported, or pytest's own crash, is an <error>
            # without a test case
            report.load_errors.append(f"{classname or name}: {_one_line(error.text or message)}")
            continue
        if name.endswith("()"):  # JUnit: "method()"
            name = name[:-2]
        full = f"{classname}.{name}" if classname else name
        if case.find("skipped") is not None:
            report.add(full, "skipped")
        elif problem is not None:
            report.add(full, "failed", f"{problem.get('message', '')}\n{problem.text or ''}")
        else:
            report.add(full, "passed")
    return report


def jest_json(path: Path, output: str) -> Report | None:
    text = _read(path)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Report(problem=f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno})")
    if not isinstance(data, dict) or not isinstance(data.get("testResults"), list):
        return Report(problem=f"{path.name} is not a jest report (no testResults list)")
    report = Report()
    for suite in data["testResults"]:
        cases = suite.get("assertionResults") or []
        if suite.get("status") == "failed" and not cases:
            name = Path(str(suite.get("name", "?"))).name
            report.load_errors.append(f"{name}: {_one_line(str(suite.get('message', '')))}")
        for case in cases:
            status = case.get("status")
            skipped = status in ("pending", "skipped", "todo", "disabled")
            kind = "skipped" if skipped else "passed" if status == "passed" else "failed"
            name = JEST_SEPARATOR.join([*(str(t) for t in case.get("ancestorTitles") or []),
                                        str(case.get("title", "?"))])
            report.add(name, kind, "\n".join(str(m) for m in case.get("failureMessages") or []))
    return report


def go_json(path: Path, output: str) -> Report | None:
    """``go test -json``: every test and subtest (``TestX/case``) with its own result."""
    text = _read(path)
    if text is None:
        return None
    report = Report()
    outputs: dict[str, list[str]] = {}
    events = bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if not isinstance(event, dict):
            bad += 1
            continue
        events += 1
        test, action = event.get("Test"), event.get("Action")
        if not test:
            continue
        if action == "output":
            chunks = outputs.setdefault(test, [])
            if sum(len(c) for c in chunks) < MESSAGE_CHARS:
                chunks.append(str(event.get("Output", "")))
        elif action in ("pass", "fail", "skip"):
            status = {"skip": "skipped", "pass": "passed"}.get(action, "failed")
            report.add(test, status, "".join(outputs.pop(test, [])) if status == "failed" else "")
    if not events:
        return None if not text.strip() else Report(problem=f"{path.name} holds no go test -json events")
    if bad:
        report.problem = (f"{path.name}: {bad} line(s) are not go test -json events "
                          "(truncated or written by something else)")
    return report


LIBTEST_LINE = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored)\b", re.M)
RUNNING = re.compile(r"^\s*Running (?:unittests )?(\S+?)(?:\.rs)? \(", re.M)
FAILURE_BLOCK = re.compile(r"^---- (\S+) stdout ----\n(.*?)(?=^---- \S+ stdout ----$|^failures:$|\Z)", re.M | re.S)


def libtest(path: Path, output: str) -> Report | None:
    """Rust's libtest text output (its JSON format needs a nightly compiler); names are qualified
    with the test target (``tests/forth.rs`` → ``forth::…``)."""
    text = _read(path) or output
    report = Report()
    starts = [(m.start(), m.group(1).rsplit("/", 1)[-1]) for m in RUNNING.finditer(text)] or [(0, "")]
    unfinished = []
    for n, (start, target) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(text)
        chunk = text[start:end]
        messages = {m.group(1): m.group(2) for m in FAILURE_BLOCK.finditer(chunk)}
        lines = LIBTEST_LINE.findall(chunk)
        for name, status in lines:
            kind = {"ignored": "skipped", "ok": "passed"}.get(status, "failed")
            report.add(f"{target}::{name}" if target else name, kind, messages.get(name, ""))
        if re.search(r"^running \d+ tests?$", chunk, re.M) and "test result:" not in chunk:
            unfinished.append(target or "the test binary")
    if not report.cases and "test result:" not in text:
        return None
    if unfinished:
        report.problem = f"the test process of {', '.join(unfinished)} ended before reporting its result (it crashed)"
    return report


CATCH_CASE = re.compile(r'<TestCase name="([^"]*)".*?<OverallResult success="(true|false)"', re.S)


def _catch_message(case: ET.Element) -> str:
    parts = []
    for node in case.iter():
        if node.tag in ("Expression",) and node.get("success") == "false":
            parts.append(" ".join((child.text or "").strip() for child in node
                                  if child.tag in ("Original", "Expanded")))
        elif node.tag in ("Exception", "FatalErrorCondition", "Failure"):
            parts.append((node.text or "").strip())
    return "\n".join(parts)


def catch_xml(path: Path, output: str) -> Report | None:
    """Catch2's XML reporter: one <TestCase> per TEST_CASE with an <OverallResult>."""
    text = _read(path)
    if not text:
        return None
    report = Report()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        # A crash (e.g. a segfault) leaves a truncated file: keep what completed, say it is cut.
        for name, ok in CATCH_CASE.findall(text):
            report.add(_unescape(name), "passed" if ok == "true" else "failed")
        report.problem = f"{path.name} is cut short or malformed ({exc}): the test binary did not finish"
        return report
    for case in root.iter("TestCase"):
        result = case.find("OverallResult")
        ok = result is not None and result.get("success") == "true"
        report.add(case.get("name", "?"), "passed" if ok else "failed", "" if ok else _catch_message(case))
    return report


def _unescape(text: str) -> str:
    return (text.replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&amp;", "&"))


PARSERS: dict[str, Callable[[Path, str], Report | None]] = {
    "junit_xml": junit_xml,
    "jest_json": jest_json,
    "go_json": go_json,
    "libtest": libtest,
    "catch_xml": catch_xml,
}
