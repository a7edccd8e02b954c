"""The finish tool: the model's explicit "I am done" (or blocked), which ends the run."""

from __future__ import annotations

from typing import Any

from agent.tools.base import Call

STATUSES = ("done", "blocked", "incomplete")
_SYNONYMS = {
    "done": "done", "complete": "done", "completed": "done", "finished": "done", "ok": "done",
    "success": "done", "succeeded": "done", "solved": "done", "pass": "done", "passed": "done",
    "blocked": "blocked", "stuck": "blocked", "failed": "blocked", "failure": "blocked",
    "error": "blocked", "impossible": "blocked", "cannot": "blocked",
    "incomplete": "incomplete", "partial": "incomplete", "partially_done": "incomplete",
    "todo": "incomplete", "in_progress": "incomplete", "unfinished": "incomplete", "wip": "incomplete",
}


def normalise_status(raw: object) -> tuple[str, bool]:
    """(status, was_normalised); an unknown or missing status counts as done."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return "done", False
    key = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
    status = _SYNONYMS.get(key, "done")
    return status, status != raw


def finish(call: Call, args: dict[str, Any]) -> str:
    status, normalised = normalise_status(args.get("status"))
    call.finish = True
    call.finish_status = status
    note = ""
    if normalised:
        call.repairs.append(f"finish status {str(args.get('status'))[:40]!r} -> {status!r}")
        note = f" (status {str(args.get('status'))[:40]!r} read as {status!r})"
    return f"ok: finish recorded ({status}){note}"
