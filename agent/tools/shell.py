"""The shell tool: one command through the harness's CommandRunner, never on the host directly.

Isolation is the runner's job (the harness passes its sandbox). The short deny-list below is
defence in depth against text that is destructive wherever it runs; it does not try to judge
what else a command does (a list of forbidden words would refuse ``ls tests``).
"""

from __future__ import annotations

import os
import re
from typing import Any

from agent.tools.base import Call
from agent.tools.errors import ToolError
from agent.tools.globs import walk_files

_DESTRUCTIVE = [
    (
        re.compile(
            r"\brm\s+(?:-[a-zA-Z]*\s+|--[a-z-]+\s+)*"
            r"(?:/|/\*|~/?|\$HOME/?|/(?:bin|boot|dev|etc|lib|proc|sys|usr|var)\S*)(?:\s|$|;|&|\|)"
        ),
        "removes the root, home or system directories",
    ),
    (re.compile(r":\s*\(\s*\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:"), "is a fork bomb"),
    (re.compile(r"\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b"), "pipes a download into a shell"),
    (re.compile(r"\bmkfs(?:\.\w+)?\b"), "formats a file system"),
    (re.compile(r"\bdd\b[^;&|]*\bof=/dev/"), "writes to a device"),
    (re.compile(r">\s*/dev/(?:sd|nvme|hd|vd)"), "writes to a disk device"),
    (re.compile(r"\bchmod\s+(?:-R\s+)?[0-7]{3,4}\s+/(?:\s|$)"), "changes permissions of the root"),
]
SNAPSHOT_LIMIT = 5000
# Places a shell command may name without probing for anything: the system and the sandbox's own.
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/proc", "/dev", "/tmp", "/opt/localcode/tools", "/sys")
_PATH_TOKEN = re.compile(r"""(?:^|[\s=:'"<>|;&(])((?:~|/|\.\./)[^\s'"<>|;&()]*)""")


def probed_paths(command: str, inside: Any) -> list[str]:
    """Paths outside the workspace that ``command`` names (the sandbox hides them; we count them).

    ``inside(raw) -> bool`` tells whether a path stays in the workspace (aliases included).
    """
    found = []
    for token in _PATH_TOKEN.findall(command):
        if token.startswith(_SYSTEM) and ".." not in token:
            continue
        if not inside(token):
            found.append(token)
    return found


def refusal(command: str) -> str | None:
    """Why ``command`` is refused outright, or None."""
    for pattern, why in _DESTRUCTIVE:
        if pattern.search(command):
            return why
    return None


def _snapshot(root: str) -> dict[str, tuple[int, int]] | None:
    """(mtime, size) of every file, to report what a command changed; None for huge trees."""
    out: dict[str, tuple[int, int]] = {}
    for rel in walk_files(root, limit=SNAPSHOT_LIMIT + 1):
        try:
            st = os.stat(os.path.join(root, rel))
        except OSError:
            continue
        out[rel] = (st.st_mtime_ns, st.st_size)
    return None if len(out) > SNAPSHOT_LIMIT else out


def shell(call: Call, args: dict[str, Any]) -> str:
    ctx = call.ctx
    if ctx.runner is None:
        raise ToolError("unavailable", "shell is not available in this run")
    command: str = args["command"]
    why = refusal(command)
    if why:
        raise ToolError("shell_refused", f"command refused: it {why}")
    call.refused.extend(probed_paths(command, ctx.workspace.contains))
    cwd = None
    if args.get("workdir") not in (None, "", "."):
        target = ctx.workspace.resolve(args["workdir"], must_exist=True)
        if not target.is_dir:
            raise ToolError("invalid_args", f"workdir {target.rel} is not a directory")
        cwd = None if target.rel == "." else target.rel
    limit = float(ctx.options.shell_timeout)
    timeout = min(float(args.get("timeout") or limit), limit)
    before = _snapshot(ctx.workspace.root)
    try:
        result = ctx.runner.exec(command, timeout=timeout, cwd=cwd)
    except Exception as exc:  # noqa: BLE001 - the runner's failure is the model's answer
        raise ToolError("shell_failed", f"the command could not be run: {type(exc).__name__}: {exc}") from None
    after = _snapshot(ctx.workspace.root)
    if before is not None and after is not None:
        for rel in sorted(set(before) | set(after)):
            if before.get(rel) != after.get(rel):
                call.changed_file(rel)
    output = (result.output or "").rstrip("\n") or "(no output)"
    if result.timed_out:
        raise ToolError("timeout", f"command timed out after {timeout:g} s (exit code {result.exit_code})\n{output}")
    if result.exit_code != 0:
        raise ToolError("shell_failed", f"command failed with exit code {result.exit_code}\n{output}")
    return f"exit code: 0\n{output}"
