"""Working time vs waiting time, through pytest: four workers share a server with two slots, so
requests queue; the waiting is measured and reported, and --agent-timeout counts only the working
time, so an exercise whose wall time passes the limit while its working time does not goes on.

The scripted server serves at most two requests at once (the others wait for a slot before any
byte, as with llama-server) and reports each request's ``work`` as its own prompt and generation
time. Real Python exercises, real tests.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pytest_localcode.results import load
from tests.support.benchmark_runs import command, environment
from tests.support.models import ChattyModel
from tests.support.scripted_server import ScriptedServer
from tests.support.stand_ins import ROOT

pytestmark = pytest.mark.slow

FOUR = ["python/proverb", "python/wordy", "python/transpose", "python/pig-latin"]
LOOKS, WORK = 4, 1.0  # 6 responses of 1 s each: 6 s of working time per exercise
TIMEOUT = 8.0  # above the working time, below the wall time of an exercise that queues


def test_queued_exercises_are_not_cut_off_and_waiting_is_reported(tmp_path: Path, polyglot: Path) -> None:
    run_dir = tmp_path / "run"
    with ScriptedServer(ChattyModel(polyglot, LOOKS, WORK), slots=2, limit_slots=True) as server:
        proc = subprocess.run(command(polyglot, server, run_dir, FOUR, "-n", "4", "--tries=1",
                                      f"--agent-timeout={TIMEOUT}"),
                              cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = summary["exercises"]
    results = [load(run_dir / name) for name in FOUR]
    assert [r.tries[0].stop_reason if r else None for r in results] == ["finish"] * 4  # none cut off
    assert all(rows[n]["working_seconds"] < TIMEOUT for n in FOUR), {n: rows[n]["working_seconds"] for n in FOUR}
    over = [n for n in FOUR if rows[n]["agent_seconds"] > TIMEOUT]
    assert over, {n: rows[n]["agent_seconds"] for n in FOUR}  # wall time past the limit: it went on
    for name in over:
        assert rows[name]["waiting_seconds"] > rows[name]["agent_seconds"] - TIMEOUT
    total = summary["total"]
    assert total["waiting_seconds"] > 4 and total["working_seconds"] == pytest.approx(
        total["agent_seconds"] - total["waiting_seconds"], abs=0.01)
    text = (run_dir / "benchmark_results.txt").read_text()
    assert f"waiting for a server slot {total['waiting_seconds']:.0f} s" in text
    assert "4 workers share 2 slots: requests queue" in text
