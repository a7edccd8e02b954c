"""``localcode``: run the agent in the current directory against a local server.

    localcode --agent gguf/qwen3-coder-next-q4km --file prompt.md [--continue] [--url URL]
              [--model M] [--temperature 0.2] [--max_tokens 4096] [--any_config_key value]
    localcode --agent gguf/gemma3-270m              # no prompt: interactive REPL
    localcode --list                                # shipped configs

Any ``--key value`` that is not a flag below overrides the config key of that name (``-`` and
``_`` alike, values typed as in the config). Exit codes: 0 the model finished or answered;
1 server/transport error; 2 usage or config error; 3 stopped by a limit or guard; 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from agent.client import HttpChatClient
from agent.config import AGENT_DIR, ConfigError, list_configs, load_config
from agent.loop import Agent
from agent.overrides import split_cli_overrides
from agent.result import AgentLimits, RunResult
from agent.runner import LocalRunner
from agent.session import default_session_file

FLAGS = {  # flag → number of values
    "-a": 1,
    "--agent": 1,
    "-f": 1,
    "--file": 1,
    "-c": 0,
    "--continue": 0,
    "-m": 1,
    "--model": 1,
    "--url": 1,
    "--list": 0,
    "--log-dir": 1,
    "--session-file": 1,
    "--max-seconds": 1,
    "-q": 0,
    "--quiet": 0,
    "-h": 0,
    "--help": 0,
}
REPL_HELP = "/clear new session · /status agent, server and session · /help this text · /quit (or exit, Ctrl-D)"


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split argv into known flags, config overrides and the prompt words (no argparse: it would
    take an override's value for the positional prompt)."""
    opts: dict[str, Any] = {"files": [], "words": []}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        flag, eq, inline = arg.partition("=")
        if flag in FLAGS:
            value: Any = True
            if FLAGS[flag]:
                if eq:
                    value = inline
                elif i + 1 < len(argv):
                    value, i = argv[i + 1], i + 1
                else:
                    raise UsageError(f"{flag} needs a value")
            key = flag.lstrip("-").replace("-", "_")
            key = {"a": "agent", "f": "file", "c": "continue", "m": "model", "q": "quiet", "h": "help"}.get(key, key)
            if key == "file":
                opts["files"].append(value)
            else:
                opts[key] = value
        elif arg.startswith("--") and len(arg) > 2:
            rest.append(arg)
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"{arg} needs a value")
                rest.append(argv[i + 1])
                i += 1
        else:
            opts["words"].append(arg)
        i += 1
    try:
        overrides = split_cli_overrides(rest)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    return opts, overrides


def home() -> Path:
    return Path(os.environ.get("LOCALCODE_HOME", AGENT_DIR.parent / ".localcode")).expanduser()


