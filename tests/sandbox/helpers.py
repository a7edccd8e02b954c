"""Small helpers shared by the Docker sandbox tests."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
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
    config = engine.networks.get("bridge").attrs["IPAM"]["Config"][0]
    if "Gateway" in config:
        return config["Gateway"]
    # a fresh engine may list only the subnet: the bridge (docker0) takes its first address
    return str(ipaddress.ip_network(config["Subnet"]).network_address + 1)
