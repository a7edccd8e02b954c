"""Choose the sandbox: ``docker``, ``local`` (bubblewrap), or ``auto`` (docker when an engine answers)."""

from __future__ import annotations

from pytest_localcode.errors import SandboxError
from pytest_localcode.sandbox.base import Limits, SandboxFactory


def docker_available() -> bool:
    """An engine answers *and* holds the current image: otherwise ``auto`` means local, not an error."""
    try:
        from pytest_localcode.sandbox.docker import image_ready
    except ImportError:
        return False
    return image_ready()


def open_factory(kind: str, limits: Limits | None = None) -> SandboxFactory:
    if kind == "auto":
        kind = "docker" if docker_available() else "local"
    if kind == "local":
        from pytest_localcode.sandbox.local import LocalSandboxFactory

        return LocalSandboxFactory(limits)
    if kind == "docker":
        try:
            from pytest_localcode.sandbox.docker import DockerSandboxFactory
        except ImportError as exc:
            raise SandboxError(f"--sandbox docker is not available: {exc}") from None
        return DockerSandboxFactory(limits)
    raise SandboxError(f"unknown sandbox {kind!r}: use docker, local or auto")
