"""Collection: the dataset becomes one pytest item per exercise.

The plugin claims the dataset directory (and any exercise directory given on the command line)
so pytest never walks into it on its own: the Python track's ``*_test.py`` files must not be
imported as the project's tests. Items are ``pytest.Function`` subclasses, so fixtures,
``--setup-show``, ``--lf`` and xdist work through public API. Every language collector gets the
node id ``<language>`` whatever path it was reached by, so item ids read ``python::react``; with
``--epochs K`` an exercise gives K items, ``python::react[1]`` … ``python::react[K]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_localcode.epochs import item_name
if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr  # the return type of Function.repr_failure; not exported

from pytest_localcode.errors import LocalcodeError
from pytest_localcode.exercises import Exercise, load_exercise
from pytest_localcode.languages import LanguageConf, load_language

EXERCISE_KEY = pytest.StashKey[Exercise]()


class ExerciseNotSolved(AssertionError):
    """The call phase's verdict: the exercise's own tests did not pass."""


def grade_exercise(localcode_result: Any) -> None:
    """The call phase: the agent ran and the tests were graded in setup; assert the verdict."""
    if not localcode_result.solved:
        raise ExerciseNotSolved(localcode_result.failure_text())


class ExerciseItem(pytest.Function):
    """One exercise in one epoch; the agent runs in setup (fixture ``localcode_result``), the
    verdict in call."""

    def __init__(self, *, exercise: Exercise, conf: LanguageConf, epoch: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.exercise = exercise
        self.conf = conf
        self.epoch = epoch
        if self.name != exercise.slug:
            # ``react[2]``: give the id the structure pytest parses back from the string form
            # (params "2"), as a parametrized test's, so --lf matches the cached "python::react[2]".
            assert self.parent is not None  # items are made by from_parent(), always under an ExerciseDir
            self._id = self.parent.id.child(exercise.slug).with_params(str(epoch))
        self.stash[EXERCISE_KEY] = exercise
        self.add_marker(exercise.language)
        self.keywords[exercise.slug] = True

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.exercise.path, None, f"{self.exercise.language}/{self.name}"

    # Function.repr_failure's own signature, which drops Node's ``style`` (pytest marks it the same way)
    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str | TerminalRepr:  # type: ignore[override]
        if isinstance(excinfo.value, (ExerciseNotSolved, LocalcodeError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class BrokenExercise(pytest.Item):
    """Stands for an exercise whose data is malformed: fails in setup with a one-line reason."""

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise LocalcodeError(self.error)

    def setup(self) -> None:
        raise LocalcodeError(self.error)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


def _items(parent: pytest.Collector, language: str, path: Path, epochs: int) -> Iterator[pytest.Item]:
    try:
        conf = load_language(language)
        ex = load_exercise(path, language)
    except LocalcodeError as exc:
        yield BrokenExercise.from_parent(parent, name=path.name, error=str(exc))
        return
    for epoch in range(1, epochs + 1):
        yield ExerciseItem.from_parent(parent, name=item_name(ex.slug, epoch, epochs),
                                       callobj=grade_exercise, exercise=ex, conf=conf, epoch=epoch)


class ExerciseDir(pytest.Directory):
    """One exercise directory. Its node id is ``<language>``, so its items read ``<language>::<slug>``
    (or ``<language>::<slug>[<epoch>]``) however it was reached (the dataset, a language
    directory, or the exercise path itself)."""

    epochs = 1

    def collect(self) -> Iterator[pytest.Item]:
        yield from _items(self, self.path.parents[2].name, self.path, self.epochs)


def exercise_key(item: pytest.Item) -> tuple[str, str]:
    """(language, exercise) of an item: what shards split on, so every item of one exercise
    (all its epochs) stays together. Read from the node id ``<language>::<slug>[…]``."""
    exercise = item.stash.get(EXERCISE_KEY, None)
    if exercise is not None:
        return exercise.language, exercise.slug
    language, _, name = item.nodeid.partition("::")
    return language, name.split("[", 1)[0]


def claim_directory(path: Path, parent: pytest.Collector, dataset: Path, epochs: int = 1) -> pytest.Collector | None:
    """Claim every ``<language>/exercises/practice/<slug>`` directory of the dataset: pytest walks
    the directories above it as usual but never descends into an exercise on its own."""
    if path.parent.name == "practice" and path.parent.parent.name == "exercises" and dataset in path.parents:
        directory = ExerciseDir.from_parent(parent, path=path, nodeid=path.parents[2].name)
        directory.epochs = epochs
        return directory
    return None
