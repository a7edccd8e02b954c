"""Shared fixtures for the project's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.datasets import real_dataset


@pytest.fixture(scope="session")
def polyglot() -> Path:
    """The real dataset (skips when this machine does not have it)."""
    return real_dataset()
