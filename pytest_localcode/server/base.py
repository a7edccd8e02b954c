"""A model server process owned by the run: started once, health-checked, stopped by PID.

:class:`ManagedServer` holds what llama.cpp and MLX servers share (free port, log file, health
polling with a deadline, start-up failure with the log's last lines, SIGTERM→SIGKILL of exactly
the process we started — never ``pkill`` by name). Subclasses only build the command line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from pytest_localcode.errors import LocalcodeError


def health_status(url: str, timeout: float, path: str = "/health") -> int | None:
    """The HTTP status of the server's health endpoint, or None when nothing answers. Straight to the
    server, never through ``HTTP_PROXY``: a proxy's 502 is not the server's answer. Callers decide
    what "up" is (200: ready; any status: the process is there; below 500: not failing)."""
    try:
        return httpx.get(url.rstrip("/") + path, timeout=timeout, trust_env=False).status_code
    except httpx.HTTPError:
        return None


class ServerError(LocalcodeError):
    """The model server could not be started or died (message is one line, with the fix)."""


class ModelServer(Protocol):
    url: str  # base URL, e.g. http://127.0.0.1:41234

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...

    def describe(self) -> dict[str, Any]: ...


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM if pytest is killed (even with kill -9), so none is orphaned."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        with open(path, errors="replace") as fh:
            tail = deque((line.rstrip() for line in fh if line.strip()), maxlen=lines)
    except OSError:
        return ""
    return " | ".join(tail)


@dataclass
class ManagedServer:
    """Common process management; ``command()`` comes from the subclass."""

    binary: str
    log_path: Path
    host: str = "127.0.0.1"
    port: int = 0
    health_path: str = "/health"
    start_timeout: float = 300.0
    env: dict[str, str] = field(default_factory=dict)  # on top of ours: the device (CUDA_VISIBLE_DEVICES…)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)
    restarts: int = field(default=0, init=False)
    # Guards "spawn + record the process" against a concurrent final stop(): the supervisor
    # thread may be restarting the server at the very moment Ctrl-C stops it, and a process
    # spawned after stop() would outlive the run.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _closed: bool = field(default=False, init=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.spawn()
        self.wait_healthy()

    def spawn(self) -> None:
        """Start the process without waiting for it. Call it from a thread that outlives the server:
        PR_SET_PDEATHSIG fires when the spawning *thread* ends, not only the process."""
        if self.port == 0:
            self.port = free_port(self.host)
        elif port_taken(self.port, self.host):
            raise ServerError(f"port {self.port} is already taken: stop what listens there or leave the port to "
                              "localcode")
        cmd = self.command()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log, self._lock:
            if self._closed:
                raise ServerError("the model server was stopped while it was being (re)started")
            shown_env = "".join(f"{k}={v} " for k, v in self.env.items())
            log.write(f"\n$ {shown_env}{' '.join(cmd)}\n".encode())
            log.flush()
            try:
                self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                env={**os.environ, **self.env} if self.env else None,
                                                start_new_session=True, preexec_fn=_die_with_parent)
            except OSError as exc:
                raise ServerError(f"cannot run {cmd[0]}: {exc.strerror}") from None
        self.started_at = time.monotonic()

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            proc = self.process
            if proc is None:  # stop() ran meanwhile (Ctrl-C during start-up or during a restart)
                raise ServerError("the model server was stopped while it was starting")
            code = proc.poll()
            if code is not None:
                raise ServerError(
                    f"{Path(self.binary).name} exited with code {code} during start-up; last log lines: "
                    f"{log_tail(self.log_path) or '(empty)'} (full log: {self.log_path})"
                )
            if health_status(self.url, 2.0, self.health_path) == 200:
                return
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"server not healthy after {self.start_timeout:.0f}s; see {self.log_path}")

    def alive(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        return health_status(self.url, 5.0, self.health_path) == 200

    def restart(self) -> None:
        """Kill what is left of the old process and start a new one on the same port."""
        with self._lock:
            proc, self.process = self.process, None
        terminate(proc)
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        """Final stop: kills the process and refuses any later (re)start."""
        with self._lock:
            self._closed = True
            proc, self.process = self.process, None
        terminate(proc)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.url, "command": self.command(), "log": str(self.log_path),
                                "pid": self.process.pid if self.process else None}
        if self.env:
            info["env"] = dict(self.env)
        return info


def terminate(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM the process group we created (the server and whatever it forked), SIGKILL after ``grace``.

    Only this group: the server was started with ``start_new_session``, so its PID is the group id.
    """
    if proc is None or proc.poll() is not None:
        return  # already reaped: its PID (and group id) may belong to someone else by now
    _kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
