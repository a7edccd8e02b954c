"""Docker sandbox: one container per opened directory, from the image ``bin/setup --docker`` builds.

A container costs a few tenths of a second to create, start and remove: too slow per command, fine
per exercise, so :meth:`DockerSandboxFactory.open` starts one :class:`DockerSandbox` (``sleep``
under ``docker-init``) and every command is an ``exec`` in it (its wrapper: :mod:`.docker_exec`).
Inside, a command sees the image's
toolchains and extras (``/opt/localcode/tools``, read-only), the host's Docker build cache at
``/opt/localcode/cache``, its directory at ``/work/<name>``, a private ``/tmp``, and nothing else
of the host: no network, a read-only root filesystem, no capabilities, no new privileges, and
cgroup limits on memory (swap included), CPUs and pids.

Cleanup: ``close()`` removes the container; the factory removes whatever is still open at session
end and at interpreter exit; every container is labelled with the run id and the creating
process (pid and start time), so the next factory removes what a killed run left behind.

The image: its definition is ``exercises_conf/docker/`` (Dockerfile and install scripts) plus a
generated part, so that local and Docker runs share one source of truth: the apt packages and
version checks named in the ``requires`` of ``exercises_conf/<language>.yaml``, and their
``setup`` snippets (the same scripts ``bin/setup`` runs locally, run in the build at the same
paths). Its tag is ``localcode-polyglot:<hash of the definition>``, so a run knows which image it
needs; building it is set-up's job (:mod:`pytest_localcode.install.docker_image`).
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import docker
import yaml

from pytest_localcode.errors import SandboxError
from pytest_localcode.languages import CONF_DIR, LANGUAGES
from pytest_localcode.paths import SANDBOX_CACHE, SANDBOX_TOOLS, SANDBOX_WORK, state_dir
from pytest_localcode.sandbox.base import ExecResult, Limits, command_argv, kill_notes, split_cwd
from pytest_localcode.sandbox.docker_exec import (
    HOST_MARGIN,
    KEEPALIVE,
    KILL_GRACE,
    PATH,
    REAP,
    TRAILER,
    WRAPPER,
    Capture,
    chown_tree,
    pump,
    remove_container,
    run_as,
)

IMAGE_REPO = "localcode-polyglot"
LABEL = "localcode.run"
MAX_AGE_HOURS = float(os.environ.get("LOCALCODE_DOCKER_MAX_AGE_H", "24"))
LIFETIME_S = 86_400  # the keep-alive sleep: an orphan the sweep never sees stops by itself
TMP_SIZE = "1g"


def definition() -> dict[str, bytes]:
    """The build context minus the Cargo manifests: what the image tag's hash covers."""
    conf = CONF_DIR / "docker"
    files = {p.relative_to(conf).as_posix(): p.read_bytes() for p in sorted(conf.rglob("*")) if p.is_file()}
    packages, requires = [], []
    for language in LANGUAGES:
        raw: dict[str, Any] = yaml.safe_load((CONF_DIR / f"{language}.yaml").read_text())
        for req in raw.get("requires") or []:
            if req.get("apt"):
                packages.append(f"{req.get('apt_release', '-')} {' '.join(req['apt'])}  # {language}")
            if "file" in req:
                requires.append(f"file {req['file']}")
            else:
                args = " ".join(req.get("version_args", ["--version"]))
                requires.append(f"command {req['command']} {req.get('min_version', '-')} {args}")
        if (raw.get("setup") or "").strip():
            files[f"generated/setup/{language}.sh"] = raw["setup"].encode()
    files["generated/packages.txt"] = ("\n".join(packages) + "\n").encode()
    files["generated/requires.txt"] = ("\n".join(requires) + "\n").encode()
    return files


def digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()[:12]


def image_tag() -> str:
    """``localcode-polyglot:<hash>``: a changed Dockerfile, package or setup snippet means a new image."""
    return f"{IMAGE_REPO}:{digest(definition())}"


def client(timeout: int = 60) -> docker.DockerClient:
    """An engine client from the environment (``DOCKER_HOST``, ``DOCKER_TLS_VERIFY``, ...)."""
    return docker.from_env(timeout=timeout)


def engine_answers(timeout: int = 2) -> bool:
    """Whether a Docker engine answers a ping within ``timeout`` seconds (never raises)."""
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        engine = client(timeout)
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False
    try:
        return bool(engine.ping())
    except Exception:  # noqa: BLE001 - a ping that fails in any way means "no engine"
        return False
    finally:
        engine.close()


def image_ready() -> bool:
    """Whether an engine answers and has the current sandbox image (what ``--sandbox auto`` needs)."""
    if not engine_answers():
        return False
    engine = client(10)
    try:
        engine.images.get(image_tag())
        return True
    except docker.errors.DockerException:
        return False
    finally:
        engine.close()


