"""The one dataset search (plugin default, ``bin/setup``, the tests): named, or found by looking."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_localcode.errors import DatasetError
from pytest_localcode.exercises import resolve_dataset
from tests.support.benchmark_runs import PROJECT, environment
from tests.support.datasets import python_exercise


def checkout(path: Path) -> Path:
    python_exercise(path, "answer", example="def answer():\n    return 42\n")
    return path


@pytest.mark.parametrize("where", ["polyglot-benchmark", "shared/polyglot-benchmark"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_checkout_beside_the_project_or_a_folder_above_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  where: str, depth: int) -> None:
    """e.g. ``<top>/shared/polyglot-benchmark`` for a git worktree at ``<top>/wt/<name>`` (depth 2)."""
    monkeypatch.delenv("LOCALCODE_EXERCISES", raising=False)
    project = tmp_path.joinpath(*["d"] * depth, "project")
    project.mkdir(parents=True)
    dataset = checkout(tmp_path.joinpath(*["d"] * (depth - 1), where))
    assert resolve_dataset(None, project) == dataset.resolve()


def test_the_nearest_checkout_wins_and_a_named_one_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "a" / "project"
    project.mkdir(parents=True)
    near, far = checkout(tmp_path / "a" / "polyglot-benchmark"), checkout(tmp_path / "shared" / "polyglot-benchmark")
    monkeypatch.delenv("LOCALCODE_EXERCISES", raising=False)
    assert resolve_dataset(None, project) == near.resolve()
    monkeypatch.setenv("LOCALCODE_EXERCISES", str(far))
    assert resolve_dataset(None, project) == far.resolve()
    assert resolve_dataset(str(near), project) == near.resolve()


def test_none_found_names_the_place_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCALCODE_EXERCISES", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    with pytest.raises(DatasetError, match=r"polyglot-benchmark does not exist: clone it .* LOCALCODE_EXERCISES"):
        resolve_dataset(None, project)


def test_bin_setup_asks_the_same_search(tmp_path: Path) -> None:
    found = subprocess.run([sys.executable, "-m", "pytest_localcode.exercises", str(checkout(tmp_path / "x"))],
                           cwd=PROJECT, env=environment(), capture_output=True, text=True, timeout=60)
    assert found.returncode == 0 and found.stdout.strip() == str((tmp_path / "x").resolve())
    missing = subprocess.run([sys.executable, "-m", "pytest_localcode.exercises", str(tmp_path / "nope")],
                             cwd=PROJECT, env=environment(), capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and not missing.stdout
    assert missing.stderr.startswith("localcode: exercises directory")
