"""The OpenAI chat-completions wire format: the request body out, the response back in.

Out: only fields a server understands are sent, mapped from the config to what llama.cpp and
mlx_lm actually read: ``cache`` → ``cache_prompt``, ``think`` → ``chat_template_kwargs.enable_thinking``,
``think_level`` → ``reasoning_effort``, ``max_batch_tool_calls: 1`` → ``parallel_tool_calls: false``.
``tool_choice`` is always a string: llama.cpp treats the object form as ``auto``. With a
``grammar`` (``call_grammar``) the body carries no ``tools``: llama.cpp answers HTTP 400 to a
custom grammar next to tools, and the grammar already forces a call.

In: a streamed ``chat.completion.chunk`` sequence (SSE) or a plain ``chat.completion`` body.
Servers differ in details (llama.cpp puts ``usage``/``timings`` on a trailing chunk with
``choices: []``, forks put them on the finish chunk, MLX sends no timings, some servers call the
thinking field ``reasoning``), so the parser takes each piece from wherever it appears.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from agent.config import AgentConfig
from agent.protocols import ChatError, ChatResponse, ToolCall

DeltaCallback = Callable[[str, str], None]

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
    slot: int | None = None,
) -> dict[str, Any]:
    """The request body; ``slot`` pins it to one llama-server slot (``id_slot``, see :class:`agent.loop.Agent`)."""
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
    if slot is not None:
        body["id_slot"] = slot
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


class BodyEncoder:
    """JSON request bodies that re-use the encoding of objects sent before.

    Turn after turn the agent sends the same tools list and the same history messages (the
    same objects: history is append-only), plus a few new ones; encoding only what is new
    keeps the per-turn cost flat instead of growing with the transcript. Entries hold a
    reference to their object, so an ``id()`` is never confused with a reused one.
    """

    def __init__(self, limit: int = 20000) -> None:
        self.limit = limit
        self._cache: dict[int, tuple[Any, str]] = {}

    def _cached(self, obj: Any) -> str:
        hit = self._cache.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        text = json.dumps(obj, ensure_ascii=False)
        if len(self._cache) >= self.limit:
            self._cache.clear()
        self._cache[id(obj)] = (obj, text)
        return text

    def encode(self, body: dict[str, Any]) -> bytes:
        parts = []
        for key, value in body.items():
            if key == "messages" and isinstance(value, list):
                text = "[" + ",".join(self._cached(m) for m in value) + "]"
            elif key == "tools":
                text = self._cached(value)
            else:
                text = json.dumps(value, ensure_ascii=False)
            parts.append(json.dumps(key) + ":" + text)
        return ("{" + ",".join(parts) + "}").encode()


def summary(body: dict[str, Any]) -> dict[str, Any]:
    """The request without messages and tools, for logs."""
    out = {k: v for k, v in body.items() if k not in ("messages", "tools")}
    out["n_messages"] = len(body.get("messages", []))
    out["n_tools"] = len(body.get("tools", []))
    if "grammar" in out:
        out["grammar"] = f"{len(out['grammar'])} chars"
    return out



def _text(value: Any) -> str:
    """Thinking may arrive as a string or as a dict ({content|text|reasoning|analysis: str})."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("content", "text", "reasoning", "analysis"):
            text = value.get(key)
            if isinstance(text, str):
                return text
    return ""


