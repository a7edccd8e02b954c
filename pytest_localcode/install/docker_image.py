"""Building the sandbox image (``bin/setup --docker``), with no registry in reach.

What goes in, and the tag, are the sandbox's (:func:`pytest_localcode.sandbox.docker.definition`,
:func:`~pytest_localcode.sandbox.docker.image_tag`): ``exercises_conf/docker/`` plus the part
generated from ``exercises_conf/<language>.yaml``. The build adds the Rust exercises' Cargo
manifests (the crate prefetch needs them, nothing else of the dataset goes in), hashed into a
label, so the tag does not depend on where the dataset is and a changed manifest still means a
rebuild.

Base: ``debian:bookworm-slim`` when it is here or can be pulled (a user's machine); otherwise
(these machines reach no registry) a ``debootstrap --variant=minbase bookworm`` root from this
machine's Debian mirror, ``docker import``ed as ``localcode-base:bookworm``. The build itself
uses ``--network host``: package registries are reachable during the build only.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker

from pytest_localcode.errors import DatasetError, SandboxError
from pytest_localcode.install.tools import apt_install
from pytest_localcode.paths import state_dir
from pytest_localcode.sandbox.docker import IMAGE_REPO, definition, digest, image_tag

BUILD_TIMEOUT = 3600
PUBLIC_BASE = "debian:bookworm-slim"
LOCAL_BASE = "localcode-base:bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY = "http://deb.debian.org/debian-security"
HOST_CA_DIR = "/usr/local/share/ca-certificates"
Log = Callable[[str], None]


def _print(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def last_line(path: Path) -> str:
    """The last non-empty line of a log, for a one-line error."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][-300:] if lines else "no output"


def client() -> docker.DockerClient:
    """A client patient enough for a build step that prints nothing for minutes."""
    return docker.from_env(timeout=BUILD_TIMEOUT)


def manifests(dataset: Path) -> dict[str, bytes]:
    """The Rust exercises' Cargo manifests (the crate prefetch reads them; nothing else of the dataset)."""
    found = {}
    for pattern in ("rust/exercises/practice/*/Cargo.toml", "rust/exercises/practice/*/.meta/Cargo-example.toml"):
        for path in sorted(dataset.glob(pattern)):
            found[f"exercises/{path.relative_to(dataset).as_posix()}"] = path.read_bytes()
    return found


def host_certificates() -> dict[str, bytes]:
    """CAs this machine added to its store: the build's downloads pass the same TLS proxy, if any."""
    found = {"host-ca/README": b"CA certificates copied from the build host's /usr/local/share/ca-certificates\n"}
    for path in sorted(Path(HOST_CA_DIR).rglob("*.crt")):
        found[f"host-ca/{path.name}"] = path.read_bytes()
    return found


def apt_mirrors() -> tuple[str, str]:
    """This machine's Debian mirror and security mirror (sources.list or deb822), else deb.debian.org."""
    found: dict[str, str] = {}
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*"))]:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in text.split("\n\n"):
                uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
                if uris and suites and "enabled: no" not in stanza.lower():
                    for suite in suites.group(1).split():
                        found.setdefault(suite, uris.group(1))
        elif path.endswith(".list") or path == "/etc/apt/sources.list":
            for match in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
                found.setdefault(match.group(2), match.group(1))
    return found.get("bookworm", DEFAULT_MIRROR), found.get("bookworm-security", DEFAULT_SECURITY)


def _has_image(engine: docker.DockerClient, name: str) -> bool:
    try:
        engine.images.get(name)
        return True
    except docker.errors.ImageNotFound:
        return False


def choose_base(engine: docker.DockerClient, log: Log = _print) -> str:
    """$LOCALCODE_DOCKER_BASE, a base already here, one pulled, or one made with debootstrap."""
    wanted = os.environ.get("LOCALCODE_DOCKER_BASE")
    for name in [wanted] if wanted else [PUBLIC_BASE, LOCAL_BASE]:
        if _has_image(engine, name):
            return name
    try:
        log(f"pulling {wanted or PUBLIC_BASE}")
        engine.images.pull(wanted or PUBLIC_BASE)
        return wanted or PUBLIC_BASE
    except docker.errors.DockerException as exc:
        if wanted:
            raise SandboxError(f"cannot pull LOCALCODE_DOCKER_BASE={wanted}: {str(exc)[-200:]}") from None
        log("no registry answers: making a Debian bookworm root with debootstrap instead")
    return debootstrap_base(engine)


