"""Local sandbox: bubblewrap with a minimal root, cgroup limits, and a hard timeout.

Inside, a command sees ``/usr`` and ``/etc`` read-only, the toolchain extras at
``/opt/localcode/tools`` (read-only), the build caches at ``/opt/localcode/cache``, a private
``/tmp``, no network, and exactly one writable directory: the one this sandbox was opened on, at
``/work/<name>``. Without bubblewrap it degrades (once, loudly) to a plain subprocess that keeps
the timeout and the limits but not the isolation.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pytest_localcode.languages import CONF_DIR
from pytest_localcode.paths import SANDBOX_CACHE, SANDBOX_TOOLS, SANDBOX_WORK, cache_dir, tools_dir
from pytest_localcode.sandbox.base import ExecResult, Limits, command_argv, kill_notes, read_capped, split_cwd
from pytest_localcode.sandbox.cgroups import CgroupLimiter

KILL_GRACE = 2.0


def _expand(value: str) -> str:
    """``~`` is the invoking user's home: ``$HOME`` when the path exists there, else the account's
    home directory (a test harness such as pytester points ``$HOME`` at a temporary directory,
    where rustup's ``~/.cargo/bin`` is not)."""
    expanded = os.path.expanduser(value)
    if not value.startswith("~") or os.path.exists(expanded):
        return expanded
    try:
        account = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return expanded
    fallback = account + value[1:] if value.startswith("~/") or value == "~" else expanded
    return fallback if os.path.exists(fallback) else expanded


def _tools_python_home(tools: Path) -> str | None:
    """The base interpreter prefix of the tools venv (pyvenv.cfg ``home``), to bind read-only."""
    cfg = tools / "python" / "pyvenv.cfg"
    if not cfg.is_file():
        return None
    for line in cfg.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return str(Path(value.strip()).resolve().parent)
    return None


class LocalSandboxFactory:
    kind = "local"

    def __init__(self, limits: Limits | None = None, *, use_bwrap: bool | None = None, conf_dir: Path = CONF_DIR):
        self.limits = limits or Limits()
        settings: dict[str, Any] = yaml.safe_load((conf_dir / "sandbox.yaml").read_text())["local"]
        self.settings = settings
        self.bwrap = shutil.which("bwrap") if use_bwrap is not False else None
        if use_bwrap and not self.bwrap:
            raise FileNotFoundError("bwrap not found: install bubblewrap (apt-get install bubblewrap)")
        self.cgroups = CgroupLimiter.detect()
        self.tools = tools_dir()
        self.cache = cache_dir()
        self.cache.mkdir(parents=True, exist_ok=True)
        self.warnings: list[str] = []
        if not self.bwrap:
            self.warnings.append(
                "bubblewrap (bwrap) not found: tests run as plain subprocesses without isolation "
                "(install bubblewrap or use --sandbox docker)"
            )
        if not self.cgroups:
            self.warnings.append(
                "cgroups not writable: memory and process limits fall back to per-process rlimits (run as root for "
                "hard limits)"
            )
        for message in self.warnings:
            warnings.warn(message, stacklevel=2)

    def describe(self) -> str:
        isolation = "bubblewrap" if self.bwrap else "plain subprocess"
        limits = f"cgroup v{self.cgroups.version}" if self.cgroups else "rlimits"
        return f"local ({isolation}, {limits}, {self.limits.memory_mb} MB, {self.limits.pids} pids)"

    def open(self, directory: Path, *, name: str, worker: str = "main", scratch: Path | None = None) -> LocalSandbox:
        """``scratch``: a private cache directory (for the agent's shell) instead of the shared one."""
        return LocalSandbox(self, Path(directory).resolve(), name, worker, scratch)

    def close(self) -> None:
        pass


class LocalSandbox:
    kind = "local"

    def __init__(self, factory: LocalSandboxFactory, directory: Path, name: str, worker: str,
                 scratch: Path | None = None):
        self.factory = factory
        self.directory = directory
        self.name = name
        self.worker = worker
        self.scratch = scratch.resolve() if scratch else None
        if self.scratch:
            self.scratch.mkdir(parents=True, exist_ok=True)
        self.cache = self.scratch or factory.cache
        self.workdir = f"{SANDBOX_WORK}/{name}" if factory.bwrap else str(directory)

    # -- environment -----------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        settings = self.factory.settings
        bwrap = bool(self.factory.bwrap)
        env = {k: _expand(v) for k, v in settings.get("env", {}).items()}
        path = [_expand(p) for p in settings.get("path", [])]
        if bwrap:
            env["PATH"] = ":".join(path)
        else:
            host_path = os.environ.get("PATH", "")
            env["PATH"] = ":".join([str(self.factory.tools / "bin"), host_path])
            env["HOME"] = os.environ.get("HOME", "/tmp")
            env.pop("RUSTUP_HOME", None)
            if "RUSTUP_HOME" in os.environ:
                env["RUSTUP_HOME"] = os.environ["RUSTUP_HOME"]
        env["LOCALCODE_TOOLS"] = SANDBOX_TOOLS if bwrap else str(self.factory.tools)
        env["LOCALCODE_CACHE"] = SANDBOX_CACHE if bwrap else str(self.cache)
        env["LOCALCODE_WORKDIR"] = self.workdir
        return env

    def _bwrap_argv(self, inner_cwd: str) -> list[str]:
        settings = self.factory.settings
        argv = [self.factory.bwrap or "bwrap", "--unshare-all", "--die-with-parent", "--new-session"]
        argv += ["--hostname", "sandbox"]
        for path in settings.get("ro_binds", []):
            argv += ["--ro-bind", path, path]
        for link, target in settings.get("symlinks", {}).items():
            argv += ["--symlink", target, link]
        extra = [_expand(p) for p in settings.get("extra_ro_binds", [])]
        py_home = _tools_python_home(self.factory.tools)
        if py_home:
            extra.append(py_home)
        for path in extra:
            if os.path.exists(path) and not any(path.startswith(b + "/") for b in settings.get("ro_binds", [])):
                argv += ["--ro-bind", path, path]
        argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        if self.factory.tools.is_dir():
            argv += ["--ro-bind", str(self.factory.tools), SANDBOX_TOOLS]
        argv += ["--bind", str(self.cache), SANDBOX_CACHE]
        if self.scratch:
            for part in settings.get("shared_readonly_cache", []):
                if (self.factory.cache / part).is_dir():
                    argv += ["--ro-bind", str(self.factory.cache / part), f"{SANDBOX_CACHE}/{part}"]
        argv += ["--bind", str(self.directory), self.workdir, "--chdir", inner_cwd]
        return argv

    # -- running ---------------------------------------------------------------------------
    def exec(
        self,
        command: str | Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecResult:
        argv = command_argv(command)
        full_env = {**self.base_env(), **(env or {})}
        rel, inner_cwd = split_cwd(self.workdir, cwd)
        if self.factory.bwrap:
            argv = [*self._bwrap_argv(inner_cwd), *argv]
            host_cwd = self.directory
        else:
            host_cwd = self.directory / rel
        limits = self.factory.limits
        cgroup = self.factory.cgroups.create(limits) if self.factory.cgroups else None
        if cgroup:
            argv = cgroup.wrap(argv)
        started = time.monotonic()
        timed_out = False
        with tempfile.NamedTemporaryFile(prefix="localcode-out-", delete=False) as out:
            out_path = Path(out.name)
        try:
            with open(out_path, "wb") as out_fh:
                try:
                    proc = subprocess.Popen(
                        argv,
                        cwd=host_cwd,
                        env=full_env,
                        stdin=subprocess.DEVNULL,
                        stdout=out_fh,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=None if cgroup else _rlimits(limits),
                    )
                except OSError as exc:
                    return ExecResult(127, f"cannot start {argv[0]}: {exc.strerror}", 0.0)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    timed_out = True
                    self._kill(proc, cgroup)
                    proc.wait()
                except BaseException:
                    self._kill(proc, cgroup)
                    proc.wait()
                    raise
            duration = time.monotonic() - started
            oom = bool(cgroup and cgroup.oom_killed())
            output, truncated = read_capped(out_path, limits.output_bytes)
            output += kill_notes(limits, timeout, timed_out, oom)
            return ExecResult(proc.returncode, output, duration, timed_out, oom, truncated)
        finally:
            if cgroup:
                cgroup.remove()
            out_path.unlink(missing_ok=True)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes], cgroup: Any) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if cgroup:
            cgroup.kill_all()

    def close(self) -> None:
        pass


def _rlimits(limits: Limits) -> Callable[[], None]:  # pragma: no cover - runs in the child
    """Fallback limits where cgroups are unavailable (per process, so weaker)."""
    import resource

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.pids * 4, limits.pids * 4))
        mem = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))

    return apply
