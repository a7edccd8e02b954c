"""The :class:`ModelCaller` handed to reasoning tools (plan_solution, ask_questions).

Side questions go to the same server, so their tokens are part of the run's cost: they are
added to the run's metrics, and they respect the run's deadline. They carry no ``tools``, so a
tool-call history must not be sent through here (the tools sanitise what they send).
"""

from __future__ import annotations

from typing import Any

from agent.metrics import Metrics
from agent.protocols import ChatClient


class SideChannel:
    def __init__(self, client: ChatClient, model: str) -> None:
        self.client, self.model = client, model
        self.metrics: Metrics | None = None
        self.deadline: float | None = None

    def attach(self, metrics: Metrics, deadline: float | None) -> None:
        self.metrics, self.deadline = metrics, deadline

    def detach(self) -> None:
        self.metrics, self.deadline = None, None

    def ask(self, messages: list[dict[str, Any]], *, max_tokens: int, temperature: float) -> str:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": False,
        }
        resp = self.client.complete(body, deadline=self.deadline)
        if self.metrics is not None:
            self.metrics.add_response(resp)
        return resp.content