def cache_dir() -> Path:
    """Build caches for Docker runs: apart from the local sandbox's, which host toolchains fill."""
    return state_dir() / "cache-docker"


def shared_readonly_cache() -> list[str]:
    """Parts of the shared cache a private (scratch) cache sees read-only: the local sandbox's list."""
    settings = yaml.safe_load((CONF_DIR / "sandbox.yaml").read_text()) or {}
    return list((settings.get("local") or {}).get("shared_readonly_cache") or [])


def _start_time(pid: int) -> str:
    """A process's start time (clock ticks since boot): with the pid, it tells a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_labels() -> dict[str, str]:
    return {"localcode.host": socket.gethostname(), "localcode.pid": str(os.getpid()),
            "localcode.pidstart": _start_time(os.getpid())}


def run_is_over(labels: dict[str, str], created: float, now: float | None = None) -> bool:
    """A container's run is over when its process is gone (same host) or it is older than the limit."""
    if labels.get("localcode.host") == socket.gethostname() and labels.get("localcode.pid", "").isdigit():
        return _start_time(int(labels["localcode.pid"])) != labels.get("localcode.pidstart")
    return (now or time.time()) - created > MAX_AGE_HOURS * 3600


def sweep(engine: docker.DockerClient) -> int:
    """Remove the containers of runs that are over (crashed, killed); returns how many."""
    removed = 0
    for row in engine.api.containers(all=True, filters={"label": LABEL}):
        if run_is_over(row.get("Labels") or {}, float(row.get("Created", 0))):
            removed += remove_container(engine, row["Id"])
    return removed


