"""The ``localcode`` console script: harness commands by name, the agent for everything else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_localcode import commands
from tests.support.benchmark_runs import PROJECT, environment
from tests.support.synthetic_results import make_result, write_run


def _hello(argv: list[str]) -> int:
    print("hello " + " ".join(argv))
    return 7


def test_localcode_compare_runs_the_harness_comparison(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever ``python -m pytest_localcode.compare`` prints and returns, ``localcode compare`` does."""
    from pytest_localcode.compare import main as compare_main

    a = write_run(tmp_path / "a", [make_result("python/x", ["pass"]), make_result("go/y", ["fail", "fail"])])
    b = write_run(tmp_path / "b", [make_result("python/x", ["fail", "fail"]), make_result("go/y", ["fail", "pass"])])
    for args in ([str(a), str(b)], [str(tmp_path / "nope"), str(b)]):
        expected = compare_main(args), capsys.readouterr()
        assert (commands.main(["compare", *args]), capsys.readouterr()) == expected
        assert expected[1].out or expected[1].err


def test_everything_else_goes_to_the_agent(capsys: pytest.CaptureFixture[str]) -> None:
    assert commands.main(["--list"]) == 0
    assert "gguf/gemma3-270m" in capsys.readouterr().out.split()
    assert commands.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--agent" in out and "localcode compare ..." in out
    assert commands.main(["--agent", "gguf/no-such-model", "hi"]) == 2
    assert "unknown agent config" in capsys.readouterr().err


def test_a_command_is_one_registry_entry(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(commands.COMMANDS, "hello", f"{__name__}:_hello")
    assert commands.main(["hello", "a", "b"]) == 7
    assert capsys.readouterr().out == "hello a b\n"


def test_the_console_script_is_the_dispatcher(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "localcode"
    if not script.exists():
        pytest.skip("the package is not installed in this interpreter's environment (run bin/setup)")
    proc = subprocess.run([str(script), "compare", "--help"], cwd=PROJECT, env=environment(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "RUN_A" in proc.stdout and "--agent" not in proc.stdout, proc.stderr
    agent = subprocess.run([sys.executable, "-m", "agent.cli", "--list"], cwd=PROJECT, env=environment(),
                           capture_output=True, text=True, timeout=60)
    assert agent.returncode == 0 and "gguf/gemma3-270m" in agent.stdout.split()  # the agent alone, without the harness
