"""Grading rebuilds the exercise from the pristine dataset: tampering in the workspace gains nothing.

Each case leaves the stub unsolved and tampers with how tests run (deleting, renaming or editing
tests, adding a conftest.py / jest config / .cargo/config.toml / TestMain / src/main @Test). The
verdict must stay "not passed" with every defined test executed where the build succeeds; files
whose only use is to change how tests run (jest/babel configs, build.rs, .cargo/, JUnit in src/main) make it "forged".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_localcode.exercises import load_exercise
from pytest_localcode.grading import Grader
from pytest_localcode.languages import load_language
from pytest_localcode.sandbox.local import LocalSandboxFactory
from pytest_localcode.workspace import create_workspace


def _python(ws: Path) -> None:
    (ws / "conftest.py").write_text(
        "import pytest\n\ndef pytest_collection_modifyitems(items):\n    for item in items:\n        "
        "item.add_marker(pytest.mark.skip)\n"
    )
    (ws / "pytest.ini").write_text("[pytest]\naddopts = -k nothing_matches\n")
    (ws / "proverb_test.py").write_text("def test_ok():\n    assert True\n")


def _javascript(ws: Path) -> None:
    (ws / "jest.config.js").write_text("module.exports = { testMatch: ['**/nothing/**'] };\n")
    (ws / "babel.config.js").write_text("module.exports = { presets: [] };\n")
    (ws / "space-age.spec.js").unlink()


def _go(ws: Path) -> None:
    (ws / "zz_main_test.go").write_text(
        'package bowling\n\nimport (\n\t"os"\n\t"testing"\n)\n\nfunc TestMain(m *testing.M) { os.Exit(0) }\n'
    )
    (ws / "bowling_test.go").rename(ws / "bowling_test.go.bak")


def _rust(ws: Path) -> None:
    (ws / ".cargo").mkdir()
    (ws / ".cargo" / "config.toml").write_text('[alias]\ntest = "build"\n[build]\nrustflags = ["--cfg", "skip"]\n')
    (ws / "build.rs").write_text("fn main() {}\n")
    for test in (ws / "tests").glob("*.rs"):
        test.write_text("#[test]\nfn ok() {}\n")


def _java(ws: Path) -> None:
    test = next((ws / "src" / "test" / "java").glob("*.java"))
    test.write_text("public class BowlingGameTest {}\n")
    (ws / "src" / "main" / "java" / "Sneaky.java").write_text(
        "import org.junit.jupiter.api.Test;\npublic class Sneaky { @Test public void ok() {} }\n"
    )


def _cpp(ws: Path) -> None:
    (ws / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 3.5)\nproject(x CXX)\n")
    (ws / "space_age_test.cpp").write_text('#include "test/catch.hpp"\nTEST_CASE("ok") {}\n')


CASES = [  # (language, slug, tampering, graded "forged")
    ("python", "proverb", _python, False),
    ("javascript", "space-age", _javascript, True),
    ("go", "bowling", _go, False),
    ("rust", "bowling", _rust, True),
    ("java", "bowling", _java, True),  # src/main imports JUnit
    ("cpp", "space-age", _cpp, False),
]


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader(LocalSandboxFactory())


@pytest.mark.slow
@pytest.mark.parametrize(("language", "slug", "tamper", "forged"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_tampering_gains_nothing(polyglot: Path, tmp_path: Path, grader: Grader, language: str, slug: str, tamper,
                                 forged: bool) -> None:
    ex = load_exercise(polyglot / language / "exercises" / "practice" / slug, language)
    conf = load_language(language)
    ws = tmp_path / "workspace" / slug
    create_workspace(ex, conf, ws)
    baseline = grader.grade(ex, conf, ws, tmp_path / "grade-baseline" / slug)
    tamper(ws)
    run = grader.grade(ex, conf, ws, tmp_path / "grade" / slug)
    assert not run.ok, run.reason
    assert run.outcome == ("forged" if forged else baseline.outcome), (run.reason, baseline.reason)
    assert (run.executed, run.failed, run.defined) == (baseline.executed, baseline.failed, baseline.defined)
    if forged:
        assert run.suspicious_files and run.forgery, run
    # The grading copy holds the pristine tests (every test enabled; the harness canaries added), not the tampered ones.
    for test in ex.test:
        expected = (ex.path / test).read_text()
        for rule in conf.enable_all_tests:
            for pattern, replacement in rule.pairs:
                expected = re.sub(pattern, replacement, expected)
        graded = (tmp_path / "grade" / slug / test).read_text()
        assert all(line in graded.splitlines() for line in expected.splitlines()), test
