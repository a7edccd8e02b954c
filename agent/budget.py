"""Keep each request inside the server's context window.

llama-server runs with ``--no-context-shift`` and a fixed per-slot context; a prompt that does
not fit is an HTTP 400, and the original agent simply died there (a try-2 prompt carrying a long
test log overflowed 8k contexts). The planner estimates the prompt size from characters,
calibrated on the server's own ``usage.prompt_tokens`` after every response, trims the view
until prompt + reply fit, and learns the true ``n_ctx`` from an overflow error if it must.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.history import Fit, TokenEstimator, fit, size


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
