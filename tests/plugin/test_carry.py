"""What grading takes from a workspace, what it leaves, and what it records as tampering."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_localcode.carry import plan_carry
from pytest_localcode.exercises import load_exercise
from pytest_localcode.languages import load_language
from pytest_localcode.workspace import create_grading_copy, create_workspace, layout


def workspace(polyglot: Path, tmp_path: Path, language: str, slug: str):
    ex = load_exercise(polyglot / language / "exercises" / "practice" / slug, language)
    conf = load_language(language)
    ws = tmp_path / "ws"
    create_workspace(ex, conf, ws)
    return ex, conf, ws


def plan(ex, conf, ws):
    return plan_carry(ex, conf, ws, layout(ex, conf).protected)


def test_python_takes_the_solution_and_its_new_modules_only(polyglot: Path, tmp_path: Path) -> None:
    ex, conf, ws = workspace(polyglot, tmp_path, "python", "proverb")
    (ws / "proverb.py").write_text("from helper import x\n")
    (ws / "helper.py").write_text("x = 1\n")
    (ws / "conftest.py").write_text("import pytest\n")
    (ws / "__init__.py").write_text("")
    (ws / "proverb_test.py").write_text("def test_ok(): pass\n")
    (ws / "pytest.py").write_text("raise SystemExit(0)\n")
    (ws / "sub").mkdir()
    (ws / "sub" / "deep.py").write_text("")
    (ws / "sitecustomize.py").write_text("")
    p = plan(ex, conf, ws)
    assert p.carried == ["helper.py", "proverb.py"]
    assert sorted(p.ignored) == ["__init__.py", "conftest.py", "proverb_test.py", "sub/deep.py"]
    assert p.suspicious_files == ["pytest.py", "sitecustomize.py"]
    assert "pytest.py: has the name of a module the test run imports (it would shadow it)" in p.tampering


def test_deleted_stub_is_not_restored(polyglot: Path, tmp_path: Path) -> None:
    ex, conf, ws = workspace(polyglot, tmp_path, "go", "ledger")
    (ws / "ledger.go").unlink()
    (ws / "format.go").write_text("package ledger\n")
    copy = create_grading_copy(ex, conf, ws, tmp_path / "grade")
    assert copy.carry.deleted == ["ledger.go"] and copy.carry.carried == ["format.go"]
    assert not (tmp_path / "grade" / "ledger.go").exists()
    assert (tmp_path / "grade" / "format.go").read_text() == "package ledger\n"
    assert (tmp_path / "grade" / "ledger_test.go").read_bytes() == (ex.path / "ledger_test.go").read_bytes()


def test_javascript_configuration_files_are_tampering(polyglot: Path, tmp_path: Path) -> None:
    ex, conf, ws = workspace(polyglot, tmp_path, "javascript", "space-age")
    (ws / "jest.config.js").write_text("module.exports = {};\n")
    (ws / ".babelrc").write_text("{}\n")
    (ws / "__mocks__").mkdir()
    (ws / "__mocks__" / "fs.js").write_text("module.exports = {};\n")
    (ws / "helper.js").write_text("export const k = 1;\n")
    p = plan(ex, conf, ws)
    assert p.carried == ["helper.js"]
    assert p.suspicious_files == [".babelrc", "__mocks__/fs.js", "jest.config.js"]


@pytest.mark.parametrize(("language", "slug", "path", "text", "flagged"), [
    ("java", "bowling", "src/main/java/org/assertj/core/api/Assertions.java",
     "package org.assertj.core.api;\npublic class Assertions {}\n", True),
    ("java", "bowling", "src/main/java/Helper.java", "// package org.junit; in a comment\nclass Helper {}\n", False),
    ("cpp", "space-age", "space_age.h", '#pragma once\n#include "test/catch.hpp"\n', True),
    ("cpp", "space-age", "space_age.h", "#pragma once\n#undef REQUIRE\n#define REQUIRE(...) (void)0\n", True),
    ("cpp", "space-age", "space_age.h", "#pragma once\n#define REQUIRED_AGE 3\n", False),
    ("go", "bowling", "bowling.go",
     "package bowling\n\nimport _ \"unsafe\"\n\n//go:linkname x testing.x\nvar x int\n", True),
    ("rust", "bowling", "src/lib.rs", "#[macro_export]\nmacro_rules! assert_eq { ($($t:tt)*) => {} }\n", True),
    ("rust", "bowling", "src/lib.rs",
     "#[used]\n#[link_section = \".init_array\"]\nstatic INIT: fn() = f;\nfn f() {}\n", True),
    ("rust", "bowling", "src/lib.rs", "pub fn assert_valid() {}\n", False),
    ("rust", "bowling", "src/lib.rs", "pub fn Some<T>(_: T) -> Anything { Anything }\n", True),
    ("rust", "bowling", "src/lib.rs", "pub type Result<T> = std::result::Result<T, Error>;\n", False),
    ("rust", "bowling", "src/lib.rs", "pub fn roll() { std::process::exit(0) }\n", True),
    ("python", "wordy", "wordy.py", "import unittest\nunittest.TestCase.assertEqual = print\n", True),
    ("python", "wordy", "wordy.py", "import os\n\ndef answer(q):\n    os._exit(0)\n", True),
    ("python", "wordy", "wordy.py", "import re\n\ndef answer(q):\n    return int(re.sub('x', '', q))\n", False),
    ("javascript", "pig-latin", "pig-latin.js", "expect.extend({});\nexport const translate = (w) => w;\n", True),
    ("javascript", "pig-latin", "pig-latin.js", "Object.is = () => true;\n", True),
    ("javascript", "pig-latin", "pig-latin.js",
     "String.prototype.pig = function () { return this; };\nconst same = a === b;\n", False),
    ("go", "bowling", "bowling.go", "package bowling\n\nimport (\n\t\"os\"\n)\n\nfunc init() { os.Exit(0) }\n", True),
    ("java", "bowling", "src/main/java/BowlingGame.java", "class BowlingGame { static { System.exit(0); } }\n", True),
    ("cpp", "space-age", "space_age.cpp", "#include <unistd.h>\nstruct F { F() { _exit(0); } } f;\n", True),
])
def test_content_that_reaches_into_the_test_framework(polyglot: Path, tmp_path: Path, language: str, slug: str,
                                                      path: str, text: str, flagged: bool) -> None:
    ex, conf, ws = workspace(polyglot, tmp_path, language, slug)
    (ws / path).parent.mkdir(parents=True, exist_ok=True)
    (ws / path).write_text(text)
    p = plan(ex, conf, ws)
    assert path in p.carried
    assert (p.suspicious_files == [path]) is flagged, p.tampering


AGENT_MANIFEST = """[package]
edition = "2021"
name = "bowling"
version = "1.2.0"
autotests = false
build = "build.rs"

