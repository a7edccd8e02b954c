"""``--server-url``: a running OpenAI-compatible server; nothing is started, try 2 sees try 1's failures.

The server is the scripted one from the agent issue, in this process; its model leaves the stubs
on try 1 and writes the reference solution on try 2, recording each try's prompt per exercise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_localcode.results import load
from tests.support.models import FailThenFixModel
from tests.support.scripted_server import ScriptedServer
from tests.support.stand_ins import AGENT_CONFIGS

SCRIPTED = str(AGENT_CONFIGS / "scripted.json")
EXERCISES = {"python/proverb": "proverb", "javascript/space-age": "space-age"}


@pytest.mark.slow
def test_second_try_prompt_carries_the_first_try_failures(pytester: pytest.Pytester, polyglot: Path) -> None:
    model = FailThenFixModel(polyglot)
    run_dir = pytester.path / "run"
    with ScriptedServer(model, repeat=False) as server:
        result = pytester.runpytest_subprocess(
            "--model", SCRIPTED, f"--exercises={polyglot}", f"--server-url={server.url}/v1", "--tries=2",
            f"--run-dir={run_dir}", "--sandbox=local", "-p", "no:cacheprovider",
            "-k", "(python and proverb) or (javascript and space-age)", timeout=300,
        )
    result.assert_outcomes(passed=2)
    assert not (run_dir / "server.log").exists()  # an external server: nothing was started
    for key in EXERCISES:
        saved = load(run_dir / key)
        assert saved is not None and saved.status == "pass@2", key
        failed = saved.tries[0].tests["failed_names"]
        assert failed, f"{key}: try 1 should have failing tests"
        first, second = model.prompts[key]
        assert "See the test errors above" in second and "See the test errors above" not in first
        assert "# Exercise:" in first
        words = " ".join(second.replace("›", " ").split())  # jest prints "Suite › case"
        for name in failed:
            # python: module.Class.test_name; jest: a › b
            leaf = " ".join(name.split(".")[-1].replace("›", " ").split())
            assert leaf in words, f"{key}: try 2 prompt lacks the failure {name!r}"
        assert str(run_dir) not in second  # paths are cleaned out of the test output
        # the harness canaries are not the model's
        assert "LocalcodeCanary" not in second and "localcode " not in second
        assert len(second) < 20000
