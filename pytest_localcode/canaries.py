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
class Canaries:
    """What one grading run planted. Each canary test's reported name contains its id."""

    must_pass: list[str] = field(default_factory=list)  # ids
    must_fail: list[str] = field(default_factory=list)  # ids
    proof: str = ""  # the product: the must-fail canaries' failure messages contain it
    files: list[str] = field(default_factory=list)  # files written or extended
    markers: list[str] = field(default_factory=list)  # ids, tokens and numbers: what the test output shows of them
    env: dict[str, str] = field(default_factory=dict)  # for canaries that read their names and numbers at run time
    scaffold: str = ""  # regex: report names of the canaries' scaffolding, not tests (Go's parent test)

    @property
    def ids(self) -> list[str]:
        return [*self.must_pass, *self.must_fail]

    def id_of(self, name: str) -> str | None:
        return next((i for i in self.ids if i in name), None)

    def is_scaffold(self, name: str) -> bool:
        return bool(self.scaffold) and re.fullmatch(self.scaffold, name) is not None

    def is_harness(self, name: str) -> bool:
        """A reported or read name that is a canary or its scaffolding, not one of the exercise's tests."""
        return self.id_of(name) is not None or self.is_scaffold(name)


def plant(rule: CanaryRule, root: Path, name_files: list[str]) -> Canaries:
    """Write the canaries into the grading copy at ``root`` (``name_files`` are its test files).

    A ``runtime`` template is the same text every run (so build caches keep working: C++'s test
    file, Go's package) and reads its names and numbers from ``Canaries.env``; any other gets them
    written in."""
    a, b = 100_000 + secrets.randbelow(900_000), 100_000 + secrets.randbelow(900_000)
    product = a * b
    wrong = product + 1 + secrets.randbelow(999)
    planted = Canaries(proof=str(product), markers=[str(product), str(wrong)], scaffold=rule.scaffold)
    captures = {}
    first = (root / name_files[0]).read_text(encoding="utf-8", errors="replace") if name_files else ""
    for key, pattern in rule.captures.items():
        m = re.search(pattern, first, re.M)
        captures[key] = m.group(1) if m else ""
    numbers = {"a": str(a), "b": str(b), "product": str(product), "wrong": str(wrong)}

    def code(token: str) -> str:
        planted.markers.append(token)
        values = {**captures, **({} if rule.runtime else numbers), "token": token}
        for role in rule.roles:
            ident = secrets.token_hex(4)
            (planted.must_fail if role.startswith("fail") else planted.must_pass).append(ident)
            planted.markers.append(ident)
            if rule.runtime:
                planted.env[f"LOCALCODE_CANARY_{role.upper()}"] = f"localcode_{token}_{ident}"
            else:
                values[role] = ident
        return fill(rule.template, values)

    if rule.runtime:
        planted.env.update({f"LOCALCODE_CANARY_{k.upper()}": v for k, v in numbers.items()})
    if rule.place == "file":
        token = secrets.token_hex(4)
        rel = fill(rule.path, {"token": "canary" if rule.runtime else token})
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code(token), encoding="utf-8")
        planted.files.append(rel)
        return planted
    for rel in name_files[:1] if rule.runtime else name_files:  # run-time names: one set per run
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


def own_names(names: list[str], canaries: Canaries) -> list[str]:
    """The exercise's own test names among those read after planting (without the canaries)."""
    return [n for n in names if not canaries.is_harness(n)]


# Where one runner's report of a test starts in its console output (pytest, jest, go, libtest,
# the JUnit console launcher): a canary's block ends at the next of these.
BLOCK_START = re.compile(
    r"^\s*(_{3,}|={3,}|-{3,}|●|✕|✓|√|×|\S+\.\w+::\S+|test \S+ \.\.\.|(FAILED|PASSED|ERROR|FAIL|PASS|ok)\b|"
    r"=== (RUN|PAUSE|CONT)|failures:|JUnit Jupiter:|\[\s*\d+ tests? |"
    r"(Tests?|Test Suites):|\d+ (failed|passed|errors?)\b)"
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
