"""``pytest --model NAME`` with an owned server, end to end through pytest, against the stand-in.

The stand-in llama-server (``tests/support/fake_llama_server.py``, via ``LLAMA_SERVER``) serves
the reference solution of each exercise, so items pass when the server path works; it records
each start (argv, PID) and each chat request (PID, exercise), which is what these tests assert
on. Real exercises, real tests (Python ones: their tests take about a second).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_localcode.results import ExerciseResult, load
from tests.support.stand_ins import AGENT_CONFIGS, fake_llama_env, jsonl, pid_alive, wait_for

FAKE = str(AGENT_CONFIGS / "fake-llama.json")
TWO = "python and (proverb or wordy)"
THREE = "python and (proverb or wordy or transpose)"


@pytest.fixture
def fake_env(tmp_path: Path, polyglot: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = fake_llama_env(tmp_path / "fake", polyglot)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def run(pytester: pytest.Pytester, dataset: Path, *args: str, model: str = FAKE) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--model", model, f"--exercises={dataset}", f"--run-dir={pytester.path / 'run'}", "--sandbox=local",
        "-p", "no:cacheprovider", *args, timeout=300,
    )


def one_line_error(result: pytest.RunResult, *needles: str) -> str:
    """The run ended with a usage error: one ``ERROR:`` line naming ``needles``, no traceback."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    err = result.stderr.str()
    assert "Traceback" not in err + result.stdout.str()
    lines = [line for line in err.splitlines() if line.startswith("ERROR:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def results_of(pytester: pytest.Pytester) -> dict[str, ExerciseResult]:
    """Saved results by ``language/slug`` (what a resume would read)."""
    out = {}
    for path in (pytester.path / "run").glob("*/*/.aider.results.json"):
        result = load(path.parent)
        assert result is not None
        out[f"{path.parent.parent.name}/{path.parent.name}"] = result
    return out


# -- one server for N workers -------------------------------------------------------------------


def test_two_workers_share_one_server_with_two_slots(pytester: pytest.Pytester, polyglot: Path, fake_env: dict) -> None:
    result = run(pytester, polyglot, "-n", "2", "-k", TWO)
    result.assert_outcomes(passed=2)
    starts = jsonl(Path(fake_env["FAKE_LLAMA_ARGV_LOG"]))
    assert len(starts) == 1, starts
    argv = starts[0]["argv"]
    assert argv[argv.index("--parallel") + 1] == "2" and "--kv-unified" in argv
    requests = jsonl(Path(fake_env["FAKE_LLAMA_REQUEST_LOG"]))
    assert {r["exercise"] for r in requests} == {"python/proverb", "python/wordy"}
    assert {r["pid"] for r in requests} == {starts[0]["pid"]}
    assert not pid_alive(starts[0]["pid"])  # stopped once, after both workers finished
    assert "listening" in (pytester.path / "run" / "server.log").read_text()


@pytest.mark.slow  # xdist gives workers that did not get the signal 10 s to exit
def test_ctrl_c_stops_the_server(tmp_path: Path, polyglot: Path, fake_env: dict) -> None:
    """SIGINT to the pytest process only, mid-run: the server (in its own session, so a terminal's
    Ctrl-C never reaches it directly) is stopped by the run, and nothing outlives it."""
    env = {**os.environ, **fake_env, "FAKE_LLAMA_LATENCY": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--model", FAKE, f"--exercises={polyglot}", f"--run-dir={tmp_path / 'run'}",
         "--sandbox=local", "-p", "no:cacheprovider", "-n", "2", "-k", TWO],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert wait_for(lambda: jsonl(Path(fake_env["FAKE_LLAMA_REQUEST_LOG"])), 120), "no request reached the server"
        server = jsonl(Path(fake_env["FAKE_LLAMA_ARGV_LOG"]))[0]["pid"]
        assert pid_alive(server)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    assert wait_for(lambda: not pid_alive(server), 15), "llama-server outlived the interrupted run"
    assert "Traceback" not in out.split("KeyboardInterrupt")[0]


# -- bad input: one line each -------------------------------------------------------------------


def test_unknown_model_lists_the_available_ones(pytester: pytest.Pytester, polyglot: Path) -> None:
    line = one_line_error(run(pytester, polyglot, model="no-such-model"), "--model no-such-model", "available:")
    assert "gemma3-270m" in line and "oracle" in line


def test_missing_gguf_names_path_and_hint(pytester: pytest.Pytester, polyglot: Path, fake_env: dict,
                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODEL", str(tmp_path / "gone.gguf"))
    one_line_error(run(pytester, polyglot, "-k", TWO), f"model file {tmp_path / 'gone.gguf'} not found",
                   "example/fake-GGUF/fake.gguf")


def test_port_already_taken(pytester: pytest.Pytester, polyglot: Path, fake_env: dict) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        one_line_error(run(pytester, polyglot, f"--server-port={port}", "-k", TWO), f"port {port} is already taken")
    assert not Path(fake_env["FAKE_LLAMA_ARGV_LOG"]).exists()


def test_llama_server_env_pointing_nowhere(pytester: pytest.Pytester, polyglot: Path, fake_env: dict,
                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLAMA_SERVER", str(tmp_path / "nowhere" / "llama-server"))
    one_line_error(run(pytester, polyglot, "-k", TWO), "LLAMA_SERVER=", "does not exist")


def test_no_llama_server_anywhere(pytester: pytest.Pytester, polyglot: Path, fake_env: dict,
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LLAMA_SERVER")
    monkeypatch.setenv("LOCALCODE_HOME", str(tmp_path / "empty-home"))  # no bin/setup build here
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert not Path("/usr/bin/llama-server").exists()
    one_line_error(run(pytester, polyglot, "-k", TWO), "llama-server not found", "./bin/setup", "LLAMA_SERVER")


def test_server_exiting_during_startup_shows_its_log(pytester: pytest.Pytester, polyglot: Path, fake_env: dict,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODE", "exit")
    one_line_error(run(pytester, polyglot, "-k", TWO), "exited with code 3 during start-up",
                   "unsupported GGUF version", "server.log")


# -- server death mid-run -----------------------------------------------------------------------


@pytest.mark.slow
def test_server_killed_mid_run_is_restarted_and_the_item_rerun(pytester: pytest.Pytester, polyglot: Path,
                                                               fake_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first server crashes on its 4th chat request: the second exercise's second turn (each
    # exercise is write + finish). The restart "loads" longer than the client's own retries, so
    # only the harness's re-run can recover: a fresh try 1 of that exercise, on the new server.
    monkeypatch.setenv("FAKE_LLAMA_MODE", "die-once")
    monkeypatch.setenv("FAKE_LLAMA_DIE_AT", "4")
    monkeypatch.setenv("FAKE_LLAMA_RESTART_LOADING", "6")
    result = run(pytester, polyglot, "-k", TWO)
    result.assert_outcomes(passed=2)
    first, second = (s["pid"] for s in jsonl(Path(fake_env["FAKE_LLAMA_ARGV_LOG"])))
    requests = jsonl(Path(fake_env["FAKE_LLAMA_REQUEST_LOG"]))
    victim = next(r for r in requests if r["pid"] == first and r["n"] == 4)
    assert victim["step"] == 1
    rerun = [r for r in requests if r["pid"] == second and r["exercise"] == victim["exercise"]]
    assert rerun and rerun[0]["step"] == 0 and rerun[0]["try"] == 1, requests
    assert all(r.complete and r.solved for r in results_of(pytester).values())
    assert not pid_alive(second)


@pytest.mark.slow
def test_second_death_stops_the_run_with_results_saved(pytester: pytest.Pytester, polyglot: Path,
                                                       fake_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every start crashes on its 4th request: exercise 1 passes, exercise 2 is interrupted,
    # re-run on the restarted server and passes, exercise 3 kills the restarted server too.
    monkeypatch.setenv("FAKE_LLAMA_MODE", "die-always")
    monkeypatch.setenv("FAKE_LLAMA_DIE_AT", "4")
    monkeypatch.setenv("FAKE_LLAMA_RESTART_LOADING", "6")
    started = time.monotonic()
    result = run(pytester, polyglot, "-k", THREE)
    assert time.monotonic() - started < 240
    assert result.ret == 3, result.stdout.str()[-3000:]
    out = result.stdout.str() + result.stderr.str()
    assert "stopping the run: model server died again" in out and "--run-dir" in out
    assert "Traceback" not in out
    saved = results_of(pytester)
    assert sum(1 for r in saved.values() if r.complete and r.solved) == 2, saved
    assert len(saved) == 3 and sum(1 for r in saved.values() if not r.complete) == 1  # resume redoes it
    assert len(jsonl(Path(fake_env["FAKE_LLAMA_ARGV_LOG"]))) == 2
