"""The Docker sandbox at unit level: ``DockerSandboxFactory().open(dir, name=...).exec(...)``.

Isolation (no network, no writes outside the mounted directory, non-root, host files stay the
owner's), limits (memory, pids, timeout, output) and cleanup (close, the sweep after a crash).
Needs an engine and the image: see tests/sandbox/conftest.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode.errors import SandboxError
from pytest_localcode.sandbox.base import Limits
from tests.support.listener import listener
from tests.sandbox.helpers import bridge_gateway, containers, wait_for, workspace


def test_runs_as_owner_in_its_directory_and_files_stay_theirs(factory, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    (ws / "given.txt").write_text("hello\n")
    sandbox = factory.open(ws, name="owner-check")
    try:
        assert sandbox.workdir == "/work/owner-check"
        result = sandbox.exec("pwd; id -u; cat given.txt; echo made > made.txt; mkdir -p sub/dir && echo x > sub/dir/f",
                              timeout=30)
    finally:
        sandbox.close()
    assert result.exit_code == 0, result.output
    cwd, uid, given = result.output.split()[:3]
    assert (cwd, given) == ("/work/owner-check", "hello")
    assert uid != "0"
    owner = ws.stat().st_uid
    assert (ws / "made.txt").read_text() == "made\n"
    assert {p.stat().st_uid for p in ws.rglob("*")} == {owner}


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand the directory to another user")
def test_non_root_owner_runs_as_that_user(factory, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    os.chown(ws, 12345, 12345)
    sandbox = factory.open(ws, name="other-user")
    try:
        result = sandbox.exec("id -u; id -g; touch mine", timeout=30)
    finally:
        sandbox.close()
    assert result.output.split()[:2] == ["12345", "12345"]
    assert (ws / "mine").stat().st_uid == 12345


def test_env_cwd_argv_exit_codes_and_toolchains(factory, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    (ws / "sub").mkdir()
    sandbox = factory.open(ws, name="basics")
    try:
        r = sandbox.exec('echo "$FOO"; pwd; echo oops >&2; exit 3', timeout=30, env={"FOO": "bar"}, cwd="sub")
        assert (r.exit_code, r.output.split()) == (3, ["bar", "/work/basics/sub", "oops"])
        r = sandbox.exec(["python3", "-c", "import sys; print(sys.argv[1:])", "a b", "c"], timeout=30)
        assert r.output.strip() == "['a b', 'c']"
        assert sandbox.exec("true", timeout=30, cwd="nowhere").exit_code == 127
        r = sandbox.exec('go version && cargo --version && node --version && javac -version && cmake --version'
                         ' && "$LOCALCODE_TOOLS/python/bin/python" -m pytest --version'
                         ' && test -d "$LOCALCODE_TOOLS/node/node_modules/jest" && ls "$LOCALCODE_CACHE/cargo-home"',
                         timeout=60)
        assert r.exit_code == 0, r.output
        assert "pytest 9.2.0" in r.output
        assert "\nv20." in r.output, "Node 20, as locally (exercises_conf/docker/install-node.sh)"
    finally:
        sandbox.close()


def test_network_is_unreachable(factory, docker_engine: Any, tmp_path: Path) -> None:
    """No interface but loopback: the host (by any address) and DNS are out of reach."""
    with listener() as (port, accepted):
        hosts = ["127.0.0.1", bridge_gateway(docker_engine), socket.gethostbyname(socket.gethostname())]
        probe = (
            "import socket\n"
            f"for host in {hosts!r}:\n"
            "    try:\n"
            f"        socket.create_connection((host, {port}), timeout=3).close(); print('CONNECTED', host)\n"
            "    except OSError as exc:\n"
            "        print('refused', host, exc)\n"
            "try:\n    socket.getaddrinfo('deb.debian.org', 80); print('RESOLVED')\n"
            "except OSError as exc:\n    print('no dns', exc)\n"
            "print('interfaces', sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))\n"
        )
        sandbox = factory.open(workspace(tmp_path), name="netcall")
        try:
            result = sandbox.exec(["python3", "-c", probe], timeout=60)
        finally:
            sandbox.close()
    assert "CONNECTED" not in result.output and "RESOLVED" not in result.output, result.output
    assert "interfaces ['lo']" in result.output
    assert accepted == []


def test_twenty_gigabytes_is_killed(factory, tmp_path: Path) -> None:
    sandbox = factory.open(workspace(tmp_path), name="hog")
    try:
        result = sandbox.exec("python3 -c 'data = bytearray(20 * 1024**3); print(len(data))'", timeout=120)
        after = sandbox.exec("echo still here", timeout=30)
    finally:
        sandbox.close()
    assert result.oom_killed and not result.timed_out
    assert result.exit_code == 137
    assert "out of memory (limit 1024 MB)" in result.output
    assert after.output.strip() == "still here" and not after.oom_killed


def _host_processes(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found


def test_fork_bomb_is_contained(factory, tmp_path: Path) -> None:
    marker = f"forkbomb-{uuid.uuid4().hex[:8]}"
    bomb = (f"exec -a {marker} python3 -c "
            "'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass'")
    sandbox = factory.open(workspace(tmp_path), name="forkbomb")
    try:
        started = time.monotonic()
        result = sandbox.exec(bomb, timeout=6)
        elapsed = time.monotonic() - started
        limit = sandbox.exec("cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max", timeout=30)
        left = sandbox.exec("ls -d /proc/[0-9]* | wc -l", timeout=30)
    finally:
        sandbox.close()
    assert result.timed_out and elapsed < 6 + 10
    assert limit.output.strip() == "128"
    assert int(left.output.strip()) < 10, "processes of the fork bomb survived its command"
    time.sleep(0.5)
    assert _host_processes(marker) == []


def test_infinite_loop_is_killed_at_the_timeout(factory, tmp_path: Path) -> None:
    sandbox = factory.open(workspace(tmp_path), name="loop")
    try:
        plain = sandbox.exec("while :; do :; done", timeout=2)
        stubborn = sandbox.exec("trap '' TERM; while :; do :; done", timeout=2)
        after = sandbox.exec("echo alive", timeout=30)
    finally:
        sandbox.close()
    assert plain.timed_out and 2 <= plain.duration < 6
    assert "timed out after 2s" in plain.output
    assert stubborn.timed_out and 2 <= stubborn.duration < 8  # TERM ignored: KILL after the grace
    assert after.output.strip() == "alive" and not after.timed_out


def test_writes_outside_its_directory_are_impossible(factory, tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    targets = ["/etc/x", "/etc/hosts", "/usr/x", "/usr/bin/python3", "/opt/localcode/tools/x", "/x", "/work/x",
               "/root/x", "/var/x", "/home/x", "/work/other/x"]
    script = "; ".join(f'(echo pwned >> {t}) 2>/dev/null && echo "WROTE {t}"' for t in targets)
    sandbox = factory.open(ws, name="writer")
    try:
        result = sandbox.exec(script + "; echo ok > /tmp/scratch && echo tmp-ok; echo mine > here && echo here-ok",
                              timeout=30)
        mounts = sandbox.exec("cat /proc/self/mountinfo", timeout=30)
    finally:
        sandbox.close()
    assert "WROTE" not in result.output, result.output
    assert "tmp-ok" in result.output and "here-ok" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    host_mounts = [line.split()[4] for line in mounts.output.splitlines()
                   if line.split()[4].startswith(("/work", "/opt"))]
    assert sorted(host_mounts) == ["/opt/localcode/cache", "/work/writer"]


def test_scratch_is_a_private_cache_with_shared_crates_read_only(factory, tmp_path: Path) -> None:
    """The agent's shell gets its own cache: nothing another exercise built, the crates read-only."""
    ws, scratch = workspace(tmp_path), tmp_path / "scratch"
    shared_before = sorted(p.name for p in factory.cache.iterdir())
    sandbox = factory.open(ws, name="private", scratch=scratch)
    try:
        result = sandbox.exec('cd "$LOCALCODE_CACHE" && echo built > mine && ls; ls cargo-home/registry | head -1;'
                              ' (touch cargo-home/registry/x) 2>/dev/null && echo WROTE-SHARED; true', timeout=30)
    finally:
        sandbox.close()
    assert result.exit_code == 0, result.output
    assert "WROTE-SHARED" not in result.output and "go-build" not in result.output.split()
    assert (scratch / "mine").read_text() == "built\n"
    assert sorted(p.name for p in factory.cache.iterdir()) == shared_before
    assert {p.stat().st_uid for p in scratch.rglob("*")} == {ws.stat().st_uid}


