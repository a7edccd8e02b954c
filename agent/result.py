"""What a run takes as limits and gives back: plain data, picklable across xdist workers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STOP_REASONS = (
    "finish",  # the model called the finish tool
    "answer",  # the model answered in text, all requirements met
    "max_turns",
    "deadline",
    "token_limit",
    "noop_guard",  # the model kept repeating itself or changing nothing
    "format_retries_exhausted",
    "error",  # server/transport failure; ``error`` says what
)


@dataclass(frozen=True)
class AgentLimits:
    """Caller-imposed limits; None means "the config's value" (max_turns) or "no limit"."""

    max_turns: int | None = None
    max_seconds: float | None = None
    max_total_tokens: int | None = None


@dataclass
class RunResult:
    stop_reason: str
    error: str | None = None  # one line: HTTP status + server message, or what went wrong
    final_text: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)  # transcript, system prompt excluded
    refused_paths: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    log_files: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.stop_reason in ("finish", "answer")
