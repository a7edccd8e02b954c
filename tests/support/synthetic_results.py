"""Hand-made exercise results and run directories, for report and compare tests without a run."""

from __future__ import annotations

from pathlib import Path

from pytest_localcode.epochs import epoch_dir
from pytest_localcode.results import ExerciseResult, TryRecord, save


def make_result(
    name: str,
    outcomes: list[str],
    *,
    prompt_tokens: int = 1000,
    completion_tokens: int = 100,
    seconds: float = 10.0,
    error: str | None = None,
    malformed: int = 0,
    timeouts: int = 0,
    model: str = "m",
    epoch: int = 1,
    epochs: int = 1,
) -> ExerciseResult:
    """``name`` is ``lang/exercise``; one try per outcome (``pass``/``fail``/``timeout``/``not_run``).
    Tokens and seconds are spread evenly over the tries, so sums are exact."""
    language, exercise = name.split("/")
    n = max(1, len(outcomes))
    tries = []
    for i, outcome in enumerate(outcomes, start=1):
        agent = {
            "prompt_tokens": prompt_tokens // n, "completion_tokens": completion_tokens // n,
            "predicted_n": completion_tokens // n, "predicted_ms": completion_tokens // n * 10.0,
            "prompt_n": prompt_tokens // n, "prompt_ms": prompt_tokens // n * 0.5,
            "model_responses": 2, "tool_call_responses": 2, "tool_calls_total": 2,
            "tool_calls": {"write": 1, "finish": 1},
            "malformed_responses": malformed if i == 1 else 0,
        }
        tests = {"defined": 5, "executed": 5, "passed": 5 if outcome == "pass" else 2,
                 "failed": 0 if outcome == "pass" else 3,
                 "timed_out": i <= timeouts, "reason": outcome}
        tries.append(TryRecord(i, outcome, tests=tests, agent=agent, stop_reason="finish",
                               agent_seconds=seconds / n / 2, test_seconds=seconds / n / 2))
    return ExerciseResult(language, exercise, model, tries=tries, error=error, wall_seconds=seconds, epoch=epoch,
                          epochs=epochs, seed=epoch if epochs > 1 else None)


def write_run(run_dir: Path, results: list[ExerciseResult]) -> Path:
    """A run directory as the harness leaves it: ``<run>/<lang>/<exercise>/[epoch-<k>/].aider.results.json``."""
    for result in results:
        save(result, epoch_dir(run_dir, result.language, result.exercise, result.epoch))
    return run_dir
