"""``bin/setup --docker``: a Docker engine that answers, then the sandbox image.

Steps, each skipped when already done (a second run takes about a second):

1. engine: nothing to do when one answers (``DOCKER_HOST`` is honoured, so a remote or rootless
   engine is used as is). Otherwise install Debian's ``docker.io`` when ``dockerd`` is missing
   and we are root with apt, and start ``dockerd`` in the background (there is no systemd on
   these machines), logging to ``.localcode/dockerd.log``.
2. image: ``localcode-polyglot:<hash of its definition>`` (:mod:`.docker_image`), rebuilt only
   when the definition or the exercises' Cargo manifests change, or with ``--force``.
3. cache: the image's prefetched crates copied into the host cache the containers mount.

Usage: ``python -m pytest_localcode.install.docker_engine [--force] [--exercises=DIR]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker

from pytest_localcode.errors import DatasetError, LocalcodeError, SandboxError
from pytest_localcode.exercises import resolve_dataset
from pytest_localcode.paths import PROJECT_DIR, state_dir
from pytest_localcode.sandbox.docker import client, engine_answers, seed_cache
from pytest_localcode.install.docker_image import ensure_image, last_line
from pytest_localcode.install.tools import apt_install

START_TIMEOUT = 60.0
PIDFILE = Path("/var/run/docker.pid")


def log(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def dockerd_log() -> Path:
    return state_dir() / "dockerd.log"


def ensure_engine(timeout: float = START_TIMEOUT) -> None:
    """Make ``engine_answers()`` true, or raise a one-line :class:`SandboxError` saying how."""
    if engine_answers():
        return
    host = os.environ.get("DOCKER_HOST")
    if host:
        raise SandboxError(f"the Docker engine at DOCKER_HOST={host} does not answer: start it, or unset DOCKER_HOST")
    if shutil.which("dockerd") is None:
        install_engine()
    start_dockerd(timeout)


def install_engine() -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise SandboxError("no Docker engine here: install Docker (as root: apt-get install docker.io), or set "
                           "DOCKER_HOST")
    log("installing Debian's docker.io")
    apt_install(["docker.io"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_dockerd(timeout: float) -> None:
    """Start ``dockerd`` detached from us (it must outlive this process) and wait until it answers."""
    if os.geteuid() != 0:
        raise SandboxError("no Docker engine answers and starting dockerd needs root: run `sudo dockerd &`, or set "
                           "DOCKER_HOST")
    if PIDFILE.is_file():
        try:
            pid = int(PIDFILE.read_text().strip() or 0)
        except ValueError:
            pid = 0
        if pid and _alive(pid):
            raise SandboxError(f"dockerd (pid {pid}) is running but does not answer: see {dockerd_log()}, or kill it "
                               "and re-run")
        PIDFILE.unlink(missing_ok=True)  # left by a dockerd that died: it would refuse to start
    path = dockerd_log()
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"starting dockerd (log: {path})")
    with open(path, "ab") as out:
        proc = subprocess.Popen(
            [shutil.which("dockerd") or "dockerd"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_answers():
            log(f"dockerd is up (pid {proc.pid})")
            return
        if proc.poll() is not None:
            raise SandboxError(f"dockerd exited with status {proc.returncode}: {last_line(path)} (see {path})")
        time.sleep(0.5)
    raise SandboxError(f"dockerd did not answer within {timeout:.0f} s: see {path}")


def ensure_ready(force: bool = False, dataset: Path | None = None) -> str:
    """Engine, image and seeded cache; returns the image tag. What the Docker tests call too."""
    ensure_engine()
    tag = ensure_image(force, dataset, log)
    seed_cache(client(), tag)
    return tag


def _dataset(option: str | None) -> Path | None:
    try:
        return resolve_dataset(option, PROJECT_DIR)
    except DatasetError:
        if option:
            raise
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_localcode.install.docker_engine",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild the image even when it exists")
    parser.add_argument("--exercises", help="the polyglot-benchmark checkout (default: $LOCALCODE_EXERCISES)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        tag = ensure_ready(args.force, _dataset(args.exercises))
    except LocalcodeError as exc:
        print(f"docker setup: error: {exc}", file=sys.stderr)
        return 1
    except (docker.errors.DockerException, OSError, subprocess.SubprocessError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"docker setup: error: {type(exc).__name__}: {first} (see {state_dir()}/*.log)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("docker setup: interrupted", file=sys.stderr)
        return 130
    log(f"docker: {tag} ready ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
