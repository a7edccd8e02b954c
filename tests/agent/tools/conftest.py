"""Fixtures for the tool tests: a small workspace, a toolbox factory, fake runner and caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.tools import TOOL_NAMES, ToolOptions, build_toolbox


@dataclass
class FakeExec:
    exit_code: int = 0
    output: str = ""
    duration: float = 0.01
    timed_out: bool = False


@dataclass
class FakeRunner:
    """Records every command; ``result`` decides what comes back, ``action`` can touch files."""

    result: FakeExec = field(default_factory=FakeExec)
    action: Callable[[], None] | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> FakeExec:
        self.calls.append({"command": command, "timeout": timeout, "cwd": cwd})
        if self.action:
            self.action()
        return self.result


@dataclass
class FakeCaller:
    answers: list[str] = field(default_factory=lambda: ["an answer"])
    fail: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    def ask(self, messages: list[dict[str, Any]], *, max_tokens: int, temperature: float) -> str:
        self.calls.append({"messages": messages, "max_tokens": max_tokens, "temperature": temperature})
        if self.fail:
            raise RuntimeError("server down")
        return self.answers[(len(self.calls) - 1) % len(self.answers)]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / ".meta").mkdir()
    (root / "src" / "calc.py").write_text("def add(a, b):\n    return 0\n\n\ndef sub(a, b):\n    return 0\n")
    (root / "src" / "util.py").write_text("X = 1\n")
    (root / "tests" / "test_calc.py").write_text("from calc import add\n\n\n"
                                                 "def test_add():\n    assert add(1, 2) == 3\n")
    (root / ".meta" / "example.py").write_text("SECRET = 'reference solution'\n")
    (root / "README.md").write_text("# Calc\n")
    return root


@pytest.fixture
def make_box(ws: Path) -> Callable[..., Any]:
    def make(names: Sequence[str] = TOOL_NAMES, **kwargs: Any) -> Any:
        kwargs.setdefault("read_only", ["tests/test_calc.py"])
        kwargs.setdefault("deny", [".meta/**"])
        options = kwargs.pop("options", None) or ToolOptions(**kwargs.pop("opts", {}))
        return build_toolbox(list(names), workspace=ws, options=options, **kwargs)

    return make


@pytest.fixture
def box(make_box: Callable[..., Any]) -> Any:
    return make_box()
