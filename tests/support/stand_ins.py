"""Helpers for server lifecycle tests: stand-in executables, their logs, and /proc inspection.

The stand-ins (:mod:`tests.support.fake_llama_server`, :mod:`tests.support.fake_mlx_server`)
are Python modules; the harness wants an executable path (``LLAMA_SERVER`` / ``MLX_SERVER``),
so :func:`wrapper` writes a two-line shell script that runs the module with this venv.
Processes are found through ``/proc`` by ancestry, never by name alone: other runs on the same
machine may have llama-servers of their own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AGENT_CONFIGS = ROOT / "tests" / "support" / "agent-configs"


def wrapper(directory: Path, module: str, name: str) -> Path:
    """An executable ``directory/name`` that runs ``python -m module "$@"`` from the project root."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(
        "#!/bin/sh\n"
        f"PYTHONPATH={ROOT}${{PYTHONPATH:+:$PYTHONPATH}} exec {sys.executable} -m {module} \"$@\"\n"
    )
    path.chmod(0o755)
    return path


def fake_llama_env(tmp: Path, dataset: Path, **extra: str) -> dict[str, str]:
    """Environment for a run whose ``llama-server`` is the stand-in (model: an empty file)."""
    model = tmp / "fake.gguf"
    tmp.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"GGUF")
    env = {
        "LLAMA_SERVER": str(wrapper(tmp / "bin", "tests.support.fake_llama_server", "llama-server")),
        "FAKE_LLAMA_MODEL": str(model),
        "FAKE_LLAMA_ARGV_LOG": str(tmp / "argv.jsonl"),
        "FAKE_LLAMA_REQUEST_LOG": str(tmp / "requests.jsonl"),
        "FAKE_LLAMA_DATASET": str(dataset),
    }
    env.update(extra)
    return env


def jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _parent(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [part.decode(errors="replace") for part in fh.read().split(b"\0") if part]
    except OSError:
        return []


def descendants_named(root: int, name: str) -> dict[int, list[str]]:
    """Live processes below ``root`` whose argv[0] ends with ``name``: pid → argv."""
    found: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        argv = cmdline(pid)
        if not argv or not argv[0].endswith(name) or not pid_alive(pid):
            continue
        ancestor, hops = _parent(pid), 0
        while ancestor > 1 and ancestor != root and hops < 64:
            ancestor, hops = _parent(ancestor), hops + 1
        if ancestor == root:
            found[pid] = argv
    return found


def wait_for(condition: Callable[[], object], seconds: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
