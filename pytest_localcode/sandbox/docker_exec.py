"""One Docker sandbox: a container over one directory, and how a command runs in it.

The docker SDK's ``exec_run`` has no timeout and blocks on the socket, so a command runs under a
small bash wrapper: ``timeout -k`` inside the container (it kills the command's whole process
group), the container's OOM-kill counter read before and after (the only honest way to tell an
OOM kill from any other SIGKILL), and every process the command left behind killed afterwards,
as the local sandbox's pid namespace does. The host reads the exec's multiplexed stream itself,
with its own deadline, keeping only a head and a tail of the output.

Files: the container runs as the directory's owner, so what it writes stays theirs on the host.
A root-owned directory (the harness runs as root on CI) is instead lent to the image's
unprivileged ``localcode`` user: chowned to it before each command, and back at close.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker

from pytest_localcode.errors import SandboxError
from pytest_localcode.paths import SANDBOX_CACHE, SANDBOX_TOOLS, SANDBOX_WORK
from pytest_localcode.sandbox.base import ExecResult, command_argv, join_cut, kill_notes, split_cwd

if TYPE_CHECKING:
    from pytest_localcode.sandbox.docker import DockerSandboxFactory

SANDBOX_UID = 10001  # the image's `localcode` user (exercises_conf/docker/Dockerfile)
KEEPALIVE = "localcode-keepalive"  # argv[0] of the container's main process (never reaped)
KILL_GRACE = 2.0
HOST_MARGIN = 15.0  # beyond timeout + grace, the host stops waiting for an exec
PATH = "/opt/localcode/tools/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Kill every process of the container but docker-init (pid 1), the keep-alive and this shell.
REAP = (f'for d in /proc/[0-9]*; do p=${{d#/proc/}}; {{ [ "$p" = 1 ] || [ "$p" = $$ ]; }} && continue; a=; '
        f'read -r -d "" a < "$d/cmdline" 2>/dev/null; [ "$a" = {KEEPALIVE} ] || kill -9 "$p" 2>/dev/null; done')
# $1 timeout, $2 kill grace, $3 directory, then the command. The command's stdout and stderr go
# to stdout; stderr carries only the trailer (exit status, OOM kills during the command). It
# forks nothing but the command, so a fork bomb at the pids limit cannot stall it.
WRAPPER = f"""
oom() {{ OOM=0; local f k v; for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
  [ -r "$f" ] || continue; while read -r k v; do [ "$k" = oom_kill ] && {{ OOM=$v; return; }}; done < "$f"; done; }}
t=$1 k=$2 dir=$3; shift 3
oom; before=$OOM
if cd -- "$dir" 2>/dev/null; then timeout -k "$k" "$t" "$@" < /dev/null 2>&1; rc=$?
else echo "cannot start $1: no such directory $dir"; rc=127; fi
oom; {REAP}
echo "localcode-exec rc=$rc oom=$((OOM - before))" >&2
exit $rc
"""
TRAILER = re.compile(rb"localcode-exec rc=(\d+) oom=(-?\d+)")


def run_as(path: Path) -> tuple[int, int, bool]:
    """(uid, gid, lend): the path's owner, or the image's unprivileged user for a root-owned path."""
    st = path.stat()
    if st.st_uid != 0:
        return st.st_uid, st.st_gid, False
    return SANDBOX_UID, SANDBOX_UID, os.geteuid() == 0


def chown_tree(root: Path, uid: int, gid: int, only_uid: int | None = None) -> None:
    """lchown everything under ``root`` (never following links), optionally only ``only_uid``'s."""
    paths = [root]
    for top, dirs, files in os.walk(root):
        paths += [Path(top, name) for name in dirs + files]
    for path in paths:
        try:
            st = path.lstat()
            if (st.st_uid, st.st_gid) != (uid, gid) and (only_uid is None or st.st_uid == only_uid):
                os.lchown(path, uid, gid)
        except FileNotFoundError:
            pass


def remove_container(engine: docker.DockerClient, container_id: str) -> int:
    """Force-remove (kills first); 1 if removed here, 0 if already gone or going."""
    try:
        engine.api.remove_container(container_id, force=True, v=True)
        return 1
    except docker.errors.NotFound:
        return 0
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # removal already in progress
            return 0
        raise


