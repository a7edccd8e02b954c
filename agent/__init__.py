"""localcode: a coding agent with native tool calls for OpenAI-compatible local servers.

The harness and the CLI use only these names::

    cfg = load_config("gguf/glm-4.7-flash", overrides={"max_turns": 10})
    client = HttpChatClient("http://127.0.0.1:8080")
    result = Agent(cfg, client=client, workspace=path, log_dir=logs).run(prompt)
"""

from __future__ import annotations

from agent.client import HttpChatClient
from agent.config import AgentConfig, ConfigError, list_configs, load_config
from agent.loop import Agent
from agent.result import AgentLimits, RunResult

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