def test_background_processes_do_not_outlive_their_command(factory, tmp_path: Path) -> None:
    sandbox = factory.open(workspace(tmp_path), name="daemon")
    try:
        started = time.monotonic()
        first = sandbox.exec("setsid sleep 300 & sleep 301 & echo started", timeout=30)
        quick = time.monotonic() - started
        listing = sandbox.exec("for d in /proc/[0-9]*; do tr '\\0' ' ' < $d/cmdline; echo; done", timeout=30)
    finally:
        sandbox.close()
    assert first.output.strip() == "started" and quick < 10
    assert "sleep 30" not in listing.output


def test_a_stopped_container_is_restarted(factory, docker_engine: Any, tmp_path: Path) -> None:
    """The OOM killer may pick the keep-alive process; the next command must still run."""
    sandbox = factory.open(workspace(tmp_path), name="restart")
    try:
        kill = ('for d in /proc/[0-9]*; do a=; read -r -d "" a < $d/cmdline; '
                '[ "$a" = localcode-keepalive ] && kill -9 ${d#/proc/}; done; true')
        sandbox.exec(kill, timeout=30)
        wait_for(lambda: not docker_engine.api.inspect_container(sandbox.id)["State"]["Running"], 30, "the stop")
        result = sandbox.exec("echo back", timeout=30)
    finally:
        sandbox.close()
    assert (result.exit_code, result.output) == (0, "back\n")