def debootstrap_base(engine: docker.DockerClient) -> str:
    """``debootstrap --variant=minbase bookworm`` from this machine's mirror, ``docker import``ed."""
    if shutil.which("debootstrap") is None:
        apt_install(["debootstrap"])
    mirror, _ = apt_mirrors()
    work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=state_dir()))
    logfile = state_dir() / "debootstrap.log"
    try:
        with open(logfile, "wb") as out:
            done = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(work / "root"), mirror],
                                  stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise SandboxError(f"debootstrap from {mirror} failed: {last_line(logfile)} (see {logfile})")
        subprocess.run(["tar", "-C", str(work / "root"), "-cf", str(work / "root.tar"), "."], check=True)
        repo, tag = LOCAL_BASE.split(":")
        engine.api.import_image_from_file(str(work / "root.tar"), repository=repo, tag=tag)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return LOCAL_BASE


def build_image(engine: docker.DockerClient, tag: str, files: dict[str, bytes], labels: dict[str, str],
                log: Log = _print, fresh: bool = False) -> None:
    base = choose_base(engine, log)
    mirror, security = apt_mirrors()
    logfile = state_dir() / "docker-build.log"
    log(f"building {tag} from {base} (log: {logfile}; a cold build takes minutes)")
    tail: list[str] = []
    with tempfile.TemporaryDirectory(prefix="localcode-image-") as ctx, open(logfile, "w") as out:
        for name, data in files.items():
            path = Path(ctx) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o755 if name.endswith(".sh") else 0o644)
        stream = engine.api.build(
            path=ctx, tag=tag, rm=True, forcerm=True, decode=True, network_mode="host", timeout=BUILD_TIMEOUT,
            nocache=fresh,
            buildargs={"BASE": base, "MIRROR": mirror, "SECURITY_MIRROR": security}, labels=labels,
        )
        for chunk in stream:
            text = chunk.get("stream") or chunk.get("status") or ""
            out.write(text)
            tail = (tail + text.splitlines())[-15:]
            if text.startswith("Step "):
                log("  " + text.strip()[:160])
            if "error" in chunk:
                step = next((line for line in reversed(tail) if line.startswith("Step ")), "")
                raise SandboxError(f"docker build failed at {step[:120] or 'start'}: {chunk['error'].strip()[-300:]} "
                                   f"(see {logfile})")


def ensure_image(force: bool = False, dataset: Path | None = None, log: Log = _print) -> str:
    """The sandbox image's tag, building it when missing or out of date (needs the dataset then)."""
    engine = client()
    tag = image_tag()
    files = definition()
    crates = manifests(dataset) if dataset else {}
    labels = {"localcode.definition": digest(files), "localcode.manifests": digest(crates)}
    try:
        current = engine.images.get(tag).labels or {}
    except docker.errors.ImageNotFound:
        current = None
    manifests_unchanged = not crates or (current or {}).get("localcode.manifests") == labels["localcode.manifests"]
    if current is not None and not force and manifests_unchanged:
        return tag
    if not crates:
        raise DatasetError("building the Docker image needs the exercises' Rust manifests: "
                           "set LOCALCODE_EXERCISES=/path/to/polyglot-benchmark (or pass --exercises)")
    started = time.monotonic()
    build_image(engine, tag, {**files, **crates, **host_certificates()}, labels, log, fresh=force)
    log(f"built {tag} in {time.monotonic() - started:.0f} s")
    for image in engine.images.list(name=IMAGE_REPO):  # earlier definitions: gigabytes each
        if tag not in image.tags:
            try:
                engine.images.remove(str(image.id))
            except docker.errors.APIError:
                pass  # still used by a container
    return tag


