"""Server health over a run: slowdowns, restarts and runs of failed requests, with the exercises
they touched; never a false alarm on a server whose speed only jitters.

The first tests analyse synthetic records; the others are whole runs against a scripted server
that slows down halfway (or jitters, or a managed stand-in that crashes once), with real Python
exercises and their real tests.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode import health
from tests.support.benchmark_runs import command, environment
from tests.support.models import ChattyModel, task_of
from tests.support.scripted_server import ScriptedServer
from tests.support.stand_ins import AGENT_CONFIGS, ROOT, fake_llama_env

SIX = ["python/proverb", "python/wordy", "python/transpose", "python/pig-latin", "python/grade-school",
       "python/beer-song"]


def resp(t: float, ex: str, decode: float, *, srv: int = 0, worker: str = "gw0", tokens: int = 64) -> dict[str, Any]:
    return {"t": t, "w": worker, "ev": "resp", "ex": ex, "srv": srv, "dn": tokens, "dms": tokens / decode * 1000,
            "pn": 400, "pms": 200.0}


def steady_then_slow(factor: float, seed: int = 0, jitter: float = 0.0) -> list[dict[str, Any]]:
    """Two workers, eight exercises of five responses each, every 2 s; speed divided by ``factor``
    from the 41st response on."""
    rng = random.Random(seed)
    records = []
    for n in range(80):
        ex, worker = f"python/ex{n // 10}", f"gw{n % 2}"
        speed = 80.0 / (factor if n >= 40 else 1.0) * rng.uniform(1 - jitter, 1 + jitter)
        records.append(resp(1000.0 + 2 * n, ex, speed, worker=worker))
    return records


def test_five_times_slower_halfway_is_one_slowdown_naming_the_exercises() -> None:
    found = health.analyse(steady_then_slow(5.0), start=1000.0)
    (event,) = found["events"]
    assert event["kind"] == "slowdown" and event["baseline_tps"] == 80.0 and event["lowest_median_tps"] == 16.0
    assert event["exercises"] == [f"python/ex{i}" for i in range(4, 8)]
    assert event["start_s"] == 80.0 and event["end_s"] == 158.0
    assert "slowed down" in health.describe(event) and "python/ex4" in health.describe(event)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_jittery_but_steady_server_is_no_slowdown(seed: int) -> None:
    assert health.analyse(steady_then_slow(1.0, seed=seed, jitter=0.35), start=1000.0)["events"] == []


def test_a_slowdown_that_recovers_ends() -> None:
    records = steady_then_slow(5.0)
    records += [resp(1160.0 + 2 * n, "python/ex9", 80.0) for n in range(20)]
    (event,) = health.analyse(records, start=1000.0)["events"]
    assert event["end_s"] < 170 and "python/ex9" not in event["exercises"]


def test_restart_names_the_exercises_in_flight() -> None:
    records = [
        {"t": 10.0, "w": "gw0", "ev": "try", "ex": "python/a", "tr": 1, "srv": 0},
        {"t": 11.0, "w": "gw1", "ev": "try", "ex": "python/b", "tr": 1, "srv": 0},
        {"t": 12.0, "w": "gw1", "ev": "tests", "ex": "python/b", "tr": 1},
        {"t": 13.0, "w": "gw2", "ev": "try", "ex": "python/c", "tr": 1, "srv": 1},
        resp(14.0, "python/a", 50.0),
        {"t": 20.0, "w": "controller", "ev": "restart", "srv": 0, "how": "it died"},
    ]
    (event,) = health.analyse(records, start=0.0)["events"]
    assert event["kind"] == "restart" and event["exercises"] == ["python/a"] and event["start_s"] == 20.0


def test_a_run_of_failed_requests_but_not_a_single_one() -> None:
    def err(t: float, ex: str) -> dict[str, Any]:
        return {"t": t, "w": "gw0", "ev": "err", "ex": ex, "srv": 0, "kind": "http", "status": 503}

    records = [resp(1.0, "python/a", 50), err(2.0, "python/a"), resp(3.0, "python/a", 50),
               err(4.0, "python/b"), err(5.0, "python/b"), err(6.0, "python/c"), resp(7.0, "python/c", 50)]
    (event,) = health.analyse(records, start=0.0)["events"]
    assert (event["kind"], event["count"], event["exercises"]) == ("http_errors", 3, ["python/b", "python/c"])


def test_no_timings_means_unknown_speed() -> None:
    records = [{"t": float(n), "w": "gw0", "ev": "resp", "ex": "python/a", "srv": 0} for n in range(30)]
    found = health.analyse(records, start=0.0)
    assert found["timed"] == 0 and found["events"] == [] and found["servers"]["0"]["median_decode_tps"] is None
    assert health.health_lines(found)[0] == "Server health: unknown (the server reported no timings)"


# -- whole runs -----------------------------------------------------------------------------------------


LOOKS = 6  # reads before the write and the finish: 8 responses per exercise


def bench_run(dataset: Path, run_dir: Path, **server: Any) -> tuple[subprocess.CompletedProcess[str], ScriptedServer]:
    with ScriptedServer(ChattyModel(dataset, LOOKS), **server) as scripted:
        proc = subprocess.run(command(dataset, scripted, run_dir, SIX, "--tries=1"), cwd=ROOT, env=environment(),
                              capture_output=True, text=True, timeout=600)
    return proc, scripted


@pytest.mark.slow
def test_server_slowing_down_fivefold_halfway_is_flagged(tmp_path: Path, polyglot: Path) -> None:
    per_exercise = LOOKS + 2
    proc, server = bench_run(polyglot, tmp_path / "run", slow_after=3 * per_exercise, slow_factor=5.0)
    assert proc.returncode == 0, proc.stdout[-3000:]
    slowed = sorted({"/".join(task_of(r)[:2]) for r in server.requests[3 * per_exercise:]})
    events = json.loads((tmp_path / "run" / "summary.json").read_text())["health"]["events"]
    (event,) = events
    assert event["kind"] == "slowdown" and event["exercises"] == slowed and len(slowed) == 3
    assert "WARNING: server 0 slowed down" in proc.stdout  # the terminal summary says so
    assert "WARNING: server 0 slowed down" in (tmp_path / "run" / "benchmark_results.txt").read_text()
    html = (tmp_path / "run" / "report.html").read_text()
    assert 'class="lc-health"' in html and 'class="lc-slow"' in html and 'data-kind="slowdown"' in html


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_steady_server_raises_no_alarm(tmp_path: Path, polyglot: Path, seed: int) -> None:
    proc, _ = bench_run(polyglot, tmp_path / "run", jitter=0.3, jitter_seed=seed)
    assert proc.returncode == 0, proc.stdout[-3000:]
    found = json.loads((tmp_path / "run" / "summary.json").read_text())["health"]
    assert found["timed"] >= 6 * (LOOKS + 2) and found["events"] == []
    assert "WARNING" not in proc.stdout


@pytest.mark.slow
def test_stop_on_slowdown_starts_no_further_exercise(tmp_path: Path, polyglot: Path) -> None:
    per_exercise = LOOKS + 2
    model = ChattyModel(polyglot, LOOKS)
    with ScriptedServer(model, slow_after=2 * per_exercise, slow_factor=5.0, latency=0.3) as server:
        proc = subprocess.run(command(polyglot, server, tmp_path / "run", SIX, "--tries=1", "--stop-on-slowdown"),
                              cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out[-3000:]
    assert "stopping the run: --stop-on-slowdown: server 0 slowed down" in out and "--run-dir" in out
    finished = list((tmp_path / "run").glob("python/*/.aider.results.json"))
    assert 2 < len(finished) < len(SIX)


@pytest.mark.slow
def test_managed_server_restart_is_flagged(tmp_path: Path, polyglot: Path) -> None:
    env = {**environment(), **fake_llama_env(tmp_path / "fake", polyglot, FAKE_LLAMA_MODE="die-once",
                                              FAKE_LLAMA_DIE_AT="4", FAKE_LLAMA_RESTART_LOADING="6")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--model={AGENT_CONFIGS / 'fake-llama.json'}",
         f"--exercises={polyglot}", f"--run-dir={tmp_path / 'run'}", "--sandbox=local", "-k",
         "python and (proverb or wordy)"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    requests = [json.loads(line) for line in Path(env["FAKE_LLAMA_REQUEST_LOG"]).read_text().splitlines()]
    victim = next(r["exercise"] for r in requests if r["n"] == 4)
    events = json.loads((tmp_path / "run" / "summary.json").read_text())["health"]["events"]
    restarts = [e for e in events if e["kind"] == "restart"]
    assert len(restarts) == 1 and victim in restarts[0]["exercises"], events
    assert "WARNING: server 0 restarted" in proc.stdout



def fast_start() -> list[dict[str, Any]]:
    """One worker alone for two minutes, then two sharing the server at less than half the speed each
    (as on a 2-core machine): whether that is a slowdown depends on the baseline, which therefore
    must be the same for the live warning and the report."""
    return [resp(1000.0 + 20 * n, f"python/ex{n // 4}", 80.0 if n < 6 else 35.0) for n in range(40)]


def slow_halfway(factor: float, jitter: float) -> list[dict[str, Any]]:
    records = steady_then_slow(factor, seed=4, jitter=jitter)
    return [{**r, "t": r["t"] + 7.5} for r in records] + [resp(1200.0 + 3 * n, "python/ex9", 80.0 / factor)
                                                          for n in range(30)]


@pytest.mark.parametrize("records", [slow_halfway(5.0, 0.0), slow_halfway(5.0, 0.3), slow_halfway(1.0, 0.35),
                                     slow_halfway(2.2, 0.1), fast_start()],
                         ids=["5x", "5x-jitter", "steady-jitter", "2.2x", "fast-start"])
def test_a_warning_during_the_run_is_an_event_of_the_report(records: list[dict[str, Any]]) -> None:
    """The live view analyses the records seen so far, the report all of them: every event found on a
    prefix is found, with the same start, on the whole run (the baseline is fixed before any check)."""
    final = {(e["kind"], e["server"], e["start"]) for e in health.analyse(records)["events"]}
    for end in range(1, len(records) + 1):
        live = {(e["kind"], e["server"], e["start"]) for e in health.analyse(records[:end])["events"]}
        assert live <= final, (end, live, final)


def test_an_earlier_start_would_warn_of_what_the_report_does_not_show() -> None:
    """Why the live view takes the report's start: from the session's start (before the preflight), the
    baseline of the first minutes is the lone worker's speed, and sharing the server reads as a slowdown."""
    records = fast_start()
    assert health.analyse(records)["events"] == []
    assert [e["kind"] for e in health.analyse(records, start=records[0]["t"] - 150)["events"]] == ["slowdown"]