[dependencies]
itertools = "0.5"
rand = { version = "0.3.12", features = ["std"],
         default-features = false }
local = { path = "../elsewhere" }

[dependencies.regex]
version = "0.2"

[[test]]
name = "bowling"
path = "src/fake.rs"
harness = false

[profile.dev]
opt-level = 3
"""


def test_rust_manifest_keeps_the_pristine_one_with_the_agents_dependencies(polyglot: Path, tmp_path: Path) -> None:
    ex, conf, ws = workspace(polyglot, tmp_path, "rust", "bowling")
    pristine = (ex.path / "Cargo.toml").read_text()
    (ws / "Cargo.toml").write_text(AGENT_MANIFEST)
    copy = create_grading_copy(ex, conf, ws, tmp_path / "grade")
    merged = (tmp_path / "grade" / "Cargo.toml").read_text()
    assert merged.startswith(pristine.split("[dependencies]")[0].rstrip())
    assert 'itertools = "0.5"' in merged and 'rand = { version = "0.3.12"' in merged
    assert 'regex = { version = "0.2" }' in merged
    for absent in ("autotests", "build =", "[[test]]", "harness", "local", "opt-level"):
        assert absent not in merged, absent
    assert set(copy.carry.tampering) == {
        "Cargo.toml: turns off the discovery of the exercise's tests",
        "Cargo.toml: adds a build script or replaces the test harness",
        "Cargo.toml: declares test targets of its own",
    }
    assert "Cargo.toml [dependencies] local" in copy.carry.ignored
    assert copy.carry.suspicious_files == ["Cargo.toml"]


def test_rust_manifest_unchanged_or_dependencies_only(polyglot: Path, tmp_path: Path) -> None:
    ex, conf, ws = workspace(polyglot, tmp_path, "rust", "bowling")
    assert plan(ex, conf, ws).carried == []
    (ws / "Cargo.toml").write_text((ex.path / "Cargo.toml").read_text() + '\n[dependencies]\nanyhow = "1.0"\n')
    p = plan(ex, conf, ws)
    assert p.tampering == [] and p.carried == ["Cargo.toml"] and p.manifest is not None
    assert p.manifest.rstrip().endswith('[dependencies]\nanyhow = "1.0"')