class Printer:
    """Console output: streamed text, one line per tool call and result, a usage line."""

    def __init__(self, quiet: bool, show_thinking: bool) -> None:
        self.quiet, self.show_thinking = quiet, show_thinking
        self.streamed = False  # a line of streamed text is open
        self.saw_content = False  # the answer was already shown while streaming

    def delta(self, kind: str, text: str) -> None:
        if self.quiet or (kind == "reasoning" and not self.show_thinking):
            return
        sys.stdout.write(text if kind == "content" else f"\033[2m{text}\033[0m")
        sys.stdout.flush()
        self.streamed = True
        self.saw_content = self.saw_content or kind == "content"

    def event(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        kind = event["event"]
        if self.streamed and kind in ("tool_call", "response", "stop"):
            print()
            self.streamed = False
        if kind == "tool_call":
            print(f"⏺ {event['name']}({event['arguments'][:100]})")
        elif kind == "tool_result":
            first = (event.get("result") or "").splitlines()[:1]
            print(f"  ⎿ {first[0][:150] if first else ''}")
        elif kind in ("format_retry", "http_error", "context_trim", "noop_guard"):
            print(f"\033[33m[{kind}] {event.get('error') or event.get('reason') or ''}\033[0m")

    def result(self, r: RunResult) -> None:
        m = r.metrics
        if r.final_text and not self.quiet and not (r.stop_reason == "answer" and self.saw_content):
            print(f"\n{r.final_text}")
        self.saw_content = False
        line = (
            f"[{r.stop_reason} | turns {m.get('turns', 0)} | {m.get('prompt_tokens', 0)}→{m.get('completion_tokens', 0)} tok"
            f" | prefill {m.get('prefill_tps', 0):.0f} t/s | decode {m.get('decode_tps', 0):.1f} t/s | {r.duration:.1f}s]"
        )
        print(f"\033[2m{line}\033[0m", file=sys.stderr)
        if r.error:
            print(f"localcode: {r.error}", file=sys.stderr)


def exit_code(r: RunResult) -> int:
    return 0 if r.ok else 1 if r.stop_reason == "error" else 3


def repl(agent: Agent, printer: Printer, resume: bool, session_file: Path) -> int:
    print(f"localcode · {agent.cfg.name} · {agent.workspace}\n{REPL_HELP}")
    code, last = 0, None
    while True:
        try:
            line = input("❯ ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return code
        if not line:
            continue
        if line in ("/quit", "/q", "exit"):
            return code
        if line in ("/help", "/h", "/?"):
            print(REPL_HELP)
        elif line == "/clear":
            resume = False
            session_file.unlink(missing_ok=True)
            print("new session")
        elif line == "/status":
            metrics: dict[str, Any] = last.metrics if last else {}
            print(
                f"agent {agent.cfg.name} · model {agent.model} · server {getattr(agent.client, 'base_url', '?')}"
                f" · context {agent.planner.n_ctx or 'unknown'} · session {session_file}"
                f" · last run: {last.stop_reason if last else '-'}, {metrics.get('turns', 0)} turns"
            )
        elif line.startswith("/"):
            print(f"unknown command {line}; {REPL_HELP}")
        else:
            try:
                last = agent.run(line, continue_session=resume)
            except KeyboardInterrupt:
                print("\n(interrupted)")
                continue
            resume = True
            printer.result(last)
            code = exit_code(last)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["compare"]:  # `localcode compare RUN_A RUN_B`: the harness's run comparison
        from pytest_localcode.compare import main as compare_main

        return compare_main(argv[1:])
    if argv[:1] == ["leaderboard"]:  # `localcode leaderboard RUN_DIR…`: the harness's runs side by side
        from pytest_localcode.leaderboard import main as leaderboard_main

        return leaderboard_main(argv[1:])
    if argv[:1] == ["merge"]:  # `localcode merge RUN_DIR… --into DIR`: join a run's shards
        from pytest_localcode.merge import main as merge_main

        return merge_main(argv[1:])
    try:
        opts, overrides = parse_args(argv)
        if opts.get("help"):
            print(__doc__)
            return 0
        if opts.get("list"):
            print("\n".join(list_configs()))
            return 0
        if not opts.get("agent"):
            raise UsageError(f"--agent is required; available: {', '.join(list_configs())}")
        cfg = load_config(opts["agent"], overrides=overrides)
        prompt = " ".join(opts["words"]) or None
        if opts["files"]:
            prompt = Path(opts["files"][0]).read_text(encoding="utf-8")
        workspace = Path.cwd()
        session_file = (
            Path(opts["session_file"])
            if opts.get("session_file")
            else default_session_file(home(), workspace, cfg.name)
        )
        printer = Printer(bool(opts.get("quiet")), cfg.thinking_visibility == "show")
        client = HttpChatClient(opts.get("url") or cfg.url, read_timeout=cfg.request_timeout)
        max_seconds = float(opts["max_seconds"]) if opts.get("max_seconds") else None
        agent = Agent(
            cfg,
            client=client,
            workspace=workspace,
            runner=LocalRunner(workspace),
            log_dir=Path(opts["log_dir"]) if opts.get("log_dir") else home() / "logs",
            session_file=session_file,
            limits=AgentLimits(max_seconds=max_seconds),
            model_name=opts.get("model"),
            on_event=printer.event,
            on_delta=printer.delta,
        )
    except (UsageError, ConfigError, OSError, ValueError) as exc:
        print(f"localcode: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    try:
        if prompt is None:
            return repl(agent, printer, bool(opts.get("continue")), session_file)
        result = agent.run(prompt, continue_session=bool(opts.get("continue")))
    except KeyboardInterrupt:
        print("\nlocalcode: interrupted", file=sys.stderr)
        return 130
    finally:
        client.close()
    printer.result(result)
    return exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
