"""``localcode``: the harness's own commands, and the coding agent for everything else.

    localcode compare RUN_A RUN_B         paired comparison of two runs (pytest_localcode.compare)
    localcode leaderboard RUN_DIR...      runs side by side, HTML + Markdown (pytest_localcode.leaderboard)
    localcode merge RUN_DIR... --into D   one run from its shards (pytest_localcode.merge)
    localcode --agent NAME ...       the agent (agent.cli; also ``python -m agent.cli``)

The console script points here, not at the agent, so that the agent never imports the harness.
A harness command is one entry of :data:`COMMANDS` (``name: "module:function"``, the function
taking the arguments after the name and returning the exit status), imported only when used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

COMMANDS: dict[str, str] = {
    "compare": "pytest_localcode.compare:main",
    "leaderboard": "pytest_localcode.leaderboard:main",
    "merge": "pytest_localcode.merge:main",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        module, _, name = COMMANDS[argv[0]].partition(":")
        command: Callable[[list[str]], int] = getattr(importlib.import_module(module), name)
        return command(argv[1:])
    from agent.cli import main as agent_main

    status = agent_main(argv)
    if argv[:1] in (["-h"], ["--help"]):
        print("Harness commands: " + ", ".join(f"localcode {name} ..." for name in COMMANDS) + " (each has --help)")
    return status


if __name__ == "__main__":
    sys.exit(main())
