"""How many modules the agent is made of, and how many one tool-calling turn passes through.

A turn is measured from one request event to the next: HTTP round trip, response parsing,
executing the tool call (a ``read``), accounting, logging, windowing and planning the next
request, building its body. The agent runs against the in-process scripted server over real
HTTP; ``sys.setprofile`` on the agent's thread records the file of every Python function called
during the third turn (the first two warm caches and the connection). The server's thread is not
profiled, so what is counted is the agent's own path. Modules are files under this checkout
(``agent/...``, ``pytest_localcode/...``); the libraries a turn goes through are listed apart.

    .venv/bin/python bench/agent_turn_modules.py [--verbose]

Runs unchanged on older checkouts of the project (only the public ``Agent`` API is used).
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent import Agent, HttpChatClient, load_config  # noqa: E402 - needs the checkout on sys.path
from tests.support.scripted_server import ScriptedServer, tool_call  # noqa: E402 - imported after sys.path gets the checkout

SCRIPT = [{"tool_calls": [tool_call("read", {"path": "a.py"})]}, {"tool_calls": [tool_call("read", {"path": "b.py"})]}]
MEASURED_TURN = 3


def top_level_modules() -> list[str]:
    return sorted(p.name for p in (ROOT / "agent").glob("*.py"))


def module_name(filename: str) -> str | None:
    """``agent/loop.py`` → ``agent.loop``; None for a file outside the checkout."""
    try:
        rel = Path(filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    if rel.parts[0] in (".venv", "tests") or rel.suffix != ".py":
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def library_name(filename: str, stdlib: str) -> str:
    """The top-level package of a library file (``httpx``, ``json``...), for the side list."""
    path = Path(filename)
    for marker in ("site-packages", "dist-packages"):
        if marker in path.parts:
            return path.parts[path.parts.index(marker) + 1].removesuffix(".py")
    if filename.startswith(stdlib):
        rel = Path(filename).relative_to(stdlib)
        return rel.parts[0].removesuffix(".py")
    return filename


def measure() -> tuple[set[str], set[str]]:
    project: set[str] = set()
    libraries: set[str] = set()
    stdlib = sysconfig.get_paths()["stdlib"]
    requests_seen = [0]

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        filename = frame.f_code.co_filename
        if filename == __file__:  # this script's own event callback
            return
        name = module_name(filename)
        if name is not None:
            project.add(name)
        elif not filename.startswith("<"):
            libraries.add(library_name(filename, stdlib))

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] != "request":
            return
        requests_seen[0] += 1
        if requests_seen[0] == MEASURED_TURN:
            sys.setprofile(profile)
        elif requests_seen[0] == MEASURED_TURN + 1:
            sys.setprofile(None)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ws = tmp / "ws"
        ws.mkdir()
        for name in ("a.py", "b.py"):
            (ws / name).write_text("".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(20)))
        cfg = load_config("gguf/qwen3-coder-next-q4km", overrides={"max_turns": MEASURED_TURN + 2})
        with ScriptedServer(SCRIPT, repeat=True) as server, HttpChatClient(server.url) as client:
            agent = Agent(cfg, client=client, workspace=ws, log_dir=tmp / "logs", context_window=32768,
                          on_event=on_event)
            result = agent.run("Read the files.")
        sys.setprofile(None)
    if result.stop_reason != "max_turns" or result.metrics.get("tool_errors_total"):
        raise SystemExit(f"the scripted run went wrong: {result.stop_reason} {result.error}")
    return project, libraries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="also list the libraries a turn goes through")
    args = parser.parse_args()
    modules = top_level_modules()
    project, libraries = measure()
    besides_init = [m for m in modules if m != "__init__.py"]
    print(f"agent/ top-level modules: {len(modules)} files ({len(besides_init)} besides __init__.py)")
    print("  " + " ".join(m.removesuffix(".py") for m in modules))
    agent_side = sorted(m for m in project if m == "agent" or m.startswith("agent."))
    print(f"one tool-calling turn passes through {len(project)} project modules "
          f"({len(agent_side)} under agent/):")
    print("  " + " ".join(sorted(project)))
    print(f"  and {len(libraries)} library modules" + (f": {' '.join(sorted(libraries))}" if args.verbose else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
