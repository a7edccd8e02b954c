"""Where a run's numbers came from: enough to reproduce it or to see why two runs differ.

Model file (path, size, sha256), server build and full command line, the resolved agent config
and its sampling settings, the project's git commit, the dataset's commit, and the machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest_localcode
from pytest_localcode.paths import PROJECT_DIR

SAMPLING_KEYS = ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
                 "repeat_penalty", "seed", "max_tokens", "stop", "tool_choice")


# Run settings that change what an exercise's result can be (merge refuses runs that differ in them).
LIMIT_KEYS = ("tries", "max_turns", "max_tokens", "agent_timeout", "test_timeout")


def git_commit(path: Path, short: bool = False) -> str:
    """HEAD of the checkout at ``path`` (``-dirty`` when tracked files changed), or "" outside git."""
    try:
        args = ["rev-parse", "--short=7", "HEAD"] if short else ["rev-parse", "HEAD"]
        out = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    if out.returncode != 0:
        return ""
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def exercise_digest(path: Path, files: list[str]) -> str:
    """A fingerprint of an exercise's files (names and contents): two runs can be compared
    exercise by exercise only where their exercises were the same."""
    digest = hashlib.sha256()
    for rel in files:
        file = path / rel
        digest.update(rel.encode() + b"\0")
        digest.update(os.readlink(file).encode() if file.is_symlink() else file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        info["cpu"] = platform.processor()
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            info["gpu"] = [g.strip() for g in out.stdout.splitlines() if g.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    if sys.platform == "darwin":
        info["gpu"] = ["Apple Silicon (Metal)"] if platform.machine() == "arm64" else []
    return info


def agent_section(model: str) -> dict[str, Any]:
    """The resolved agent config (every key), and its sampling settings on their own."""
    if model in ("oracle", "nop"):
        return {"config": None, "sampling": {}}
    from agent import load_config

    cfg = load_config(model)
    resolved = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else dict(vars(cfg))
    sampling = {k: resolved.get(k) for k in SAMPLING_KEYS if resolved.get(k) is not None}
    return {"config": resolved, "sampling": sampling}


def collect(settings: Any, sandbox: str, args: list[str], selected: int | None = None) -> dict[str, Any]:
    """The run's provenance; ``selected``: how many exercise runs (exercises x epochs) this
    session set out to do (what a leaderboard compares with the results to flag a partial run)."""
    from pytest_localcode.epochs import epoch_seed
    from pytest_localcode.gguf import describe as gguf_describe

    agent = agent_section(settings.model)
    server = settings.server_info or ({"url": settings.server_url, "kind": "external"} if settings.server_url else None)
    if server and server.get("model_path"):
        server = {**server, "gguf": gguf_describe(server["model_path"])}
    return {
        "model": settings.model,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "localcode_version": pytest_localcode.__version__,
        "git_commit": git_commit(PROJECT_DIR),
        "dataset": str(settings.dataset),
        "dataset_commit": git_commit(settings.dataset),
        "tries": settings.tries,
        "epochs": settings.epochs,
        "seed": None if agent["config"] is None else epoch_seed(settings.seed, 1),
        "selected": selected,
        "sandbox": sandbox,
        "run_dir": str(settings.run_dir),
        "command": args,
        "server": server,
        "agent_config": agent["config"],
        "sampling": agent["sampling"],
        "machine": machine(),
        "limits": {k: getattr(settings, k, None) for k in LIMIT_KEYS},
        "servers": [{k: v for k, v in s.items() if k != "info"} for s in getattr(settings, "servers", [])],
        "shard": getattr(settings, "shard", None),
        "preflight": getattr(settings, "preflight", None) or [],
        "determinism": getattr(settings, "determinism", None),
    }
