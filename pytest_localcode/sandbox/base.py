"""The seam between the harness and whatever isolates the code an LLM wrote.

A :class:`SandboxFactory` is created once per pytest process; it opens one :class:`Sandbox` per
directory (the agent's workspace, or a grading copy). A sandbox sees that directory at
``workdir`` and nothing else of the run: not the dataset, not other exercises, not the project.
A sandbox is the agent's :class:`agent.protocols.CommandRunner` (one protocol for the grader's
test commands and the agent's ``shell`` tool) and returns its :class:`ExecResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from agent.protocols import CommandRunner, ExecResult

__all__ = ["ExecResult", "Limits", "Sandbox", "SandboxFactory", "command_argv", "join_cut", "kill_notes",
           "read_capped", "split_cwd"]


@dataclass(frozen=True)
class Limits:
    """Hard limits for one command (memory for the whole process tree)."""

    memory_mb: int = 4096
    # java/bank-account's own test starts 1000 threads at once (plus the JVM's); a fork bomb is
    # stopped by any finite cap
    pids: int = 2048
    cpus: float = 2.0
    output_bytes: int = 2_000_000


@runtime_checkable
class Sandbox(CommandRunner, Protocol):
    """A CommandRunner over one directory: ``exec`` runs with ``cwd`` relative to ``workdir``."""

    kind: str
    workdir: str

    def close(self) -> None: ...


class SandboxFactory(Protocol):
    kind: str

    def open(self, directory: Path, *, name: str, worker: str = "main", scratch: Path | None = None) -> Sandbox:
        """A sandbox over ``directory``, mounted as ``<work root>/<name>``.

        ``scratch`` (for the agent's shell): a private build cache instead of the shared one, so
        nothing another exercise built is visible; tests use the shared cache (scratch=None).
        """
        ...

    def close(self) -> None: ...


def command_argv(command: str | Sequence[str]) -> list[str]:
    """A shell string runs under ``bash -c``; an argv runs as given."""
    return ["/bin/bash", "-c", command] if isinstance(command, str) else list(command)


def split_cwd(workdir: str, cwd: str | None) -> tuple[str, str]:
    """(``cwd`` relative to the work directory, ``"."`` for itself; the same path inside the sandbox)."""
    rel = (cwd or ".").strip("/") or "."
    return rel, workdir if rel == "." else f"{workdir}/{rel}"


def read_capped(path: Path, limit: int) -> tuple[str, bool]:
    """Head and tail of a command's output file, so a flood of output cannot exhaust memory."""
    size = path.stat().st_size if path.exists() else 0
    with open(path, "rb") as fh:
        if size <= limit:
            return fh.read().decode("utf-8", "replace"), False
        head = fh.read(limit // 2)
        fh.seek(size - limit // 2)
        tail = fh.read()
    return join_cut(head, tail, size), True


def join_cut(head: bytes, tail: bytes, size: int) -> str:
    """The head and tail of ``size`` bytes of output, with how much was cut between them."""
    cut = size - len(head) - len(tail)
    return head.decode("utf-8", "replace") + f"\n...[{cut} bytes of output cut]...\n" + tail.decode("utf-8", "replace")


def kill_notes(limits: Limits, timeout: float, timed_out: bool, oom: bool) -> str:
    """What the sandbox appends to a command's output when it killed the command."""
    notes = f"\n[localcode] killed: timed out after {timeout:.0f}s\n" if timed_out else ""
    if oom:
        notes += f"\n[localcode] killed: out of memory (limit {limits.memory_mb} MB)\n"
    return notes
