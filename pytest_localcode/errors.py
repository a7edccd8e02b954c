"""Exceptions that end in a one-line message for the user, never a traceback."""

from __future__ import annotations


class LocalcodeError(Exception):
    """Base: the message is complete and says what to do."""


class ConfigError(LocalcodeError):
    """A configuration file or option is wrong."""


class DatasetError(LocalcodeError):
    """The exercises directory is missing or malformed."""


class SandboxError(LocalcodeError):
    """The sandbox could not be created or a command could not be started in it."""
