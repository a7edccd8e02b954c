"""``bin/bench`` is ``pytest --bench`` after set-up; ``--bench`` picks the default model and
selection, and the user's choices win. The build scripts parse.

The real run (real server, real model) is ``test_e2e_llama.py::test_bench_selection_end_to_end``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pytest_localcode.plugin import BENCH_EXERCISES, BENCH_MODEL

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = sorted(name.replace("/", "::") for name in BENCH_EXERCISES)


def collect(pytester: pytest.Pytester, dataset: Path, *args: str) -> tuple[list[str], str]:
    """The node ids ``pytest --bench ARGS --collect-only`` collects, and its output."""
    result = pytester.runpytest_subprocess("--bench", f"--exercises={dataset}", "--collect-only", "-q", *args)
    assert result.ret == 0, result.stdout.str()
    return [line for line in result.outlines if "::" in line], result.stdout.str()


def test_bench_alone_collects_the_three_default_exercises(pytester: pytest.Pytester, polyglot: Path) -> None:
    """In the order a -k selection of them runs (the server's prompt cache, and so the tokens, follow it)."""
    ids, out = collect(pytester, polyglot)
    assert ids == DEFAULT and "3 tests collected" in out
    keyword = " or ".join(f"({name.replace('/', ' and ')})" for name in BENCH_EXERCISES)
    result = pytester.runpytest_subprocess("--model", BENCH_MODEL, f"--exercises={polyglot}", "--collect-only", "-q",
                                           "-k", keyword)
    assert [line for line in result.outlines if "::" in line] == ids


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-k", "space-age"], ["cpp::space-age", "javascript::space-age"]),
        (["-k", "python and (proverb or wordy)"], ["python::proverb", "python::wordy"]),
        (["-m", "cpp"], None),  # a marker: all 26 C++ exercises
        (["--model", "nop"], DEFAULT),  # another model: the default selection stays
    ],
)
def test_the_users_selection_replaces_the_default(pytester: pytest.Pytester, polyglot: Path, args: list[str],
                                                  expected: list[str] | None) -> None:
    ids, _ = collect(pytester, polyglot, *args)
    if expected is None:
        assert len(ids) == 26 and all(i.startswith("cpp::") for i in ids)
    else:
        assert sorted(ids) == sorted(expected)


def test_a_path_replaces_the_default_selection(pytester: pytest.Pytester, polyglot: Path) -> None:
    ids, _ = collect(pytester, polyglot, str(polyglot / "rust" / "exercises" / "practice" / "xorcism"))
    assert ids == ["rust::xorcism"]


def test_bench_uses_the_embedded_model_unless_another_is_given(pytester: pytest.Pytester, polyglot: Path) -> None:
    """The settings record the model: the tiny default, or the user's."""
    pytester.makeconftest(
        "import pytest\n"
        "from pytest_localcode.plugin import SETTINGS_KEY\n"
        "def pytest_collection_finish(session):\n"
        "    print('MODEL=' + session.config.stash[SETTINGS_KEY].model)\n"
    )
    assert f"MODEL={BENCH_MODEL}" in collect(pytester, polyglot)[1]
    assert "MODEL=nop" in collect(pytester, polyglot, "--model", "nop")[1]


def test_bin_bench_sets_up_then_runs_pytest_bench_with_every_argument(tmp_path: Path) -> None:
    """bin/bench in a copy of the project whose set-up and pytest only report how they were called."""
    project = tmp_path / "project"
    (project / "bin").mkdir(parents=True)
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / "bin" / "bench").write_bytes((ROOT / "bin" / "bench").read_bytes())
    for path, body in ((project / "bin" / "setup", 'echo "setup $*"'),
                       (project / ".venv" / "bin" / "pytest", 'printf "pytest"; printf " [%s]" "$@"; echo')):
        path.write_text(f"#!/usr/bin/env bash\n{body}\n")
    for path in (project / "bin" / "bench", project / "bin" / "setup", project / ".venv" / "bin" / "pytest"):
        path.chmod(0o755)
    out = subprocess.run([str(project / "bin" / "bench"), "-k", "a b", "--model=x", "-n", "2"], cwd=tmp_path,
                         capture_output=True, text=True, check=True, env=dict(os.environ)).stdout
    assert out.splitlines()[0] == "setup "
    assert out.splitlines()[-1] == "pytest [--bench] [-k] [a b] [--model=x] [-n] [2]"
    for flag in ("-h", "--help"):
        usage = subprocess.run([str(project / "bin" / "bench"), flag], capture_output=True, text=True).stdout
        assert "./bin/bench -k space-age" in usage and "setup " not in usage and "pytest" in usage


@pytest.mark.parametrize("script", ["bench", "build-llama-macos.sh"])
def test_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(ROOT / "bin" / script)], check=True)


def test_macos_build_script_refuses_linux_and_targets_metal() -> None:
    text = (ROOT / "bin" / "build-llama-macos.sh").read_text()
    for needle in ("ggml-org/llama.cpp", "-DGGML_METAL=ON", "--target llama-server", "/bin/llama-server"):
        assert needle in text
    if os.uname().sysname != "Darwin":
        out = subprocess.run([str(ROOT / "bin" / "build-llama-macos.sh")], capture_output=True, text=True)
        assert out.returncode == 2 and "bin/setup" in out.stderr
