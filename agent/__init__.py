"""localcode: a coding agent with native tool calls for OpenAI-compatible local servers.

The harness and the CLI use only these names::

    cfg = load_config("gguf/glm-4.7-flash", overrides={"max_turns": 10})
    client = HttpChatClient("http://127.0.0.1:8080")
    result = Agent(cfg, client=client, workspace=path, log_dir=logs).run(prompt)

Module map: ``loop`` (the agent loop and where it stops), ``execute`` (running a response's tool
calls into history), ``recovery`` (tool calls the server left in the text), ``context`` (what part
of the transcript fits the server's context), ``wire`` (request bodies and response parsing),
``client`` (HTTP to the server: retries, deadlines, keep-alive), ``probe`` (what a server serves and
whether tool calls come back: the harness's preflight and ``localcode --check``), ``prompts`` (system prompt,
few-shot, format-retry feedback), ``grammar`` (the GBNF call grammar), ``config`` (config files and
overrides), ``metrics``, ``logs`` (log files and sessions), ``protocols`` (the seams and their
data), ``cli`` (the ``localcode`` command), ``tools/`` (the tools the model calls).
"""

from __future__ import annotations

from agent.client import HttpChatClient
from agent.config import AgentConfig, ConfigError, list_configs, load_config
from agent.loop import Agent
from agent.protocols import AgentLimits, RunResult

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentLimits",
    "ConfigError",
    "HttpChatClient",
    "RunResult",
    "list_configs",
    "load_config",
]
