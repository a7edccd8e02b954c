"""A run split into shards and merged has exactly the numbers of the same run in one piece.

Twelve exercises, two per language, with every verdict (solved on try 1, on try 2, never), run
once unsharded and once as three shards — three separate pytest processes started with the
Kubernetes manifest's own command line (deploy/kubernetes/indexed-job.yaml, as the kubelet would
expand it) and ``JOB_COMPLETION_INDEX`` 0, 1, 2, at the same time — against the same scripted
server. ``localcode merge`` joins the shards; its summary, text report and HTML report are
compared with the unsharded run's, and the merged report is opened in headless Chromium.
A shard killed with SIGKILL mid-run is resumed by the same command and merges the same.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode.results import load
from tests.support.benchmark_runs import AGENT_CONFIG, PROJECT, PlanModel, command, environment, exercise_paths
from tests.support.chromium import find_chromium, probe, with_probe
from tests.support.kubernetes import SHARDS_JOB, pod_command
from tests.support.report_files import html_rows, text_table
from tests.support.scripted_server import ScriptedServer

pytestmark = pytest.mark.slow

# Try 2's prompt carries try 1's test output, whose length depends on the machine in a few
# languages (javac's "finished after N ms", cargo's "Compiling …" on a cold build cache), so
# prompt tokens would differ between any two runs there: those exercises get "ref" here.
TWELVE = {
    "cpp/gigasecond": "nop", "cpp/space-age": "ref",
    "go/bowling": "fix", "go/pig-latin": "ref",
    "java/bowling": "ref", "java/pig-latin": "ref",
    "javascript/pig-latin": "ref", "javascript/space-age": "nop",
    "python/bowling": "fix", "python/proverb": "nop",
    "rust/acronym": "ref", "rust/bowling": "ref",
}
# Figures that depend on the clock, or on which request the one server saw just before (its
# prefix cache: cached_tokens, hence prompt_n / prompt_ms), differ between any two runs.
ORDER_DEPENDENT = {"cached_tokens", "prompt_n", "prompt_ms", "prefill_tps", "wall_seconds", "agent_seconds",
                   "first_cached_tokens", "cache_share", "cache_share_after_first", "wait_seconds",
                   "waiting_seconds", "working_seconds",
                   "test_seconds", "seconds_per_exercise", "seconds_per_case", "busy_seconds", "exercises_per_hour",
                   "completion_tps"}


@dataclass
class Runs:
    server: ScriptedServer
    model: PlanModel
    unsharded: Path
    shards_root: Path
    merged: Path
    merge_output: str


def shard_command(dataset: Path, server: ScriptedServer, run_root: Path,
                  index: int) -> tuple[list[str], dict[str, str]]:
    """The manifest's harness command for pod ``index``, with this machine's values, plus the selection."""
    site = {"MODEL": AGENT_CONFIG, "SERVER_URL": server.url, "RUN_DIR": str(run_root), "WORKERS": "1",
            "LOCALCODE_EXERCISES": str(dataset)}
    argv, env, workdir = pod_command(SHARDS_JOB, "localcode", site)
    assert workdir == "/opt/localcode"  # the image's project directory: here, the checkout
    return [*argv, *exercise_paths(dataset, list(TWELVE))], {**environment(), **env, "JOB_COMPLETION_INDEX": str(index)}


def start_shard(dataset: Path, server: ScriptedServer, run_root: Path, index: int) -> subprocess.Popen[str]:
    argv, env = shard_command(dataset, server, run_root, index)
    return subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def merge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_localcode.merge", *args], cwd=PROJECT, env=environment(),
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(polyglot: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("shards")
    model = PlanModel(polyglot, TWELVE)
    with ScriptedServer(model, repeat=False) as server:
        whole = subprocess.run(command(polyglot, server, tmp / "unsharded", list(TWELVE)), cwd=PROJECT,
                               env=environment(), capture_output=True, text=True, timeout=900)
        assert whole.returncode == 1, whole.stdout[-3000:] + whole.stderr[-3000:]  # the "nop" ones fail
        procs = [start_shard(polyglot, server, tmp / "sharded", i) for i in range(3)]
        outputs = [proc.communicate(timeout=900)[0] for proc in procs]
        for proc, out in zip(procs, outputs, strict=True):
            assert proc.returncode in (0, 1), out[-3000:]
        merged = merge(str(tmp / "sharded"), "--into", str(tmp / "merged"))
        assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
        yield Runs(server, model, tmp / "unsharded", tmp / "sharded", tmp / "merged", merged.stdout)


def summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))


def figures(value: Any) -> Any:
    """The value with every clock- or order-dependent figure left out, at any depth (``cost`` holds
    seconds per solved exercise, ``by_epoch`` whole rows)."""
    if isinstance(value, dict):
        return {k: figures(v) for k, v in value.items() if k not in ORDER_DEPENDENT}
    if isinstance(value, list):
        return [figures(v) for v in value]
    return value


def same_figures(a: dict[str, Any], b: dict[str, Any]) -> None:
    for scope in ("total", "aider"):
        assert figures(a[scope]) == figures(b[scope]), scope
    assert list(a["languages"]) == list(b["languages"])
    for language in a["languages"]:
        assert figures(a["languages"][language]) == figures(b["languages"][language]), language
    assert set(a["exercises"]) == set(b["exercises"])
    for name, row in a["exercises"].items():
        assert figures(row) == figures(b["exercises"][name]), name
    assert set(a["servers"]) == set(b["servers"])
    for name, row in a["servers"].items():
        assert figures(row) == figures(b["servers"][name]), name


def test_each_shard_ran_a_balanced_third(runs: Runs) -> None:
    shards = sorted(p for p in runs.shards_root.iterdir() if p.is_dir())
    assert [p.name for p in shards] == ["shard-0-of-3", "shard-1-of-3", "shard-2-of-3"]
    seen: list[str] = []
    for i, shard in enumerate(shards):
        names = sorted(summary(shard)["exercises"])
        assert len(names) == 4, names
        assert len({n.split("/")[0] for n in names}) == 4  # no language twice in one shard of twelve
        assert summary(shard)["provenance"]["shard"] == [i, 3]
        seen += names
    assert sorted(seen) == sorted(TWELVE)  # every exercise exactly once


def test_merged_run_equals_the_unsharded_run(runs: Runs) -> None:
    whole, merged = summary(runs.unsharded), summary(runs.merged)
    assert {n: r["status"] for n, r in merged["exercises"].items()} == \
           {n: {"ref": "pass@1", "fix": "pass@2", "nop": "fail"}[a] for n, a in TWELVE.items()}
    for name in TWELVE:
        for key in ("status", "prompt_tokens", "completion_tokens", "model_responses", "tool_calls_total"):
            assert merged["exercises"][name][key] == whole["exercises"][name][key], (name, key)
    same_figures(whole, merged)
    assert merged["total"]["exercises"] == 12 and merged["total"]["pass_1"] == 7 and merged["total"]["pass_2"] == 9
    # Every response the server sent, in either run, is counted once in each run's totals.
    assert whole["total"]["completion_tokens"] * 2 == runs.server.totals()["completion_tokens"]
    prov = merged["provenance"]
    assert prov["shards"] == {"count": 3, "merged": [0, 1, 2], "missing": []}
    assert [p["shard"] for p in prov["merged_from"]] == [[0, 3], [1, 3], [2, 3]]
    assert prov["run_dir"] == str(runs.merged)


def test_merged_text_and_files_match(runs: Runs) -> None:
    keep = ("n", "pass_1", "pass_2", "failed", "errors", "prompt", "completion", "tool_calls", "tool_errors", "decode")
    whole = text_table((runs.unsharded / "benchmark_results.txt").read_text())
    merged_text = (runs.merged / "benchmark_results.txt").read_text()
    merged = text_table(merged_text)
    assert set(whole) == set(merged) == {*{n.split("/")[0] for n in TWELVE}, "total"}
    for name in whole:
        assert {k: whole[name][k] for k in keep} == {k: merged[name][k] for k in keep}, name
    assert merged_text in runs.merge_output  # the merge prints the merged table
    for name in TWELVE:
        a, b = load(runs.unsharded / name), load(runs.merged / name)
        assert a is not None and b is not None
        assert [t.outcome for t in a.tries] == [t.outcome for t in b.tries], name
        assert (runs.merged / name / "workspace").is_dir()  # the whole exercise directory came along


def test_merged_report_opens_in_chromium_with_all_rows(runs: Runs) -> None:
    rows = html_rows(runs.merged / "report.html")
    assert set(rows) == {n.replace("/", "::") for n in TWELVE}
    merged = summary(runs.merged)
    for test_id, cells in rows.items():
        row = merged["exercises"][test_id.replace("::", "/")]
        assert cells["outcome"] == row["status"]
        assert int(cells["tokens"].replace(",", "")) == row["prompt_tokens"] + row["completion_tokens"]
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install -y --no-install-recommends chromium)")
    script = """
    function (report) {
      const rows = [...document.querySelectorAll('#results-table tbody.results-table-row')]
        .filter(b => b.querySelector('tr.collapsible td'));
      report({ids: rows.map(b => b.querySelector('td.col-testId').innerText.trim()),
              results: rows.map(b => b.querySelector('td.col-result').innerText.trim()),
              title: document.querySelector('h1').innerText,
              summary: (document.querySelector('.lc-summary') || {}).innerText || '',
              total: [...document.querySelectorAll('.lc-summary tr.lc-total .lc-count')].map(e => e.innerText)});
    }"""
    seen = probe(binary, with_probe(runs.merged / "report.html", script, runs.merged / "report-probe.html"))
    assert "exception" not in seen and seen["errors"] == [], seen
    assert sorted(seen["ids"]) == sorted(n.replace("/", "::") for n in TWELVE)
    assert sorted(seen["results"]) == sorted(["Passed"] * 9 + ["Failed"] * 3)
    assert "localcode" in seen["title"] and "Pass rates" in seen["summary"]
    assert seen["total"][:2] == ["7", "9"]  # the merged run's pass@1 and pass@2 counts (of 12), as drawn


def test_a_killed_shard_resumes_and_merges(runs: Runs, polyglot: Path, tmp_path: Path) -> None:
    """kill -9 of shard 1 mid-run; the same command again finishes it without redoing what was saved."""
    names = sorted(summary(runs.shards_root / "shard-1-of-3")["exercises"])
    first, slow = names[0], names[1]
    runs.model.delay = {slow: 1.0}
    before = dict(runs.model.calls)
    try:
        proc = start_shard(polyglot, runs.server, tmp_path / "again", 1)
        shard_dir = tmp_path / "again" / "shard-1-of-3"
        deadline = time.monotonic() + 300
        while not ((r := load(shard_dir / first)) and r.complete and runs.model.calls[slow] > before.get(slow, 0)):
            assert proc.poll() is None and time.monotonic() < deadline, "the shard ended before the kill point"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert not (shard_dir / "summary.json").exists()
        refused = merge(str(runs.shards_root / "shard-0-of-3"), str(shard_dir), "--into", str(tmp_path / "early"))
        assert refused.returncode == 2 and "did not finish; resume it" in refused.stderr
        runs.model.delay = {}
        killed_at = dict(runs.model.calls)
        again = start_shard(polyglot, runs.server, tmp_path / "again", 1)
        out = again.communicate(timeout=900)[0]
        assert again.returncode in (0, 1), out[-3000:]
    finally:
        runs.model.delay = {}
    assert runs.model.calls[first] == killed_at[first]  # finished before the kill: not asked again
    assert runs.model.calls[slow] > killed_at[slow]
    done = merge(str(runs.shards_root / "shard-0-of-3"), str(shard_dir), str(runs.shards_root / "shard-2-of-3"),
                 "--into", str(tmp_path / "merged"))
    assert done.returncode == 0, done.stderr
    same_figures(summary(runs.unsharded), summary(tmp_path / "merged"))


@pytest.mark.parametrize(("value", "needle"), [
    ("3/2", "--shard 3/2: shard index 3 is outside 0..1"),
    ("0/0", "--shard 0/0: the number of shards must be at least 1"),
    ("$JOB_COMPLETION_INDEX/3", "--shard $JOB_COMPLETION_INDEX/3: $JOB_COMPLETION_INDEX is not set"),
])
def test_bad_shard_is_one_line(polyglot: Path, tmp_path: Path, value: str, needle: str) -> None:
    env = {k: v for k, v in environment().items() if k != "JOB_COMPLETION_INDEX"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--model={AGENT_CONFIG}",
                           f"--exercises={polyglot}", f"--run-dir={tmp_path / 'run'}", f"--shard={value}",
                           "-k", "proverb"],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: {needle}"), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and not (tmp_path / "run").exists()
