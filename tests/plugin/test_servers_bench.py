"""``bin/bench`` builds the right pytest command (the user's choices win), and the build scripts parse.

``LOCALCODE_BENCH_DRY_RUN=1`` makes bin/bench print its command without setting up or running;
the real run (real server, real model) is ``test_e2e_llama.py::test_bench_selection_end_to_end``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = str(ROOT / "tests")  # any existing directory: dry runs only check that it exists
DEFAULT_K = "(python and proverb) or (javascript and space-age) or (go and bowling)"


def bench(*args: str, dataset: str | None = DATA, cwd: Path = ROOT) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "LOCALCODE_EXERCISES"}
    env["LOCALCODE_BENCH_DRY_RUN"] = "1"
    if dataset:
        env["LOCALCODE_EXERCISES"] = dataset
    out = subprocess.run([str(ROOT / "bin" / "bench"), *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    line = out.stdout.strip().splitlines()[-1]
    assert line.startswith("[bench] ")
    return shlex.split(line.removeprefix("[bench] "))


def test_no_arguments_runs_the_embedded_default() -> None:
    cmd = bench()
    assert cmd[:1] == [".venv/bin/pytest"]
    assert cmd[cmd.index("--model") + 1] == "gemma3-270m"
    assert f"--exercises={DATA}" in cmd
    assert cmd[cmd.index("-k") + 1] == DEFAULT_K


@pytest.mark.parametrize(
    ("args", "model", "ks"),
    [
        (["-k", "space-age"], "gemma3-270m", ["space-age"]),
        (["-kspace-age"], "gemma3-270m", []),
        (["-m", "python"], "gemma3-270m", []),
        (["--model", "smollm2-135m", "-n", "2"], "smollm2-135m", [DEFAULT_K]),
        (["--model=smollm2-135m"], "smollm2-135m", [DEFAULT_K]),
        (["-n", "2", "--tries", "1"], "gemma3-270m", [DEFAULT_K]),  # option values are not test paths
    ],
)
def test_user_choices_win(args: list[str], model: str, ks: list[str]) -> None:
    cmd = bench(*args)
    models = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--model"] + [a.split("=", 1)[1] for a in cmd if a.startswith("--model=")]
    assert models == [model]
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "-k"] == ks
    assert cmd[-len(args):] == args  # passed through untouched, last


def test_a_path_replaces_the_default_selection(tmp_path: Path) -> None:
    cmd = bench(str(tmp_path))
    assert "-k" not in cmd and cmd[-1] == str(tmp_path)


def test_dataset_given_or_missing() -> None:
    cmd = bench("--exercises=/elsewhere")
    assert [a for a in cmd if a.startswith("--exercises")] == ["--exercises=/elsewhere"]
    env = {k: v for k, v in os.environ.items() if k != "LOCALCODE_EXERCISES"}
    env["LOCALCODE_BENCH_DRY_RUN"] = "1"
    env["LOCALCODE_EXERCISES"] = "/no/such/dir"
    out = subprocess.run([str(ROOT / "bin" / "bench")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "LOCALCODE_EXERCISES" in out.stderr


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


def test_a_shared_checkout_beside_the_project_is_found(tmp_path: Path) -> None:
    """bin/dataset.sh (sourced by bin/bench and bin/test) finds ../shared/polyglot-benchmark."""
    project, shared = tmp_path / "project", tmp_path / "shared" / "polyglot-benchmark"
    (project / "bin").mkdir(parents=True)
    shared.mkdir(parents=True)
    for name in ("bench", "dataset.sh"):
        shutil.copy2(ROOT / "bin" / name, project / "bin" / name)
    env = {k: v for k, v in os.environ.items() if k != "LOCALCODE_EXERCISES"}
    out = subprocess.run([str(project / "bin" / "bench")], env={**env, "LOCALCODE_BENCH_DRY_RUN": "1"},
                         capture_output=True, text=True, check=True)  # fmt: skip
    cmd = shlex.split(out.stdout.strip().splitlines()[-1].removeprefix("[bench] "))
    assert f"--exercises={shared}" in cmd
