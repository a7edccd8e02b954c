"""Memory and process-count limits for a whole process tree, through cgroups.

rlimits are per process (a fork bomb or a 20 GB allocation spread over children slips through,
and root ignores RLIMIT_NPROC), so when the machine lets us create cgroups (root, or a delegated
v2 subtree) every command runs in its own cgroup: the kernel's OOM killer and ``pids.max`` then
contain it, and a timeout kills every member, including those that left the process group.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pytest_localcode.sandbox.base import Limits

ROOT = Path("/sys/fs/cgroup")
GROUP = "localcode"


def _write(path: Path, value: str) -> None:
    path.write_text(value)


@dataclass
class Cgroup:
    """One command's cgroup (v1: a directory per controller; v2: one directory)."""

    dirs: list[Path]
    memory_dir: Path
    version: int
    procs_files: list[Path] = field(init=False)

    def __post_init__(self) -> None:
        self.procs_files = [d / "cgroup.procs" for d in self.dirs]

    def wrap(self, argv: list[str]) -> list[str]:
        """Prefix argv so the command joins the cgroup before it execs (no preexec_fn needed)."""
        joins = " ".join(f'echo $$ > "${i + 1}" &&' for i in range(len(self.procs_files)))
        script = f'{joins} shift {len(self.procs_files)} && exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *map(str, self.procs_files), *argv]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found.update(int(x) for x in procs.read_text().split())
            except OSError:
                pass
        return sorted(found)

    def kill_all(self, deadline: float = 5.0) -> None:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def oom_killed(self) -> bool:
        events = self.memory_dir / ("memory.events" if self.version == 2 else "memory.oom_control")
        try:
            for line in events.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        if self.version == 1:
            try:
                return int((self.memory_dir / "memory.failcnt").read_text()) > 0 and not self.pids()
            except (OSError, ValueError):
                return False
        return False

    def remove(self) -> None:
        self.kill_all(deadline=2.0)
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


class CgroupLimiter:
    """Creates per-command cgroups; :meth:`detect` returns None where that is not allowed."""

    def __init__(self, version: int, bases: dict[str, Path]):
        self.version = version
        self.bases = bases

    @classmethod
    def detect(cls) -> CgroupLimiter | None:
        if os.environ.get("LOCALCODE_NO_CGROUPS"):
            return None
        v1 = {c: ROOT / c for c in ("memory", "pids")}
        if all((p / "cgroup.procs").exists() for p in v1.values()):
            bases = {c: p / GROUP for c, p in v1.items()}
            if all(cls._usable(b) for b in bases.values()):
                return cls(1, bases)
            return None
        if (ROOT / "cgroup.controllers").exists():
            base = cls._v2_base()
            if base is not None:
                return cls(2, {"unified": base})
        return None

    @staticmethod
    def _usable(base: Path) -> bool:
        try:
            base.mkdir(exist_ok=True)
            probe = base / f"probe-{os.getpid()}"
            probe.mkdir()
            probe.rmdir()
            return True
        except OSError:
            return False

    @classmethod
    def _v2_base(cls) -> Path | None:
        try:
            own = Path("/proc/self/cgroup").read_text().strip().splitlines()[-1].split("::", 1)[1]
        except (OSError, IndexError):
            return None
        for parent in (ROOT, ROOT / own.lstrip("/")):
            base = parent / GROUP
            try:
                controllers = (parent / "cgroup.controllers").read_text().split()
                if not {"memory", "pids"} <= set(controllers):
                    continue
                base.mkdir(exist_ok=True)
                _write(base / "cgroup.subtree_control", "+memory +pids")
                if cls._usable(base):
                    return base
            except OSError:
                continue
        return None

    def create(self, limits: Limits) -> Cgroup:
        name = f"cmd-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        mem_bytes = str(limits.memory_mb * 1024 * 1024)
        if self.version == 1:
            mem = self.bases["memory"] / name
            pids = self.bases["pids"] / name
            mem.mkdir()
            pids.mkdir()
            _write(mem / "memory.limit_in_bytes", mem_bytes)
            swap = mem / "memory.memsw.limit_in_bytes"
            if swap.exists():
                _write(swap, mem_bytes)
            _write(pids / "pids.max", str(limits.pids))
            return Cgroup([mem, pids], mem, 1)
        unified = self.bases["unified"] / name
        unified.mkdir()
        _write(unified / "memory.max", mem_bytes)
        if (unified / "memory.swap.max").exists():
            _write(unified / "memory.swap.max", "0")
        _write(unified / "pids.max", str(limits.pids))
        return Cgroup([unified], unified, 2)
