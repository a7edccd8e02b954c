"""The real thing: ``pytest --model gemma3-270m`` starts the real llama-server with the real tiny
model, the agent works on real exercises, and their real tests grade it.

The model solves almost nothing; these tests prove the path (server start, tool calls over
HTTP, tokens counted, tests run, server stopped), not the score. Turns and tries are capped so
they take a minute or two on 2 quiet cores; speed is logged, never asserted. They skip only
when ``./bin/setup`` has not built llama-server or installed the model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_localcode.server.base import ServerError
from pytest_localcode.server.llama import expand, find_llama_server
from tests.support.stand_ins import descendants_named, pid_alive, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.llama]

MODEL = "gemma3-270m"
BENCH_SELECTION = "(python and proverb) or (javascript and space-age) or (go and bowling)"
TWO = "python and (proverb or wordy)"
CAPS = ("--tries=1", "--max-turns=2", "--sandbox=local", "-p", "no:cacheprovider")


@pytest.fixture(scope="module")
def real_llama() -> str:
    """The llama-server binary and the model file, or a skip that says how to get them."""
    try:
        binary = find_llama_server()
    except ServerError as exc:
        pytest.skip(f"no real llama-server: {exc}")
    from agent import load_config

    model = expand(str((load_config(MODEL).server_config or {})["model_path"]))
    if not Path(model).is_file():
        pytest.skip(f"the {MODEL} model file {model} is missing: run ./bin/setup")
    return binary


def pytest_cmd(dataset: Path, run_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "--model", MODEL, f"--exercises={dataset}", f"--run-dir={run_dir}",
            *CAPS, *args]


def serving(root: int) -> dict[int, list[str]]:
    """The llama-server processes below ``root`` that serve a model (not a ``--version`` probe)."""
    return {pid: argv for pid, argv in descendants_named(root, "llama-server").items() if "--model" in argv}


def watch(proc: subprocess.Popen[str], seen: dict[int, list[str]], until: float) -> None:
    """Poll /proc while ``proc`` runs: every serving llama-server below it, with its argv."""
    while proc.poll() is None and time.monotonic() < until:
        seen.update(serving(proc.pid))
        time.sleep(0.1)


def test_bench_selection_end_to_end(real_llama: str, polyglot: Path, tmp_path: Path) -> None:
    """What ``./bin/bench`` runs (three languages), with turns capped: tokens counted, tests run."""
    run_dir = tmp_path / "run"
    proc = subprocess.run(pytest_cmd(polyglot, run_dir, "-k", BENCH_SELECTION), cwd=tmp_path, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
    out = proc.stdout
    assert proc.returncode in (0, 1), out[-4000:]  # 1: the tiny model failed some (expected)
    summary = json.loads((run_dir / "summary.json").read_text())
    total = summary["total"]
    print(f"\ngemma3-270m: {total['exercises']} exercises, prompt {total['prompt_tokens']} / completion "
          f"{total['completion_tokens']} tokens, prefill {total['prefill_tps']} t/s, decode {total['decode_tps']} t/s")
    assert total["exercises"] == 3 and total["errors"] == 0, out[-4000:]
    assert {row["language"] for row in summary["exercises"].values()} == {"python", "javascript", "go"}
    assert total["prompt_tokens"] > 0 and total["completion_tokens"] > 0
    assert total["prefill_tps"] > 0 and total["decode_tps"] > 0
    assert total["tests_defined"] > 0  # the exercises' own tests were found and run
    # the config's call grammar is accepted by the real server and the replies parse as calls
    assert total["http_errors"] == 0 and total["model_responses"] > 0
    assert total["tool_call_responses"] >= 0.8 * total["model_responses"], total
    assert "Pass@1" in out and "Tokens: prompt" in out  # the printed summary
    log = (run_dir / "server.log").read_text()
    assert "--alias gemma3-270m" in log and "--chat-template-file" in log
    preflight_facts(summary["provenance"], real_llama)


def preflight_facts(provenance: dict, binary: str, slots: int = 1) -> None:
    """What the preflight learned from the real server: its context per slot is the config's, it
    serves the config's model file (sha256 recorded), and the tiny model's call comes back — as
    text in the template's <tool_calls> syntax, read by the agent (its config sends a call grammar)."""
    from agent import load_config

    cfg = load_config(MODEL)
    (record,) = provenance["preflight"]
    assert record["facts"]["props"] == "ok" and record["facts"]["total_slots"] == slots
    assert record["context"] == {"served": cfg.server_config["context_window"],
                                 "config": cfg.server_config["context_window"], "check": "ok"}
    assert record["model"]["check"] == "ok" and len(record["model"]["sha256"]) == 64
    assert Path(record["model"]["served"]).name == Path(expand(cfg.server_config["model_path"])).name
    probe = record["tool_calls"]
    print(f"\npreflight on the real server: {probe['description']} in {probe['seconds']} s; "
          f"warm-up {record['warm_up']}; id_slot {record['id_slot']}")
    assert (probe["outcome"], probe["syntax"], probe["called"]) == ("recovered", "tool_calls", "read")
    assert record["warm_up"]["slots"] == list(range(slots)) and record["id_slot"] is True
    assert provenance["determinism"]["deterministic"] is (slots == 1)