def _arguments(value: Any) -> str:
    """Arguments are JSON text on the wire, but some servers send an object."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def sse_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Event-stream lines from raw body chunks (lighter than a text decoder plus a line splitter,
    which cost more than the JSON parsing on a fast local server)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        if b"\n" not in chunk:
            continue
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")


class StreamAccumulator:
    """Feed SSE lines one at a time; :meth:`response` assembles the result.

    Tool-call deltas are keyed by ``index``: the first chunk of a call carries ``id`` and
    ``name``, later ones only ``arguments`` fragments, which are concatenated.
    """

    def __init__(self, on_delta: DeltaCallback | None = None) -> None:
        self.on_delta = on_delta
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.timings: dict[str, Any] = {}
        self.model = ""
        self.request_id = ""
        self.done = False
        self.received = False  # any delta (content, reasoning or tool call) arrived

    def feed_line(self, line: str) -> None:
        """One line of the event stream (without its newline)."""
        if not line.startswith("data:"):
            return  # blank separators, ": ping" comments, "event:" lines
        data = line[5:].strip()
        if data == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise ChatError(f"invalid JSON in stream chunk: {data[:200]}", kind="protocol") from exc
        if isinstance(chunk, dict):
            self.feed_chunk(chunk)

    def feed_chunk(self, chunk: dict[str, Any]) -> None:
        if "error" in chunk:  # llama.cpp reports mid-stream failures as a data event
            err = chunk["error"]
            message = err.get("message", str(err)) if isinstance(err, dict) else str(err)
            raise ChatError(f"server error mid-stream: {message}", body=json.dumps(chunk), kind="http")
        self.usage = chunk.get("usage") or self.usage
        self.timings = chunk.get("timings") or self.timings
        self.model = chunk.get("model") or self.model
        self.request_id = chunk.get("id") or self.request_id
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if text := delta.get("content"):
                self._append("content", self.content, text)
            if text := _text(delta.get("reasoning_content") or delta.get("reasoning")):
                self._append("reasoning", self.reasoning, text)
            for tc in delta.get("tool_calls") or []:
                self.received = True
                slot = self.calls.setdefault(self._index(tc), {"id": "", "name": "", "arguments": ""})
                fn = tc.get("function") or {}
                slot["id"] = slot["id"] or tc.get("id") or ""
                slot["name"] = slot["name"] or fn.get("name") or ""
                slot["arguments"] += _arguments(fn.get("arguments"))
            self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def _index(self, delta: dict[str, Any]) -> int:
        """The call a tool-call delta belongs to; without ``index``, an ``id`` starts a new call."""
        if isinstance(delta.get("index"), int):
            return int(delta["index"])
        if delta.get("id") or not self.calls:
            return max(self.calls, default=-1) + 1
        return max(self.calls)

    def _append(self, kind: str, parts: list[str], text: str) -> None:
        self.received = True
        parts.append(text)
        if self.on_delta is not None:
            self.on_delta(kind, text)

    def response(self) -> ChatResponse:
        calls = [
            ToolCall(id=slot["id"] or f"call_{i}", name=slot["name"], arguments=slot["arguments"])
            for i, slot in sorted(self.calls.items())
        ]
        return ChatResponse(
            content="".join(self.content),
            reasoning="".join(self.reasoning),
            tool_calls=calls,
            finish_reason=self.finish_reason,
            usage=self.usage,
            timings=self.timings,
            model=self.model,
            request_id=self.request_id,
        )


def parse_completion(body: Any) -> ChatResponse:
    """A non-streamed ``chat.completion`` body."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
        raise ChatError(
            f"response has no choices: {json.dumps(body)[:300]}", body=json.dumps(body)[:2000], kind="protocol"
        )
    choice = body["choices"][0]
    message = choice.get("message") or {}
    calls = []
    for i, tc in enumerate(message.get("tool_calls") or []):
        fn = tc.get("function") or {}
        calls.append(
            ToolCall(
                id=tc.get("id") or f"call_{i}", name=fn.get("name") or "", arguments=_arguments(fn.get("arguments"))
            )
        )
    reasoning = _text(message.get("reasoning_content") or message.get("reasoning") or message.get("thinking"))
    return ChatResponse(
        content=message.get("content") or "",
        reasoning=reasoning,
        tool_calls=calls,
        finish_reason=choice.get("finish_reason"),
        usage=body.get("usage") or {},
        timings=body.get("timings") or {},
        model=body.get("model") or "",
        request_id=body.get("id") or "",
    )
