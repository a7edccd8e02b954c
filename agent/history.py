"""Which part of the transcript is sent: the message window and the context budget.

The transcript itself is never edited (it is the record, the session, the RunResult); each turn
sends a *view* of it. Both rules work on groups (an assistant message with its tool results is
one unit, because a tool call without its result breaks strict chat templates, and a result
without its call is meaningless) and never drop the task prompt(s).
"""

from __future__ import annotations

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


def window(messages: list[Message], max_messages: int, pinned: Collection[int] = ()) -> list[Message]:
    """The pinned messages plus the most recent whole groups, within ``max_messages`` (0: all).

    ``pinned`` holds indices of messages that must stay (the task prompts; user messages, so
    each is a group of its own). The newest group is kept even when it alone exceeds the
    limit: splitting it is worse. Walks back from the end only as far as it keeps, so the
    cost per turn does not grow with the transcript.
    """
    n = len(messages)
    if max_messages <= 0 or n <= max_messages:
        return messages
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
    return [messages[p] for p in pins if p < start] + messages[start:]


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
