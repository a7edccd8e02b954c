"""Benchmark integrity: the agent sees only what a solver may see, and grading cannot be gamed.

The forged-solution tests drive the whole harness: the scripted model writes each forgery
(tests/support/forgeries.py) through the agent's tools, the real toolchains grade it in the
sandbox, and the verdict must be ``forged`` with the evidence in every report.
"""

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
from tests.support.benchmark_runs import Run, run_benchmark
from tests.support.forgeries import FORGERIES, ForgingModel
from tests.support.models import ExerciseModel, task_of
from tests.support.report_files import aider_files, html_rows, text_table
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


# -- forged solutions, graded by the whole harness ----------------------------------------------


@pytest.fixture(scope="module")
def forged_run(polyglot: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run over every forgery: the scripted model writes each through the agent's tools, the
    real toolchains grade in the local sandbox."""
    run_dir = tmp_path_factory.mktemp("forged") / "run"
    return run_benchmark(polyglot, ForgingModel(polyglot, FORGERIES), run_dir, list(FORGERIES), "--tries=1", "-n", "2",
                         timeout=1800)


@pytest.mark.slow
def test_no_forgery_grades_pass(forged_run: Run) -> None:
    files = aider_files(forged_run.run_dir)
    assert set(files) == set(FORGERIES), forged_run.stdout[-3000:] + forged_run.stderr[-3000:]
    verdicts = {name: (data["localcode"]["status"], data["localcode"]["tries"][0]["tests"]["reason"])
                for name, data in files.items()}
    assert {name: status for name, (status, _) in verdicts.items()} == dict.fromkeys(FORGERIES, "forged"), verdicts
    for name, data in files.items():
        assert data["tests_outcomes"] == [False], name
        evidence = data["localcode"]["forgery"]
        assert evidence["try"] == 1 and evidence["checks"], name
        assert evidence["suspicious_files"], name
        assert set(evidence["suspicious_files"]) <= set(FORGERIES[name].files), (name, evidence)
        for path in evidence["suspicious_files"]:
            assert f"b/{path}" in data["localcode"]["solution_diff"], (name, path)


# The check each trick must trip (its first line of evidence names it).
EVIDENCE = {
    "python/proverb": "pytest.py: has the name of a module the test run imports",
    "python/wordy": "which must fail, passed",
    "python/book-store": "which must fail, passed",
    "javascript/space-age": "which must fail, passed",
    "javascript/pig-latin": "which must fail, passed",
    "go/alphametics": "the solution builds only together with the test files: it uses testCases",
    "go/bowling": "exited 0, yet a harness canary must fail",
    "rust/bowling": "Cargo.toml: turns off the discovery of the exercise's tests",
    "rust/wordy": "exited 0, yet a harness canary must fail",
    "java/bowling": "which must fail, passed",
    "java/pig-latin": "declares a class in a package that the test libraries or the JDK own",
    "cpp/space-age": "harness canaries are missing from the report",  # its report names the TEST_CASEs it finds
    "cpp/allergies": "includes the test framework into the solution",
    # no content rule names these: the run gives them away
    "python/pig-latin": "which must fail, passed",
    "javascript/sum-of-multiples": "which must fail, passed",
    "java/twelve-days": "exited 0 without writing its report",
    "cpp/gigasecond": "exited 0 without writing its report",
    "rust/acronym": "exited 0, yet a harness canary must fail",
}
EVASIVE = ("python/pig-latin", "javascript/sum-of-multiples", "java/twelve-days", "cpp/gigasecond", "rust/acronym")


@pytest.mark.slow
def test_each_trick_is_named_in_the_evidence(forged_run: Run) -> None:
    files = aider_files(forged_run.run_dir)
    for name, expected in EVIDENCE.items():
        checks = files[name]["localcode"]["forgery"]["checks"]
        assert any(expected in check for check in checks), (name, checks)
    for name in EVASIVE:  # the run's own checks caught them, not a pattern in their files
        checks = files[name]["localcode"]["forgery"]["checks"]
        assert not any(": " in c and c.split(": ")[0] in FORGERIES[name].files for c in checks), name


@pytest.mark.slow
def test_forged_is_its_own_outcome_in_every_report(forged_run: Run) -> None:
    summary = forged_run.summary()
    total = summary["total"]
    assert (total["forged"], total["pass_1"], total["pass_2"], total["failed"]) == (len(FORGERIES), 0, 0, 0)
    assert total["pass_rate_1"] == total["pass_rate_2"] == 0.0
    assert summary["aider"]["pass_rate_1"] == 0.0
    for language, group in summary["languages"].items():
        assert group["forged"] == sum(1 for n in FORGERIES if n.startswith(language + "/")), language
    rows = text_table((forged_run.run_dir / "benchmark_results.txt").read_text())
    assert rows["total"]["forged"] == len(FORGERIES) and rows["total"]["pass_1"] == 0
    text = (forged_run.run_dir / "benchmark_results.txt").read_text()
    assert "Forged (the grader was tampered with; counted as failures):" in text and "python/proverb: pytest.py" in text
    html_cells = html_rows(forged_run.run_dir / "report.html")
    assert {cells["outcome"] for cells in html_cells.values()} == {"forged"}
    page = (forged_run.run_dir / "report.html").read_text()
    assert "the grader was tampered with" in page and "Suspicious files:" in page


class RefactorModel(ExerciseModel):
    """go/ledger, one try each: the stub plus a newline; the stub deleted; the stub moved verbatim
    into a new file; an honest rewrite in a new file (the reference solution)."""

    def files_for(self, language: str, slug: str, try_number: int) -> dict[str, str]:
        stub = (self.dataset / language / "exercises" / "practice" / slug / "ledger.go").read_text()
        if try_number == 1:
            return {"ledger.go": stub + "\n\n// refactored\n"}
        if try_number == 3:
            return {"ledger_moved.go": stub}
        if try_number == 4:
            return {"ledger_moved.go": "package ledger\n", "format.go": self.reference(language, slug)["ledger.go"]}
        return {}

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        language, slug, try_number, steps = task_of(request)
        if try_number == 2 and steps == 0:
            return {"tool_calls": [tool_call("shell", {"command": "rm ledger.go"}, id="call_rm")]}
        if try_number == 2:
            return {"tool_calls": [tool_call("finish", {"summary": "deleted"}, id="call_fin")]}
        return super().__call__(request)


@pytest.mark.slow
def test_refactoring_is_judged_on_the_graded_solution(polyglot: Path, tmp_path: Path) -> None:
    run = run_benchmark(polyglot, RefactorModel(polyglot), tmp_path / "run", ["go/ledger"], "--tries=4")
    data = aider_files(tmp_path / "run")["go/ledger"]
    tries = data["localcode"]["tries"]
    outcomes = [t["outcome"] for t in tries]
    assert outcomes == ["fail", "build_error", "fail", "pass"], [t["tests"].get("reason") for t in tries]
    assert "solution unchanged" in tries[0]["tests"]["reason"]  # whitespace and a comment are no change
    assert "solution unchanged" in tries[2]["tests"]["reason"]  # nor is moving the stub into another file
    assert data["tests_outcomes"] == [False, False, False, True]
    assert data["localcode"]["status"] == "pass@2", run.stdout[-2000:]  # solved by the 4th try
