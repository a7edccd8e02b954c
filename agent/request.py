"""The chat-completions request body, built from the config.

Only fields a server understands are sent. The original agent sent ``cache``, ``think``,
``return_thinking``, ``tool_categories`` and ``max_batch_tool_calls`` as top-level fields that
llama-server ignores; here they map to what llama.cpp and mlx_lm actually read:
``cache`` → ``cache_prompt``, ``think`` → ``chat_template_kwargs.enable_thinking``,
``think_level`` → ``reasoning_effort``, ``max_batch_tool_calls: 1`` → ``parallel_tool_calls: false``.
``tool_choice`` is always a string: llama.cpp treats the object form as ``auto``.
With a ``grammar`` (``call_grammar``) the body carries no ``tools``: llama.cpp answers HTTP 400 to
a custom grammar next to tools, and the grammar already forces a call.
"""

from __future__ import annotations

from typing import Any

from agent.config import AgentConfig

SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "presence_penalty",
    "frequency_penalty",
    "repeat_penalty",
    "seed",
    "stop",
)
_PROTECTED = ("messages", "tools")  # request_overrides may not replace these


def string_tool_choice(value: Any) -> str | None:
    """Any tool_choice → a string llama.cpp honours (an object naming a function → "required")."""
    if value is None or isinstance(value, str):
        return value
    return "required"


def build_request(
    cfg: AgentConfig,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    *,
    model: str,
    max_tokens: int,
    force_tool: bool = False,
    grammar: str | None = None,
) -> dict[str, Any]:
    if grammar:
        tools = []
    body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": max_tokens, "stream": cfg.stream}
    if cfg.stream:
        body["stream_options"] = {"include_usage": True}
    for key in SAMPLING:
        value = getattr(cfg, key)
        if value is not None:
            body[key] = value
    if tools:
        body["tools"] = tools
        if cfg.tool_choice is not None:
            body["tool_choice"] = cfg.tool_choice
        if cfg.max_batch_tool_calls == 1:
            body["parallel_tool_calls"] = False
    if grammar:
        body["grammar"] = grammar
    if isinstance(cfg.cache, bool):
        body["cache_prompt"] = cfg.cache
    if isinstance(cfg.think, bool):
        body["chat_template_kwargs"] = {"enable_thinking": cfg.think}
    if cfg.reasoning_effort:
        body["reasoning_effort"] = cfg.reasoning_effort
    for key, value in cfg.request_overrides.items():
        if key in _PROTECTED:
            continue
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    choice = string_tool_choice(body.pop("tool_choice", None))
    if tools and (force_tool or choice is not None):
        body["tool_choice"] = "required" if force_tool else choice
    return body


def summary(body: dict[str, Any]) -> dict[str, Any]:
    """The request without messages and tools, for logs."""
    out = {k: v for k, v in body.items() if k not in ("messages", "tools")}
    out["n_messages"] = len(body.get("messages", []))
    out["n_tools"] = len(body.get("tools", []))
    if "grammar" in out:
        out["grammar"] = f"{len(out['grammar'])} chars"
    return out
