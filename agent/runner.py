"""A plain local :class:`CommandRunner` for the CLI's ``shell`` tool.

No isolation: the CLI runs where the user runs it, like any coding agent on a workstation (the
harness passes its sandbox instead). What it does guarantee: the command runs in the workspace,
it is killed with its whole process group at the timeout (a stuck ``npm test`` must not outlive
the agent), and its output is capped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LocalOutcome:
    exit_code: int
    output: str
    duration: float
    timed_out: bool = False


class LocalRunner:
    def __init__(self, workspace: Path, *, max_output: int = 200_000) -> None:
        self.workspace = workspace.resolve()
        self.max_output = max_output

    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> LocalOutcome:
        workdir = (self.workspace / cwd).resolve() if cwd else self.workspace
        if workdir != self.workspace and self.workspace not in workdir.parents:
            return LocalOutcome(126, f"cwd {cwd!r} is outside the workspace", 0.0)
        started = time.monotonic()
        proc = subprocess.Popen(
            command,
            shell=isinstance(command, str),
            cwd=workdir,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
        )
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, _ = proc.communicate()
        text = out.decode("utf-8", "replace")
        if len(text) > self.max_output:
            half = self.max_output // 2
            text = text[:half] + f"\n...[{len(text) - self.max_output} chars cut]...\n" + text[-half:]
        return LocalOutcome(124 if timed_out else proc.returncode, text, time.monotonic() - started, timed_out)
