"""Where the project keeps installed extras and persistent caches.

``bin/setup`` installs toolchain extras (jest, JUnit jars, a pytest venv, prefetched crates) into
``tools/``; test runs keep build caches (Go, ccache, cargo targets, jest) in ``cache/``. Both live
under ``$LOCALCODE_HOME`` (default ``<project>/.localcode``) and are mounted into every sandbox at
fixed paths, so per-language commands never depend on where the project is checked out.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
SANDBOX_TOOLS = "/opt/localcode/tools"
SANDBOX_CACHE = "/opt/localcode/cache"
SANDBOX_WORK = "/work"


def state_dir() -> Path:
    return Path(os.environ.get("LOCALCODE_HOME", PROJECT_DIR / ".localcode")).expanduser().resolve()


def tools_dir() -> Path:
    return state_dir() / "tools"


def cache_dir() -> Path:
    return state_dir() / "cache"
