"""Scripted "models" for harness tests: callables for :class:`ScriptedServer` that act per exercise.

They read which exercise a request belongs to from the harness's task prompt
(``# Exercise: <slug> (<language>)``) and which try it is from the number of user messages, so
one server can serve many exercises in parallel (xdist) without shared state.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_localcode.exercises import load_exercise
from pytest_localcode.languages import load_language
from pytest_localcode.workspace import reference_map
from tests.support.scripted_wire import tool_call

TASK = re.compile(r"# Exercise: (?P<slug>[\w-]+) \((?P<language>\w+)\)")


def task_of(request: dict[str, Any]) -> tuple[str, str, int, int]:
    """(language, slug, try number, assistant turns so far in this try)."""
    messages = [m for m in request.get("messages", []) if m.get("role") != "system"]
    language = slug = ""
    for m in messages:
        match = TASK.search(str(m.get("content") or ""))
        if m.get("role") == "user" and match:
            language, slug = match["language"], match["slug"]
            break
    user_turns = [i for i, m in enumerate(messages) if m.get("role") == "user" and not _is_feedback(m)]
    last_user = user_turns[-1] if user_turns else 0
    steps = sum(1 for m in messages[last_user:] if m.get("role") == "assistant")
    return language, slug, max(1, len(user_turns)), steps


def _is_feedback(message: dict[str, Any]) -> bool:
    text = str(message.get("content") or "")
    return text.startswith(("FORMAT ERROR", "TOOL CALL REQUIRED", "Tool call", "[localcode]"))


class ExerciseModel:
    """Base: per-exercise plans of file writes, then ``finish``; counts calls per exercise."""

    def __init__(self, dataset: Path):
        self.dataset = dataset
        self.calls: Counter[str] = Counter()
        self.prompts: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def files_for(self, language: str, slug: str, try_number: int) -> dict[str, str]:
        raise NotImplementedError

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        language, slug, try_number, steps = task_of(request)
        key = f"{language}/{slug}"
        with self._lock:
            self.calls[key] += 1
            if steps == 0:
                last_user = [m for m in request["messages"] if m.get("role") == "user"][-1]
                self.prompts.setdefault(key, []).append(str(last_user.get("content")))
        if not slug:
            return {"content": "I do not know which exercise this is."}
        writes = list(self.files_for(language, slug, try_number).items())
        if steps < len(writes):
            path, content = writes[steps]
            return {"tool_calls": [tool_call("write", {"path": path, "content": content})]}
        return {"tool_calls": [tool_call("finish", {"summary": f"try {try_number} done"})]}

    def reference(self, language: str, slug: str) -> dict[str, str]:
        ex = load_exercise(self.dataset / language / "exercises" / "practice" / slug, language)
        pairs = reference_map(ex, load_language(language))
        return {dst: (ex.path / src).read_text(encoding="utf-8") for src, dst in pairs}


class ReferenceModel(ExerciseModel):
    """Writes the exercise's reference solution through the ``write`` tool on try 1."""

    def files_for(self, language: str, slug: str, try_number: int) -> dict[str, str]:
        return self.reference(language, slug)


class FailThenFixModel(ExerciseModel):
    """Try 1 leaves the stubs (just finishes); try 2 writes the reference solution."""

    def files_for(self, language: str, slug: str, try_number: int) -> dict[str, str]:
        return {} if try_number == 1 else self.reference(language, slug)


class LookAroundModel(ReferenceModel):
    """``turns - 2`` looks (ls, glob, partial reads: each a different call), then write, then finish."""

    def __init__(self, dataset: Path, turns: int):
        super().__init__(dataset)
        self.looks = max(0, turns - 2)

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        language, slug, _, steps = task_of(request)
        if not slug:
            return {"content": "I do not know which exercise this is."}
        with self._lock:
            self.calls[f"{language}/{slug}"] += 1
        writes = list(self.files_for(language, slug, 1).items())
        if steps < self.looks:
            looks: list[tuple[str, dict[str, Any]]] = [("ls", {}), ("glob", {"pattern": "*"})]
            looks += [("read", {"path": writes[0][0], "line_start": 1, "line_end": n}) for n in range(1, 64)]
            name, args = looks[steps % len(looks)]
            return {"tool_calls": [tool_call(name, args)]}
        if steps - self.looks < len(writes):
            path, content = writes[steps - self.looks]
            return {"tool_calls": [tool_call("write", {"path": path, "content": content})]}
        return {"tool_calls": [tool_call("finish", {"summary": "done"})]}


def look_around(dataset: str, turns: int) -> LookAroundModel:
    """Factory for a scripted server run as its own process (``--callable-kwargs``)."""
    return LookAroundModel(Path(dataset), turns)


def reference(dataset: str, delay: float = 0.0) -> Any:
    """Factory for a scripted server run as its own process: the reference solution, each answer
    ``delay`` seconds late (so a test can act while an exercise is talking to the model)."""
    model = ReferenceModel(Path(dataset))
    if not delay:
        return model

    def slow(request: dict[str, Any]) -> dict[str, Any]:
        return {**model(request), "delay": delay}

    return slow


class ChattyModel(ReferenceModel):
    """Looks at its files (saying so, so that every reply has tokens enough to time), writes the
    reference solution, finishes: ``looks + 2`` responses per exercise, each taking ``work``
    seconds of the server's time (reported in its timings)."""

    def __init__(self, dataset: Path, looks: int = 6, work: float = 0.0):
        super().__init__(dataset)
        self.looks, self.work = looks, work

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        language, slug, _, steps = task_of(request)
        with self._lock:
            self.calls[f"{language}/{slug}"] += 1
        (path, content), = self.files_for(language, slug, 1).items()
        note = f"Step {steps}: looking at the exercise {slug} before writing the solution file."
        if steps < self.looks:
            look = {"path": path, "line_start": 1, "line_end": steps + 1}  # a new call each time: no repeat guard
            spec = {"content": note, "tool_calls": [tool_call("read", look)]}
        elif steps == self.looks:
            spec = {"content": note, "tool_calls": [tool_call("write", {"path": path, "content": content})]}
        else:
            spec = {"content": note, "tool_calls": [tool_call("finish", {"summary": f"{slug} is solved: {note}"})]}
        return {**spec, "work": self.work} if self.work else spec
