"""Fixtures for the Docker sandbox tests; every test that needs an engine is marked ``docker``.

``docker_engine`` starts an engine the way ``bin/setup --docker`` does and skips, in one line
naming the fix, only when none can be started or the image is not built (``bin/setup --tests``
builds it in CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pytest_localcode.errors import LocalcodeError
from pytest_localcode.sandbox.base import Limits


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "docker_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A Docker engine that answers, with the current sandbox image built."""
    docker = pytest.importorskip("docker")
    from pytest_localcode.install.docker_engine import ensure_engine
    from pytest_localcode.sandbox.docker import image_tag

    try:
        ensure_engine()
    except LocalcodeError as exc:
        pytest.skip(f"no Docker engine: {exc}")
    client = docker.from_env(timeout=120)
    try:
        client.images.get(image_tag())
    except docker.errors.ImageNotFound:
        pytest.skip(f"the sandbox image {image_tag()} is not built: run bin/setup --docker")
    yield client
    client.close()


@pytest.fixture(scope="module")
def factory(docker_engine: Any) -> Iterator[Any]:
    """Small limits, so the limit tests are quick: 1 GB, 128 pids, 1 CPU, 200 kB of output."""
    from pytest_localcode.sandbox.docker import DockerSandboxFactory

    made = DockerSandboxFactory(Limits(memory_mb=1024, pids=128, cpus=1.0, output_bytes=200_000))
    yield made
    made.close()
