"""The one error a name reader raises."""

from __future__ import annotations

from pytest_localcode.errors import LocalcodeError


class NamesError(LocalcodeError):
    """A test file the reader cannot read: the message names the file, the line and what it met."""
