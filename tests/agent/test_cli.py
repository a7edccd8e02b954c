"""The ``localcode`` command: flags, overrides, exit codes, the REPL, the local shell runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.cli import main, parse_args
from agent.cli import LocalRunner
from tests.support.scripted_server import ScriptedServer, tool_call


def test_parse_args_splits_flags_overrides_and_prompt() -> None:
    opts, overrides = parse_args(
        ["--agent", "gguf/x", "--max_turns", "30", "fix", "--temperature=0.2", "it", "-c", "--top-p", "none"]
    )
    assert opts["agent"] == "gguf/x" and opts["continue"] is True and opts["words"] == ["fix", "it"]
    assert overrides == {"max_turns": "30", "temperature": "0.2", "top_p": "none"}


def test_unknown_agent_lists_configs_and_exits_2(capsys) -> None:
    assert main(["--agent", "no-such-model", "hello"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("localcode: error: unknown agent config 'no-such-model'; available: ")
    assert "gguf/gemma3-270m" in err and err.count("\n") == 1


def test_bad_override_and_missing_agent_exit_2(capsys) -> None:
    assert main(["--agent", "gguf/gemma3-270m", "--max_turns", "lots", "x"]) == 2
    assert "key 'max_turns' must be an integer" in capsys.readouterr().err
    assert main(["hello"]) == 2
    assert "--agent is required" in capsys.readouterr().err
    assert main(["--list"]) == 0 and "mlx/qwen3-coder-next-bf16" in capsys.readouterr().out


def test_bad_url_exits_2_with_one_line(capsys) -> None:
    assert main(["--agent", "gguf/gemma3-270m", "--url", "ftp://127.0.0.1:8080", "hello"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("localcode: error: server URL 'ftp://127.0.0.1:8080' is not valid") and err.count("\n") == 1


def _cli(args: list[str], cwd: Path, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOCALCODE_HOME": str(home)}
    exe = Path(sys.executable).with_name("localcode")
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_run_in_the_workspace(workspace: Path, tmp_path: Path, config_file) -> None:
    cfg = config_file(tools=["read", "write", "shell", "finish"])
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Make answer() return 42.")
    script = [
        {"tool_calls": [tool_call("write", {"path": "solution.py", "content": "def answer():\n    return 42\n"})]},
        {"tool_calls": [tool_call("shell", {"command": "python3 -c 'import solution; print(solution.answer())'"})]},
        {"tool_calls": [tool_call("finish", {"summary": "returns 42"})]},
    ]
    with ScriptedServer(script) as server:
        proc = _cli(
            [
                "--agent",
                str(cfg),
                "--file",
                str(prompt),
                "--url",
                server.chat_url,
                "--max_tokens",
                "300",
                "--temperature",
                "0.5",
                "--model",
                "local-x",
            ],
            workspace,
            tmp_path / "home",
        )
        requests = server.requests
    assert proc.returncode == 0, proc.stderr
    assert "⏺ write" in proc.stdout and "returns 42" in proc.stdout
    assert "[finish | turns 3" in proc.stderr
    assert "return 42" in (workspace / "solution.py").read_text()
    shell_result = requests[2]["messages"][-1]["content"]
    assert "42" in shell_result  # the shell ran in the workspace, through the local runner
    assert (requests[0]["max_tokens"], requests[0]["temperature"], requests[0]["model"]) == (300, 0.5, "local-x")
    logs = list((tmp_path / "home" / "logs").glob("*.jsonl"))
    sessions = list((tmp_path / "home" / "sessions").rglob("*.json"))
    assert len(logs) == 1 and len(sessions) == 1 and sessions[0].parent.name.startswith("ws-")


def test_cli_continue_and_error_exit_code(workspace: Path, tmp_path: Path, config_file) -> None:
    cfg = config_file()
    with ScriptedServer(
        [{"content": "first"}, {"content": "second"}, {"status": 400, "error": "bad things"}]
    ) as server:
        home = tmp_path / "home"
        assert _cli(["--agent", str(cfg), "--url", server.url, "one"], workspace, home).returncode == 0
        assert _cli(["--agent", str(cfg), "--url", server.url, "-c", "two"], workspace, home).returncode == 0
        proc = _cli(["--agent", str(cfg), "--url", server.url, "three"], workspace, home)
        sent = [[m["content"] for m in r["messages"][1:]] for r in server.requests]
    assert sent[:2] == [["one"], ["one", "first", "two"]]
    assert proc.returncode == 1 and "localcode: HTTP 400: bad things" in proc.stderr


def test_cli_limit_exit_code(workspace: Path, tmp_path: Path, config_file) -> None:
    cfg = config_file(max_turns=2)
    with ScriptedServer(
        [{"tool_calls": [tool_call("ls", {})]}, {"tool_calls": [tool_call("read", {"path": "solution.py"})]}]
    ) as server:
        proc = _cli(["--agent", str(cfg), "--url", server.url, "-q", "go"], workspace, tmp_path / "home")
    assert proc.returncode == 3 and "[max_turns | turns 2" in proc.stderr and proc.stdout == ""


def test_repl(workspace: Path, tmp_path: Path, config_file) -> None:
    cfg = config_file()
    with ScriptedServer([{"content": "hi there"}, {"content": "again"}, {"content": "fresh"}]) as server:
        proc = _cli(
            ["--agent", str(cfg), "--url", server.url],
            workspace,
            tmp_path / "home",
            stdin="/help\nhello\n/status\nmore\n/clear\nnew start\n/quit\n",
        )
        sent = [[m["content"] for m in r["messages"][1:]] for r in server.requests]
    assert proc.returncode == 0, proc.stderr
    assert "/clear new session" in proc.stdout and "agent " in proc.stdout and "new session" in proc.stdout
    assert sent == [["hello"], ["hello", "hi there", "more"], ["new start"]]


def test_local_runner_times_out_and_kills_the_group(tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path)
    out = runner.exec("echo hi; pwd", timeout=10)
    assert out.exit_code == 0 and out.output.split() == ["hi", str(tmp_path.resolve())]
    started = time.monotonic()
    out = runner.exec("sleep 30 & sleep 30", timeout=0.5)
    assert out.timed_out and out.exit_code == 124 and time.monotonic() - started < 5
    assert runner.exec("ls", timeout=5, cwd="../").exit_code == 126
    (tmp_path / "sub").mkdir()
    assert runner.exec(["pwd"], timeout=5, cwd="sub").output.strip().endswith("/sub")
    assert json.dumps(runner.exec("exit 3", timeout=5).exit_code) == "3"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag: str, capsys) -> None:
    assert main([flag]) == 0 and "Exit codes" in capsys.readouterr().out
