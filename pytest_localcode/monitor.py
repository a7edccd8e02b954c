"""The controller's view of a running benchmark: a live status, the servers' health, a stop.

While the run goes on, a thread of the controller reads the workers' records
(:mod:`pytest_localcode.live`) and pytest's own reports, and

* shows, per worker, the exercise, try and turn it is on, its tokens so far and the last decode
  speed; for the run, exercises done / selected, pass@1 so far, tokens, and an ETA from the
  exercises finished in this session. On a terminal this is a block of status lines kept
  below pytest's own output (erased before pytest writes, drawn again after it); otherwise
  (a pipe, a log file, ``TERM=dumb``) it is a plain line when an exercise ends and otherwise
  every :data:`LINE_SECONDS` if something changed, never with a control character;
* polls every server's ``/health`` and watches the managed servers' restarts, recording a
  restart (or an outage of an external server) for the health report;
* looks for a slowdown or a run of failed requests (:mod:`pytest_localcode.health`), warns once
  per event, and with ``--stop-on-slowdown`` asks the workers to start no further exercise.

The thread only reads small files and draws a few lines a second, in the controller (with xdist
a process of its own), so it takes nothing from the workers.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode import health
from pytest_localcode.live import CONTROLLER, STOP_FILE, LiveLog, RecordReader
from pytest_localcode.server.base import health_status

LINE_SECONDS = 30.0  # plain-line mode: at most one line this often (the first at once)
TICK_SECONDS = 1.0
POLL_SECONDS = 5.0  # /health of every server
HEALTH_SECONDS = 2.0  # slowdown analysis, when new records came in, and at most 2 % of the time


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


@dataclass
class WorkerState:
    exercise: str = ""
    try_number: int = 0
    turn: int = 0
    phase: str = "idle"  # "agent" | "tests" | "idle"
    tokens: int = 0  # prompt + completion tokens of the current exercise
    decode_tps: float | None = None  # the last timed response's


@dataclass
class Progress:
    """Everything the view shows, fed by records and pytest's reports."""

    started: float = field(default_factory=time.time)
    selected: int | None = None
    done: int = 0  # reported this session (resumed ones included)
    ran: int = 0  # of those, run in this session (what the ETA is estimated from)
    passed_first: int = 0
    tokens: int = 0
    workers: dict[str, WorkerState] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    changed: bool = True
    finished: bool = False  # an exercise ended since the last plain line
    def record(self, r: dict[str, Any]) -> None:
        ev, worker = r.get("ev"), r.get("w", "?")
        if worker == CONTROLLER:
            return
        state = self.workers.setdefault(worker, WorkerState())
        if ev == "try":
            if r.get("ex") != state.exercise:
                state.tokens = 0
            state.exercise, state.try_number, state.turn, state.phase = r.get("ex", ""), r.get("tr", 1), 0, "agent"
        elif ev == "turn":
            state.turn, state.phase = r.get("turn") or state.turn, "agent"
        elif ev == "resp":
            used = int(r.get("prompt") or 0) + int(r.get("compl") or 0)
            state.tokens += used
            self.tokens += used
            rate = health.tokens_per_second(r.get("dn"), r.get("dms"), 1)
            state.decode_tps = rate if rate is not None else state.decode_tps
        elif ev == "tests":
            state.phase = "tests"
        else:
            return
        self.changed = True

    def report(self, props: dict[str, Any]) -> None:
        """A finished exercise (pytest's report of its call phase or its failed setup)."""
        epoch = props.get("epoch", 1)
        name = f"{props.get('language')}/{props.get('exercise')}" + (f"[{epoch}]" if epoch != 1 else "")
        for state in self.workers.values():
            if state.exercise == name:
                state.phase = "idle"
        self.done += 1
        self.ran += 0 if props.get("resumed") else 1
        self.passed_first += props.get("status") == "pass@1"
        self.changed = self.finished = True

    def eta(self, now: float) -> str:
        if not self.selected or not self.ran:
            return "–"
        left = max(0, self.selected - self.done)
        return duration((now - self.started) / self.ran * left) if left else "0s"

    def summary(self, now: float) -> str:
        selected = self.selected if self.selected is not None else "?"
        line = (f"localcode {self.done}/{selected} done · pass@1 {self.passed_first}/{self.done} · "
                f"{self.tokens:,} tokens · {duration(now - self.started)} elapsed · ETA {self.eta(now)}")
        return line + (f" · {len(self.warnings)} health warning(s)" if self.warnings else "")

    def worker_line(self, name: str, state: WorkerState) -> str:
        if state.phase == "idle" or not state.exercise:
            return f"  {name}: between exercises"
        doing = "running tests" if state.phase == "tests" else f"turn {state.turn}"
        speed = f" · {state.decode_tps:.1f} tok/s" if state.decode_tps is not None else ""
        return f"  {name}: {state.exercise} try {state.try_number} {doing} · {state.tokens:,} tokens{speed}"

    def lines(self, now: float, max_workers: int = 16) -> list[str]:
        names = sorted(self.workers, key=lambda w: (len(w), w))
        out = [self.summary(now)] + [self.worker_line(n, self.workers[n]) for n in names[:max_workers]]
        if len(names) > max_workers:
            out.append(f"  … {len(names) - max_workers} more workers")
        return out

    def plain(self, now: float) -> str:
        workers = "; ".join(self.worker_line(n, self.workers[n]).strip() for n in sorted(self.workers))
        return f"[{time.strftime('%H:%M:%S')}] {self.summary(now)}" + (f" | {workers}" if workers else "")


