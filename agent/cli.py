"""``localcode``: run the agent in the current directory against a local server.

    localcode --agent gguf/qwen3-coder-next-q4km --file prompt.md [--continue] [--url URL]
              [--model M] [--temperature 0.2] [--max_tokens 4096] [--any_config_key value]
    localcode --agent gguf/gemma3-270m              # no prompt: interactive REPL
    localcode --list                                # shipped configs
    localcode --agent gguf/gemma3-270m --check [--url URL]   # what the server serves; do tool calls come back?

Any ``--key value`` that is not a flag below overrides the config key of that name (``-`` and
``_`` alike, values typed as in the config). ``--overlay KEY`` appends the config's
``prompt_overlays[KEY]`` file to the system prompt. ``--check`` asks the server what it serves
(context per slot, slots, model) and sends one request with one tool the model must call: the
call comes back structured, recovered from the text (which syntax), or not at all — the same
probe the harness runs before a benchmark (:mod:`agent.probe`). Exit codes: 0 the model finished
or answered (``--check``: a call came back); 1 server/transport error (``--check``: also a chat
template that cannot render tools); 2 usage or config error; 3 stopped by a limit or guard
(``--check``: no call); 130 interrupted.

The ``shell`` tool runs commands here with no isolation, as the user who started the CLI, like any
coding agent on a workstation (the harness passes its sandbox instead). What :class:`LocalRunner`
does guarantee: the command runs in the workspace, it is killed with its whole process group at
the timeout (a stuck ``npm test`` must not outlive the agent), and its output is capped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent.client import HttpChatClient
from agent.config import ConfigError, list_configs, load_config, state_dir
from agent.logs import default_session_file
from agent.loop import Agent
from agent.probe import explain_chat_error, probe_tool_calls, read_facts
from agent.protocols import AgentLimits, ChatError, ExecResult, RunResult

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
    "--check": 0,
    "--log-dir": 1,
    "--session-file": 1,
    "--max-seconds": 1,
    "--overlay": 1,
    "-q": 0,
    "--quiet": 0,
    "-h": 0,
    "--help": 0,
}
REPL_HELP = "/clear new session · /status agent, server and session · /help this text · /quit (or exit, Ctrl-D)"


class UsageError(Exception):
    pass


def split_cli_overrides(argv: list[str]) -> dict[str, str]:
    """``["--max-turns", "30", "--tools", "read,write"]`` → ``{"max_turns": "30", "tools": "read,write"}``.

    Every flag needs a value (``--flag=value`` works too); raises ValueError otherwise.
    """
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise ValueError(f"unexpected argument {arg!r}")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(argv) or (argv[i + 1].startswith("--") and len(argv[i + 1]) > 2):
                raise ValueError(f"--{key} needs a value")
            value = argv[i + 1]
            i += 1
        out[key.replace("-", "_")] = value
        i += 1
    return out


class LocalRunner:
    """The CLI's :class:`agent.protocols.CommandRunner` (see the module docstring)."""

    def __init__(self, workspace: Path, *, max_output: int = 200_000) -> None:
        self.workspace = workspace.resolve()
        self.max_output = max_output

    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        workdir = (self.workspace / cwd).resolve() if cwd else self.workspace
        if workdir != self.workspace and self.workspace not in workdir.parents:
            return ExecResult(126, f"cwd {cwd!r} is outside the workspace", 0.0)
        started = time.monotonic()
        proc = subprocess.Popen(
            command,
            shell=isinstance(command, str),
            cwd=workdir,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole
        )
        timed_out = False
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, _ = proc.communicate()
        text = out.decode("utf-8", "replace")
        truncated = len(text) > self.max_output
        if truncated:
            half = self.max_output // 2
            text = text[:half] + f"\n...[{len(text) - self.max_output} chars cut]...\n" + text[-half:]
        code = 124 if timed_out else proc.returncode
        return ExecResult(code, text, time.monotonic() - started, timed_out, truncated=truncated)


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
            f"[{r.stop_reason} | turns {m.get('turns', 0)} | "
            f"{m.get('prompt_tokens', 0)}→{m.get('completion_tokens', 0)} tok"
            f" | prefill {m.get('prefill_tps', 0):.0f} t/s | decode {m.get('decode_tps', 0):.1f} t/s | "
            f"{r.duration:.1f}s]"
        )
        print(f"\033[2m{line}\033[0m", file=sys.stderr)
        if r.error:
            print(f"localcode: {r.error}", file=sys.stderr)


def check(agent: Agent, client: HttpChatClient) -> int:
    """``--check``: the server's facts and the tool-call probe, one line each (see the module docstring)."""
    facts = read_facts(client)
    unknown = "unknown"
    print(f"server {client.base_url}: context per slot {facts.n_ctx_slot or unknown}, "
          f"slots {facts.total_slots or unknown}, model {facts.model_path or ', '.join(facts.model_names) or unknown}"
          + (f", chat template suggests {facts.template_syntax}" if facts.template_syntax else ""))
    try:
        probe = probe_tool_calls(agent, slot=0 if facts.llama else None)
    except ChatError as exc:
        print(f"localcode: server {client.base_url}: {explain_chat_error(exc, timeout=client.read_timeout)}",
              file=sys.stderr)
        return 1
    print(f"tool calls ({agent.cfg.name}): {probe.describe()} in {probe.seconds:.1f} s")
    return 0 if probe.outcome != "none" else 3


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
        overlay = opts.get("overlay")
        if overlay is not None and overlay not in cfg.prompt_overlays:
            have = ", ".join(cfg.prompt_overlays) or "none"
            raise UsageError(f"--overlay {overlay}: not a key of {cfg.name}'s prompt_overlays (it has: {have})")
        prompt = " ".join(opts["words"]) or None
        if opts["files"]:
            prompt = Path(opts["files"][0]).read_text(encoding="utf-8")
        workspace = Path.cwd()
        session_file = (
            Path(opts["session_file"])
            if opts.get("session_file")
            else default_session_file(state_dir(), workspace, cfg.name)
        )
        printer = Printer(bool(opts.get("quiet")), cfg.thinking_visibility == "show")
        client = HttpChatClient(opts.get("url") or cfg.url, read_timeout=cfg.request_timeout)
        max_seconds = float(opts["max_seconds"]) if opts.get("max_seconds") else None
        agent = Agent(
            cfg,
            client=client,
            workspace=workspace,
            runner=LocalRunner(workspace),
            log_dir=Path(opts["log_dir"]) if opts.get("log_dir") else state_dir() / "logs",
            session_file=session_file,
            limits=AgentLimits(max_seconds=max_seconds),
            model_name=opts.get("model"),
            on_event=printer.event,
            on_delta=printer.delta,
            prompt_overlay=overlay,
        )
    except (UsageError, ConfigError, OSError, ValueError) as exc:
        print(f"localcode: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    try:
        if opts.get("check"):
            return check(agent, client)
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
