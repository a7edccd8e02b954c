"""Several model servers in one run: which servers there are, and which worker uses which.

An exercise must keep all its turns on one server (and one slot): llama.cpp reuses the prompt
cache of the slot that served the previous turn, and a request-level balancer throws that away
(one measurement: 360 ms vs 3,550 ms per follow-up turn). So the unit of assignment is the
xdist worker, for its whole session: the controller gives each worker one server through
``workerinput``, in proportion to the servers' slot counts (``/props`` ``total_slots``). A
worker whose server is gone for good moves to another one between exercises, never within one.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from pytest_localcode.server.base import ServerError, health_status

LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class Endpoint:
    """One model server of the run."""

    index: int
    url: str  # base URL, e.g. http://127.0.0.1:8080
    slots: int
    name: str  # how reports name it (see server_name)
    managed: bool = False  # started (and restarted) by this run
    info: dict[str, Any] = field(default_factory=dict, compare=False)  # command, version, model file…
    id_slot: bool = False  # it takes llama.cpp's id_slot: each worker's requests go to its own slot (preflight)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Endpoint:
        return cls(**dict(data))


@dataclass(frozen=True)
class Assignment:
    """A worker's server for its session. ``slot`` says which of the server's slots this worker
    is the user of (0 … slots-1): its requests carry it as ``id_slot`` where the server takes it,
    so every turn of an exercise finds the previous turns in that slot's prompt cache."""

    server: Endpoint
    slot: int

    def to_dict(self) -> dict[str, Any]:
        return {"server": self.server.to_dict(), "slot": self.slot}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assignment:
        return cls(Endpoint.from_dict(data["server"]), int(data["slot"]))

    def record(self) -> dict[str, Any]:
        """What an exercise's result records about the server that ran it."""
        return {"index": self.server.index, "name": self.server.name, "url": self.server.url, "slot": self.slot,
                "slots": self.server.slots, "managed": self.server.managed, "id_slot": self.server.id_slot}

    @property
    def pinned_slot(self) -> int | None:
        """The ``id_slot`` this worker's requests carry (None: the server does not take one)."""
        return self.slot if self.server.id_slot else None


def server_name(url: str, host: str | None = None) -> str:
    """``host:port`` of the URL; a loopback URL is prefixed with the machine's name, because
    ``127.0.0.1:8080`` on two cluster pods (a sidecar each) are two different servers."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    hostname = parts.hostname or "?"
    if hostname in LOOPBACK:
        return f"{host or socket.gethostname()}/{hostname}:{port}"
    return f"{hostname}:{port}"


def next_server(servers: Iterable[Endpoint], load: Mapping[int, int]) -> Endpoint:
    """The server that should take one more worker: the highest slots per worker once it has
    it (D'Hondt), ties to the lower index. Repeated, it hands out workers in proportion to slots
    (1 and 3 slots, 4 workers → 1 and 3)."""
    candidates = list(servers)
    if not candidates:
        raise ServerError("no model server is left to run exercises on")
    return max(candidates, key=lambda s: (s.slots / (load.get(s.index, 0) + 1), -s.index))


class Pool:
    """Controller side: which worker holds which server, so workers are spread by slots and a
    worker that ends (or is replaced by xdist) gives its place back."""

    def __init__(self, servers: Iterable[Endpoint]):
        self.servers = list(servers)
        self.holders: dict[str, Assignment] = {}

    def load(self) -> Counter[int]:
        return Counter(a.server.index for a in self.holders.values())

    def take(self, worker: str, usable: Iterable[Endpoint] | None = None) -> Assignment:
        """The worker's server (the same one when asked again), and a slot on it."""
        if worker in self.holders:
            return self.holders[worker]
        server = next_server(self.servers if usable is None else usable, self.load())
        used = {a.slot for a in self.holders.values() if a.server.index == server.index}
        slot = next((i for i in range(server.slots) if i not in used), len(used) % max(1, server.slots))
        self.holders[worker] = Assignment(server, slot)
        return self.holders[worker]

    def release(self, worker: str) -> None:
        self.holders.pop(worker, None)


def probe_slots(url: str, timeout: float = 10.0) -> int:
    """Slots of the server at ``url`` (llama.cpp's ``/props`` ``total_slots``; 1 when a server
    has no such field, e.g. MLX or vLLM). Nothing answering at all is a one-line error."""
    try:
        response = httpx.get(url.rstrip("/") + "/props", timeout=timeout, trust_env=False)
    except httpx.HTTPError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ServerError(f"--server-url {url}: no server answers ({reason}); start it or leave this URL out") from None
    try:
        slots = int(response.json().get("total_slots") or 1) if response.status_code == 200 else 1
    except (ValueError, AttributeError, TypeError):
        slots = 1
    return max(1, slots)


def reachable(url: str, timeout: float = 5.0) -> bool:
    """Any HTTP answer (even 404 or 503 "Loading model") means the server process is there."""
    return health_status(url, timeout) is not None


class Route:
    """Worker side: the server this worker uses now, and the move to another one, between two
    exercises, when it is gone for good (a managed server that died twice; an external one that
    no longer answers). The others carry on; a resumed run redoes what the lost server errored."""

    def __init__(self, servers: list[Endpoint], current: Assignment, run_dir: Path, worker: str):
        self.servers = servers
        self.current = current
        self.run_dir = run_dir
        self.worker = worker
        self.lost: set[int] = set()

    @property
    def several(self) -> bool:
        return len(self.servers) > 1

    def usable(self, server: Endpoint) -> bool:
        if server.index in self.lost:
            return False
        if server.managed:  # while its owner restarts it, it does not answer: the marker decides
            from pytest_localcode.server.owner import server_failed

            return server_failed(self.run_dir, server.index) is None
        return reachable(server.url)

    def gone(self) -> bool:
        return not self.usable(self.current.server)

    def move(self) -> Assignment | None:
        """Another usable server (the one with the most slots), or None when none is left."""
        self.lost.add(self.current.server.index)
        others = [s for s in self.servers if s.index not in self.lost and self.usable(s)]
        if not others:
            return None
        self.current = Pool(others).take(self.worker)
        return self.current
