"""Benchmark integrity: the agent sees only what a solver may see, and grading cannot be gamed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode.exercises import exercise_dirs, load_exercise
from pytest_localcode.languages import LANGUAGES, load_language
from pytest_localcode.sandbox.select import docker_available
from pytest_localcode.workspace import create_workspace, layout
from tests.support.scripted_server import ScriptedServer
from tests.support.scripted_wire import tool_call

SCRIPTED = str(Path(__file__).resolve().parents[1] / "support" / "agent-configs" / "scripted.json")
REFERENCE_DIRS = (".meta", ".docs", ".approaches", ".articles")


@pytest.mark.parametrize("language", LANGUAGES)
def test_workspace_holds_no_reference_material(polyglot: Path, tmp_path: Path, language: str) -> None:
    """Every exercise of the language: no reference dirs, no file equal to a reference file."""
    conf = load_language(language)
    checked = 0
    for lang, path in exercise_dirs(polyglot):
        if lang != language:
            continue
        ex = load_exercise(path, language)
        ws = tmp_path / ex.slug
        create_workspace(ex, conf, ws)
        files = sorted(p.relative_to(ws).as_posix() for p in ws.rglob("*") if p.is_file())
        assert not [f for f in files if f.split("/")[0] in REFERENCE_DIRS], ex.name
        references = {(ex.path / e).read_bytes() for e in ex.example if (ex.path / e).is_file()}
        extra = ex.path / ".meta" / "Cargo-example.toml"
        if extra.is_file():
            references.add(extra.read_bytes())
        # A file equal to a reference is a leak, unless the dataset's own stub at that path is the
        # same (rust/book-store ships Cargo.toml identical to .meta/Cargo-example.toml).
        leaked = [f for f in files
                  if (ws / f).read_bytes() in references and (ws / f).read_bytes() != (ex.path / f).read_bytes()]
        assert leaked == [], f"{ex.name}: {leaked}"
        assert all((ex.path / f).is_file() for f in files), ex.name
        assert not [e for e in ex.example if (ws / e).exists() or (ws / Path(e).name).exists()], ex.name
        assert set(ex.solution) <= set(files) and set(ex.test) <= set(files), ex.name
        assert set(ex.test) <= layout(ex, conf).protected, ex.name
        checked += 1
    assert checked > 0


def adversary(reference_abs: str, other_rel: str) -> Any:
    """A model that tries, in turn, every way the issue lists to reach the reference."""
    conftest = ("import pytest\n\ndef pytest_collection_modifyitems(items):\n"
                "    for item in items:\n        item.add_marker(pytest.mark.skip)\n")
    steps = [
        tool_call("read", {"path": ".meta/example.py"}),
        tool_call("glob", {"pattern": "**/example*"}),
        tool_call("read", {"path": reference_abs}),
        tool_call("read", {"path": other_rel}),
        tool_call("shell", {"command": f"ln -s {reference_abs} leak.py && ls -la"}),
        tool_call("read", {"path": "leak.py"}),
        tool_call("shell", {"command": f"cat {reference_abs}"}),
        tool_call("write", {"path": "conftest.py", "content": conftest}),
        tool_call("write", {"path": "proverb_test.py", "content": "def test_ok():\n    assert True\n"}),
        tool_call("finish", {"summary": "done"}),
    ]

    def script(request: dict[str, Any]) -> dict[str, Any]:
        done = sum(1 for m in request["messages"] if m.get("role") == "assistant")
        return {"tool_calls": [steps[min(done, len(steps) - 1)]]}

    return script


SANDBOXES = [
    "local",
    pytest.param("docker", marks=[pytest.mark.docker, pytest.mark.skipif(
        not docker_available(), reason="no Docker engine answers (run bin/setup --docker)")]),
]


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_probing_model_never_sees_the_reference(polyglot: Path, tmp_path: Path, pytester: pytest.Pytester,
                                                sandbox: str) -> None:
    ex_dir = polyglot / "python" / "exercises" / "practice" / "proverb"
    reference = (ex_dir / ".meta" / "example.py").read_text()
    marker = next(line for line in reference.splitlines() if len(line.strip()) > 25).strip()
    run_dir = tmp_path / "run"
    workspace = run_dir / "python" / "proverb" / "workspace" / "proverb"
    other = polyglot / "python" / "exercises" / "practice" / "transpose" / ".meta" / "example.py"
    other_rel = os.path.relpath(other, workspace)
    with ScriptedServer(adversary(str(ex_dir / ".meta" / "example.py"), other_rel), repeat=True) as server:
        result = pytester.runpytest_subprocess(
            "--model", SCRIPTED, f"--exercises={polyglot}", f"--server-url={server.url}", f"--run-dir={run_dir}",
            f"--sandbox={sandbox}", "--tries=1", "-k", "python and proverb", "-q", "--junitxml",
            str(tmp_path / "junit.xml"),
        )
    result.assert_outcomes(failed=1)
    saved = json.loads((run_dir / "python" / "proverb" / ".aider.results.json").read_text())["localcode"]
    # Every tool result the model saw: none carries the reference text.
    tool_texts = [str(m.get("content")) for m in saved["transcript"] if m.get("role") == "tool"]
    assert len(tool_texts) >= 9
    assert not [t for t in tool_texts if marker in t]
    other_marker = next(line for line in other.read_text().splitlines() if len(line.strip()) > 25).strip()
    assert not [t for t in tool_texts if other_marker in t]
    # Graded on the pristine tests: the conftest and the rewritten test file gained nothing.
    assert saved["status"] == "fail"
    assert saved["tries"][0]["tests"]["executed"] == saved["tries"][0]["tests"]["defined"] == 8
    assert saved["tries"][0]["tests"]["failed"] == 8
    # The refused attempts are recorded, shown in the item's properties and in the HTML report.
    refused = saved["refused_paths"]
    for expected in (".meta/example.py", str(ex_dir / ".meta" / "example.py"), other_rel, "leak.py"):
        assert expected in refused, (expected, refused)
    junit = (tmp_path / "junit.xml").read_text()
    assert 'name="refused_access"' in junit and ".meta/example.py" in junit
    report = (run_dir / "report.html").read_text()
    assert ".meta/example.py" in report and "Refused access attempts" in report
