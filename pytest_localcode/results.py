"""What one exercise produced, as plain data: saved atomically, read back for resume and reports.

The per-exercise file is ``<run>/<lang>/<exercise>/.aider.results.json``: Aider's field names and
types (so Aider's ``--stats`` arithmetic works on it) plus ours under ``localcode``. Aider's
``duration`` brackets only the model's work (``coder.run``), tests excluded, so ours is the agent's
time; the wall clock is ``localcode.wall_seconds``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_localcode.epochs import EPOCH_PREFIX

RESULTS_FILE = ".aider.results.json"
SCHEMA = 1
STATUSES = ("pass@1", "pass@2", "fail", "forged", "error")
# Aider's benchmark counts "lazy" placeholder comments (``# ... rest unchanged ...``) in what the
# model wrote with this pattern; ours is applied to the added lines of the solution diff.
LAZY_COMMENT = re.compile(r"^[+]? *[#].* [.][.][.] ", re.MULTILINE)


def result_files(run_dir: Path) -> Iterator[Path]:
    """Every exercise result file of a run directory, every epoch, in a stable order."""
    yield from sorted(run_dir.glob(f"*/*/{RESULTS_FILE}"))
    yield from sorted(run_dir.glob(f"*/*/{EPOCH_PREFIX}*/{RESULTS_FILE}"))


def lazy_comments(diff: str) -> int:
    """Aider's count of placeholder comments, over the lines the solution diff adds."""
    added = "\n".join(line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    return len(LAZY_COMMENT.findall(added))


@functools.lru_cache(maxsize=1)
def project_commit() -> str:
    """This checkout's commit (Aider's ``commit_hash``: the harness version that produced a result)."""
    from pytest_localcode.paths import PROJECT_DIR
    from pytest_localcode.report.provenance import git_commit

    return git_commit(PROJECT_DIR, short=True)


@dataclass
class TryRecord:
    number: int
    outcome: str  # grading outcome: pass / fail / build_error / timeout / forged / error / not_run
    tests: dict[str, Any] = field(default_factory=dict)  # TestRun.summary()
    agent: dict[str, Any] = field(default_factory=dict)  # agent metrics (empty for oracle/nop)
    stop_reason: str = ""
    agent_seconds: float = 0.0
    test_seconds: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


@dataclass
class ExerciseResult:
    language: str
    exercise: str
    model: str
    tries: list[TryRecord] = field(default_factory=list)
    max_tries: int = 2
    error: str | None = None  # one line: the agent/server/harness failed (item ERROR)
    wall_seconds: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    refused_paths: list[str] = field(default_factory=list)
    final_test_output: str = ""
    solution_diff: str = ""
    transcript: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    commit: str = field(default_factory=project_commit)  # the harness version that produced it
    epoch: int = 1  # which of the run's epochs this is (see pytest_localcode.epochs)
    epochs: int = 1  # how many the run asked for
    seed: int | None = None  # the sampling seed the agent sent (None: pseudo-models)

    # -- verdicts ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.language}/{self.exercise}"

    @property
    def run_name(self) -> str:
        """The exercise and its epoch: ``python/react``, or ``python/react[2]`` in a multi-epoch run."""
        return self.name if self.epochs == 1 else f"{self.name}[{self.epoch}]"

    @property
    def forged(self) -> TryRecord | None:
        """The try whose grading showed tampering (a forged try is never a solve, whatever came after)."""
        return next((t for t in self.tries if t.outcome == "forged"), None)

    @property
    def solved_on(self) -> int | None:
        if self.forged is not None:
            return None
        for record in self.tries:
            if record.passed:
                return record.number
        return None

    @property
    def solved(self) -> bool:
        return self.solved_on is not None

    @property
    def status(self) -> str:
        if self.solved_on is not None:
            return f"pass@{min(self.solved_on, 2)}" if self.solved_on <= 2 else "pass@2"
        if self.forged is not None:
            return "forged"
        return "error" if self.error else "fail"

    @property
    def complete(self) -> bool:
        """A finished exercise (resume skips it); errored or interrupted ones are re-run."""
        return self.error is None and bool(self.tries)

    def failure_text(self) -> str:
        if self.error:
            return self.error
        last = self.tries[-1] if self.tries else None
        if last is None:
            return "not run"
        forged = self.forged
        if forged is not None:
            return f"{self.run_name}: try {forged.number} {forged.tests.get('reason', 'forged')}"
        return f"{self.run_name}: not solved in {len(self.tries)} tries; last: {last.tests.get('reason', last.outcome)}"

    def forgery(self) -> dict[str, Any] | None:
        """The evidence of a forged try: which checks failed, which of the solution's files they name."""
        forged = self.forged
        if forged is None:
            return None
        return {"try": forged.number, "checks": forged.tests.get("forgery", []),
                "suspicious_files": forged.tests.get("suspicious_files", [])}

    def totals(self, key: str) -> float:
        return sum(float(t.agent.get(key, 0) or 0) for t in self.tries)

    @property
    def agent_seconds(self) -> float:
        return round(sum(t.agent_seconds for t in self.tries), 3)

    # -- files ------------------------------------------------------------------------------
    def aider_fields(self) -> dict[str, Any]:
        """The fields Aider's ``benchmark.py`` writes and its ``--stats`` reads, with its types."""
        outcomes = [t.passed for t in self.tries] or [False]  # older Aider reads tests_outcomes[-1]
        data: dict[str, Any] = {
            "testdir": self.name,
            "testcase": self.exercise,
            "model": self.model,
            "edit_format": "tool-calls",
            "tests_outcomes": outcomes,
            "cost": 0.0,
            "duration": self.agent_seconds,
            "test_timeouts": sum(1 for t in self.tries if t.tests.get("timed_out")),
            "commit_hash": self.commit,
            "num_error_outputs": int(self.totals("tool_errors_total")),
            "num_user_asks": 0,
            "num_exhausted_context_windows": int(self.totals("context_overflows")),
            "num_malformed_responses": int(self.totals("malformed_responses")),
            "syntax_errors": sum(int(t.tests.get("syntax_errors", 0)) for t in self.tries),
            "indentation_errors": sum(int(t.tests.get("indentation_errors", 0)) for t in self.tries),
            "lazy_comments": lazy_comments(self.solution_diff),
            "reasoning_effort": self.provenance.get("reasoning_effort"),
            "prompt_tokens": int(self.totals("prompt_tokens")),
            "completion_tokens": int(self.totals("completion_tokens")),
            "thinking_tokens": 0,
            "chat_hashes": [],
        }
        if self.error:
            data["exception"] = self.error
        return data

    def to_json(self) -> dict[str, Any]:
        """Aider's ``.aider.results.json`` fields, then ours under ``localcode``."""
        data = self.aider_fields()
        data["localcode"] = {
            "schema": SCHEMA,
            "language": self.language,
            "status": self.status,
            "max_tries": self.max_tries,
            "epoch": self.epoch,
            "epochs": self.epochs,
            "seed": self.seed,
            "error": self.error,
            "wall_seconds": self.wall_seconds,
            "started": self.started,
            "finished": self.finished,
            "tries": [asdict(t) for t in self.tries],
            "forgery": self.forgery(),
            "refused_paths": self.refused_paths,
            "final_test_output": self.final_test_output,
            "solution_diff": self.solution_diff,
            "transcript": self.transcript,
            "provenance": self.provenance,
        }
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExerciseResult:
        own = data["localcode"]
        return cls(
            language=own["language"],
            exercise=data["testcase"],
            model=data["model"],
            tries=[TryRecord(**t) for t in own["tries"]],
            max_tries=own.get("max_tries", 2),
            error=own.get("error"),
            wall_seconds=own.get("wall_seconds", 0.0),
            started=own.get("started", 0.0),
            finished=own.get("finished", 0.0),
            refused_paths=own.get("refused_paths", []),
            final_test_output=own.get("final_test_output", ""),
            solution_diff=own.get("solution_diff", ""),
            transcript=own.get("transcript", []),
            provenance=own.get("provenance", {}),
            commit=str(data.get("commit_hash") or ""),
            epoch=int(own.get("epoch", 1)),
            epochs=int(own.get("epochs", 1)),
            seed=own.get("seed"),
        )


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """temp file + rename: a kill -9 leaves either the old file or the new one, never half.
    The file gets the usual permissions (created 0666 less the umask, not mkstemp's 0600): run
    directories get shared."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(result: ExerciseResult, item_dir: Path) -> Path:
    path = item_dir / RESULTS_FILE
    write_atomic(path, result.to_json())
    return path


def load(item_dir: Path) -> ExerciseResult | None:
    """A saved result, or None when absent or unreadable (then the exercise is re-run)."""
    path = item_dir / RESULTS_FILE
    try:
        return ExerciseResult.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