def test_output_is_capped(docker_engine: Any, tmp_path: Path) -> None:
    from pytest_localcode.sandbox.docker import DockerSandboxFactory

    small = DockerSandboxFactory(Limits(output_bytes=1000))
    try:
        sandbox = small.open(workspace(tmp_path), name="flood")
        result = sandbox.exec("echo START; head -c 5000000 /dev/zero | tr '\\0' a; echo; echo END", timeout=60)
    finally:
        small.close()
    assert result.truncated and result.exit_code == 0
    assert result.output.startswith("START") and result.output.endswith("END\n")
    assert "bytes of output cut" in result.output and len(result.output) < 1100


def test_close_removes_containers(docker_engine: Any, tmp_path: Path) -> None:
    from pytest_localcode.sandbox.docker import DockerSandboxFactory

    run_id = f"test-close-{uuid.uuid4().hex[:8]}"
    made = DockerSandboxFactory(run_id=run_id)
    first = made.open(workspace(tmp_path, "a"), name="a")
    made.open(workspace(tmp_path, "b"), name="b")
    assert len(containers(docker_engine, run_id)) == 2
    first.close()
    assert len(containers(docker_engine, run_id)) == 1
    made.close()
    assert containers(docker_engine, run_id) == []
    with pytest.raises(SandboxError):
        first.exec("true", timeout=5)


def test_sweep_removes_what_a_crashed_process_left(docker_engine: Any, tmp_path: Path) -> None:
    from pytest_localcode.sandbox.docker import DockerSandboxFactory

    run_id = f"test-crash-{uuid.uuid4().hex[:8]}"
    crash = (
        "import os, sys\nfrom pytest_localcode.sandbox.docker import DockerSandboxFactory\n"
        f"DockerSandboxFactory(run_id={run_id!r}).open(sys.argv[1], name='crashed')\nos._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(workspace(tmp_path))], check=True, timeout=120)
    assert len(containers(docker_engine, run_id)) == 1, "os._exit skips every cleanup: the container must be there"
    DockerSandboxFactory().close()
    assert containers(docker_engine, run_id) == []


def test_describe_names_image_and_limits(factory) -> None:
    text = factory.describe()
    assert text.startswith("docker (localcode-polyglot:") and "1024 MB" in text and "128 pids" in text
