"""The seams of the localcode agent, so that tests and the harness can swap any side.

* :class:`ChatClient` talks to an OpenAI-compatible server (the real one: :class:`agent.client.HttpChatClient`).
* :class:`ToolBox` turns a model's tool call (name + raw arguments) into a :class:`ToolOutcome`.
* :class:`CommandRunner` runs the ``shell`` tool's commands (the harness passes its sandbox).
* :class:`ModelCaller` lets side-channel tools (plan_solution, ask_questions) ask the model.
* :class:`AgentLimits` and :class:`RunResult` are what a caller hands :meth:`agent.loop.Agent.run`
  and gets back.

Everything that crosses a seam is plain data (dataclasses of builtins), so it serialises into
logs and across pytest-xdist workers without custom encoders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


# --------------------------------------------------------------------------------------------
# Chat


@dataclass
class ToolCall:
    """One tool call as the model sent it; ``arguments`` is the raw JSON text (may be broken)."""

    id: str
    name: str
    arguments: str


@dataclass
class ChatResponse:
    """One assistant response, streamed or not, with the server's accounting."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    # OpenAI ``usage``: prompt_tokens, completion_tokens, total_tokens, and
    # prompt_tokens_details.cached_tokens when the server sends it.
    usage: dict[str, Any] = field(default_factory=dict)
    # llama.cpp ``timings``: prompt_n, prompt_ms, predicted_n, predicted_ms, *_per_second, cache_n.
    timings: dict[str, Any] = field(default_factory=dict)
    model: str = ""
    request_id: str = ""
    elapsed: float = 0.0  # seconds from request sent to last byte
    first_token: float | None = None  # seconds to first streamed delta


class ChatError(Exception):
    """A request failed for good (after retries); ``status`` and ``body`` come from the server."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "", kind: str = "http"):
        super().__init__(message)
        self.status = status
        self.body = body
        # "http" (4xx/5xx), "connection", "timeout" (read/deadline), "context_overflow", "protocol"
        self.kind = kind


@runtime_checkable
class ChatClient(Protocol):
    def complete(
        self,
        request: dict[str, Any],
        *,
        deadline: float | None = None,
        on_delta: Callable[[str, str], None] | None = None,
    ) -> ChatResponse:
        """POST ``request`` to /v1/chat/completions; ``deadline`` is a ``time.monotonic()`` value.

        ``on_delta(kind, text)`` (kind: "content" | "reasoning") is called while streaming.
        Raises :class:`ChatError`.
        """
        ...


# --------------------------------------------------------------------------------------------
# Commands (the shell tool, and the harness's sandboxes)


@dataclass
class ExecResult:
    """What running one command produced."""

    exit_code: int
    output: str  # stdout and stderr interleaved, possibly cut in the middle (``truncated``)
    duration: float
    timed_out: bool = False
    oom_killed: bool = False
    truncated: bool = False


@runtime_checkable
class CommandRunner(Protocol):
    """Runs a command with the workspace as working directory (``cwd`` is relative to it).

    A shell string runs under bash, a sequence as an argv. The harness's sandboxes are
    CommandRunners too (``pytest_localcode.sandbox.base.Sandbox`` extends this protocol).
    """

    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult: ...


# --------------------------------------------------------------------------------------------
# Tools


@dataclass
class ToolOutcome:
    """What executing one tool call produced."""

    text: str  # the tool message the model sees
    tool: str = ""  # canonical tool name ("" when the name was unknown)
    is_error: bool = False
    # Error kinds (stable strings, counted in reports): unknown_tool, invalid_json, invalid_args,
    # missing_arg, path_refused, not_found, read_only, is_directory, old_string_not_found,
    # old_string_not_unique, no_change, patch_invalid, patch_context_not_found,
    # patch_context_not_unique, repeated_noop, invalid_regex, shell_failed, timeout, too_large, other
    error_kind: str | None = None
    changed_files: list[str] = field(default_factory=list)  # workspace-relative paths written
    finish: bool = False  # the finish tool was called
    finish_status: str | None = None
    refused_paths: list[str] = field(default_factory=list)  # access attempts outside the workspace
    repairs: list[str] = field(default_factory=list)  # argument repairs applied (json, aliases…)
    duration: float = 0.0
    # The arguments as parsed from the model's text (JSON repairs applied, names as the model
    # wrote them); None when they were beyond repair or the call never got that far.
    arguments: dict[str, Any] | None = None


class ModelCaller(Protocol):
    """Side channel for reasoning tools: one plain completion, no tools."""

    def ask(self, messages: list[dict[str, Any]], *, max_tokens: int, temperature: float) -> str: ...


@runtime_checkable
class ToolBox(Protocol):
    def schemas(self) -> list[dict[str, Any]]:
        """OpenAI ``tools`` entries for the enabled tools, in config order, display names applied."""
        ...

    def display_names(self) -> list[str]: ...

    def execute(self, name: str, arguments: str | dict[str, Any]) -> ToolOutcome:
        """Run one call with the model's raw ``arguments`` (JSON text, possibly broken), repairing
        what can be repaired. Never raises: every failure is an error outcome the model can read."""
        ...


# --------------------------------------------------------------------------------------------
# A run


@dataclass(frozen=True)
class AgentLimits:
    """Caller-imposed limits; None means "the config's value" (max_turns) or "no limit"."""

    max_turns: int | None = None
    max_seconds: float | None = None
    max_total_tokens: int | None = None


@dataclass
class RunResult:
    """One run's outcome; ``stop_reason`` is one of those listed on :class:`agent.loop.Stop`."""

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
