"""kill -9 mid-run, then the same command: finished exercises are not re-run, the report covers all.

The scripted model counts requests per exercise, so "not re-run" is checked by the agent never
asking again for a finished exercise, not by the harness's own word.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_localcode.results import load
from tests.support.benchmark_runs import PROJECT, REFERENCE_PLAN, PlanModel, command, environment, run_benchmark
from tests.support.report_files import html_rows
from tests.support.scripted_server import ScriptedServer

NAMES = list(REFERENCE_PLAN)  # cpp, go, java, javascript, python, rust: run in this order without xdist
SLOW = "java/bowling"  # the one in flight when the run is killed


def complete(run_dir: Path, name: str) -> bool:
    result = load(run_dir / name)
    return result is not None and result.complete


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (rc {proc.returncode}) before the kill point:\n"
                                 f"{proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            raise AssertionError("the kill point was not reached in time")
        time.sleep(0.05)


def kill_mid_run(polyglot: Path, model: PlanModel, run_dir: Path) -> None:
    """Run until two exercises are saved and the third is talking to the model, then kill -9."""
    with ScriptedServer(model, repeat=False) as server:
        proc = subprocess.Popen(command(polyglot, server, run_dir, NAMES), cwd=PROJECT, env=environment(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            wait_for(lambda: model.calls[SLOW] >= 1 and complete(run_dir, NAMES[0]) and complete(run_dir, NAMES[1]),
                     proc)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            try:  # the killed pytest's own children (sandboxed test runs) would linger otherwise
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()


@pytest.mark.slow
def test_killed_run_resumes_without_redoing_finished_exercises(polyglot: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    model = PlanModel(polyglot, REFERENCE_PLAN, delay={SLOW: 1.0})
    kill_mid_run(polyglot, model, run_dir)
    before = Counter(model.calls)
    finished = {name for name in NAMES if complete(run_dir, name)}
    assert {NAMES[0], NAMES[1]} <= finished and SLOW not in finished
    assert not (run_dir / "summary.json").exists()  # the killed run wrote no report

    model.delay = {}
    again = run_benchmark(polyglot, model, run_dir, NAMES)  # the same command again
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    print(f"finished before the kill: {sorted(finished)}; requests per exercise before the kill {dict(before)}, "
          f"after the resumed run {dict(again.calls)}")
    for name in NAMES:
        asked = again.calls[name] - before[name]
        if name in finished:
            assert asked == 0, f"{name} was finished before the kill but the agent ran again ({asked} requests)"
        else:
            assert asked >= 2, f"{name} was not finished but was not re-run"
    assert before[SLOW] >= 1 and again.calls[SLOW] > before[SLOW]

    summary = again.summary()
    assert sorted(summary["exercises"]) == sorted(NAMES)
    assert summary["total"]["pass_1"] == 6 and summary["total"]["errors"] == 0
    # Resumed exercises keep their numbers: the report's total is both sessions' model traffic.
    sent_this_session = again.totals["completion_tokens"]
    assert summary["total"]["completion_tokens"] > sent_this_session
    saved = {name: json.loads((run_dir / name / ".aider.results.json").read_text()) for name in NAMES}
    assert summary["total"]["completion_tokens"] == sum(d["completion_tokens"] for d in saved.values())
    assert set(html_rows(run_dir / "report.html")) == {n.replace("/", "::") for n in NAMES}
