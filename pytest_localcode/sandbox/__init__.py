"""Sandboxes run test commands (and the agent's shell tool) away from the host."""

from __future__ import annotations

from pytest_localcode.sandbox.base import ExecResult, Limits, Sandbox, SandboxFactory

__all__ = ["ExecResult", "Limits", "Sandbox", "SandboxFactory"]
