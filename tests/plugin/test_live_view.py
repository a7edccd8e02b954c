"""The live view: what it shows, that it never garbles pytest's output on a terminal, and that it is
plain lines (no control character) when the output is a file or a pipe.

The terminal is checked by replaying the bytes through a small terminal model (cursor moves, line
erase, carriage return) and comparing the screen with pytest's own text.
"""

from __future__ import annotations

import io
import os
import re
import select
import subprocess
import time
from pathlib import Path

import pytest
from _pytest._io import TerminalWriter

from pytest_localcode.monitor import Console, Progress
from tests.support.benchmark_runs import PlanModel, command, environment
from tests.support.scripted_server import ScriptedServer
from tests.support.stand_ins import ROOT

CSI = re.compile(r"\x1b\[(\d*)([A-Za-z])")


def screen(raw: str) -> list[str]:
    """The lines a terminal shows after ``raw`` (LF as CR LF, as a tty's output processing does)."""
    rows: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\x1b":
            m = CSI.match(raw, i)
            assert m, repr(raw[i:i + 10])
            n, op = int(m.group(1) or 1), m.group(2)
            if op == "A":
                row = max(0, row - n)
            elif op == "G":
                col = n - 1
            elif op == "K":
                rows[row] = []
            i = m.end()
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row, col = row + 1, 0
            while len(rows) <= row:
                rows.append([])
        else:
            line = rows[row]
            line.extend(" " * (col - len(line) + 1))
            line[col] = ch
            col += 1
        i += 1
    text = ["".join(r).rstrip() for r in rows]
    while text and not text[-1]:
        text.pop()
    return text


def test_progress_lines() -> None:
    p = Progress(started=1000.0, selected=4)
    for r in [{"w": "gw0", "ev": "try", "ex": "python/proverb", "tr": 1},
              {"w": "gw0", "ev": "turn", "turn": 3},
              {"w": "gw0", "ev": "resp", "prompt": 1200, "compl": 34, "dn": 34, "dms": 850.0},
              {"w": "gw1", "ev": "try", "ex": "go/bowling", "tr": 2},
              {"w": "gw1", "ev": "tests"}]:
        p.record(r)
    p.report({"status": "pass@1"})
    lines = p.lines(1060.0)
    assert lines[0] == "localcode 1/4 done · pass@1 1/1 · 1,234 tokens · 1m00s elapsed · ETA 3m00s"
    assert lines[1] == "  gw0: python/proverb try 1 turn 3 · 1,234 tokens · 40.0 tok/s"
    assert lines[2] == "  gw1: go/bowling try 2 running tests · 0 tokens"
    p.report({"status": "fail", "language": "go", "exercise": "bowling", "epoch": 1})
    assert p.lines(1060.0)[2] == "  gw1: between exercises"
    assert "\x1b" not in p.plain(1060.0) and "| gw0: python/proverb try 1 turn 3" in p.plain(1060.0)


def test_status_area_never_garbles_pytest_output() -> None:
    out = io.StringIO()
    tw = TerminalWriter(out)
    tw.fullwidth = 60
    area = Console(tw, status=True)
    plain = io.StringIO()
    reference = TerminalWriter(plain)
    for step, text in enumerate(["collected 3 items", "\n", ".", "F", " long status below ", ".", "  [100%]\n",
                                 "=== 1 failed, 2 passed ===", "\n"]):
        area.show([f"localcode {step}/3 done", f"  gw0: python/ex{step} try 1 turn {step}", "  gw1: waiting"])
        assert screen(out.getvalue())[-1] == "  gw1: waiting"  # the block is visible below pytest's line
        tw.write(text)
        reference.write(text)
    area.close()
    assert screen(out.getvalue()) == screen(plain.getvalue())
    assert screen(plain.getvalue()) == ["collected 3 items", ".F long status below .  [100%]",
                                        "=== 1 failed, 2 passed ==="]


def _run_in_pty(cmd: list[str], env: dict[str, str]) -> str:
    """Run ``cmd`` with a pseudo-terminal as its stdout and stderr; everything it wrote."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**env, "TERM": "xterm", "COLUMNS": "160"}, stdout=slave,
                            stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


@pytest.mark.parametrize("args", [["-q"], ["-n", "2"]])
def test_on_a_terminal_the_status_shows_and_leaves_pytest_output_intact(tmp_path: Path, polyglot: Path,
                                                                        args: list[str]) -> None:
    names = ["python/proverb", "python/wordy"]
    with ScriptedServer(PlanModel(polyglot, {"python/proverb": "ref", "python/wordy": "nop"}, delay={
            "python/proverb": 1.2, "python/wordy": 1.2})) as server:
        cmd = [arg for arg in command(polyglot, server, tmp_path / "run", names, "--tries=1", *args) if arg != "-q"]
        raw = _run_in_pty(cmd + (["-q"] if "-q" in args else []), environment())
    assert "\x1b[2K" in raw and "localcode 0/2 done" in raw  # the status block was drawn…
    assert re.search(r"gw\d: python/\w+ try 1 turn \d|main: python/\w+ try 1 turn \d", raw)
    shown = screen(raw)
    status = re.compile(r"^(localcode \d+/\S+ done|  gw\d+: |  main: )")
    assert not any(status.match(line) for line in shown), shown  # …and erased
    assert any("1 failed, 1 passed" in line for line in shown), shown
    assert any(line.startswith("Pass@1: 1/2 solved") for line in shown)


def test_to_a_file_the_view_is_plain_lines(tmp_path: Path, polyglot: Path) -> None:
    with ScriptedServer(PlanModel(polyglot, {"python/proverb": "ref"})) as server:
        log = tmp_path / "out.log"
        with open(log, "w") as fh:
            proc = subprocess.run(command(polyglot, server, tmp_path / "run", ["python/proverb"], "-n", "2"),
                                  cwd=ROOT, env=environment(), stdout=fh, stderr=subprocess.STDOUT, timeout=300)
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    assert "\x1b" not in text and "\r" not in text
    assert re.search(r"^\[\d\d:\d\d:\d\d\] localcode \d/1 done · pass@1", text, re.MULTILINE), text[-3000:]
