"""Drive whole benchmark runs (a pytest subprocess) against a scripted server in this process.

Report, resume and compatibility tests need real runs: real collection, grading in the sandbox,
result files, the controller's aggregation. The server runs here on a thread, so the test reads
what it sent (``totals``) and how often each exercise asked (``calls``) after the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode.epochs import DEFAULT_SEED
from tests.support.models import ExerciseModel, task_of
from tests.support.scripted_server import ScriptedServer

PROJECT = Path(__file__).resolve().parents[2]
AGENT_CONFIG = "tests/support/agent-configs/scripted.json"

# One fast exercise per language, and what the scripted model does with it: "ref" solves on
# try 1, "fix" leaves try 1 alone and solves on try 2, "nop" never edits (fails both tries).
MIXED_PLAN = {
    "cpp/space-age": "ref",
    "go/bowling": "fix",
    "java/bowling": "ref",
    "javascript/space-age": "nop",
    "python/bowling": "fix",
    "rust/bowling": "ref",
}
REFERENCE_PLAN = dict.fromkeys(MIXED_PLAN, "ref")


class PlanModel(ExerciseModel):
    """Per-exercise behaviour from a plan; tool-call ids derive from the exercise and step, not
    from the server's global request counter, so prompts (and token counts) do not depend on how
    parallel workers interleave. ``delay`` slows one exercise's responses (for kill tests)."""

    def __init__(self, dataset: Path, plan: dict[str, str], delay: dict[str, float] | None = None):
        super().__init__(dataset)
        self.plan = plan
        self.delay = delay or {}

    def files_for(self, language: str, slug: str, try_number: int) -> dict[str, str]:
        action = self.plan.get(f"{language}/{slug}", "nop")
        if action == "ref" or (action == "fix" and try_number >= 2):
            return self.reference(language, slug)
        return {}

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        spec = super().__call__(request)
        language, slug, try_number, steps = task_of(request)
        for i, call in enumerate(spec.get("tool_calls") or []):
            call["id"] = f"call_{slug}_{try_number}_{steps}_{i}"
        wait = self.delay.get(f"{language}/{slug}")
        if wait:
            spec["delay"] = wait
        return spec


class EpochPlanModel(PlanModel):
    """A model whose answer depends on the epoch, read from the request's sampling seed (epoch k
    samples with seed DEFAULT_SEED + k - 1): ``plans`` gives each exercise one action per epoch
    ("ref", "fix", "nop" as in :class:`PlanModel`). ``epoch_calls`` counts requests per
    ``lang/slug[k]``; ``seeds`` records every seed the harness sent."""

    def __init__(self, dataset: Path, plans: dict[str, list[str]], delay: dict[str, float] | None = None):
        super().__init__(dataset, {}, delay)
        self.plans = plans
        self.epoch_calls: Counter[str] = Counter()
        self.seeds: Counter[int | None] = Counter()
        self._current = threading.local()

    def files_for(self, language: str, slug: str, try_number: int) -> dict[str, str]:
        action = self.plans[f"{language}/{slug}"][self._current.epoch - 1]
        if action == "ref" or (action == "fix" and try_number >= 2):
            return self.reference(language, slug)
        return {}

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        seed = request.get("seed")
        self._current.epoch = (seed - DEFAULT_SEED + 1) if isinstance(seed, int) else 1
        language, slug, _, _ = task_of(request)
        with self._lock:
            self.seeds[seed] += 1
            self.epoch_calls[f"{language}/{slug}[{self._current.epoch}]"] += 1
        return super().__call__(request)


class CoinModel(PlanModel):
    """A model that solves an exercise on try 1 or never, as a fair coin decides from the exercise
    and the request's sampling seed (a hash, so the same seed gives the same answers in any
    process): two runs with different seeds are two samples of the same model."""

    def files_for(self, language: str, slug: str, try_number: int) -> dict[str, str]:
        digest = hashlib.sha256(f"{language}/{slug}:{self._seed.value}".encode()).digest()
        return self.reference(language, slug) if digest[0] % 2 else {}

    def __init__(self, dataset: Path):
        super().__init__(dataset, {})
        self._seed = threading.local()

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        self._seed.value = request.get("seed")
        return super().__call__(request)


@dataclass
class Run:
    """What one benchmark run left behind, and what the scripted server saw."""

    run_dir: Path
    returncode: int
    stdout: str
    stderr: str
    calls: Counter[str] = field(default_factory=Counter)
    totals: dict[str, float] = field(default_factory=dict)
    requests: int = 0

    def summary(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "summary.json").read_text(encoding="utf-8"))


def exercise_paths(dataset: Path, names: list[str]) -> list[str]:
    """Command-line arguments that select exactly these ``lang/slug`` exercises."""
    out = []
    for name in names:
        language, slug = name.split("/")
        out.append(str(dataset / language / "exercises" / "practice" / slug))
    return out


def command(dataset: Path, server: ScriptedServer, run_dir: Path, names: list[str], *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN",
        f"--model={AGENT_CONFIG}", f"--exercises={dataset}", f"--server-url={server.url}/v1",
        f"--run-dir={run_dir}", "--sandbox=local", *extra, *exercise_paths(dataset, names),
    ]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH", "")]))
    env.pop("LOCALCODE_NO_HTML", None)
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def run_benchmark(
    dataset: Path, model: ExerciseModel, run_dir: Path, names: list[str], *extra: str, timeout: float = 600
) -> Run:
    """One complete run: start the server, run pytest on ``names`` in a subprocess, stop."""
    with ScriptedServer(model, repeat=False) as server:
        proc = subprocess.run(command(dataset, server, run_dir, names, *extra), cwd=PROJECT, env=environment(),
                              capture_output=True, text=True, timeout=timeout)
        return Run(run_dir, proc.returncode, proc.stdout, proc.stderr, Counter(model.calls), server.totals(),
                   len(server.requests))


_SHARED: dict[str, Run] = {}


def shared_run(key: str, make: Callable[[], Run]) -> Run:
    """One run per key and test process, however many modules' fixtures ask for it (a
    session fixture imported into several modules would otherwise run once per module)."""
    if key not in _SHARED:
        _SHARED[key] = make()
    return _SHARED[key]


def mixed_run(dataset: Path, tmp_path_factory: pytest.TempPathFactory, *extra: str, key: str = "n1") -> Run:
    """The six-language MIXED_PLAN run (shared by the report, Aider and browser tests)."""
    def make() -> Run:
        run_dir = tmp_path_factory.mktemp(f"mixed-{key}") / "run"
        return run_benchmark(dataset, PlanModel(dataset, MIXED_PLAN), run_dir, list(MIXED_PLAN), *extra)

    return shared_run(f"mixed-{key}", make)


def expected_status(action: str) -> str:
    return {"ref": "pass@1", "fix": "pass@2", "nop": "fail"}[action]
