"""How a command runs in a Docker sandbox's container (:class:`.docker.DockerSandbox`).

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
import struct
import time
from pathlib import Path
from typing import Any

import docker

from pytest_localcode.sandbox.base import join_cut

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
        except TimeoutError:
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
