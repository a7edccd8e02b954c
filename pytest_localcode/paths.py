"""Where the project keeps installed extras and persistent caches.

``bin/setup`` installs toolchain extras (jest, JUnit jars, a pytest venv, prefetched crates) into
``tools/``; test runs keep build caches (Go, ccache, cargo targets, jest) in ``cache/``. Both live
under the state directory (``$LOCALCODE_HOME``, default ``<project>/.localcode``; one helper,
:func:`agent.config.state_dir`, for the agent and the harness) and are mounted into every sandbox
at fixed paths, so per-language commands never depend on where the project is checked out.
"""

from __future__ import annotations

from pathlib import Path

from agent.config import state_dir

__all__ = ["PROJECT_DIR", "SANDBOX_CACHE", "SANDBOX_TOOLS", "SANDBOX_WORK", "cache_dir", "state_dir", "tools_dir"]

PROJECT_DIR = Path(__file__).resolve().parent.parent
SANDBOX_TOOLS = "/opt/localcode/tools"
SANDBOX_CACHE = "/opt/localcode/cache"
SANDBOX_WORK = "/work"


def tools_dir() -> Path:
    return state_dir() / "tools"


def cache_dir() -> Path:
    return state_dir() / "cache"
