"""pytest plugin that benchmarks coding agents on the Aider polyglot exercises."""

from __future__ import annotations

__version__ = "0.1.0"
