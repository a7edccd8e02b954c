"""The local (bubblewrap) sandbox finds toolchains installed in the user's home."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest

from pytest_localcode.sandbox.local import LocalSandboxFactory


@pytest.mark.skipif(
    not shutil.which("cargo") or not shutil.which("cargo").startswith(pwd.getpwuid(os.getuid()).pw_dir),
    reason="needs rustup's cargo in the account's home directory",
)
def test_home_toolchains_are_found_when_home_points_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytester (and some CI runners) point $HOME at a temporary directory; ~/.cargo/bin must still
    be the account's, or every Rust exercise fails with 'cargo: command not found'."""
    monkeypatch.setenv("HOME", str(tmp_path / "fake-home"))
    factory = LocalSandboxFactory()
    work = tmp_path / "work"
    work.mkdir()
    sandbox = factory.open(work, name="home")
    try:
        result = sandbox.exec("cargo --version", timeout=120)
    finally:
        sandbox.close()
        factory.close()
    assert result.exit_code == 0, result.output
    assert result.output.startswith("cargo ")
