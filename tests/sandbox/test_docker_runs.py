"""The Docker sandbox at run level: ``pytest --model oracle --sandbox docker`` on a synthetic
dataset (bad solutions must fail, not harm), and interrupted runs that must leave no container.
Needs an engine and the image: see tests/sandbox/conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.listener import listener
from tests.sandbox.helpers import bridge_gateway, containers, wait_for
from tests.support.datasets import python_exercise


def run(pytester: pytest.Pytester, dataset: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--model", "oracle", "--sandbox", "docker", f"--exercises={dataset}", f"--run-dir={pytester.path / 'run'}",
        "-q", *args,
    )


def verdict(pytester: pytest.Pytester, slug: str) -> dict:
    return json.loads((pytester.path / "run" / "python" / slug / ".aider.results.json").read_text())["localcode"]


def test_run_passes_a_good_solution(docker_engine: Any, pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "good", example="def answer():\n    return 42\n")
    result = run(pytester, tmp_path)
    result.assert_outcomes(passed=1)
    assert verdict(pytester, "good")["tries"][-1]["tests"]["executed"] == 2


def test_run_infinite_loop_times_out(docker_engine: Any, pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "loop", example="def answer():\n    while True:\n        pass\n")
    started = time.monotonic()
    result = run(pytester, tmp_path, "--test-timeout=4")
    assert time.monotonic() - started < 90
    result.assert_outcomes(failed=1)
    assert verdict(pytester, "loop")["tries"][-1]["outcome"] == "timeout"


def test_run_fork_bomb_fails(docker_engine: Any, pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "forkbomb", example="import os\n\ndef answer():\n    while True:\n        try:\n"
                    "            os.fork()\n        except OSError:\n            pass\n")
    result = run(pytester, tmp_path, "--test-timeout=5")
    result.assert_outcomes(failed=1)
    assert verdict(pytester, "forkbomb")["status"] == "fail"


def test_run_twenty_gigabytes_is_killed(docker_engine: Any, pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "hog", example="def answer():\n    data = bytearray(20 * 1024**3)\n    return 42\n")
    result = run(pytester, tmp_path, "--test-timeout=90")
    result.assert_outcomes(failed=1)
    last = verdict(pytester, "hog")["tries"][-1]
    assert last["outcome"] in ("fail", "build_error")
    assert last["tests"]["oom_killed"] is True


def test_run_solution_opening_a_socket_fails(docker_engine: Any, pytester: pytest.Pytester, tmp_path: Path) -> None:
    with listener() as (port, accepted):
        python_exercise(tmp_path, "netcall", example=f"import socket\n\ndef answer():\n"
                        f"    socket.create_connection(({bridge_gateway(docker_engine)!r}, {port}), "
                        "timeout=3).close()\n"
                        "    return 42\n")
        result = run(pytester, tmp_path, "--test-timeout=30")
    result.assert_outcomes(failed=1)
    assert verdict(pytester, "netcall")["status"] == "fail"
    assert accepted == []


def _start_run(tmp_path: Path, run_id: str) -> subprocess.Popen[bytes]:
    """A run whose only exercise sleeps in its tests, so a container is alive when we interrupt it."""
    dataset = tmp_path / "ds"
    python_exercise(dataset, "sleepy", example="import time\n\ndef answer():\n    time.sleep(120)\n    return 42\n")
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--model", "oracle", "--sandbox", "docker",
         f"--exercises={dataset}", f"--run-dir={tmp_path / 'run'}", "-q"],
        cwd=tmp_path, env={**os.environ, "LOCALCODE_RUN_ID": run_id}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def test_sigint_leaves_no_container(docker_engine: Any, tmp_path: Path) -> None:
    run_id = f"test-sigint-{uuid.uuid4().hex[:8]}"
    proc = _start_run(tmp_path, run_id)
    try:
        wait_for(lambda: containers(docker_engine, run_id), 120, "the run's container")
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output.decode(errors="replace")[-2000:]
    assert containers(docker_engine, run_id) == []


def test_kill_9_leftovers_are_swept_by_the_next_run(docker_engine: Any, pytester: pytest.Pytester,
                                                    tmp_path: Path) -> None:
    run_id = f"test-kill9-{uuid.uuid4().hex[:8]}"
    proc = _start_run(tmp_path, run_id)
    try:
        wait_for(lambda: containers(docker_engine, run_id), 120, "the run's container")
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert len(containers(docker_engine, run_id)) == 1, "SIGKILL allows no cleanup: the container must still be there"
    python_exercise(tmp_path / "next", "good", example="def answer():\n    return 42\n")
    run(pytester, tmp_path / "next").assert_outcomes(passed=1)
    assert containers(docker_engine, run_id) == []
