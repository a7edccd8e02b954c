"""What a run leaves on disk: its log files, and the session that lets the next run continue it.

Log files are named timestamp-first so a directory listing is a timeline:

* ``<base>.jsonl``: one event per line (session_start, request, response, tool_call,
  tool_result, feedback, usage, stop, ...), small payloads, written as they happen;
* ``<base>.log``: the transcript for humans, written at the end;
* ``<base>.raw.json``: the exact last request payload (to replay it with curl);
* ``<base>.history.raw.json``: system prompt, few-shot and the full transcript.

Events also go to the caller's ``on_event`` callback (live progress in the harness); a failing
callback is reported once and never breaks the run.

A session is the transcript of one task, so that try 2 continues try 1. The caller names the
file (the harness keys it by exercise, the CLI by workspace and agent: resuming "the latest
session" would pick up another task's history under concurrency), and a save is atomic so an
interrupted run never leaves half a JSON file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

EventCallback = Callable[[dict[str, Any]], None]


def preview(text: str, limit: int = 200) -> str:
    text = text or ""
    return text if len(text) <= limit else text[:limit] + f"…(+{len(text) - limit})"


def _base_name(log_dir: Path, agent: str) -> Path:
    now = time.time()
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.localtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    stem = f"{stamp}_localcode_{agent.replace('/', '_')}"
    n = 1
    while True:
        base = log_dir / (stem if n == 1 else f"{stem}-{n}")
        try:
            open(base.with_name(base.name + ".jsonl"), "x").close()  # claim the name atomically
            return base
        except FileExistsError:
            n += 1


class RunLog:
    def __init__(self, log_dir: Path | None, agent: str, on_event: EventCallback | None = None) -> None:
        self.on_event = on_event
        self.paths: dict[str, str] = {}
        self._fh: IO[str] | None = None
        self._last_request: dict[str, Any] | None = None
        self._callback_failed = False
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            base = _base_name(log_dir, agent)
            self.paths = {
                kind: str(base.with_name(base.name + suffix))
                for kind, suffix in (
                    ("jsonl", ".jsonl"),
                    ("log", ".log"),
                    ("raw", ".raw.json"),
                    ("history", ".history.raw.json"),
                )
            }
            self._fh = open(self.paths["jsonl"], "a", encoding="utf-8")

    def event(self, kind: str, /, **payload: Any) -> dict[str, Any]:
        record = {"ts": round(time.time(), 3), "event": kind, **payload}
        if self._fh is not None:
            self._fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        if self.on_event is not None:
            try:
                self.on_event(record)
            except Exception as exc:  # noqa: BLE001 - a caller's bug must not end the run
                if not self._callback_failed:
                    self._callback_failed = True
                    if self._fh is not None:
                        self._fh.write(
                            json.dumps({"ts": time.time(), "event": "on_event_error", "error": repr(exc)}) + "\n"
                        )
        return record

    def last_request(self, body: dict[str, Any]) -> None:
        self._last_request = body

    def close(self, system: str, few_shot: list[dict[str, Any]], transcript: list[dict[str, Any]]) -> None:
        if self._fh is None:
            return
        self._fh.close()
        self._fh = None
        history = [{"role": "system", "content": system}, *few_shot, *transcript]
        _write_json(self.paths["raw"], self._last_request if self._last_request is not None else {"messages": history})
        _write_json(self.paths["history"], history)
        Path(self.paths["log"]).write_text(render(history), encoding="utf-8")


def _write_json(path: str, data: Any) -> None:
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


def render(messages: list[dict[str, Any]]) -> str:
    """The transcript as plain text: roles, thinking, content, tool calls with pretty arguments."""
    out: list[str] = []
    for n, msg in enumerate(messages):
        head = f"=== [{n}] {str(msg.get('role', '?')).upper()}"
        if msg.get("tool_call_id"):
            head += f" ({msg.get('name', '')} {msg['tool_call_id']})"
        out.append(head + " ===")
        if msg.get("reasoning_content"):
            out += ["--- THINKING ---", msg["reasoning_content"].rstrip(), "--- END THINKING ---"]
        if msg.get("content"):
            out.append(str(msg["content"]).rstrip())
        for call in msg.get("tool_calls") or ():
            fn = call.get("function", {})
            out.append(f">>> TOOL CALL: {fn.get('name')} ({call.get('id')})")
            try:
                out.append(json.dumps(json.loads(fn.get("arguments") or "{}"), indent=2, ensure_ascii=False))
            except ValueError:
                out.append(str(fn.get("arguments")))
        out.append("")
    out.append(f"END ({len(messages)} messages)")
    return "\n".join(out) + "\n"


# -- sessions --------------------------------------------------------------------------------
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
