"""localcode: a coding agent with native tool calls for OpenAI-compatible local servers."""

from __future__ import annotations