class Capture:
    """Head and tail of a stream, cut like :func:`read_capped`, never holding much more than ``limit``."""

    def __init__(self, limit: int):
        self.limit = limit
        self.head = bytearray()  # the first ``limit`` bytes
        self.tail = bytearray()  # after those, at least the last ``limit // 2`` bytes
        self.size = 0

    def add(self, data: bytes) -> None:
        self.size += len(data)
        room = self.limit - len(self.head)
        self.head += data[:room]
        self.tail += data[room:]
        if len(self.tail) > self.limit:
            del self.tail[: len(self.tail) - self.limit // 2]

    def text(self) -> tuple[str, bool]:
        if self.size <= self.limit:
            return self.head.decode("utf-8", "replace"), False
        half = self.limit // 2
        head, tail = bytes(self.head[:half]), bytes((self.head[half:] + self.tail)[-half:])
        return join_cut(head, tail, self.size), True


def pump(sock: Any, deadline: float, out: Capture, err: Capture) -> bool:
    """Demultiplex an exec's attach stream until EOF (True) or the host deadline (False)."""
    raw = getattr(sock, "_sock", sock)
    buf = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        raw.settimeout(remaining)
        try:
            chunk = raw.recv(65536)
        except (TimeoutError, socket.timeout):
            return False
        if not chunk:
            return True
        buf += chunk
        while len(buf) >= 8:
            stream, size = struct.unpack(">BxxxL", buf[:8])
            if len(buf) < 8 + size:
                break
            (err if stream == 2 else out).add(bytes(buf[8 : 8 + size]))
            del buf[: 8 + size]


class DockerSandbox:
    kind = "docker"

    def __init__(self, factory: DockerSandboxFactory, directory: Path, name: str, worker: str,
                 scratch: Path | None = None):
        self.factory = factory
        self.api = factory.engine.api
        self.directory = directory
        self.name = name
        self.workdir = f"{SANDBOX_WORK}/{name}"
        self.owner = directory.stat()
        self.uid, self.gid, self.lend = run_as(directory)
        self.id: str | None = None
        self.scratch = scratch
        if scratch:  # writable by the container's user, with the read-only mount points in place
            for part in ["", *factory.shared_readonly]:
                (scratch / part).mkdir(parents=True, exist_ok=True)
        if self.lend:
            chown_tree(directory, self.uid, self.gid)
        if scratch and os.geteuid() == 0:  # a lent scratch is given back at close, like the directory
            chown_tree(scratch, self.uid, self.gid)
        config = factory.container_config(directory, name, worker, f"{self.uid}:{self.gid}", scratch)
        try:
            self.id = self.api.create_container(**config)["Id"]
            self.api.start(self.id)
        except docker.errors.DockerException as exc:
            self.close()
            raise SandboxError(f"cannot start a container for {name}: {str(exc)[:200]}") from None

    def base_env(self) -> dict[str, str]:
        return {"HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "PATH": PATH, "LOCALCODE_TOOLS": SANDBOX_TOOLS,
                "LOCALCODE_CACHE": SANDBOX_CACHE, "LOCALCODE_WORKDIR": self.workdir}

    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        if self.id is None:
            raise SandboxError(f"the sandbox for {self.name} is closed")
        argv = command_argv(command)
        _, inner_cwd = split_cwd(self.workdir, cwd)
        if self.lend:  # files the harness wrote since the last command (the agent's edits)
            chown_tree(self.directory, self.uid, self.gid)
        limits = self.factory.limits
        wrapper = ["bash", "-c", WRAPPER, "localcode-exec", f"{max(timeout, 0.01):.3f}", f"{KILL_GRACE:g}", inner_cwd, *argv]
        out, err = Capture(limits.output_bytes), Capture(65536)
        started = time.monotonic()
        try:
            exec_id = self._exec_create(wrapper, {**self.base_env(), **(env or {})})
            sock = self.api.exec_start(exec_id, socket=True)
        except docker.errors.DockerException as exc:
            return ExecResult(127, f"cannot start {argv[0]}: {str(exc)[:200]}", 0.0)
        try:
            finished = pump(sock, started + timeout + KILL_GRACE + HOST_MARGIN, out, err)
        finally:
            sock.close()
        duration = time.monotonic() - started
        trailer = TRAILER.search(err.text()[0].encode())
        if not finished:  # the wrapper itself is stuck: kill everything the command started
            self._reap()
            exit_code, oom = 137, False
        elif trailer:
            exit_code, oom = int(trailer.group(1)), int(trailer.group(2)) > 0
        else:
            exit_code, oom = int(self.api.exec_inspect(exec_id).get("ExitCode") or 0), False
        timed_out = not finished or (exit_code in (124, 137) and duration >= timeout)
        output, truncated = out.text()
        output += kill_notes(limits, timeout, timed_out, oom)
        return ExecResult(exit_code, output, duration, timed_out, oom, truncated)

    def _exec_create(self, argv: list[str], env: dict[str, str]) -> str:
        """Create the exec; if the OOM killer took the keep-alive (the container stopped), restart once."""
        def create() -> str:
            return self.api.exec_create(self.id, argv, environment=env, workdir=self.workdir,
                                        user=f"{self.uid}:{self.gid}")["Id"]

        try:
            return create()
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: the container is not running
                raise
            self.api.start(self.id)
            return create()

    def _reap(self) -> None:
        try:
            reaper = self.api.exec_create(self.id, ["bash", "-c", REAP], user=f"{self.uid}:{self.gid}")["Id"]
            self.api.exec_start(reaper)
        except docker.errors.DockerException:
            pass

    def close(self) -> None:
        """Remove the container, then give a lent directory back to its owner. Idempotent."""
        container, self.id = self.id, None
        if container:
            try:
                remove_container(self.factory.engine, container)
            except docker.errors.DockerException:
                pass  # the factory's close or the next run's sweep retries
        if self.lend:
            for tree in [self.directory, self.scratch] if self.scratch else [self.directory]:
                chown_tree(tree, self.owner.st_uid, self.owner.st_gid, only_uid=self.uid)
            self.lend = False
        self.factory.forget(self)
