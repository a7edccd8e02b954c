"""What part of the transcript each request sends: the message window and the context budget.

The transcript itself is never edited (it is the record, the session, the RunResult); each turn
sends a *view* of it. Both rules work on groups (an assistant message with its tool results is
one unit, because a tool call without its result breaks strict chat templates, and a result
without its call is meaningless) and never drop the task prompt(s).

llama-server runs with ``--no-context-shift`` and a fixed per-slot context; a prompt that does
not fit is an HTTP 400 (a try-2 prompt carrying a long test log overflows an 8k context). So the
:class:`ContextPlanner` estimates the prompt size from characters, calibrated on the server's own
``usage.prompt_tokens`` after every response, trims the view until prompt + reply fit, and learns
the true ``n_ctx`` from an overflow error if it must.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]
ELIDED = "[output elided to fit the context window: {n} chars]"


def groups(messages: list[Message]) -> list[list[int]]:
    """Indices grouped so that tool results stay with the assistant message that asked."""
    out: list[list[int]] = []
    for i, msg in enumerate(messages):
        if msg.get("role") == "tool" and out:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def window_start(messages: list[Message], max_messages: int, pinned: Collection[int] = ()) -> int:
    """Where the kept suffix of :func:`window` starts (``len(messages)`` minus what it keeps)."""
    n = len(messages)
    pins = sorted(p for p in set(pinned) if 0 <= p < n)
    start = n  # the kept suffix is messages[start:]
    while start > 0:
        first = start - 1
        while first > 0 and messages[first].get("role") == "tool":
            first -= 1
        pins_before = sum(1 for p in pins if p < first)
        if start < n and (n - first) + pins_before > max_messages:
            break
        start = first
    return start


def _with_pins(messages: list[Message], start: int, pinned: Collection[int]) -> list[Message]:
    return [messages[p] for p in sorted(set(pinned)) if 0 <= p < start] + messages[start:]


def window(messages: list[Message], max_messages: int, pinned: Collection[int] = ()) -> list[Message]:
    """The pinned messages plus the most recent whole groups, within ``max_messages`` (0: all).

    ``pinned`` holds indices of messages that must stay (the task prompts; user messages, so
    each is a group of its own). The newest group is kept even when it alone exceeds the
    limit: splitting it is worse. Walks back from the end only as far as it keeps, so the
    cost per turn does not grow with the transcript.
    """
    if max_messages <= 0 or len(messages) <= max_messages:
        return messages
    return _with_pins(messages, window_start(messages, max_messages, pinned), pinned)


class StableWindow:
    """One run's message window, moved in steps so that what is sent stays the same turn after turn.

    A window that slides by one group per turn changes the first message after the pinned
    prompts on every turn, and a server reuses its prompt cache only up to the first token that
    changed: every turn would prefill the whole history again. So once the view outgrows
    ``max_messages`` it is cut back to ``keep`` messages (half the limit) and then only grows,
    from the same first message, until it outgrows the limit again: one cache miss every few
    turns instead of one per turn.
    """

    def __init__(self, max_messages: int, keep: int | None = None) -> None:
        self.max_messages = max_messages
        self.keep = keep if keep is not None else max(1, max_messages // 2)
        self.start = 0  # transcript index of the first message kept after the pinned ones

    def view(self, messages: list[Message], pinned: Collection[int] = ()) -> list[Message]:
        if self.max_messages <= 0 or len(messages) <= self.max_messages:
            return messages
        pins_before = sum(1 for p in set(pinned) if 0 <= p < self.start)
        fits = pins_before + len(messages) - self.start <= self.max_messages
        if not (0 < self.start < len(messages) and fits and messages[self.start].get("role") != "tool"):
            self.start = window_start(messages, self.keep, pinned)
        return _with_pins(messages, self.start, pinned)


def size(msg: Message) -> int:
    """Characters of one message as a template renders it (content, thinking, calls, framing)."""
    n = 12 + len(msg.get("content") or "") + len(msg.get("reasoning_content") or "")
    for call in msg.get("tool_calls") or ():
        fn = call.get("function", {})
        n += 24 + len(fn.get("name", "")) + len(fn.get("arguments", ""))
    return n


@dataclass
class TokenEstimator:
    """chars → tokens, calibrated by what the server counted for the last request.

    Starts pessimistic (3 chars/token; code and JSON tokenize densely) so the first request
    of a run does not overflow before any calibration exists.
    """

    chars_per_token: float = 3.0

    def tokens(self, chars: int) -> int:
        return math.ceil(chars / self.chars_per_token)

    def calibrate(self, chars: int, prompt_tokens: int) -> None:
        if prompt_tokens > 0 and chars > 0:
            self.chars_per_token = min(8.0, max(1.5, chars / prompt_tokens))


@dataclass
class Fit:
    messages: list[Message]
    chars: int  # of the fitted messages (without the fixed part)
    elided: int = 0  # tool outputs replaced by a stub
    dropped: int = 0  # messages left out
    truncated: int = 0  # messages cut in the middle


def _cut(text: str, keep: int) -> str:
    keep = max(keep, 200)
    if len(text) <= keep:
        return text
    return (
        text[: keep // 2] + f"\n...[{len(text) - keep} chars cut to fit the context window]...\n" + text[-keep // 2 :]
    )


def fit(
    messages: list[Message], budget_chars: int, pinned: Collection[int] = (), measure: Callable[[Message], int] = size
) -> Fit:
    """Shrink ``messages`` until their size is within ``budget_chars``.

    Order of sacrifice: old tool outputs (stubbed), then the oldest groups not holding a pinned
    message (``id()``s), then, if one message is still too big (a huge test log in a retry
    prompt), its middle.
    """
    sizes = [measure(m) for m in messages]
    total = sum(sizes)
    result = Fit(messages, total)
    if total <= budget_chars:
        return result
    msgs = list(messages)
    gs = groups(msgs)
    last = set(gs[-1]) if gs else set()
    for i, m in enumerate(msgs):  # 1. stub old tool outputs
        if total <= budget_chars:
            break
        if m.get("role") == "tool" and i not in last and len(m.get("content") or "") > 120:
            stub = {**m, "content": ELIDED.format(n=len(m["content"]))}
            total += size(stub) - sizes[i]
            sizes[i] = size(stub)
            msgs[i] = stub
            result.elided += 1
    alive = [True] * len(msgs)
    for g in gs[:-1]:  # 2. drop the oldest groups
        if total <= budget_chars:
            break
        if any(id(messages[i]) in pinned for i in g):
            continue
        for i in g:
            alive[i] = False
            total -= sizes[i]
            result.dropped += 1
    if total > budget_chars:  # 3. cut the biggest remaining message in the middle
        biggest = max((i for i in range(len(msgs)) if alive[i]), key=lambda i: sizes[i])
        content = msgs[biggest].get("content") or ""
        excess = total - budget_chars
        if content and excess < len(content):
            msgs[biggest] = {**msgs[biggest], "content": _cut(content, len(content) - excess - 120)}
            total += size(msgs[biggest]) - sizes[biggest]
            result.truncated += 1
    result.messages = [m for m, a in zip(msgs, alive) if a]
    result.chars = total
    return result

@dataclass
class Plan:
    messages: list[dict[str, Any]]
    max_tokens: int
    chars: int  # estimated size of the whole prompt, in the estimator's measure
    prompt_tokens: int  # estimated
    trimmed: Fit | None = None


class ContextPlanner:
    def __init__(self, max_tokens: int, fixed_chars: int, context_window: int | None) -> None:
        self.max_tokens = max_tokens
        self.fixed_chars = fixed_chars  # system prompt + few-shot + tool schemas
        self.n_ctx = context_window
        self.estimator = TokenEstimator()
        self.shrink = 1.0  # < 1 after an overflow the estimate did not foresee
        self._sizes: dict[int, tuple[dict[str, Any], int]] = {}  # id → (message, size): sizes once per message

    def reset(self) -> None:
        """Forget cached sizes (a new run has a new transcript)."""
        self._sizes.clear()

    def measure(self, msg: dict[str, Any]) -> int:
        hit = self._sizes.get(id(msg))
        if hit is not None and hit[0] is msg:
            return hit[1]
        n = size(msg)
        self._sizes[id(msg)] = (msg, n)
        return n

    def margin(self) -> int:
        return 32 + (self.n_ctx or 0) // 50

    def plan(self, view: list[dict[str, Any]], pinned: set[int]) -> Plan | None:
        """The messages and max_tokens to send, or None when even a trimmed prompt cannot fit."""
        if not self.n_ctx:
            chars = self.fixed_chars + sum(self.measure(m) for m in view)
            return Plan(view, self.max_tokens, chars, self.estimator.tokens(chars))
        reserve = min(self.max_tokens, self.n_ctx // 2)
        budget_tokens = int((self.n_ctx - reserve - self.margin()) * self.shrink)
        budget_chars = int(budget_tokens * self.estimator.chars_per_token) - self.fixed_chars
        trimmed = fit(view, max(budget_chars, 0), pinned, self.measure)
        chars = self.fixed_chars + trimmed.chars
        prompt_tokens = self.estimator.tokens(chars)
        room = int(self.n_ctx * self.shrink) - prompt_tokens - self.margin()
        max_tokens = min(self.max_tokens, room)
        if max_tokens < min(16, self.max_tokens):
            return None
        changed = trimmed.elided or trimmed.dropped or trimmed.truncated
        return Plan(trimmed.messages, max_tokens, chars, prompt_tokens, trimmed if changed else None)

    def learn(self, chars: int, prompt_tokens: Any) -> None:
        """Calibrate on what the server counted for the request we just sent."""
        if isinstance(prompt_tokens, int) and chars:
            self.estimator.calibrate(chars, prompt_tokens)

    def overflowed(self, body: str, chars: int) -> None:
        """A context-overflow 400: take the server's numbers if it sent them, and trim harder."""
        try:
            err = json.loads(body).get("error", {})
        except (ValueError, AttributeError):
            err = {}
        if isinstance(err, dict):
            if isinstance(err.get("n_ctx"), int):
                self.n_ctx = err["n_ctx"]
            self.learn(chars, err.get("n_prompt_tokens"))
        if not self.n_ctx:
            self.n_ctx = max(1024, int(self.estimator.tokens(chars) * 0.8))
        self.shrink *= 0.8
