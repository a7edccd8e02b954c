"""Imports run one way, bench → pytest_localcode → agent, without cycles: computed from the code.

Every ``import`` statement of every module counts, wherever it stands (inside a function, under
``TYPE_CHECKING``): a lazy import still ties two modules together. An edge goes to the module
named, or to the submodule when ``from package import name`` names one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "pytest_localcode")
# who may import whom, among the project's top-level parts
ALLOWED = {"agent": {"agent"}, "pytest_localcode": {"pytest_localcode", "agent"}}


def module_files() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules ``name`` imports: project modules by their name, others by their top level."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in modules else base)
    return {target if target in modules else target.split(".")[0] for target in found}


def graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in edges:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_imports_run_one_way() -> None:
    edges = graph()
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in edges.items()
        for target in targets
        if target.split(".")[0] in ("agent", "pytest_localcode", "bench", "tests")
        and target.split(".")[0] not in ALLOWED[name.split(".")[0]]
    )
    assert wrong == []
    assert any(t.startswith("agent") for t in edges["pytest_localcode.agent_solver"])  # the graph sees imports


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}) == [["a", "b", "c"], ["e"]]
    modules = {"agent.x": Path("x"), "agent.tools": Path("t"), "agent.tools.y": Path("y")}
    source = tmp_path / "m.py"
    source.write_text("from agent.tools import y, Z\nimport pytest_localcode.plugin\nif 0:\n    from . import x\n")
    assert imports_of("agent.m", source, modules) == {"agent.tools.y", "agent.tools", "pytest_localcode", "agent.x"}


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_has_no_side_effects_on_the_process(package: str) -> None:
    """Importing every module changes neither the umask nor the working directory."""
    names = sorted(name for name in module_files() if name.split(".")[0] == package)
    code = (
        "import importlib, os, sys\n"
        "calls = []\n"
        "os.umask = lambda *a: calls.append(('umask', a)) or 0o022\n"
        "os.chdir = lambda *a: calls.append(('chdir', a))\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(calls)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
