"""Harness canaries: tests with per-run random names added to the grading copy's test files.

For each assertion form the language's tests use, one canary must pass and one must fail, written
with that ordinary assertion and placed where a solution's tampering reaches them (the same test
module, binary or package). They multiply two random numbers; the must-fail ones compare the
product with a wrong value, so their failure messages carry the product. A report where one
passed, failed without that number, or where the canaries are missing although the exercise's
own tests ran, was not written by an honest test run. Names and numbers change every run; nothing
a solution saw before grading predicts them.

A template names its tests ``{pass}``, ``{fail}``, ``{pass2}``, ``{fail2}``… (each becomes a random
id) and uses ``{a}``, ``{b}``, ``{product}``, ``{wrong}``, ``{token}`` and the rule's captures.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from pytest_localcode.languages import CanaryRule, fill


@dataclass
class Planted:
    """The ids written into the test files (each canary test's name contains its id)."""

    must_pass: list[str] = field(default_factory=list)
    must_fail: list[str] = field(default_factory=list)
    proof: str = ""  # the product: the must-fail canaries' failure messages contain it
    files: list[str] = field(default_factory=list)  # files written or extended
    markers: list[str] = field(default_factory=list)  # ids, tokens and numbers: what the test output shows of them


@dataclass
class Canaries:
    """The canaries' names as the test names reader (and so the report) spells them."""

    must_pass: list[str]
    must_fail: list[str]
    proof: str

    @property
    def names(self) -> set[str]:
        return set(self.must_pass) | set(self.must_fail)


ROLE = re.compile(r"\{((?:pass|fail)\d*)\}")


def plant(rule: CanaryRule, root: Path, name_files: list[str]) -> Planted:
    """Write the canaries into the grading copy at ``root`` (``name_files`` are its test files)."""
    a, b = 100_000 + secrets.randbelow(900_000), 100_000 + secrets.randbelow(900_000)
    product = a * b
    planted = Planted(proof=str(product))
    captures = {}
    first = (root / name_files[0]).read_text(encoding="utf-8", errors="replace") if name_files else ""
    for key, pattern in rule.captures.items():
        m = re.search(pattern, first, re.M)
        captures[key] = m.group(1) if m else ""

    wrong = product + 1 + secrets.randbelow(999)
    roles = sorted(set(ROLE.findall(rule.template)))

    planted.markers += [str(product), str(wrong)]

    def code(token: str) -> str:
        planted.markers.append(token)
        values = {**captures, "token": token, "a": str(a), "b": str(b), "product": str(product), "wrong": str(wrong)}
        for role in roles:
            values[role] = secrets.token_hex(4)
            (planted.must_fail if role.startswith("fail") else planted.must_pass).append(values[role])
            planted.markers.append(values[role])
        return fill(rule.template, values)

    if rule.place == "file":
        token = secrets.token_hex(4)
        rel = fill(rule.path, {"token": token})
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code(token), encoding="utf-8")
        planted.files.append(rel)
        return planted
    for rel in name_files:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        block = code(secrets.token_hex(4))
        m = re.search(rule.pattern, text, re.M) if rule.place == "before" else None
        if m:
            text = text[: m.start()] + block.rstrip("\n") + "\n\n" + text[m.start() :]
        else:
            text = text.rstrip("\n") + "\n\n" + block
        path.chmod(path.stat().st_mode | 0o200)  # the copy keeps the dataset's modes (maybe read-only)
        path.write_text(text, encoding="utf-8")
        planted.files.append(rel)
    return planted


def split(names: list[str], planted: Planted) -> tuple[list[str], Canaries]:
    """(the exercise's own test names, the canaries' names) from every name read after planting."""
    own, must_pass, must_fail = [], [], []
    for name in names:
        if any(i in name for i in planted.must_fail):
            must_fail.append(name)
        elif any(i in name for i in planted.must_pass):
            must_pass.append(name)
        else:
            own.append(name)
    return own, Canaries(must_pass, must_fail, planted.proof)


# Where one runner's report of a test starts in its console output (pytest, jest, go, libtest,
# the JUnit console launcher): a canary's block ends at the next of these.
BLOCK_START = re.compile(
    r"^\s*(_{3,}|={3,}|-{3,}|●|✕|✓|√|×|\S+\.\w+::\S+|test \S+ \.\.\.|(FAILED|PASSED|ERROR|FAIL|PASS|ok)\b|"
    r"=== (RUN|PAUSE|CONT)|failures:|JUnit Jupiter:|\[\s*\d+ tests? |(Tests?|Test Suites):|\d+ (failed|passed|errors?)\b)"
)


def scrub(output: str, markers: list[str]) -> str:
    """The test output without the canaries' blocks: what the model reads before its next try
    (the canaries are the harness's, not failures for it to fix)."""
    if not markers:
        return output
    kept, skipping = [], False
    for line in output.splitlines(keepends=True):
        if any(m in line for m in markers):
            skipping = True
            continue
        if skipping and BLOCK_START.match(line):
            skipping = False
        if not skipping:
            kept.append(line)
    return "".join(kept)
