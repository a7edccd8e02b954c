"""Harness canaries: every language's template lands where its name reader (and so its report)
sees it, with names that change every run. That they fail and pass as they must under the real
runners is what every graded exercise checks (the oracle sweep: 225 passes, none forged)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_localcode.canaries import plant, scrub, split
from pytest_localcode.exercises import load_exercise
from pytest_localcode.grading import Grader
from pytest_localcode.languages import LANGUAGES, load_language
from pytest_localcode.testnames import read_names

EXERCISES = {"cpp": "space-age", "go": "robot-simulator", "java": "ledger", "javascript": "pig-latin",
             "python": "wordy", "rust": "forth"}


@pytest.mark.parametrize("language", LANGUAGES)
def test_canaries_are_read_like_tests_and_change_every_run(polyglot: Path, tmp_path: Path, language: str) -> None:
    conf = load_language(language)
    assert conf.canary is not None
    ex = load_exercise(polyglot / language / "exercises" / "practice" / EXERCISES[language], language)
    rule = conf.test_names
    names_seen = []
    for n in range(2):
        root = tmp_path / str(n)
        shutil.copytree(ex.path, root)
        before = read_names(rule.reader, root, Grader._name_files(ex, conf, root), rule.options)
        planted = plant(conf.canary, root, Grader._name_files(ex, conf, root))
        after = read_names(rule.reader, root, Grader._name_files(ex, conf, root), rule.options)
        own, canaries = split(after, planted)
        assert own == before
        files = 1 if conf.canary.place == "file" else len(Grader._name_files(ex, conf, ex.path))
        forms = conf.canary.template.count("{fail")  # one must-pass and one must-fail per assertion form
        assert forms >= 1 and len(canaries.must_pass) == len(canaries.must_fail) == files * forms
        assert int(canaries.proof) > 10**10
        names_seen.append(canaries.names)
        for rel in planted.files:  # the exercise's own text is kept whole
            text = (root / rel).read_text()
            if (ex.path / rel).is_file():
                assert all(line in text for line in (ex.path / rel).read_text().splitlines())
    assert not names_seen[0] & names_seen[1]


def test_cpp_canaries_come_before_the_first_test_case(polyglot: Path, tmp_path: Path) -> None:
    """Catch runs test cases in declaration order: the canaries run before a crash could stop the binary."""
    conf = load_language("cpp")
    ex = load_exercise(polyglot / "cpp" / "exercises" / "practice" / "space-age", "cpp")
    shutil.copytree(ex.path, tmp_path / "g")
    assert conf.canary is not None
    plant(conf.canary, tmp_path / "g", ["space_age_test.cpp"])
    text = (tmp_path / "g" / "space_age_test.cpp").read_text()
    assert text.index('TEST_CASE("localcode') < text.index('TEST_CASE("age_in_seconds")')
    assert text.index('#include "space_age.h"') < text.index('TEST_CASE("localcode')


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
    assert "ProverbTest.test_one" in scrubbed and "TypeError" in scrubbed and "FAILED proverb_test.py::ProverbTest::test_one" in scrubbed
    assert scrubbed.endswith("2 failed in 0.1s\n")