def run_watched(dataset: Path, run_dir: Path, *args: str) -> tuple[int, str, dict[int, list[str]]]:
    """Run ``pytest_cmd``; (exit code, output, every serving llama-server seen below it meanwhile)."""
    proc = subprocess.Popen(pytest_cmd(dataset, run_dir, *args), cwd=run_dir.parent, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: dict[int, list[str]] = {}
    try:
        watch(proc, seen, time.monotonic() + 1800)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, seen


def test_two_workers_share_one_real_server(real_llama: str, polyglot: Path, tmp_path: Path) -> None:
    """``-n 2``: exactly one llama-server, with 2 slots; both items finish; none left afterwards."""
    code, out, seen = run_watched(polyglot, tmp_path / "run", "-n", "2", "-k", TWO)
    assert code in (0, 1), out[-4000:]
    assert "2 workers [2 items]" in out
    assert len(seen) == 1, seen
    (pid, argv), = seen.items()
    assert argv[argv.index("--parallel") + 1] == "2" and "--kv-unified" in argv
    assert "--no-cache-idle-slots" in argv  # each slot keeps its prompt cache while the other works
    assert not pid_alive(pid)
    finished = list((tmp_path / "run" / "python").glob("*/.aider.results.json"))
    assert len(finished) == 2
    assert all(json.loads(p.read_text())["localcode"]["error"] is None for p in finished)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    preflight_facts(summary["provenance"], real_llama, slots=2)  # both slots warmed, requests pinned
    slots = {json.loads(p.read_text())["localcode"]["provenance"]["server"]["slot"] for p in finished}
    assert slots == {0, 1}  # one slot per worker


def test_ctrl_c_stops_the_real_server(real_llama: str, polyglot: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(pytest_cmd(polyglot, tmp_path / "run", "-n", "2", "-k", TWO), cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: dict[int, list[str]] = {}
    log = tmp_path / "run" / "server.log"
    try:
        # Mid-run: the server is up and has started work on a request.
        started = wait_for(lambda: seen.update(serving(proc.pid)) or
                           (log.is_file() and "launch_slot" in log.read_text(errors="replace")), 600)
        assert started, "no request reached it"
        assert len(seen) == 1
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:]
    (pid,) = seen
    assert wait_for(lambda: not pid_alive(pid), 15), "llama-server outlived the interrupted run"
    assert not descendants_named(os.getpid(), "llama-server")


def test_two_real_servers_each_keep_their_exercises(real_llama: str, polyglot: Path, tmp_path: Path) -> None:
    """``--servers 2 -n 2``: two real llama-servers (one slot each) from one config; what each one's
    own log says it served is what the results say ran on it."""
    run_dir = tmp_path / "run"
    started = time.monotonic()
    code, out, seen = run_watched(polyglot, run_dir, "--servers=2", "-n", "2", "-k", TWO)
    print(f"\ntwo real llama-servers, 2 exercises: {time.monotonic() - started:.0f} s")
    assert code in (0, 1), out[-4000:]
    assert len(seen) == 2, seen
    assert all(argv[argv.index("--parallel") + 1] == "1" for argv in seen.values())
    assert not any(pid_alive(pid) for pid in seen)
    results = [json.loads(p.read_text()) for p in (run_dir / "python").glob("*/.aider.results.json")]
    assert len(results) == 2 and all(r["localcode"]["error"] is None for r in results)
    preflight = {r["server"]: r["requests"] for r in json.loads((run_dir / "summary.json").read_text())
                 ["provenance"]["preflight"]}
    for index in (0, 1):
        mine = [r for r in results if r["localcode"]["provenance"]["server"]["index"] == index]
        responses = sum(t["agent"].get("model_responses", 0) for r in mine for t in r["localcode"]["tries"])
        log = (run_dir / f"server-{index}.log").read_text(errors="replace")
        served = log.count("launch_slot_: ")  # one task per chat request, in the server's own log
        assert served == responses + preflight[index], (index, served, responses)
    assert {r["localcode"]["provenance"]["server"]["index"] for r in results} == {0, 1}  # one exercise each
