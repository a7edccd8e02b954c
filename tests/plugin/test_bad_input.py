"""Bad input gives a clear verdict or a one-line error, never a hang or a traceback."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.datasets import python_exercise
from tests.support.listener import listener


def run(pytester: pytest.Pytester, dataset: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        # The local (bubblewrap) sandbox; tests/sandbox/test_docker.py has the Docker twins.
        "--model", "oracle", "--sandbox=local", f"--exercises={dataset}", f"--run-dir={pytester.path / 'run'}", "-q",
        *args,
    )


def verdict(pytester: pytest.Pytester, slug: str) -> dict:
    data = json.loads((pytester.path / "run" / "python" / slug / ".aider.results.json").read_text())
    return data["localcode"]


def test_missing_dataset_is_one_line_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = run(pytester, tmp_path / "nowhere")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "exercises directory" in err and "does not exist" in err and "LOCALCODE_EXERCISES" in err
    assert "Traceback" not in err + result.stdout.str()


def test_directory_that_is_not_a_dataset(pytester: pytest.Pytester, tmp_path: Path) -> None:
    (tmp_path / "something").mkdir()
    result = run(pytester, tmp_path)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "is not a polyglot-benchmark checkout" in result.stderr.str()


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_epochs_below_one_is_one_line_error(pytester: pytest.Pytester, tmp_path: Path, epochs: str) -> None:
    python_exercise(tmp_path, "good", example="def answer():\n    return 42\n")
    result = run(pytester, tmp_path, f"--epochs={epochs}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str().strip()
    assert err == f"ERROR: --epochs must be at least 1 (got {epochs}): it is how many times every exercise runs"
    assert not (pytester.path / "run").exists()


def test_bad_server_url_is_one_line_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "good", example="def answer():\n    return 42\n")
    result = run(pytester, tmp_path, "--model=gemma3-270m", "--server-url=http://127.0.0.1:notaport")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "--server-url: server URL 'http://127.0.0.1:notaport' is not valid" in err and "http://HOST:PORT" in err
    assert "Traceback" not in err + result.stdout.str()


def test_malformed_config_errors_that_item_only(pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "good", example="def answer():\n    return 42\n")
    python_exercise(tmp_path, "broken", example="", config="{not json")
    result = run(pytester, tmp_path)
    result.assert_outcomes(passed=1, errors=1)
    out = result.stdout.str()
    assert "broken/.meta/config.json: malformed JSON" in out
    assert "Traceback" not in out


def test_unknown_language_is_named(pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "good", example="def answer():\n    return 42\n")
    ex = tmp_path / "kotlin" / "exercises" / "practice" / "hello"
    (ex / ".meta").mkdir(parents=True)
    (ex / ".meta" / "config.json").write_text('{"files": {"solution": ["a.kt"], "test": ["b.kt"]}}')
    result = run(pytester, tmp_path)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*unknown language 'kotlin'*"])


def test_infinite_loop_times_out(pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "loop", example="def answer():\n    while True:\n        pass\n")
    started = time.monotonic()
    result = run(pytester, tmp_path, "--test-timeout=4")
    assert time.monotonic() - started < 60
    result.assert_outcomes(failed=1)
    data = verdict(pytester, "loop")
    assert data["tries"][-1]["outcome"] == "timeout"


def _processes() -> set[int]:
    return {int(p) for p in os.listdir("/proc") if p.isdigit()}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it ended meanwhile
        return b""


def test_fork_bomb_is_contained(pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(
        tmp_path,
        "forkbomb",
        example="import os\n\ndef answer():\n    while True:\n        try:\n            os.fork()\n        except "
                "OSError:\n            pass\n",
    )
    before = _processes()
    started = time.monotonic()
    result = run(pytester, tmp_path, "--test-timeout=5")
    assert time.monotonic() - started < 90
    result.assert_outcomes(failed=1)
    assert verdict(pytester, "forkbomb")["status"] == "fail"
    time.sleep(1)
    leftover = [p for p in _processes() - before if b"forkbomb" in _cmdline(p)]
    assert leftover == []


def test_twenty_gigabytes_is_killed(pytester: pytest.Pytester, tmp_path: Path) -> None:
    python_exercise(tmp_path, "hog", example="def answer():\n    data = bytearray(20 * 1024**3)\n    return 42\n")
    result = run(pytester, tmp_path, "--test-timeout=60")
    result.assert_outcomes(failed=1)
    data = verdict(pytester, "hog")
    assert data["status"] == "fail"
    assert data["tries"][-1]["outcome"] in ("fail", "build_error")


def test_network_is_unreachable(pytester: pytest.Pytester, tmp_path: Path) -> None:
    with listener() as (port, accepted):
        python_exercise(
            tmp_path,
            "netcall",
            example=f"import socket\n\ndef answer():\n    socket.create_connection(('127.0.0.1', {port}), "
                    "timeout=3).close()\n    return 42\n",
        )
        result = run(pytester, tmp_path, "--test-timeout=30")
        result.assert_outcomes(failed=1)
        assert verdict(pytester, "netcall")["status"] == "fail"
        assert accepted == []


# Both reach the report after pytest wrote it (an exit hook imported by a name no content rule knows).
TRUNCATE_REPORT = """
import sys
atexit = __import__("ate" + "xit")

def _cut():
    path = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--junitxml="))
    text = open(path).read()
    open(path, "w").write(text[: len(text) // 2])

atexit.register(_cut)

def answer():
    return 42
"""

DUPLICATE_NAME = """
import re, sys
atexit = __import__("ate" + "xit")

def _twice():
    path = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--junitxml="))
    text = open(path).read()
    case = re.search(r'<testcase classname="dup_test.AnswerTest" name="test_answer"[^>]*/>', text).group(0)
    open(path, "w").write(text.replace(case, case + case))

atexit.register(_twice)

def answer():
    return 42
"""


def test_bad_reports_and_test_files_are_one_line_verdicts(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """A report cut in half, a report naming a test twice, a test file the name reader cannot read:
    each a one-line reason in its own exercise, the good exercise beside them unaffected."""
    python_exercise(tmp_path, "good", example="def answer():\n    return 42\n")
    python_exercise(tmp_path, "cut", example=TRUNCATE_REPORT)
    python_exercise(tmp_path, "dup", example=DUPLICATE_NAME)
    python_exercise(tmp_path, "unreadable", example="def answer():\n    return 42\n",
                    tests="import unittest\nclass AnswerTest(unittest.TestCase):\n    def test_x(self) pass\n")
    result = run(pytester, tmp_path)
    result.assert_outcomes(passed=1, failed=2, errors=1)
    out = result.stdout.str()
    assert "Traceback" not in out
    cut = verdict(pytester, "cut")["tries"][-1]
    assert cut["outcome"] == "fail"
    assert cut["tests"]["reason"].startswith("test report unreadable: junit.xml is not well-formed XML (")
    dup = verdict(pytester, "dup")
    assert dup["status"] == "forged"
    assert dup["tries"][-1]["tests"]["reason"] == (
        "forged: the report names a test more often than the exercise defines it: dup_test.AnswerTest.test_answer")
    unreadable = verdict(pytester, "unreadable")
    assert unreadable["status"] == "error" and unreadable["tries"][-1]["outcome"] == "error"
    assert unreadable["error"] == ("python/unreadable: harness error: cannot read the exercise's test names: "
                                   "unreadable_test.py:3: not valid Python (expected ':')")
    assert "python/unreadable: harness error: cannot read the exercise's test names" in out
    for reason in (cut["tests"]["reason"], dup["tries"][-1]["tests"]["reason"], unreadable["error"]):
        assert "\n" not in reason
