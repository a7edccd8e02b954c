"""The preflight, through pytest: a server that is not what the config says, or does not work,
stops the run before any exercise with one line; a server that says little lets it go on with
its figures unknown. Scripted servers in this process; real exercises where the run goes on.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.benchmark_runs import PlanModel, command, environment, exercise_paths
from tests.support.scripted_server import ScriptedServer
from tests.support.stand_ins import AGENT_CONFIGS, ROOT, fake_llama_env

ONE = ["python/proverb"]


def config(tmp_path: Path, **keys: object) -> Path:
    """The scripted agent config with more keys (``server_config`` merged), written to a file."""
    data = json.loads((AGENT_CONFIGS / "scripted.json").read_text())
    server = {**data.get("server_config", {}), **keys.pop("server_config", {})}
    data.update(keys, server_config=server)
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(data))
    return path


def run(dataset: Path, server: ScriptedServer, run_dir: Path, cfg: Path | None = None,
        *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = command(dataset, server, run_dir, ONE, *extra)
    if cfg is not None:
        cmd = [f"--model={cfg}" if arg.startswith("--model=") else arg for arg in cmd]
    return subprocess.run(cmd, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=300)


def refused(proc: subprocess.CompletedProcess[str], run_dir: Path, server: ScriptedServer, *needles: str) -> str:
    """Exit code 4 (usage error), one ``ERROR:`` line naming cause and fix, no exercise request,
    no result file of any kind."""
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not server.requests  # no exercise began
    written = [p.name for p in run_dir.rglob("*") if p.is_file()] if run_dir.exists() else []
    assert not [n for n in written if n in (".aider.results.json", "summary.json", "report.html",
                                            "benchmark_results.txt")], written
    return lines[0]


def test_context_per_slot_smaller_than_the_config(tmp_path: Path, polyglot: Path) -> None:
    cfg = config(tmp_path, server_config={"context_window": 8192})
    with ScriptedServer(n_ctx=8192, slots=2) as server:
        proc = run(polyglot, server, tmp_path / "run", cfg)
        line = refused(proc, tmp_path / "run", server, "serves 4096 tokens of context per slot",
                       "needs context_window 8192", "-c 16384", "--kv-unified-per-slot 8192",
                       "lower server_config.context_window")
    assert server.url in line


def test_wrong_model(tmp_path: Path, polyglot: Path) -> None:
    cfg = config(tmp_path, server_config={"model_path": "/models/Wanted-Q4_K_M.gguf"})
    with ScriptedServer(model="/srv/models/Other-Q8_0.gguf") as server:
        refused(run(polyglot, server, tmp_path / "run", cfg), tmp_path / "run", server,
                "serves the model Other-Q8_0.gguf", "names Wanted-Q4_K_M.gguf", "--model")


def test_template_that_cannot_render_tools(tmp_path: Path, polyglot: Path) -> None:
    message = "Failed to render the chat template: 'tools' is undefined"
    with ScriptedServer(tools_error=(400, message)) as server:
        refused(run(polyglot, server, tmp_path / "run"), tmp_path / "run", server,
                "chat template cannot render a request with tools", message, "--jinja", "chat_template_file")


def test_health_ok_but_chat_times_out(tmp_path: Path, polyglot: Path) -> None:
    cfg = config(tmp_path, request_timeout=2)
    with ScriptedServer(probe={"hang": True}) as server:
        refused(run(polyglot, server, tmp_path / "run", cfg), tmp_path / "run", server,
                "answers /health but did not answer a chat request within 2 s")


def test_managed_server_with_a_smaller_context(tmp_path: Path, polyglot: Path, pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in fake_llama_env(tmp_path / "fake", polyglot).items():
        monkeypatch.setenv(key, value)
    cfg = json.loads((AGENT_CONFIGS / "fake-llama.json").read_text())
    cfg["prompt"] = str(ROOT / "agent" / "prompts" / "coder.md")
    cfg["server_config"]["extra_args"] += ["-c", "4096"]
    path = tmp_path / "fake-small.json"
    path.write_text(json.dumps(cfg))
    result = pytester.runpytest_subprocess("--model", str(path), f"--exercises={polyglot}",
                                           f"--run-dir={tmp_path / 'run'}", "--sandbox=local", "-p", "no:cacheprovider",
                                           *exercise_paths(polyglot, ONE), timeout=300)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.str().splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "serves 4096 tokens of context per slot" in errors[0]
    assert "server_config.extra_args set a smaller context" in errors[0]
    assert not list((tmp_path / "run").rglob(".aider.results.json"))


# -- a server that says little: the run goes on, the figures are unknown ---------------------------


@pytest.mark.parametrize("props", ["absent", "malformed"])
def test_server_without_props_or_timings(tmp_path: Path, polyglot: Path, props: str) -> None:
    model = PlanModel(polyglot, {"python/proverb": "ref"})
    with ScriptedServer(model, props=props, timings=False) as server:
        proc = run(polyglot, server, tmp_path / "run")
        sent = list(server.requests)
    assert proc.returncode == 0, proc.stdout[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    record = summary["provenance"]["preflight"][0]
    assert record["facts"]["props"] == props and record["context"] == {"served": None, "config": None,
                                                                       "check": "unknown"}
    assert record["id_slot"] is False and all("id_slot" not in r for r in sent)  # not a llama.cpp server
    assert summary["provenance"]["determinism"]["deterministic"] is None
    total = summary["total"]
    assert total["model_responses"] > 0
    assert total["waiting_seconds"] is None and total["working_seconds"] is None  # unknown, not 0
    assert summary["health"]["timed"] == 0 and summary["health"]["events"] == []
    text = (tmp_path / "run" / "benchmark_results.txt").read_text()
    assert "Speed: prefill unknown, decode unknown" in text
    assert "waiting for a server slot unknown" in text
    assert "Server health: unknown (the server reported no timings)" in text
    assert "context unknown tokens per slot" in text and "slots unknown" in text


# -- slots: each worker's own, where a slot keeps its cache ------------------------------------------


@pytest.mark.parametrize("clears", [False, True])
def test_requests_are_pinned_where_slots_keep_their_cache(tmp_path: Path, polyglot: Path, clears: bool) -> None:
    names = ["python/proverb", "python/wordy"]
    model = PlanModel(polyglot, dict.fromkeys(names, "ref"))
    with ScriptedServer(model, slots=2, clears_idle_slots=clears) as server:
        cmd = command(polyglot, server, tmp_path / "run", names, "-n", "2")
        proc = subprocess.run(cmd, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=300)
        warmed = [r["request"].get("id_slot") for r in server.preflight if r["kind"] == "warm_up"]
        slots = {r.get("id_slot") for r in server.requests}
    assert proc.returncode == 0, proc.stdout[-3000:]
    record = json.loads((tmp_path / "run" / "summary.json").read_text())["provenance"]["preflight"][0]
    assert warmed == [0, 1, 0]  # both slots, then the first again: did it keep its prefix?
    if clears:
        assert record["id_slot"] is False and "lost its prompt cache" in record["id_slot_note"]
        assert slots == {None}  # the server picks the slot (and restores from its own prompt cache)
    else:
        assert record["id_slot"] is True and slots == {0, 1}
        assert record["slot_cache"]["cached_tokens"] >= record["slot_cache"]["prompt_tokens"] - 1
