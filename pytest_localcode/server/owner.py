"""The run's model server: one process for all xdist workers, owned by the controller.

The owner starts the server before workers spawn (so they get its URL through ``workerinput``),
sizes it with one slot per worker, restarts it once if it dies mid-run, and stops it exactly
once at the end — also on Ctrl-C, and (through PR_SET_PDEATHSIG) when pytest itself is killed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from pytest_localcode.server.base import ManagedServer, ServerError
from pytest_localcode.server.llama import LlamaServer, MlxServer

FAILED_MARKER = "SERVER_FAILED"


def is_mlx(server_config: dict[str, Any], config_name: str) -> bool:
    return str(server_config.get("server_type", "")).lower() == "mlx" or config_name.startswith("mlx/")


def build_server(server_config: dict[str, Any], config_name: str, *, slots: int, alias: str, log_path: Path,
                 port: int = 0) -> ManagedServer:
    if not server_config:
        raise ServerError(f"agent config {config_name} has no server_config: pass --server-url URL to use a running "
                          "server")
    if is_mlx(server_config, config_name):
        return MlxServer.from_config(server_config, log_path=log_path, port=port)
    return LlamaServer.from_config(server_config, slots=slots, alias=alias, log_path=log_path, port=port)


class ServerOwner:
    """Starts, supervises (one restart) and stops the server."""

    def __init__(self, server: ManagedServer, run_dir: Path, max_restarts: int = 1):
        self.server = server
        self.run_dir = run_dir
        self.max_restarts = max_restarts
        self.failed = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> str:
        (self.run_dir / FAILED_MARKER).unlink(missing_ok=True)
        self.server.start()
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
        (self.run_dir / FAILED_MARKER).write_text(reason + "\n")

    def stop(self) -> None:
        self._stopping.set()
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def describe(self) -> dict[str, Any]:
        info = self.server.describe()
        info["restarts"] = self.server.restarts
        return info


def server_failed(run_dir: Path) -> str | None:
    marker = run_dir / FAILED_MARKER
    return marker.read_text().strip() if marker.is_file() else None


def wait_after_loss(run_dir: Path, healthy: Any, seconds: float) -> bool:
    """Worker side: wait for the owner's restart (True) unless it gave up (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server_failed(run_dir):
            return False
        if healthy():
            return True
        time.sleep(1.0)
    return False
