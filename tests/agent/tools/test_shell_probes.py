"""The shell tool records paths outside the workspace that a command names (probes for answers)."""

from __future__ import annotations

from pathlib import Path

from agent.tools import build_toolbox
from agent.tools.shell import probed_paths


class EchoRunner:
    def exec(self, command, *, timeout, env=None, cwd=None):
        class R:
            exit_code, output, duration, timed_out = 0, "ok", 0.0, False

        return R()


def test_probes_outside_are_recorded(tmp_path: Path) -> None:
    box = build_toolbox(["shell"], workspace=tmp_path, runner=EchoRunner())
    out = box.execute("shell", {"command": "cat /data/polyglot/python/.meta/example.py && cat ../../other/x.py"})
    assert out.refused_paths == ["/data/polyglot/python/.meta/example.py", "../../other/x.py"]


def test_ordinary_commands_record_nothing(tmp_path: Path) -> None:
    box = build_toolbox(["shell"], workspace=tmp_path, runner=EchoRunner())
    for command in ("python3 -m pytest -q", "ls -la /usr/lib", "echo hi > /tmp/x", "cat src/lib.rs"):
        assert box.execute("shell", {"command": command}).refused_paths == [], command


def test_workspace_alias_is_inside(tmp_path: Path) -> None:
    def inside(raw: str) -> bool:
        return raw.startswith("/work/react")

    assert probed_paths("cat /work/react/react.py /work/other/x", inside) == ["/work/other/x"]
