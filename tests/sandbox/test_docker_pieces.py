"""Pieces of the Docker sandbox that need no engine: output capping, the sweep's rule, the image
definition, and how fast "no engine" is found out."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("docker")


def test_capture_cuts_like_read_capped(tmp_path: Path) -> None:
    from pytest_localcode.sandbox.base import read_capped
    from pytest_localcode.sandbox.docker_exec import Capture

    rng = random.Random(7)
    for trial in range(200):
        limit = rng.choice([10, 11, 100, 1000])
        data = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 4000)))
        capture = Capture(limit)
        for start in range(0, len(data), step := rng.randrange(1, 700)):
            capture.add(data[start : start + step])
        (tmp_path / "out").write_bytes(data)
        assert capture.text() == read_capped(tmp_path / "out", limit), (trial, limit, len(data))


def test_sweep_rule_is_process_then_age() -> None:
    from pytest_localcode.sandbox.docker import MAX_AGE_HOURS, owner_labels, run_is_over

    mine = owner_labels()
    now = time.time()
    assert not run_is_over(mine, now)
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert run_is_over({**mine, "localcode.pid": str(dead.pid)}, now)
    assert run_is_over({**mine, "localcode.pidstart": "1"}, now), "a reused pid is not the same process"
    elsewhere = {**mine, "localcode.host": "another-machine"}
    assert not run_is_over(elsewhere, now - 60)
    assert run_is_over(elsewhere, now - MAX_AGE_HOURS * 3600 - 60)


def test_image_definition_reuses_the_language_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import yaml

    from pytest_localcode.sandbox import docker

    conf = tmp_path / "conf"
    shutil.copytree(docker.CONF_DIR, conf)
    monkeypatch.setattr(docker, "CONF_DIR", conf)
    files = docker.definition()
    python = yaml.safe_load((conf / "python.yaml").read_text())
    assert files["generated/setup/python.sh"].decode() == python["setup"]
    assert "bookworm-backports golang-go  # go" in files["generated/packages.txt"].decode()
    assert "command javac 17 -version" in files["generated/requires.txt"].decode()
    assert "Dockerfile" in files and not any(name.startswith("exercises/") for name in files)
    tag = docker.image_tag()
    python_yaml = conf / "python.yaml"
    python_yaml.write_text(python_yaml.read_text().replace("description:", "# note\ndescription:"))
    assert docker.image_tag() == tag, "text outside requires/setup does not change the image"
    (conf / "python.yaml").write_text((conf / "python.yaml").read_text().replace("pytest==9.2.0", "pytest==9.2.1"))
    assert docker.image_tag() != tag


def test_engine_answers_is_false_fast_without_an_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_localcode.sandbox.docker import engine_answers

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    started = time.monotonic()
    assert engine_answers() is False
    assert time.monotonic() - started < 3
