"""What the agent tells the model besides the task: the system prompt, the few-shot exchange,
and the feedback after a format error.

Prompt files name tools through placeholders so one prompt serves configs whose tools are shown
under different names: ``{{TOOLS}}`` becomes one line per enabled tool, ``{{tool:read}}`` the
name the model sees for ``read`` (``read_file`` under ``tool_name_style: alias``...). The few-shot
file (a JSON list of messages) gets the same expansion; small models need one worked example
exchange before they emit structured tool calls at all.

Format retries: each reason has its own attempt counter, capped by ``max_format_retries``; the
attempt shown to the model starts at 1 and is counted once. A retry also forces
``tool_choice: "required"`` on the next request (the loop does that).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from agent.config import AgentConfig, ConfigError

_PLACEHOLDER = re.compile(r"\{\{\s*tool:([\w\-.]+)\s*\}\}")
Resolver = Callable[[str], str | None]


def name_map(configured: list[str], display: list[str], canonical: Resolver | None = None) -> Resolver:
    """A function: any spelling of an enabled tool → the name the model sees (else None)."""
    table: dict[str, str] = {}
    for listed, shown in zip(configured, display):
        table[listed] = table[shown] = shown
        if canonical is not None and (canon := canonical(listed)):
            table.setdefault(canon, shown)

    def resolve(name: str) -> str | None:
        if name in table:
            return table[name]
        if canonical is not None and (canon := canonical(name)) and canon in table:
            return table[canon]
        return None

    return resolve


def _describe(schema: dict[str, Any]) -> str:
    fn = schema.get("function", schema)
    props = (fn.get("parameters") or {}).get("properties") or {}
    required = set((fn.get("parameters") or {}).get("required") or ())
    params = ", ".join(p if p in required else f"{p}?" for p in props)
    desc = " ".join((fn.get("description") or "").split())
    first = re.split(r"(?<=\.)\s", desc, maxsplit=1)[0] if desc else ""
    return f"- {fn.get('name', '?')}({params})" + (f": {first}" if first else "")


def expand(text: str, schemas: list[dict[str, Any]], resolve: Resolver) -> str:
    text = text.replace("{{TOOLS}}", "\n".join(_describe(s) for s in schemas))
    return _PLACEHOLDER.sub(lambda m: resolve(m.group(1)) or m.group(1), text)


def _read(cfg: AgentConfig, key: str, rel: str) -> str:
    path = cfg.resolve(rel)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{cfg.name}: key '{key}': cannot read {rel} ({exc.strerror or exc})") from exc


def system_prompt(cfg: AgentConfig, schemas: list[dict[str, Any]], resolve: Resolver,
                  overlay: str | None = None) -> str:
    """The config's prompt, plus the file ``prompt_overlays[overlay]`` names when that key exists
    (the harness passes the exercise's name, e.g. ``javascript/react``; the CLI its ``--overlay``)."""
    text = _read(cfg, "prompt", cfg.prompt)
    if overlay and overlay in cfg.prompt_overlays:
        text = text.rstrip() + "\n\n" + _read(cfg, "prompt_overlays", cfg.prompt_overlays[overlay])
    return expand(text, schemas, resolve).strip()


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text or "{}"), dict)
    except ValueError:
        return False


def few_shot(cfg: AgentConfig, schemas: list[dict[str, Any]], resolve: Resolver) -> list[dict[str, Any]]:
    """The example exchange, validated so a broken file fails at start, not as an HTTP 500."""
    if not cfg.few_shot:
        return []
    raw = expand(_read(cfg, "few_shot", cfg.few_shot), schemas, resolve)
    try:
        messages = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{cfg.name}: key 'few_shot': {cfg.few_shot} is not valid JSON ({exc})") from exc
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise ConfigError(f"{cfg.name}: key 'few_shot': {cfg.few_shot} must be a JSON list of message objects")
    pending: set[str] = set()
    for n, msg in enumerate(messages):
        role = msg.get("role")
        if role not in ("user", "assistant", "tool", "system"):
            raise ConfigError(f"{cfg.name}: key 'few_shot': message {n} has role {role!r}")
        if role == "tool":
            pending.discard(msg.get("tool_call_id", ""))
            continue
        if pending:
            raise ConfigError(
                f"{cfg.name}: key 'few_shot': message {n}: tool call(s) {sorted(pending)} have no tool result"
            )
        for call in msg.get("tool_calls") or ():
            args = call.get("function", {}).get("arguments")
            if isinstance(args, dict):
                call["function"]["arguments"] = json.dumps(args)
            elif not isinstance(args, str) or not _is_object(args):
                raise ConfigError(f"{cfg.name}: key 'few_shot': message {n}: arguments must be a JSON object")
            call.setdefault("type", "function")
            pending.add(call.get("id", ""))
        msg.setdefault("content", "")
    if pending:
        raise ConfigError(f"{cfg.name}: key 'few_shot': tool call(s) {sorted(pending)} have no tool result")
    return messages


REASONS = {
    "no_tool_call": "you answered without calling a tool. Respond with a tool call now.",
    "code_change": "no file has been changed yet. Make the code change now with a tool call.",
    "finish_without_change": "finish was called before any file was changed. Change the code first, then call finish.",
    "analysis_only": "your response held only analysis, no tool call and no answer. Respond with a tool call now.",
    "empty": "your response was empty (or cut off by the token limit). Respond with a short tool call now.",
    "incomplete_call": "your last tool call was cut off by the token limit before it was complete, so it was not "
                       "run. Send it again, smaller (write a long file in parts: the start, then edits that add the "
                       "rest).",
}
WRITE_TOOLS = ("apply_patch", "edit", "write")


class FormatRetries:
    """Attempts per format-error reason in one run, and the message each attempt sends."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.used: Counter[str] = Counter()

    def take(self, reason: str) -> int | None:
        """The attempt number (1-based) for ``reason``, or None when its retries are spent."""
        group = "code_change" if reason == "finish_without_change" else reason
        if self.used[group] >= self.limit:
            return None
        self.used[group] += 1
        return self.used[group]

    def message(self, reason: str, attempt: int, tools: list[str], write_tools: list[str]) -> str:
        text = f"FORMAT ERROR (attempt {attempt}/{self.limit}): {REASONS[reason]}"
        if reason in ("code_change", "finish_without_change") and write_tools:
            return text + f" Use one of: {', '.join(write_tools)}."
        return text + (f" Available tools: {', '.join(tools)}." if tools else "")
