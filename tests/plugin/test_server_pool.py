"""Which worker uses which server: slot-weighted assignment, slots, probing, moving off a lost server.

Pure functions and real sockets (scripted servers in this process); the whole-run behaviour is
in ``test_multi_server.py``.
"""

from __future__ import annotations

import dataclasses

import socket
from collections import Counter
from pathlib import Path

import pytest

from pytest_localcode.server.base import ServerError, free_port
from pytest_localcode.server.owner import marker_name
from pytest_localcode.server.pool import (
    Assignment,
    Endpoint,
    Pool,
    Route,
    next_server,
    probe_slots,
    reachable,
    server_name,
)
from tests.support.scripted_server import ScriptedServer


def servers(*slots: int, managed: bool = False) -> list[Endpoint]:
    return [Endpoint(i, f"http://10.0.0.{i}:8080", n, f"10.0.0.{i}:8080", managed) for i, n in enumerate(slots)]


@pytest.mark.parametrize(("slots", "workers", "expected"), [
    ((1, 3), 4, [1, 3]),
    ((2, 2), 4, [2, 2]),
    ((2, 2), 3, [2, 1]),  # ties go to the lower index
    ((1, 1, 1), 2, [1, 1, 0]),
    ((4, 2), 3, [2, 1]),
    ((1, 3), 8, [2, 6]),  # more workers than slots: still in proportion
])
def test_workers_are_spread_in_proportion_to_slots(slots: tuple[int, ...], workers: int, expected: list[int]) -> None:
    pool = Pool(servers(*slots))
    taken = Counter(pool.take(f"gw{i}").server.index for i in range(workers))
    assert [taken[i] for i in range(len(slots))] == expected


def test_each_worker_gets_a_distinct_slot_and_keeps_its_server() -> None:
    pool = Pool(servers(1, 3))
    got = {f"gw{i}": pool.take(f"gw{i}") for i in range(4)}
    assert got["gw0"] is pool.take("gw0")  # asked again: the same assignment
    on_big = sorted(a.slot for a in got.values() if a.server.index == 1)
    assert on_big == [0, 1, 2]
    pool.release("gw1")  # a crashed worker's replacement takes its place, and its slot
    replacement = pool.take("gw4")
    assert (replacement.server.index, replacement.slot) == (got["gw1"].server.index, got["gw1"].slot)


def test_assignment_travels_as_plain_data() -> None:
    assignment = Pool(servers(2)).take("gw0")
    assert Assignment.from_dict(assignment.to_dict()) == assignment
    assert assignment.record() == {"index": 0, "name": "10.0.0.0:8080", "url": "http://10.0.0.0:8080", "slot": 0,
                                   "slots": 2, "managed": False, "id_slot": False}
    assert assignment.pinned_slot is None  # a server that does not take id_slot (the preflight decides)
    pinned = Assignment(dataclasses.replace(assignment.server, id_slot=True), 1)
    assert Assignment.from_dict(pinned.to_dict()) == pinned and pinned.pinned_slot == 1


def test_no_server_left_is_one_line() -> None:
    with pytest.raises(ServerError, match="no model server is left"):
        next_server([], {})


def test_loopback_servers_are_named_after_the_machine() -> None:
    assert server_name("http://127.0.0.1:8080", host="pod-2") == "pod-2/127.0.0.1:8080"
    assert server_name("http://gpu-box:9000") == "gpu-box:9000"
    assert server_name("https://api.example") == "api.example:443"
    assert server_name("http://localhost:8080").endswith(f"{socket.gethostname()}/localhost:8080")


def test_slots_come_from_props_and_a_dead_url_is_one_line() -> None:
    with ScriptedServer([], slots=3) as server:
        assert probe_slots(server.url) == 3
    port = free_port()
    with pytest.raises(ServerError) as info:
        probe_slots(f"http://127.0.0.1:{port}")
    message = str(info.value)
    assert message.startswith(f"--server-url http://127.0.0.1:{port}: no server answers") and "\n" not in message


def test_route_moves_off_an_external_server_that_stopped_answering(tmp_path: Path) -> None:
    with ScriptedServer([], slots=1) as a, ScriptedServer([], slots=2) as b, ScriptedServer([], slots=4) as c:
        endpoints = [Endpoint(i, s.url, s.slots, server_name(s.url)) for i, s in enumerate((a, b, c))]
        route = Route(endpoints, Pool(endpoints).take("gw0"), tmp_path, "gw0")
        assert route.current.server.index == 2 and not route.gone()
        c.stop()
        assert route.gone()
        assert route.move().server.index == 1  # the most slots among the usable ones
        b.stop()
        assert route.move().server.index == 0
        a.stop()
        assert route.move() is None


def test_route_trusts_the_owner_of_a_managed_server(tmp_path: Path) -> None:
    """A managed server restarting does not answer for a while: only its owner's marker says it is gone."""
    endpoints = servers(2, 2, managed=True)
    route = Route(endpoints, Pool(endpoints).take("gw0"), tmp_path, "gw0")
    assert not route.gone()  # nothing listens at 10.0.0.x, but no marker either
    (tmp_path / marker_name(0)).write_text("model server died again\n")
    assert route.gone() and route.move().server.index == 1


def test_server_checks_go_straight_to_the_server_whatever_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy named in the environment (here: nothing listens there) is not asked about a model server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{dead}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with ScriptedServer(slots=3) as server:
        assert reachable(server.url) and probe_slots(server.url) == 3
    assert not reachable(f"http://127.0.0.1:{dead}")
