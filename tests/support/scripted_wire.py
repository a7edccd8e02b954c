"""What the scripted server puts on the wire, shaped like llama-server b11434.

Kept apart from the HTTP plumbing so the shapes can be read (and unit-tested) on their own:
:func:`render_json` builds a non-streaming ``chat.completion`` body, :func:`render_chunks` the
SSE ``chat.completion.chunk`` sequence, and :func:`accounting` the deterministic ``usage`` and
``timings`` numbers that tests compare the agent's metrics against.
"""

from __future__ import annotations

import json
from typing import Any

from agent.probe import PROBE_MARK, WARM_UP_MARK

# Per-token costs of the fake model. Binary fractions, so sums of floats stay exact.
PROMPT_MS_PER_TOKEN = 0.5  # 2000 tok/s prefill
PREDICTED_MS_PER_TOKEN = 12.5  # 80 tok/s decode


def tool_call(name: str, arguments: dict[str, Any] | str | None = None, *, id: str | None = None) -> dict[str, Any]:
    """A tool-call entry for a response spec (``arguments`` may be a raw, even broken, string)."""
    call: dict[str, Any] = {"name": name, "arguments": {} if arguments is None else arguments}
    if id is not None:
        call["id"] = id
    return call


def arguments_text(arguments: dict[str, Any] | str) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def content_call(call: dict[str, Any]) -> str:
    """Render ``call_in_content`` the way various chat templates leak calls into ``content``."""
    name, args = call["name"], arguments_text(call.get("arguments", {}))
    body = f'{{"name": {json.dumps(name)}, "arguments": {args}}}'
    style = call.get("style", "tool_call")
    if style == "tool_call":  # Qwen / Hermes
        return f"<tool_call>\n{body}\n</tool_call>"
    if style == "tool_calls":  # section style (our gemma/smollm templates)
        return f"<tool_calls>\n[{body}]\n</tool_calls>"
    if style == "mistral":
        return f"[TOOL_CALLS][{body}]"
    if style == "fenced":
        return f"I will call a tool.\n```json\n{body}\n```"
    if style == "harmony":
        return f"<|channel|>commentary to=functions.{name} <|constrain|>json<|message|>{args}<|call|>"
    if style == "function":  # Qwen3-Coder XML
        params = json.loads(args) if args.strip().startswith("{") else {}
        inner = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in params.items())
        return f"<tool_call>\n<function={name}>\n{inner}</function>\n</tool_call>"
    raise ValueError(f"unknown call_in_content style {style!r}")


def completion_parts(spec: dict[str, Any], index: int) -> tuple[str, str, list[dict[str, Any]], str]:
    """(content, reasoning, wire tool_calls, finish_reason) for one response spec."""
    content = spec.get("content", "") or ""
    if spec.get("call_in_content"):
        content = (content + "\n" if content else "") + content_call(spec["call_in_content"])
    calls = [
        {
            "id": c.get("id") or f"call_{index}_{i}",
            "type": "function",
            "function": {"name": c["name"], "arguments": arguments_text(c.get("arguments", {}))},
        }
        for i, c in enumerate(spec.get("tool_calls") or [])
    ]
    finish = spec.get("finish_reason") or ("tool_calls" if calls else "stop")
    return content, spec.get("reasoning", "") or "", calls, finish


