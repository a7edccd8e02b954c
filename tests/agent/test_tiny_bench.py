"""bench/tiny_models.py without a model: /metrics parsing, the harness command, the printed block."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

from pytest_localcode.report.summary import summarize
from tests.support.synthetic_results import make_result

ROOT = Path(__file__).resolve().parents[2]


def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tiny_models", ROOT / "bench" / "tiny_models.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


METRICS = """# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 1234
llamacpp:tokens_predicted_total 5.6e+02
llamacpp:prompt_seconds_total 3.5
"""


def test_parse_metrics_reads_the_two_counters() -> None:
    assert bench().parse_metrics(METRICS) == {
        "llamacpp:prompt_tokens_total": 1234.0,
        "llamacpp:tokens_predicted_total": 560.0,
    }


def test_pytest_command_targets_the_benchmark_exercises_on_the_given_server(tmp_path: Path) -> None:
    b = bench()
    args = argparse.Namespace(exercises="proverb,grep", polyglot="/p", tries=2)
    cmd = b.pytest_command("gemma3-270m", "http://127.0.0.1:9", tmp_path, args)
    assert cmd[cmd.index("-k") + 1] == "python and (proverb or grep)"
    assert "--server-url=http://127.0.0.1:9" in cmd and "--tries=2" in cmd and "--sandbox=local" in cmd


def test_report_prints_the_figures_and_says_match_or_mismatch(tmp_path: Path) -> None:
    b = bench()
    summary = summarize([make_result("python/proverb", ["fail", "pass"], prompt_tokens=400, completion_tokens=60)])
    res = {"model": "m", "rc": 0, "wall": 1.0, "summary": summary, "run_dir": tmp_path, "tries": 2}
    res["counters"] = {"llamacpp:prompt_tokens_total": 400.0, "llamacpp:tokens_predicted_total": 60.0}
    lines, ok = b.report(res)
    text = "\n".join(lines)
    assert ok and text.count("MATCH") == 2 and "MISMATCH" not in text
    assert "well-formed tool-call responses 4  (100.0 %)" in text
    assert "pass@1 / pass@2                 0/1 (0.0 %) / 1/1 (100.0 %)" in text
    assert '{"finish": 2}' in text  # stop reason of every try
    res["counters"]["llamacpp:tokens_predicted_total"] = 61.0
    lines, ok = b.report(res)
    assert not ok and "MISMATCH (diff -1)" in lines[-1]