def seed_cache(engine: docker.DockerClient, image: str, cache: Path | None = None) -> None:
    """Copy the image's prefetched caches (crates) into the host cache dir, once per image.

    The host directory is mounted over ``/opt/localcode/cache`` and hides what the build put there,
    so the build leaves it in ``/opt/localcode/cache-seed`` and this copies it (never overwriting).
    """
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    uid, gid, lend = run_as(cache)
    if lend:
        os.chown(cache, uid, gid)
    image_id = str(engine.images.get(image).id)
    stamp = cache / ".localcode-seeded"
    with open(state_dir() / ".cache-docker.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == image_id:
            return
        try:
            engine.containers.run(
                image, ["cp", "-R", "-n", "--preserve=mode,timestamps", "/opt/localcode/cache-seed/.", SANDBOX_CACHE],
                user=f"{uid}:{gid}", network_mode="none", remove=True, labels={LABEL: "seed", **owner_labels()},
                volumes={str(cache): {"bind": SANDBOX_CACHE, "mode": "rw"}},
            )
        except docker.errors.ContainerError as exc:
            raise SandboxError(f"could not seed {cache} from {image}: {exc.stderr!r:.200}") from None
        stamp.write_text(image_id)


class DockerSandboxFactory:
    """One per pytest process: checks the engine and the image, sweeps leftovers, seeds the cache."""

    kind = "docker"

    def __init__(self, limits: Limits | None = None, *, image: str | None = None, run_id: str | None = None):
        self.limits = limits or Limits()
        try:
            self.engine = client()
            info = self.engine.info()
        except docker.errors.DockerException as exc:
            raise SandboxError(f"no Docker engine answers ({str(exc)[:120]}): run bin/setup --docker, or set "
                               "DOCKER_HOST") from None
        self.image = image or image_tag()
        try:
            self.engine.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise SandboxError(f"the sandbox image {self.image} is not built: run bin/setup --docker") from None
        self.engine_version = str(info.get("ServerVersion", "?"))
        self.cpus = min(self.limits.cpus, float(info.get("NCPU") or self.limits.cpus))
        fresh_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.run_id = run_id or os.environ.get("LOCALCODE_RUN_ID") or fresh_id
        self.cache = cache_dir()
        self.shared_readonly: list[str] = shared_readonly_cache()
        self.swept = sweep(self.engine)
        seed_cache(self.engine, self.image, self.cache)
        self._open: set[DockerSandbox] = set()
        self._lock = threading.Lock()
        self._closed = False
        atexit.register(self.close)

    def describe(self) -> str:
        return (f"docker ({self.image}, engine {self.engine_version}, {self.limits.memory_mb} MB, "
                f"{self.cpus:g} CPUs, {self.limits.pids} pids, no network)")

    def open(self, directory: Path, *, name: str, worker: str = "main", scratch: Path | None = None) -> DockerSandbox:
        """``scratch`` (the agent's shell): a private cache mounted instead of the shared one, as locally."""
        if self._closed:
            raise SandboxError("the Docker sandbox factory is closed")
        sandbox = DockerSandbox(self, Path(directory).resolve(), name, worker,
                                Path(scratch).resolve() if scratch else None)
        with self._lock:
            self._open.add(sandbox)
        return sandbox

    def forget(self, sandbox: DockerSandbox) -> None:
        with self._lock:
            self._open.discard(sandbox)

    def binds(self, directory: Path, name: str, scratch: Path | None) -> dict[str, Mapping[str, str]]:
        """The directory, and the shared cache, or a private one with the shared crates read-only."""
        binds: dict[str, Mapping[str, str]] = {str(directory): {"bind": f"{SANDBOX_WORK}/{name}", "mode": "rw"},
                                               str(scratch or self.cache): {"bind": SANDBOX_CACHE, "mode": "rw"}}
        if scratch is not None:
            for part in self.shared_readonly:
                if (self.cache / part).is_dir() and (scratch / part).is_dir():  # the mount point, made by its owner
                    binds[str(self.cache / part)] = {"bind": f"{SANDBOX_CACHE}/{part}", "mode": "ro"}
        return binds

    def container_config(self, directory: Path, name: str, worker: str, user: str,
                         scratch: Path | None = None) -> dict[str, Any]:
        """Arguments for ``create_container``: the isolation this module's docstring promises."""
        limits = self.limits
        host_config = self.engine.api.create_host_config(
            binds=self.binds(directory, name, scratch),
            network_mode="none", init=True, read_only=True, cap_drop=["ALL"], security_opt=["no-new-privileges"],
            tmpfs={"/tmp": f"rw,nosuid,nodev,exec,size={TMP_SIZE},mode=1777"},
            mem_limit=f"{limits.memory_mb}m", memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(self.cpus * 1e9), pids_limit=limits.pids,
        )
        labels = {LABEL: self.run_id, "localcode.worker": worker, "localcode.exercise": name, **owner_labels()}
        return {
            "image": self.image, "command": ["bash", "-c", f"exec -a {KEEPALIVE} sleep {LIFETIME_S}"], "user": user,
            "working_dir": f"{SANDBOX_WORK}/{name}", "labels": labels, "host_config": host_config,
            "name": f"localcode-{name}-{worker}-{uuid.uuid4().hex[:8]}"[:120],
        }

    def close(self) -> None:
        """Remove every container this factory opened (idempotent; also runs at interpreter exit)."""
        self._closed = True
        with self._lock:
            still_open, self._open = list(self._open), set()
        for sandbox in still_open:
            sandbox.close()
        try:
            for row in self.engine.api.containers(all=True, filters={"label": f"{LABEL}={self.run_id}"}):
                if (row.get("Labels") or {}).get("localcode.pid") == str(os.getpid()):
                    remove_container(self.engine, row["Id"])
        except docker.errors.DockerException:
            pass  # engine gone: the next run's sweep removes them


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
        container = self.id
        if container is None:
            raise SandboxError(f"the sandbox for {self.name} is closed")
        argv = command_argv(command)
        _, inner_cwd = split_cwd(self.workdir, cwd)
        if self.lend:  # files the harness wrote since the last command (the agent's edits)
            chown_tree(self.directory, self.uid, self.gid)
        limits = self.factory.limits
        wrapper = ["bash", "-c", WRAPPER, "localcode-exec", f"{max(timeout, 0.01):.3f}", f"{KILL_GRACE:g}", inner_cwd,
                   *argv]
        out, err = Capture(limits.output_bytes), Capture(65536)
        started = time.monotonic()
        try:
            exec_id = self._exec_create(container, wrapper, {**self.base_env(), **(env or {})})
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
            self._reap(container)
            exit_code, oom = 137, False
        elif trailer:
            exit_code, oom = int(trailer.group(1)), int(trailer.group(2)) > 0
        else:
            exit_code, oom = int(self.api.exec_inspect(exec_id).get("ExitCode") or 0), False
        timed_out = not finished or (exit_code in (124, 137) and duration >= timeout)
        output, truncated = out.text()
        output += kill_notes(limits, timeout, timed_out, oom)
        return ExecResult(exit_code, output, duration, timed_out, oom, truncated)

    def _exec_create(self, container: str, argv: list[str], env: dict[str, str]) -> str:
        """Create the exec; if the OOM killer took the keep-alive (the container stopped), restart once."""
        def create() -> str:
            return str(self.api.exec_create(container, argv, environment=env, workdir=self.workdir,
                                            user=f"{self.uid}:{self.gid}")["Id"])

        try:
            return create()
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: the container is not running
                raise
            self.api.start(container)
            return create()

    def _reap(self, container: str) -> None:
        try:
            reaper = self.api.exec_create(container, ["bash", "-c", REAP], user=f"{self.uid}:{self.gid}")["Id"]
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
