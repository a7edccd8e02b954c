"""Who changes the workspace between test runs: the agent, or a built-in pseudo-model.

``oracle`` writes the reference solution (every exercise must then pass: validates the harness);
``nop`` changes nothing (every exercise must then fail: validates that tests really run).
The agent solver lives in :mod:`pytest_localcode.agent_solver`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pytest_localcode.exercises import Exercise
from pytest_localcode.languages import LanguageConf
from pytest_localcode.workspace import install_reference

PSEUDO_MODELS = ("oracle", "nop")


@dataclass
class Attempt:
    """What one try of a solver did (metrics are the agent's, empty for pseudo-models)."""

    stop_reason: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    refused_paths: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # one line: the try could not complete (server down, crash…)


@dataclass
class TryContext:
    exercise: Exercise
    conf: LanguageConf
    workspace: Path
    item_dir: Path
    number: int
    prompt: str
    read_only: frozenset[str]
    seed: int | None = None  # the epoch's sampling seed (see pytest_localcode.epochs)
    epoch: int = 1


class Solver(Protocol):
    name: str
    deterministic: bool  # a second try cannot change anything (pseudo-models)

    def attempt(self, ctx: TryContext) -> Attempt: ...


class OracleSolver:
    name = "oracle"
    deterministic = True

    def attempt(self, ctx: TryContext) -> Attempt:
        written = install_reference(ctx.exercise, ctx.conf, ctx.workspace)
        return Attempt(stop_reason="reference", metrics={"files_written": len(written)})


class NopSolver:
    name = "nop"
    deterministic = True

    def attempt(self, ctx: TryContext) -> Attempt:
        return Attempt(stop_reason="nop")


def pseudo_solver(name: str) -> Solver | None:
    if name == "oracle":
        return OracleSolver()
    if name == "nop":
        return NopSolver()
    return None