class Console:
    """Where the live view writes: the terminal pytest writes to, through a handle of its own.

    Without xdist an exercise runs in the controller, inside pytest's output capture (file
    descriptor 1 points at a temporary file while a test phase runs), so the view writes to a
    duplicate of the terminal's descriptor taken before any test ran. pytest's own writes go
    through its TerminalWriter, whose ``write`` is wrapped so that the two never interleave:

    * ``status``: a block of lines kept below pytest's output, erased before pytest writes and
      drawn again after, on the line below pytest's last (possibly unfinished, ``-q`` dots) line;
    * ``lines``: :meth:`line` writes one plain line, after a line break if pytest's line is
      unfinished, which pytest then continues on a fresh line.
    """

    def __init__(self, tw: Any, status: bool) -> None:
        self.tw = tw
        self.status = status
        self.lock = threading.RLock()
        self.lines: list[str] = []
        self.drawn = 0
        self.column = 0  # width of pytest's unfinished line the block was drawn below
        try:
            self.out: Any = os.fdopen(os.dup(tw._file.fileno()), "w", encoding="utf-8", errors="replace")
            self._own = True
        except (AttributeError, OSError, ValueError):  # not a real file (an in-process pytester run)
            self.out, self._own = tw._file, False
        self._write: Callable[..., None] = tw.write
        tw.write = self._pytest_write

    def _pytest_write(self, msg: str, **kwargs: Any) -> None:
        with self.lock:
            self._erase()
            self._write(msg, **kwargs)
            self.tw.flush()  # pytest's text reaches the terminal before the block is drawn again
            self._draw()

    def _raw(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _erase(self) -> None:
        if not self.drawn:
            return
        out = "\r\x1b[2K" + "\x1b[1A\x1b[2K" * (self.drawn - 1)
        if self.column:
            out += f"\x1b[1A\x1b[{self.column + 1}G"
        self._raw(out)
        self.drawn = 0

    def _draw(self) -> None:
        if not self.lines:
            return
        width = max(20, self.tw.fullwidth - 1)
        self.column = self.tw.width_of_current_line
        self._raw(("\n" if self.column else "") + "\n".join("\x1b[2K" + line[:width] for line in self.lines))
        self.drawn = len(self.lines)

    def show(self, lines: list[str]) -> None:
        """Status mode: replace the block."""
        with self.lock:
            self._erase()
            self.lines = lines
            self._draw()

    def line(self, text: str) -> None:
        """One line of its own (a warning; in lines mode, the view)."""
        with self.lock:
            self._erase()
            self.tw.flush()
            self._raw(("\n" if self.tw.width_of_current_line else "") + text + "\n")
            if hasattr(self.tw, "_current_line"):
                self.tw._current_line = ""  # pytest goes on at the start of a line (its [NN%] lines up)
            self._draw()

    def close(self) -> None:
        with self.lock:
            self._erase()
            self.lines = []
            self.tw.write = self._write
            if self._own:
                self.out.close()


def pick_mode(mode: str, tw: Any) -> str:
    if mode != "auto":
        return mode
    isatty = getattr(tw._file, "isatty", lambda: False)
    return "status" if isatty() and os.environ.get("TERM", "") != "dumb" else "lines"


class MonitorPlugin:
    """Controller only (see the module docstring)."""

    def __init__(self, settings: Any, config: pytest.Config) -> None:
        self.settings = settings
        self.config = config
        self.progress = Progress()
        self.directory = Path(settings.live_dir) if settings.live_dir else None
        self.reader = RecordReader(self.directory) if self.directory else None
        self.records: list[dict[str, Any]] = []
        self.log = LiveLog(self.directory, CONTROLLER) if self.directory else None
        self.warned: Counter[tuple[str, int]] = Counter()  # events warned about, per kind and server
        self.console: Console | None = None
        self.mode = "off"
        self.reporter: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_line = 0.0
        self._last_poll = 0.0
        self._next_health = 0.0
        self._down: dict[int, float] = {}
        self._restarts: dict[int, int] = {}

    # -- pytest hooks -------------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:
            self.progress.selected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.progress.selected = max(self.progress.selected or 0, len(ids))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        config = session.config
        if config.option.collectonly or config.getoption("setupplan", False):
            return
        self.progress.started = time.time()  # after the preflight: the ETA counts the exercises' time
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")
        self.mode = "off" if self.reporter is None else pick_mode(self.settings.live, self.reporter._tw)
        if self.mode != "off":
            self.console = Console(self.reporter._tw, status=self.mode == "status")
        # health and restarts are watched whatever the view: the report and --stop-on-slowdown need them
        self._thread = threading.Thread(target=self._run, name="localcode-monitor", daemon=True)
        self._thread.start()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "status" in props and (report.when == "call" or (report.when == "setup" and report.failed)):
            self.progress.report(props)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self.stop()

    def pytest_unconfigure(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
            self.poll_servers(time.time())  # a restart not seen yet goes into the records the report reads
            if self.console is not None and self.mode == "lines" and self.progress.finished:
                self._print_line(self.progress.plain(time.time()))  # the last exercises' end, before the summary
        if self.console is not None:
            self.console.close()
            self.console = None
        if self.log is not None:
            self.log.close()

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self.tick(time.time())
            except Exception as exc:  # noqa: BLE001 - the view must never end the run
                self._print_line(f"localcode: live view stopped: {type(exc).__name__}: {exc}")
                return

    def tick(self, now: float) -> None:
        fresh = False
        if self.reader is not None:
            for record in self.reader.new():
                self.records.append(record)
                self.progress.record(record)
                fresh = True
        if now - self._last_poll >= POLL_SECONDS:
            self._last_poll = now
            self.poll_servers(now)
        if fresh and now >= self._next_health:
            started = time.monotonic()
            self.check_health()
            # a long run's analysis takes longer: keep it under 2 % of one core (the agent may share it)
            self._next_health = now + max(HEALTH_SECONDS, 50 * (time.monotonic() - started))
        if self.console is not None and self.mode == "status":
            self.console.show(self.progress.lines(now))
        elif self.console is not None and self.mode == "lines" and (
                self.progress.finished or (self.progress.changed and now - self._last_line >= LINE_SECONDS)):
            self._last_line = now
            self.progress.changed = self.progress.finished = False
            self._print_line(self.progress.plain(now))

    def _print_line(self, line: str) -> None:
        if self.console is not None:
            self.console.line(line)

    def poll_servers(self, now: float) -> None:
        """A managed server's restart (its owner counts them); an external server that stopped
        answering ``/health`` and came back."""
        servers = getattr(self.settings, "servers", None) or []
        owners = getattr(self.config.pluginmanager.get_plugin("localcode-server"), "owners", [])
        for i, owner in enumerate(owners):
            count = owner.server.restarts
            if count > self._restarts.get(i, 0):
                self._restarts[i] = count
                self._event("restart", srv=i, how=f"the model server died and localcode restarted it ({count})")
        for server in servers:
            if server.get("managed"):
                continue
            index = server["index"]
            status = health_status(server["url"], 2.0)
            up = status is not None and status < 500
            if not up:
                self._down.setdefault(index, now)
            elif index in self._down:
                gone = now - self._down.pop(index)
                self._event("restart", srv=index, how=f"it did not answer /health for about {gone:.0f} s")

    def _event(self, ev: str, **fields: Any) -> None:
        if self.log is not None:
            self.log.write(ev, **fields)

    def check_health(self) -> None:
        if not self.records:
            return
        # the report's analysis over the records so far, from the same start (the first record): a
        # warning printed during the run is one of the report's events, never one it does not show
        found = health.analyse(self.records, fraction=self.settings.slowdown_fraction)
        seen: Counter[tuple[str, int]] = Counter()
        for event in found["events"]:
            key = (event["kind"], event["server"])
            seen[key] += 1
            if seen[key] <= self.warned[key]:
                continue  # warned about already (its figures may have moved since)
            self.warned[key] += 1
            line = f"localcode: WARNING: {health.describe(event)}"
            self.progress.warnings.append(line)
            self._print_line(line)
            if event["kind"] == "slowdown" and self.settings.stop_on_slowdown and self.directory is not None:
                reason = f"--stop-on-slowdown: {health.describe(event)}"
                (self.directory / STOP_FILE).write_text(reason + "\n", encoding="utf-8")
                self._print_line("localcode: no further exercise starts (--stop-on-slowdown); those running finish")
