"""The run's model servers, owned by the controller: started before workers spawn, shared by them.

The owner starts a server before workers spawn (so they get its URL through ``workerinput``),
sizes it with one slot per worker it will serve, restarts it once if it dies mid-run, and stops
it exactly once at the end — also on Ctrl-C, and (through PR_SET_PDEATHSIG) when pytest itself
is killed. ``--servers N`` makes N owners from one config, each server on its own device.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from pytest_localcode.server.base import ManagedServer, ServerError
from pytest_localcode.server.llama import Device, LlamaServer, MlxServer

FAILED_MARKER = "SERVER_FAILED"


def is_mlx(server_config: dict[str, Any], config_name: str) -> bool:
    return str(server_config.get("server_type", "")).lower() == "mlx" or config_name.startswith("mlx/")


def build_server(server_config: dict[str, Any], config_name: str, *, slots: int, alias: str, log_path: Path,
                 port: int = 0, device: Device | None = None) -> ManagedServer:
    if not server_config:
        raise ServerError(f"agent config {config_name} has no server_config: pass --server-url URL to use a running "
                          "server")
    if is_mlx(server_config, config_name):
        return MlxServer.from_config(server_config, log_path=log_path, port=port, device=device)
    return LlamaServer.from_config(server_config, slots=slots, alias=alias, log_path=log_path, port=port, device=device)


def devices_for(server_config: dict[str, Any], count: int) -> list[Device]:
    """One :class:`Device` per server to start: ``server_config.devices`` in order, or the
    machine's default for each when the config names none (CPU, or a Mac's one Metal GPU)."""
    entries = server_config.get("devices")
    if entries is None:
        return [Device() for _ in range(count)]
    if not isinstance(entries, list):
        raise ServerError(f"server_config.devices must be a list, one entry per server (got {entries!r})")
    if len(entries) < count:
        raise ServerError(f"--servers {count}: server_config.devices lists {len(entries)}; add one entry per server "
                          f"(e.g. \"CUDA{len(entries)}\" or "
                          f"{{\"env\": {{\"CUDA_VISIBLE_DEVICES\": \"{len(entries)}\"}}}})")
    return [Device.from_config(entry, f"server_config.devices[{i}]") for i, entry in enumerate(entries[:count])]


def build_servers(server_config: dict[str, Any], config_name: str, *, count: int, workers: int, alias: str,
                  run_dir: Path, port: int = 0) -> list[ManagedServer]:
    """``count`` servers from one config, each on its device, with slots enough for its share of
    the workers (or the device's own ``slots``). One server logs to ``server.log``, several to
    ``server-<i>.log``; a given port is the first of ``count`` consecutive ones."""
    share = -(-max(1, workers) // count)
    servers = []
    for i, device in enumerate(devices_for(server_config, count)):
        log = run_dir / ("server.log" if count == 1 else f"server-{i}.log")
        servers.append(build_server(server_config, config_name, slots=device.slots or share, alias=alias, log_path=log,
                                    port=port + i if port else 0, device=device))
    return servers


class ServerOwner:
    """Starts, supervises (one restart) and stops the server."""

    def __init__(self, server: ManagedServer, run_dir: Path, max_restarts: int = 1, index: int = 0):
        self.server = server
        self.run_dir = run_dir
        self.max_restarts = max_restarts
        self.marker = run_dir / marker_name(index)
        self.failed = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> str:
        self.launch()
        return self.ready()

    def launch(self) -> None:
        """Spawn the process (in the caller's thread, which must outlive it: see ManagedServer.spawn)."""
        self.marker.unlink(missing_ok=True)
        self.server.spawn()

    def ready(self) -> str:
        """Wait until it serves, then supervise it."""
        self.server.wait_healthy()
        self._thread = threading.Thread(target=self._supervise, name="localcode-server-supervisor", daemon=True)
        self._thread.start()
        return self.server.url

    def _supervise(self) -> None:
        """Poll the process; on a death restart it once (same port: workers keep their URL)."""
        while not self._stopping.wait(1.0):
            proc = self.server.process
            if proc is None or proc.poll() is None:
                continue
            if self.server.restarts >= self.max_restarts:
                self._give_up(f"model server died again (exit {proc.returncode}); see {self.server.log_path}")
                return
            try:
                self.server.restart()
            except ServerError as exc:
                self._give_up(f"model server died (exit {proc.returncode}) and could not be restarted: {exc}")
                return

    def _give_up(self, reason: str) -> None:
        if self._stopping.is_set():
            return  # the run is ending anyway: not a failure to report
        self.failed = True
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.marker.write_text(reason + "\n")

    def stop(self) -> None:
        self._stopping.set()
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def describe(self) -> dict[str, Any]:
        info = self.server.describe()
        info["restarts"] = self.server.restarts
        return info


def marker_name(index: int) -> str:
    """The file that says server ``index`` is gone for good (workers read it: they may be other processes)."""
    return FAILED_MARKER if index == 0 else f"{FAILED_MARKER}-{index}"


def server_failed(run_dir: Path, index: int = 0) -> str | None:
    marker = run_dir / marker_name(index)
    return marker.read_text().strip() if marker.is_file() else None


def start_all(owners: list[ServerOwner]) -> None:
    """Start every server and wait for them together (each may take minutes to load its model); if
    one fails, stop them all and raise its error, naming which server it was when there are several.
    Processes are spawned here, in the caller's thread; only the waiting happens in threads."""
    errors: list[tuple[int, ServerError]] = []

    def wait(i: int, owner: ServerOwner) -> None:
        try:
            owner.ready()
        except ServerError as exc:
            errors.append((i, exc))

    threads = []
    for i, owner in enumerate(owners):
        try:
            owner.launch()
        except ServerError as exc:
            errors.append((i, exc))
            break
        threads.append(threading.Thread(target=wait, args=(i, owner), name=f"localcode-start-{i}"))
        threads[-1].start()
    for thread in threads:
        thread.join()
    if errors:
        for owner in owners:
            owner.stop()
        i, error = min(errors, key=lambda e: e[0])
        raise ServerError(f"server {i} of {len(owners)}: {error}" if len(owners) > 1 else str(error))


def wait_after_loss(run_dir: Path, healthy: Any, seconds: float, index: int = 0) -> bool:
    """Worker side: wait for the owner's restart (True) unless it gave up (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server_failed(run_dir, index):
            return False
        if healthy():
            return True
        time.sleep(1.0)
    return False
