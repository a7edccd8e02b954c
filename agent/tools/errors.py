"""The errors a tool handler raises: the model reads their one-line message.

:class:`ToolError` carries a stable ``kind`` (counted in reports; listed in ``agent.tools``).
:class:`PathRefused` is the ``path_refused`` kind with the path the model asked for: the ToolBox
records it on the call it was executing, so every refused access attempt is counted.
"""

from __future__ import annotations


class ToolError(Exception):
    """A failure the model should read; ``kind`` is one of the stable error kinds."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class PathRefused(ToolError):
    """A path outside the workspace, or denied in this task; ``path`` is what the model gave."""

    def __init__(self, path: str, message: str):
        super().__init__("path_refused", message)
        self.path = path
