"""Tiny synthetic polyglot-style datasets, and the real one when the machine has it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from pytest_localcode.errors import DatasetError
from pytest_localcode.exercises import resolve_dataset
from pytest_localcode.paths import PROJECT_DIR


def real_dataset() -> Path:
    """The real polyglot-benchmark, found as the plugin finds it, or skip."""
    try:
        path = resolve_dataset(None, PROJECT_DIR)
    except DatasetError as exc:
        pytest.skip(f"the polyglot-benchmark dataset is not on this machine (set LOCALCODE_EXERCISES): {exc}")
    if not (path / "python" / "exercises" / "practice").is_dir():
        pytest.skip(f"{path} has no python exercises")
    return path


def python_exercise(
    root: Path,
    slug: str,
    *,
    example: str,
    tests: str | None = None,
    stub: str = "def answer():\n    pass\n",
    config: dict | str | None = None,
) -> Path:
    """A Python exercise: ``answer()`` must return 42 unless ``tests`` says otherwise."""
    module = slug.replace("-", "_")
    ex = root / "python" / "exercises" / "practice" / slug
    (ex / ".meta").mkdir(parents=True)
    (ex / ".docs").mkdir()
    (ex / ".docs" / "instructions.md").write_text(f"# {slug}\n\nWrite `answer()` returning 42.\n")
    (ex / f"{module}.py").write_text(stub)
    (ex / ".meta" / "example.py").write_text(textwrap.dedent(example))
    test_code = tests or (
        f"import unittest\nfrom {module} import answer\n\n"
        "class AnswerTest(unittest.TestCase):\n"
        "    def test_answer(self):\n        self.assertEqual(answer(), 42)\n\n"
        "    def test_type(self):\n        self.assertIsInstance(answer(), int)\n"
    )
    (ex / f"{module}_test.py").write_text(textwrap.dedent(test_code))
    if config is None:
        config = {"files": {"solution": [f"{module}.py"], "test": [f"{module}_test.py"],
                            "example": [".meta/example.py"]}}
    (ex / ".meta" / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    return ex
