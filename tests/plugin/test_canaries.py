"""Harness canaries: every language's template lands where its name reader (and so its report)
sees it, with names that change every run. That they fail and pass as they must under the real
runners is what every graded exercise checks (the oracle sweep: 225 passes, none forged)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_localcode.canaries import own_names, plant, scrub
from pytest_localcode.exercises import load_exercise
from pytest_localcode.grading import Grader
from pytest_localcode.languages import LANGUAGES, load_language
from pytest_localcode.testnames import read_names

EXERCISES = {"cpp": "space-age", "go": "robot-simulator", "java": "ledger", "javascript": "pig-latin",
             "python": "wordy", "rust": "forth"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_canaries_are_read_like_tests_and_change_every_run(polyglot: Path, tmp_path: Path, language: str) -> None:
    conf = load_language(language)
    rule = conf.canary
    assert rule is not None
    ex = load_exercise(polyglot / language / "exercises" / "practice" / EXERCISES[language], language)
    reader = conf.test_names
    ids_seen, texts = [], []
    for n in range(2):
        root = tmp_path / str(n)
        shutil.copytree(ex.path, root)
        files = Grader._name_files(ex, conf, root)
        before = read_names(reader.reader, root, files, reader.options)
        canaries = plant(rule, root, files)
        forms = len(rule.roles) // 2  # one must-pass and one must-fail per assertion form
        per_run = 1 if rule.runtime or rule.place == "file" else len(files)
        assert forms >= 1 and len(canaries.must_pass) == len(canaries.must_fail) == per_run * forms
        assert int(canaries.proof) > 10**10
        if rule.runtime:  # the same text every run; the names and numbers are in the environment
            assert {f"LOCALCODE_CANARY_{r.upper()}" for r in rule.roles} <= set(canaries.env)
            assert str(canaries.proof) == canaries.env["LOCALCODE_CANARY_PRODUCT"]
            assert all(canaries.id_of(canaries.env[f"LOCALCODE_CANARY_{r.upper()}"]) for r in rule.roles)
        else:
            after = read_names(reader.reader, root, Grader._name_files(ex, conf, root), reader.options)
            assert own_names(after, canaries) == before
            assert sorted(i for i in map(canaries.id_of, after) if i) == sorted(canaries.ids)
        ids_seen.append(set(canaries.ids))
        texts.append({rel: (root / rel).read_text() for rel in canaries.files})
        for rel in canaries.files:  # the exercise's own text is kept whole
            if (ex.path / rel).is_file():
                assert all(line in texts[-1][rel].splitlines() for line in (ex.path / rel).read_text().splitlines())
    assert not ids_seen[0] & ids_seen[1]
    assert (texts[0] == texts[1]) is rule.runtime


def test_cpp_canaries_come_before_the_first_test_case(polyglot: Path, tmp_path: Path) -> None:
    """Catch runs test cases in declaration order: the canaries run before a crash could stop the binary."""
    conf = load_language("cpp")
    ex = load_exercise(polyglot / "cpp" / "exercises" / "practice" / "space-age", "cpp")
    shutil.copytree(ex.path, tmp_path / "g")
    assert conf.canary is not None
    plant(conf.canary, tmp_path / "g", ["space_age_test.cpp"])
    text = (tmp_path / "g" / "space_age_test.cpp").read_text()
    assert text.index("Catch::AutoReg localcode_canary_1") < text.index('TEST_CASE("age_in_seconds")')
    assert text.index('#include "test/catch.hpp"') < text.index("Catch::AutoReg localcode_canary_1")


def test_the_model_never_reads_the_canaries() -> None:
    """Their failures are the harness's: the output before the next try leaves their blocks out."""
    output = (
        "FFF\n"
        "______ LocalcodeCanaryab12.test_cd34 ______\n\n    def test_cd34(self):\n>       self.assertEqual(1, 2)\n"
        "E       AssertionError: 80779853376 != 80779853377\n\n"
        "______ ProverbTest.test_one ______\n\n>       self.assertEqual(proverb(), 'x')\nE       TypeError\n"
        "FAILED proverb_test.py::LocalcodeCanaryab12::test_cd34 - AssertionError\n"
        "FAILED proverb_test.py::ProverbTest::test_one - TypeError\n"
        "2 failed in 0.1s\n"
    )
    scrubbed = scrub(output, ["ab12", "cd34", "80779853376", "80779853377"])
    assert "ab12" not in scrubbed and "8077985337" not in scrubbed
    assert "ProverbTest.test_one" in scrubbed and "TypeError" in scrubbed
    assert "FAILED proverb_test.py::ProverbTest::test_one" in scrubbed
    assert scrubbed.endswith("2 failed in 0.1s\n")
