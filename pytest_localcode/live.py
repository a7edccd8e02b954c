"""What a run is doing while it runs: one small JSON line per event, appended by each worker.

Every worker appends to its own file, ``<run-dir>/live/<session>/<worker>.jsonl``: which
exercise and try it starts, each turn, each model response with the server's accounting, each
failed request, and when it hands the workspace to the tests. The controller reads the files as
they grow (:class:`RecordReader`) for the live view and the server's health
(:mod:`pytest_localcode.monitor`), and once more at the end for the report
(:mod:`pytest_localcode.health`); it adds its own observations (a server restart) to
``controller.jsonl`` beside them.

Why files in the run directory rather than xdist's channel: xdist offers workers no way to send
the controller anything while an item runs (reports come only when a test phase ends, and an
exercise is one long setup phase); the run directory is shared by the workers and the controller
already (result files, the SERVER_FAILED markers); a line per model response costs microseconds
next to the response's seconds; and the records outlive a crash, so the report of a run that
was stopped still shows what happened. A run without xdist writes and reads the same files.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from agent.metrics import cached_of

STOP_FILE = "STOP"  # written by the controller (--stop-on-slowdown): workers start no further exercise
CONTROLLER = "controller"


def session_dir(run_dir: Path) -> Path:
    """This session's directory of records (a resumed run gets a new one beside the others)."""
    return run_dir / "live" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


class LiveLog:
    """One process's records (``worker``: the xdist worker id, ``main`` without xdist, or
    :data:`CONTROLLER`). Thread-safe; the file is opened on the first record."""

    def __init__(self, directory: Path, worker: str) -> None:
        self.path = directory / f"{worker}.jsonl"
        self.worker = worker
        self._fh: IO[str] | None = None
        self._lock = threading.Lock()

    def write(self, ev: str, **fields: Any) -> None:
        line = json.dumps({"t": round(time.time(), 3), "w": self.worker, "ev": ev, **fields}, separators=(",", ":"),
                          default=str)
        with self._lock:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "a", encoding="utf-8", buffering=1)  # kept open: one line per record
            self._fh.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def agent_events(self, exercise: str, try_number: int, server: int) -> Callable[[dict[str, Any]], None]:
        """An ``on_event`` for :class:`agent.Agent` that records its turns, responses and failed requests."""

        def on_event(event: dict[str, Any]) -> None:
            kind = event.get("event")
            if kind == "request":
                self.write("turn", ex=exercise, tr=try_number, turn=event.get("turn"))
            elif kind == "response":
                usage, timings = event.get("usage") or {}, event.get("timings") or {}
                self.write("resp", ex=exercise, tr=try_number, turn=event.get("turn"), srv=server,
                           prompt=usage.get("prompt_tokens"), compl=usage.get("completion_tokens"),
                           cached=cached_of(usage, timings), pn=timings.get("prompt_n"), pms=timings.get("prompt_ms"),
                           dn=timings.get("predicted_n"), dms=timings.get("predicted_ms"), el=event.get("elapsed"),
                           wait=event.get("wait"))
            elif kind == "http_error":
                self.write("err", ex=exercise, tr=try_number, srv=server, kind=event.get("kind"),
                           status=event.get("status"))

        return on_event


class RecordReader:
    """Reads the records of a session directory incrementally (only what was appended since)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._offsets: dict[Path, int] = {}

    def new(self) -> Iterator[dict[str, Any]]:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.jsonl")):
            offset = self._offsets.get(path, 0)
            try:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    data = fh.read()
            except OSError:
                continue
            complete = data.rfind(b"\n") + 1  # a line still being written waits for the next read
            self._offsets[path] = offset + complete
            for line in data[:complete].splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a torn line (a worker killed mid-write): skipped
                if isinstance(record, dict):
                    yield record


def read_all(directory: Path) -> list[dict[str, Any]]:
    """Every record of a session directory, in time order."""
    return sorted(RecordReader(directory).new(), key=lambda r: r.get("t", 0))


def stop_reason(directory: Path | None) -> str | None:
    """Why the controller asked the workers to start no further exercise, or None."""
    if directory is None:
        return None
    marker = directory / STOP_FILE
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None
