"""The system prompt and the optional few-shot exchange, from the config's files.

Prompt files name tools through placeholders so one prompt serves configs whose tools are shown
under different names: ``{{TOOLS}}`` becomes one line per enabled tool, ``{{tool:read}}`` the
name the model sees for ``read`` (``read_file`` under ``tool_name_style: alias``...). The few-shot
file (a JSON list of messages) gets the same expansion; small models need one worked example
exchange before they emit structured tool calls at all (notes/llama.md §5).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
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


def _overlay(cfg: AgentConfig, workspace: Path) -> str | None:
    """An overlay file chosen by $LOCALCODE_PROMPT_OVERLAY or by a key naming the workspace."""
    wanted = os.environ.get("LOCALCODE_PROMPT_OVERLAY", "")

    def norm(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")

    for key, rel in cfg.prompt_overlays.items():
        if key == wanted or (norm(key) and norm(key) in norm(workspace.name)):
            return rel
    return None


def _read(cfg: AgentConfig, key: str, rel: str) -> str:
    path = cfg.resolve(rel)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{cfg.name}: key '{key}': cannot read {rel} ({exc.strerror or exc})") from exc


def system_prompt(cfg: AgentConfig, schemas: list[dict[str, Any]], resolve: Resolver, workspace: Path) -> str:
    text = _read(cfg, "prompt", cfg.prompt)
    overlay = _overlay(cfg, workspace)
    if overlay:
        text = text.rstrip() + "\n\n" + _read(cfg, "prompt_overlays", overlay)
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
