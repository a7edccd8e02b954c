"""Several model servers in one run, through pytest: who served what, read from the servers' own ledgers.

External servers (``--server-url`` twice) are scripted servers in processes of their own, each
serving at most its slots at once and keeping a ledger of the requests it served; managed ones
(``--servers 2``) are the stand-in llama-server, each started with its own device environment.
Exercises are real Python ones, graded by their real tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode.results import ExerciseResult, load
from tests.support.server_processes import ServerProcess, scripted_processes
from tests.support.stand_ins import AGENT_CONFIGS, ROOT, fake_llama_env, jsonl, pid_alive

pytestmark = pytest.mark.slow

SCRIPTED = str(AGENT_CONFIGS / "scripted.json")
EIGHT = ("proverb", "wordy", "transpose", "pig-latin", "grade-school", "phone-number", "list-ops", "beer-song")
FOUR = EIGHT[:4]


def selection(names: tuple[str, ...]) -> str:
    return "python and (" + " or ".join(names) + ")"


def pytest_run(tmp: Path, dataset: Path, run_dir: Path, *args: str, env: dict[str, str] | None = None,
               model: str = SCRIPTED, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--model={model}", f"--exercises={dataset}",
           f"--run-dir={run_dir}", "--sandbox=local", "--tries=1", *args]
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), full_env.get("PYTHONPATH", "")]))
    full_env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(cmd, cwd=tmp, env=full_env, capture_output=True, text=True, timeout=timeout)


def results(run_dir: Path) -> dict[str, ExerciseResult]:
    out = {}
    for path in run_dir.glob("*/*/.aider.results.json"):
        result = load(path.parent)
        assert result is not None
        out[result.name] = result
    return out


def served_by(servers: list[ServerProcess]) -> dict[str, set[int]]:
    """Exercise → the ports of the servers whose ledgers show a request of it."""
    seen: dict[str, set[int]] = defaultdict(set)
    for server in servers:
        for entry in server.ledger():
            seen[entry["exercise"]].add(entry["port"])
    return seen


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_each_exercise_stays_on_one_server_and_work_follows_slots(tmp_path: Path, polyglot: Path) -> None:
    ledgers = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    with scripted_processes(ledgers, [1, 3], factory="tests.support.models:reference",
                            kwargs={"dataset": str(polyglot), "delay": 0.3}) as (a, b):
        run_dir = tmp_path / "run"
        proc = pytest_run(tmp_path, polyglot, run_dir, f"--server-url={a.url}", f"--server-url={b.url}/v1", "-n", "4",
                          "-k", selection(EIGHT))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        seen = served_by([a, b])
    assert set(seen) == {f"python/{n}" for n in EIGHT}
    assert all(len(ports) == 1 for ports in seen.values()), seen  # no exercise ever talked to two servers
    per_server = Counter(next(iter(ports)) for ports in seen.values())
    # 4 workers on 1 + 3 slots: one worker on a, three on b; each worker does about a quarter of the work
    assert 1 <= per_server[port_of(a.url)] <= 3 and per_server[port_of(b.url)] == 8 - per_server[port_of(a.url)]
    saved = results(run_dir)
    for name, result in saved.items():  # what we record agrees with what the server saw
        assert port_of(result.provenance["server_url"]) == next(iter(seen[name])), name
        assert result.provenance["server"]["slots"] == (1 if port_of(result.provenance["server_url"]) == port_of(a.url)
                                                        else 3)
    slots_on_b = {r.provenance["server"]["slot"] for r in saved.values() if r.provenance["server"]["slots"] == 3}
    assert slots_on_b <= {0, 1, 2}
    summary = json.loads((run_dir / "summary.json").read_text())
    servers = summary["servers"]
    assert len(servers) == 2
    by_port = {port_of(name): row for name, row in servers.items()}
    for server in (a, b):
        entries = server.ledger()
        row = by_port[port_of(server.url)]
        assert row["model_responses"] == len(entries)
        assert row["exercises"] == len({e["exercise"] for e in entries})
        assert row["busy_seconds"] > 0 and row["exercises_per_hour"] > 0
    assert sum(r["exercises"] for r in servers.values()) == 8
    text = (run_dir / "benchmark_results.txt").read_text()
    assert "Servers (throughput over each server's busy time):" in text and f":{port_of(b.url)}: " in text


def test_an_unreachable_second_server_is_one_line(tmp_path: Path, polyglot: Path) -> None:
    from pytest_localcode.server.base import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    with scripted_processes([tmp_path / "a.jsonl"], [1], factory="tests.support.models:reference",
                            kwargs={"dataset": str(polyglot)}) as (a,):
        proc = pytest_run(tmp_path, polyglot, tmp_path / "run", f"--server-url={a.url}", f"--server-url={dead}",
                          "-n", "2", "-k", selection(FOUR))
        assert a.ledger() == []  # nothing ran
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(lines) == 1 and f"--server-url {dead}: no server answers" in lines[0], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_servers_and_server_url_together_is_one_line(tmp_path: Path, polyglot: Path) -> None:
    proc = pytest_run(tmp_path, polyglot, tmp_path / "run", "--server-url=http://127.0.0.1:9", "--servers=2",
                      "-k", selection(FOUR))
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: --servers starts model servers and --server-url uses running ones" in proc.stderr


def test_more_servers_than_workers_is_one_line(tmp_path: Path, polyglot: Path) -> None:
    env = managed_env(tmp_path, polyglot)
    proc = pytest_run(tmp_path, polyglot, tmp_path / "run", "--servers=3", "-n", "2", "-k", selection(FOUR), env=env,
                      model=str(AGENT_CONFIGS / "fake-llama.json"))
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: --servers 3 with 2 worker(s): each worker keeps one server" in proc.stderr
    assert not Path(env["FAKE_LLAMA_ARGV_LOG"]).exists()  # nothing was started


def test_a_killed_external_server_loses_its_exercise_and_the_others_carry_on(tmp_path: Path, polyglot: Path) -> None:
    """kill -9 of one of two servers mid-run: the exercise it was serving is an error, its worker
    moves to the other server, the run finishes; a resumed run (without the dead URL) redoes the error."""
    ledgers = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    run_dir = tmp_path / "run"
    with scripted_processes(ledgers, [1, 1], factory="tests.support.models:reference",
                            kwargs={"dataset": str(polyglot), "delay": 0.5}) as (a, b):
        cmd_env = {**os.environ, "PYTHONPATH": str(ROOT)}
        cmd_env.pop("PYTEST_ADDOPTS", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--model={SCRIPTED}",
             f"--exercises={polyglot}", f"--run-dir={run_dir}", "--sandbox=local", "--tries=1",
             f"--server-url={a.url}", f"--server-url={b.url}", "-n", "2", "-k", selection(EIGHT)],
            cwd=tmp_path, env=cmd_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 240
            while not a.ledger():  # a answered its first exercise's write: its "finish" is on the way (0.5 s)
                assert proc.poll() is None and time.monotonic() < deadline, "the run ended before the kill point"
                time.sleep(0.02)
            a.kill()
            victim = a.ledger()[0]["exercise"]
            out, _ = proc.communicate(timeout=400)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 1, out[-3000:]
        saved = results(run_dir)
        assert len(saved) == 8
        errors = {name for name, r in saved.items() if r.error}
        assert errors == {victim}, (errors, victim)
        assert all(r.solved for name, r in saved.items() if name not in errors)
        after_kill = {e["exercise"] for e in b.ledger()}
        assert len(after_kill) == 7 and victim not in after_kill  # everything else ran on b, in the same run
        assert "Traceback" not in out

        again = pytest_run(tmp_path, polyglot, run_dir, f"--server-url={b.url}", "-n", "2", "-k", selection(EIGHT))
        assert again.returncode == 0, again.stdout[-3000:]
        assert {e["exercise"] for e in b.ledger()} - after_kill == {victim}  # only the error was redone
    assert all(r.complete and r.solved for r in results(run_dir).values())


# -- managed servers: --servers 2, each on its own device -------------------------------------------


def two_device_config(tmp_path: Path, device_env: list[dict[str, str]]) -> str:
    base = json.loads((AGENT_CONFIGS / "fake-llama.json").read_text())
    base["server_config"]["devices"] = [{"env": env} for env in device_env]
    path = tmp_path / "fake-two-gpus.json"
    path.write_text(json.dumps(base))
    return str(path)


def managed_env(tmp_path: Path, polyglot: Path, **extra: str) -> dict[str, Any]:
    return fake_llama_env(tmp_path / "fake", polyglot, **extra)


def test_servers_two_start_one_per_device_and_share_the_workers(tmp_path: Path, polyglot: Path) -> None:
    env = managed_env(tmp_path, polyglot, FAKE_LLAMA_LATENCY="0.2")
    config = two_device_config(tmp_path, [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}])
    run_dir = tmp_path / "run"
    proc = pytest_run(tmp_path, polyglot, run_dir, "--servers=2", "-n", "4", "-k", selection(EIGHT), env=env,
                      model=config)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    starts = jsonl(Path(env["FAKE_LLAMA_ARGV_LOG"]))
    assert sorted(s["cuda"] for s in starts) == ["0", "1"]
    for start in starts:
        argv = start["argv"]
        assert argv[argv.index("--parallel") + 1] == "2"  # 4 workers over 2 servers
        assert not pid_alive(start["pid"])  # both stopped at the end
    requests = jsonl(Path(env["FAKE_LLAMA_REQUEST_LOG"]))
    pids_of: dict[str, set[int]] = defaultdict(set)
    for entry in requests:
        pids_of[entry["exercise"]].add(entry["pid"])
    assert len(pids_of) == 8 and all(len(p) == 1 for p in pids_of.values())
    assert {next(iter(p)) for p in pids_of.values()} == {s["pid"] for s in starts}  # both servers worked
    assert (run_dir / "server-0.log").is_file() and (run_dir / "server-1.log").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert len(summary["provenance"]["servers"]) == 2 and len(summary["servers"]) == 2


def test_a_managed_server_that_dies_twice_hands_its_work_to_the_other(tmp_path: Path, polyglot: Path) -> None:
    """Server 0 crashes on its 2nd request every time it starts (the first exercise's "finish"): it
    is restarted once, dies again, and its worker moves to server 1, which redoes the exercise
    from the start; the run is not stopped."""
    env = managed_env(tmp_path, polyglot, FAKE_LLAMA_RESTART_LOADING="6")  # outlasts the client's own retries
    config = two_device_config(tmp_path, [{"CUDA_VISIBLE_DEVICES": "0", "FAKE_LLAMA_MODE": "die-always",
                                           "FAKE_LLAMA_DIE_AT": "2"}, {"CUDA_VISIBLE_DEVICES": "1"}])
    run_dir = tmp_path / "run"
    proc = pytest_run(tmp_path, polyglot, run_dir, "--servers=2", "-n", "2", "-k", selection(FOUR), env=env,
                      model=config)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    starts = jsonl(Path(env["FAKE_LLAMA_ARGV_LOG"]))
    assert sorted(s["cuda"] for s in starts) == ["0", "0", "1"]  # server 0 started twice (one restart)
    saved = results(run_dir)
    assert len(saved) == 4 and all(r.complete and r.solved for r in saved.values())
    assert (run_dir / "SERVER_FAILED").is_file() and not (run_dir / "SERVER_FAILED-1").exists()
    assert all(r.provenance["server"]["index"] == 1 for r in saved.values())  # server 0 finished nothing
    requests = jsonl(Path(env["FAKE_LLAMA_REQUEST_LOG"]))
    dead = {s["pid"] for s in starts if s["cuda"] == "0"}
    lost = {r["exercise"] for r in requests if r["pid"] in dead}
    assert len(lost) == 1  # one exercise tried twice on server 0 (before and after its restart)
    (victim,) = lost
    # redone from the start
    assert [r["step"] for r in requests if r["exercise"] == victim and r["pid"] not in dead][:1] == [0]
