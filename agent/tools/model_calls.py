"""Side-channel tools that ask the model itself: plan_solution, ask_questions, ask_agent.

Each builds a fresh, tool-free conversation (a short system prompt and the request; for
ask_agent also the named workspace files, confined like every other path) and calls
``ModelCaller.ask``. None of them sends the run's history, so chat templates never see tool
calls without tools, and the answer depends only on what the model chose to send.
"""

from __future__ import annotations

from typing import Any

from agent.protocols import ModelCaller
from agent.tools.base import Call
from agent.tools.errors import PathRefused, ToolError
from agent.tools.fs import load_text

PLAN_SYSTEM = (
    "You are a senior software engineer. Write a concise implementation plan for the request: the exact "
    "API to implement (names, signatures, return values and errors expected by the tests), the edge "
    "cases, and 3-7 concrete steps. No full code unless a snippet is essential. Be brief."
)
QUESTION_SYSTEM = (
    "You are an expert programmer answering one self-contained question from a colleague. Answer "
    "directly and precisely; include a short code snippet only when it helps. Be brief."
)
AGENT_SYSTEM = (
    "You are an expert code reviewer consulted by a coding agent. You cannot run or change anything. "
    "Answer the request using the files provided; point to specific lines and give concrete fixes."
)
MAX_FILE_CHARS = 60000


def _caller(call: Call) -> ModelCaller:
    if call.ctx.model_caller is None:
        raise ToolError("unavailable", f"{call.ctx.display.get(call.tool, call.tool)} is not available in this run")
    return call.ctx.model_caller


def _ask(call: Call, system: str, user: str, *, max_tokens: int, temperature: float = 0.3) -> str:
    caller = _caller(call)
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        answer = caller.ask(messages, max_tokens=max_tokens, temperature=temperature)
    except Exception as exc:  # noqa: BLE001 - any failure of the side call is reported, not raised
        raise ToolError("model_call_failed", f"the model call failed: {type(exc).__name__}: {exc}") from None
    answer = (answer or "").strip()
    if not answer:
        raise ToolError("model_call_failed", "the model returned an empty answer")
    return answer


def plan_solution(call: Call, args: dict[str, Any]) -> str:
    return _ask(call, PLAN_SYSTEM, f"PLANNING REQUEST:\n{args['prompt']}", max_tokens=4000)


def ask_questions(call: Call, args: dict[str, Any]) -> str:
    """Each question on its own; one failing does not hide the other answers."""
    questions = [q.strip() for q in args["questions"] if q.strip()]
    if not questions:
        raise ToolError("missing_arg", "questions must contain at least one non-empty question")
    _caller(call)
    sections: list[str] = []
    failures = 0
    for n, question in enumerate(questions, 1):
        try:
            answer = _ask(call, QUESTION_SYSTEM, question, max_tokens=2000)
        except ToolError as exc:
            failures += 1
            answer = f"error: {exc.message}"
        sections.append(f"## Question {n}: {question}\n{answer}")
    text = "\n\n---\n\n".join(sections)
    if failures == len(questions):
        raise ToolError("model_call_failed", text)
    return text


def ask_agent(call: Call, args: dict[str, Any]) -> str:
    _caller(call)
    parts = [args["prompt"]]
    files: list[str] = []
    for raw in args.get("files") or []:
        try:
            target = call.ctx.workspace.resolve(raw)
            text = load_text(call, target)
        except ToolError as exc:
            if isinstance(exc, PathRefused):
                call.refused_path(exc)
            files.append(f"=== {str(raw)[:200]} ===\n({exc.message})")
            continue
        if len(text) > MAX_FILE_CHARS:
            text = text[:MAX_FILE_CHARS] + f"\n[... {len(text) - MAX_FILE_CHARS} characters cut ...]"
        files.append(f"=== {target.rel} ===\n{text}")
    if files:
        parts.append("FILES:\n" + "\n\n".join(files))
    return _ask(call, AGENT_SYSTEM, "\n\n".join(parts), max_tokens=4000)
