"""Small helpers shared by the Docker sandbox tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def containers(engine: Any, run_id: str) -> list[dict[str, Any]]:
    """The containers (running or not) labelled with ``run_id``."""
    return engine.api.containers(all=True, filters={"label": f"localcode.run={run_id}"})


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {seconds:.0f} s")
        time.sleep(0.2)


def workspace(tmp_path: Path, name: str = "ws") -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def bridge_gateway(engine: Any) -> str:
    """The host's address on Docker's default bridge: what a container with a network would reach."""
    return engine.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]


@contextmanager
def listener() -> Iterator[tuple[int, list[object]]]:
    """A TCP server on every host interface: (its port, the connections it accepted so far)."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
