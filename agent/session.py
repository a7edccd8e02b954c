"""Sessions: the transcript of one task, so that try 2 continues try 1.

The original agent picked "the latest session file of this agent", which under concurrency or a
different task resumed the wrong history. Here the caller names the file (the harness keys it by
exercise; the CLI by workspace and agent), and a save is atomic so an interrupted run never
leaves half a JSON file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any


def default_session_file(root: Path, workspace: Path, agent_name: str) -> Path:
    """``<root>/sessions/<workspace name>-<hash of its path>/<agent>.json``."""
    ws = workspace.resolve()
    key = f"{ws.name}-{hashlib.sha1(str(ws).encode()).hexdigest()[:10]}"
    return root / "sessions" / key / (agent_name.replace("/", "_") + ".json")


def load_session(path: Path | None) -> list[dict[str, Any]]:
    """The saved messages, or [] when there is no (readable) session."""
    if path is None or not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    messages = data.get("messages") if isinstance(data, dict) else None
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def save_session(path: Path, *, agent: str, model: str, workspace: Path, messages: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = time.time()
    if path.is_file():
        try:
            created = json.loads(path.read_text(encoding="utf-8")).get("created", created)
        except (OSError, ValueError, AttributeError):
            pass
    data = {
        "agent": agent,
        "model": model,
        "workspace": str(workspace),
        "created": created,
        "updated": time.time(),
        "messages": messages,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)
