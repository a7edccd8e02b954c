"""``localcode merge`` refuses what cannot be one run, with one line; inputs are hand-made run
directories (result files and the summary.json provenance a finished run writes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode.merge import expand_inputs, main
from pytest_localcode.report.replay import node_name, result_dirs
from tests.support.synthetic_results import make_result, write_run

PROVENANCE = {"model": "glm", "agent_config": {"name": "glm", "temperature": 0.2}, "sampling": {"temperature": 0.2},
              "limits": {"tries": 2, "max_turns": None, "max_tokens": None, "agent_timeout": 900.0,
                         "test_timeout": None},
              "dataset_commit": "7e0611e", "server": {"model_sha256": "a" * 64}}


def shard_dir(root: Path, index: int, count: int, names: list[str], **changes: Any) -> Path:
    run = write_run(root / f"shard-{index}-of-{count}", [make_result(n, ["pass"]) for n in names])
    provenance = {**PROVENANCE, "shard": [index, count], **changes}
    (run / "summary.json").write_text(json.dumps({"provenance": provenance}))
    return run


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("localcode merge: "), err
    return lines[0]


def test_a_directory_of_shards_stands_for_them(tmp_path: Path) -> None:
    for i in range(3):
        shard_dir(tmp_path / "run", i, 3, [f"python/e{i}"])
    (tmp_path / "run" / "merged").mkdir()
    assert [p.name for p in expand_inputs([tmp_path / "run"])] == ["shard-0-of-3", "shard-1-of-3", "shard-2-of-3"]
    one = tmp_path / "run" / "shard-1-of-3"
    assert expand_inputs([one]) == [one]


@pytest.mark.parametrize(("changes", "needle"), [
    ({"model": "qwen"}, "cannot merge runs of different models: glm vs qwen"),
    ({"agent_config": {"name": "glm", "temperature": 0.7}}, "cannot merge runs of different agent configs"),
    ({"sampling": {"temperature": 0.7}}, "different sampling settings"),
    ({"limits": {**PROVENANCE["limits"], "tries": 1}}, "different limits"),
    ({"dataset_commit": "0000000"}, "different dataset commits: 7e0611e vs 0000000"),
    ({"server": {"model_sha256": "b" * 64}}, "different model files (sha256 aaaaaaaaaaaa… vs bbbbbbbbbbbb…"),
])
def test_runs_that_differ_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict,
                                      needle: str) -> None:
    a = shard_dir(tmp_path / "a", 0, 2, ["python/proverb"])
    b = shard_dir(tmp_path / "b", 1, 2, ["go/bowling"], **changes)
    line = refused(capsys, str(a), str(b), "--into", str(tmp_path / "m"))
    assert needle in line and str(a) in line and str(b) in line
    assert not (tmp_path / "m").exists()


def test_overlapping_shards_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = shard_dir(tmp_path / "a", 1, 3, ["python/proverb"])
    b = shard_dir(tmp_path / "b", 1, 3, ["go/bowling"])
    assert "overlapping shards: " in refused(capsys, str(a), str(b), "--into", str(tmp_path / "m"))
    c = shard_dir(tmp_path / "c", 0, 2, ["rust/acronym"])
    assert "split the exercises differently" in refused(capsys, str(a), str(c), "--into", str(tmp_path / "m"))
    whole = write_run(tmp_path / "whole", [make_result("python/proverb", ["pass"]), make_result("go/x", ["fail"])])
    (whole / "summary.json").write_text(json.dumps({"provenance": PROVENANCE}))
    line = refused(capsys, str(whole), str(a), "--into", str(tmp_path / "m"))
    assert "overlapping shards: python/proverb is in both" in line and "(shard 1/3)" in line


def test_an_unfinished_or_foreign_input_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    killed = write_run(tmp_path / "killed", [make_result("python/proverb", ["pass"])])
    line = refused(capsys, str(killed), "--into", str(tmp_path / "m"))
    assert "no summary.json, so this run did not finish; resume it" in line and f"--run-dir {killed}" in line
    assert "no such run directory" in refused(capsys, str(tmp_path / "nowhere"), "--into", str(tmp_path / "m"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "summary.json").write_text("{}")
    assert "not a localcode run directory" in refused(capsys, str(tmp_path / "empty"), "--into", str(tmp_path / "m"))


def test_into_must_be_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = shard_dir(tmp_path / "a", 0, 1, ["python/proverb"])
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x").write_text("")
    assert "exists and is not empty" in refused(capsys, str(a), "--into", str(tmp_path / "m"))
    assert "overlaps the input" in refused(capsys, str(a), "--into", str(a / "merged"))
    assert "overlaps the input" in refused(capsys, str(a), "--into", str(tmp_path))


def test_result_directories_and_their_item_names(tmp_path: Path) -> None:
    run = write_run(tmp_path / "r", [make_result("python/proverb", ["pass"])])
    write_run(tmp_path / "r" / "go" / "bowling", [make_result("epoch-2/x", ["pass"])])  # lands at go/bowling/epoch-2/x
    (tmp_path / "r" / "java" / "bowling" / "epoch-3").mkdir(parents=True)
    write_run(tmp_path / "r" / "java" / "bowling", [])
    found = result_dirs(run)
    assert [str(p) for p in found["python/proverb"]] == ["python/proverb"]
    assert node_name(found["python/proverb"][0]) == "proverb"
    from pathlib import PurePosixPath

    assert node_name(PurePosixPath("python/react/epoch-2")) == "react[2]"
