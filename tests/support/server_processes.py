"""Scripted model servers as processes of their own, each with a ledger of the requests it served.

Tests and benchmarks of several servers need servers that are really separate (killed with
SIGKILL, their connections dropped, their own record of what they served), not threads of the
test process. Each one runs ``python -m tests.support.scripted_server`` with a factory script
from :mod:`tests.support.models` and ``--ledger``; :meth:`ServerProcess.ledger` reads it back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.stand_ins import jsonl

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServerProcess:
    url: str
    proc: subprocess.Popen[str]
    ledger_path: Path

    def ledger(self) -> list[dict[str, Any]]:
        return jsonl(self.ledger_path)

    def kill(self) -> None:
        """SIGKILL: as a crashed server, its open connections drop at once."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


@contextmanager
def scripted_processes(ledgers: list[Path], slots: list[int], *, factory: str, kwargs: dict[str, Any],
                       latency: float = 0.0) -> Iterator[list[ServerProcess]]:
    """One scripted server process per ledger, serving at most its ``slots`` requests at once."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))}
    started: list[ServerProcess] = []
    try:
        for path, n in zip(ledgers, slots, strict=True):
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.scripted_server", "--callable", factory, "--callable-kwargs",
                 json.dumps(kwargs), "--slots", str(n), "--limit-slots", "--latency", str(latency), "--repeat",
                 "--ledger", str(path)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            line = proc.stdout.readline() if proc.stdout else ""
            if not line.startswith("SCRIPTED_SERVER_URL="):
                proc.kill()
                raise RuntimeError(f"scripted server did not start: {line!r}")
            started.append(ServerProcess(line.strip().split("=", 1)[1], proc, path))
        yield started
    finally:
        for server in started:
            if server.proc.poll() is None:
                server.proc.terminate()
                try:
                    server.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
            if server.proc.stdout:
                server.proc.stdout.close()
