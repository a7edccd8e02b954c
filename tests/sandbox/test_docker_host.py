"""``DOCKER_HOST``: the test runs go to another Docker engine, the one the variable names.

A remote engine is simulated by a second ``dockerd`` on this machine with its own socket, data
root, exec root and pid file (no bridge, no iptables: sandbox containers have no network), into
which the sandbox image is copied with ``docker save | docker load`` — as one would onto a
build box. A run with ``DOCKER_HOST=unix://<its socket>`` must create its containers there, and
none on the default engine. Needs root, ``dockerd``, and the image on the default engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.datasets import python_exercise

pytestmark = [pytest.mark.slow, pytest.mark.docker]


@pytest.fixture(scope="module")
def second_engine(docker_engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``unix://…`` of a second engine holding the sandbox image."""
    import docker

    from pytest_localcode.sandbox.docker import image_tag

    if os.geteuid() != 0 or not shutil.which("dockerd") or not shutil.which("docker"):
        pytest.skip("a second engine needs root, dockerd and the docker CLI")
    root = Path("/tmp") / f"lc-engine2-{os.getpid()}"  # short: a unix socket path is limited to 108 bytes
    root.mkdir()
    url = f"unix://{root}/docker.sock"
    log = open(tmp_path_factory.mktemp("engine2") / "dockerd.log", "wb")  # closed below
    proc = subprocess.Popen(["dockerd", "--host", url, "--data-root", str(root / "data"),
                             "--exec-root", str(root / "exec"), "--pidfile", str(root / "dockerd.pid"), "--bridge=none",
                             "--iptables=false", "--ip6tables=false"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:  # the client asks the engine its API version as it is made
                engine = docker.DockerClient(base_url=url, timeout=300)
                engine.ping()
                break
            except docker.errors.DockerException:
                assert proc.poll() is None and time.monotonic() < deadline, f"second dockerd did not start: {log.name}"
                time.sleep(0.5)
        save = subprocess.Popen(["docker", "save", image_tag()], stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", url, "load", "-q"], stdin=save.stdout, check=True, capture_output=True)
        assert save.wait() == 0
        engine.images.get(image_tag())
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run(["umount", "-R", str(root / "data")], capture_output=True)  # overlay mounts, if any remain
        shutil.rmtree(root, ignore_errors=True)


def test_runs_go_to_the_engine_docker_host_names(second_engine: str, docker_engine: Any, tmp_path: Path) -> None:
    import docker

    python_exercise(tmp_path / "data", "remote-engine", example="def answer():\n    return 42\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["DOCKER_HOST"] = second_engine
    since = int(time.time()) - 1
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--model=oracle",
                             "--sandbox=docker", f"--exercises={tmp_path / 'data'}", f"--run-dir={tmp_path / 'run'}"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=600)
    until = int(time.time()) + 1
    assert proc.returncode == 0, out[-3000:]

    def ours(client: Any) -> list[dict[str, Any]]:
        events = client.events(since=since, until=until, decode=True,
                               filters={"type": "container", "event": "create",
                                        "label": "localcode.exercise=remote-engine"})
        return [e for e in events if e["Actor"]["Attributes"].get("localcode.pid") == str(proc.pid)]

    remote = docker.DockerClient(base_url=second_engine, timeout=60)
    assert ours(remote), "no container of this run was created on the DOCKER_HOST engine"
    assert ours(docker_engine) == [], "the run used the default engine"
    assert remote.containers.list(all=True, filters={"label": "localcode.exercise=remote-engine"}) == []  # cleaned up