def prompt_tokens_of(request: dict[str, Any]) -> int:
    """Deterministic prompt size: a quarter of the characters of messages + tools."""
    text = json.dumps(request.get("messages", [])) + json.dumps(request.get("tools", []))
    return max(1, len(text) // 4)


def accounting(
    spec: dict[str, Any], request: dict[str, Any], index: int, cached: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``usage`` and ``timings`` for one response; ``cached`` plays llama.cpp's prefix cache."""
    content, reasoning, calls, _ = completion_parts(spec, index)
    prompt = prompt_tokens_of(request)
    cached = min(cached, prompt - 1) if prompt > 1 else 0
    generated = content + reasoning + "".join(c["function"]["name"] + c["function"]["arguments"] for c in calls)
    completion = max(1, len(generated) // 4)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    prompt_n = prompt - cached
    timings: dict[str, Any] | None = {
        "cache_n": cached,
        "prompt_n": prompt_n,
        "prompt_ms": prompt_n * PROMPT_MS_PER_TOKEN,
        "prompt_per_token_ms": PROMPT_MS_PER_TOKEN,
        "prompt_per_second": 1000.0 / PROMPT_MS_PER_TOKEN,
        "predicted_n": completion,
        "predicted_ms": completion * PREDICTED_MS_PER_TOKEN,
        "predicted_per_token_ms": PREDICTED_MS_PER_TOKEN,
        "predicted_per_second": 1000.0 / PREDICTED_MS_PER_TOKEN,
    }
    if spec.get("usage") is not None:
        usage = spec["usage"]
    if spec.get("timings") is False:
        timings = None
    elif spec.get("timings") is not None:
        timings = spec["timings"]
    return usage, timings


def render_json(spec: dict[str, Any], index: int, model: str, usage: dict, timings: dict | None) -> dict[str, Any]:
    content, reasoning, calls, finish = completion_parts(spec, index)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = calls
    body: dict[str, Any] = {
        "id": f"chatcmpl-scripted-{index}",
        "object": "chat.completion",
        "created": 1_700_000_000 + index,
        "model": model,
        "system_fingerprint": "b0-scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }
    if timings is not None:
        body["timings"] = timings
    return body


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


def render_chunks(
    spec: dict[str, Any], index: int, model: str, usage: dict, timings: dict | None, include_usage: bool
) -> list[dict[str, Any]]:
    """The SSE chunk objects in order (the server adds ``data: `` framing and ``[DONE]``)."""
    content, reasoning, calls, finish = completion_parts(spec, index)
    size = int(spec.get("chunk_size", 8))
    base = {
        "id": f"chatcmpl-scripted-{index}",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000 + index,
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    out = [chunk({"role": "assistant", "content": None})]
    out += [chunk({"reasoning_content": p}) for p in _pieces(reasoning, size)]
    out += [chunk({"content": p}) for p in _pieces(content, size)]
    for i, call in enumerate(calls):
        fn = call["function"]
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": fn["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        out += [
            chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]}) for p in _pieces(fn["arguments"], size)
        ]
    final = chunk({}, finish)
    if spec.get("usage_in_finish_chunk") or not include_usage:
        # Forks and older builds: accounting rides on the finish chunk.
        final["usage"] = usage
        if timings is not None:
            final["timings"] = timings
        out.append(final)
    else:
        out.append(final)
        tail: dict[str, Any] = {**base, "choices": [], "usage": usage}
        if timings is not None:
            tail["timings"] = timings
        out.append(tail)
    return out


def history_error(request: dict[str, Any]) -> str | None:
    """What llama-server (or a strict chat template) rejects in the request's history, else None."""
    pending: dict[str, str] = {}
    for msg in request.get("messages", []):
        role = msg.get("role")
        if role == "tool":
            pending.pop(msg.get("tool_call_id", ""), None)
            continue
        if pending:
            return f"Template error: tool call(s) {sorted(pending)} have no tool result before the next {role} message"
        if role == "assistant":
            for call in msg.get("tool_calls") or []:
                args = call.get("function", {}).get("arguments", "")
                try:
                    json.loads(args) if isinstance(args, str) else None
                except ValueError as exc:
                    return f"Failed to parse tool call arguments as JSON: {exc}"
                pending[call.get("id", "")] = call.get("function", {}).get("name", "")
    if pending:
        return f"Template error: tool call(s) {sorted(pending)} have no tool result"
    return None


def preflight_kind(request: dict[str, Any]) -> str | None:
    """"probe" or "warm_up" for the harness's preflight requests (agent/probe.py marks them), else None."""
    for msg in request.get("messages", []):
        text = str(msg.get("content") or "")
        if PROBE_MARK in text:
            return "probe"
        if WARM_UP_MARK in text:
            return "warm_up"
    return None


def probe_answer(request: dict[str, Any]) -> dict[str, Any]:
    """A capable model's answer to the probe: a call to the offered tool with the arguments asked
    for; as text in the ``<tool_calls>`` syntax when the request carries a call grammar instead of
    tools (as llama-server returns a grammar-constrained reply)."""
    asked = str(request["messages"][-1].get("content") or "")
    args = json.loads(asked[asked.index("{"): asked.rindex("}") + 1]) if "{" in asked else {}
    tools = request.get("tools") or []
    if tools:
        return {"tool_calls": [tool_call(tools[0]["function"]["name"], args)]}
    name = asked.split("Call the tool ", 1)[-1].split(" ", 1)[0]
    return {"content": "", "call_in_content": {"name": name, "arguments": args, "style": "tool_calls"}}


def scale_timings(timings: dict[str, Any], factor: float) -> dict[str, Any]:
    """Timings of a server ``factor`` times slower (milliseconds up, tokens per second down)."""
    out = dict(timings)
    for kind in ("prompt", "predicted"):
        out[f"{kind}_ms"] = timings[f"{kind}_ms"] * factor
        out[f"{kind}_per_token_ms"] = timings[f"{kind}_per_token_ms"] * factor
        out[f"{kind}_per_second"] = timings[f"{kind}_per_second"] / factor
    return out
