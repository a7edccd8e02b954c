"""``bin/setup``'s toolchain step: make every language's tests runnable, offline, on this machine.

For each ``exercises_conf/<language>.yaml`` it checks ``requires`` (commands with minimum
versions, header files), installs what is missing with apt when it can, then runs the track's
``setup`` script into ``$LOCALCODE_TOOLS`` / ``$LOCALCODE_CACHE``. A stamp per language (a hash of
its requirements and script) makes a second run take well under a second.

Usage: ``python -m pytest_localcode.install.tools [--force] [LANGUAGE ...]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from pytest_localcode.errors import DatasetError, LocalcodeError
from pytest_localcode.exercises import resolve_dataset
from pytest_localcode.languages import CONF_DIR, LANGUAGES
from pytest_localcode.paths import PROJECT_DIR, cache_dir, state_dir, tools_dir

BASE_APT = ["bubblewrap"]


def log(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def version_of(command: str, args: list[str]) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([command, *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", out.stdout + out.stderr)
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def missing(req: dict[str, Any]) -> str | None:
    """Why a requirement is unmet, or None."""
    if "file" in req:
        return None if Path(req["file"]).exists() else f"{req['file']} missing"
    command = req["command"]
    if shutil.which(command) is None:
        return f"{command} not found"
    if "min_version" in req:
        have = version_of(command, req.get("version_args", ["--version"]))
        if have is None or have < parse_version(str(req["min_version"])):
            shown = ".".join(map(str, have)) if have else "unknown"
            return f"{command} {shown} is older than {req['min_version']}"
    return None


def apt_install(packages: list[str], release: str | None = None) -> None:
    if not packages:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise LocalcodeError(f"needs {' '.join(packages)}: install them (apt-get install {' '.join(packages)})")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if release:
        sources = Path("/etc/apt/sources.list.d/localcode-backports.list")
        if not sources.exists():
            sources.write_text(f"deb http://deb.debian.org/debian {release} main\n")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    log(f"apt-get install {' '.join(packages)}")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
    if release:
        cmd += ["-t", release]
    result = subprocess.run([*cmd, *packages], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env)
        result = subprocess.run([*cmd, *packages], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise LocalcodeError(f"apt-get install {' '.join(packages)} failed: {' '.join(tail)}")


def ensure_requirements(language: str, requires: list[dict[str, Any]]) -> None:
    for req in requires:
        why = missing(req)
        if why is None:
            continue
        if not req.get("apt"):
            raise LocalcodeError(f"{language}: {why}; {req.get('hint', 'install it and re-run bin/setup')}")
        apt_install(list(req["apt"]), req.get("apt_release"))
        why = missing(req)
        if why is not None:
            raise LocalcodeError(f"{language}: {why} even after apt-get install {' '.join(req['apt'])}")


def stamp_path(language: str) -> Path:
    return state_dir() / "stamps" / f"{language}.json"


def fingerprint(raw: dict[str, Any]) -> str:
    data = json.dumps({"requires": raw.get("requires"), "setup": raw.get("setup")}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def setup_language(language: str, dataset: Path | None, force: bool) -> None:
    raw = yaml.safe_load((CONF_DIR / f"{language}.yaml").read_text())
    stamp = stamp_path(language)
    digest = fingerprint(raw)
    if not force and stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == digest:
        return
    log(f"{language}: checking toolchain")
    ensure_requirements(language, raw.get("requires", []))
    script = raw.get("setup") or ""
    if script.strip():
        if "LOCALCODE_EXERCISES" in script and dataset is None:
            raise DatasetError(f"{language}: setup needs the exercises (set LOCALCODE_EXERCISES or clone "
                               "polyglot-benchmark)")
        log(f"{language}: installing extras")
        env = {
            **os.environ,
            "LOCALCODE_TOOLS": str(tools_dir()),
            "LOCALCODE_CACHE": str(cache_dir()),
            "LOCALCODE_EXERCISES": str(dataset or ""),
            "LOCALCODE_PYTHON": getattr(sys, "_base_executable", sys.executable),
        }
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, cwd=tools_dir())
        if result.returncode != 0:
            raise LocalcodeError(f"{language}: setup script failed (exit {result.returncode}); see the output above")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"fingerprint": digest}))
    log(f"{language}: ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_localcode.install.tools",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("languages", nargs="*", default=list(LANGUAGES))
    parser.add_argument("--force", action="store_true", help="re-run every step even when stamped")
    args = parser.parse_args(argv)
    tools_dir().mkdir(parents=True, exist_ok=True)
    cache_dir().mkdir(parents=True, exist_ok=True)
    try:
        try:
            dataset: Path | None = resolve_dataset(None, PROJECT_DIR)
        except DatasetError:
            dataset = None
        if shutil.which("bwrap") is None:
            apt_install(BASE_APT)
        for language in args.languages:
            if language not in LANGUAGES:
                raise LocalcodeError(f"unknown language {language!r} (known: {', '.join(LANGUAGES)})")
            setup_language(language, dataset, args.force)
    except LocalcodeError as exc:
        print(f"setup: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
