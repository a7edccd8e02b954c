"""The run's settings, resolved once from the command line and shared with xdist workers."""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.client import normalize_base_url
from pytest_localcode.errors import LocalcodeError
from pytest_localcode.exercises import resolve_dataset
from pytest_localcode.live import session_dir
from pytest_localcode.paths import PROJECT_DIR
from pytest_localcode.shard import ShardError
from pytest_localcode.shard import parse as parse_shard

SANDBOX_KINDS = ("auto", "local", "docker")
LIVE_MODES = ("auto", "status", "lines", "off")


@dataclass
class Settings:
    model: str
    dataset: Path
    run_dir: Path
    tries: int
    sandbox: str
    server_url: str | None
    agent_timeout: float
    max_turns: int | None
    max_tokens: int | None
    test_timeout: float | None = None
    resumed_from: str | None = None
    server_info: dict[str, Any] | None = None  # the owned server's command, version, model file
    external_server: bool = False  # --server-url: not ours to restart
    epochs: int = 1  # runs of every exercise, each its own workspace and agent session
    seed: int | None = None  # epoch 1's sampling seed (--seed, else the agent config's; see epochs.py)
    server_urls: list[str] = field(default_factory=list)  # every --server-url, normalised
    server_count: int = 1  # --servers N: managed servers to start
    servers: list[dict[str, Any]] = field(default_factory=list)  # pool.Endpoint of every server, once known
    server: dict[str, Any] | None = None  # this process's pool.Assignment (xdist: set per worker)
    shard: list[int] | None = None  # [index, count] of --shard
    live: str = "auto"  # --live: the live view (auto, status, lines, off)
    live_dir: str | None = None  # this session's live records (pytest_localcode.live), set by the controller
    slowdown_fraction: float = 0.5  # --slowdown-fraction
    stop_on_slowdown: bool = False  # --stop-on-slowdown
    preflight: list[dict[str, Any]] = field(default_factory=list)  # what the preflight learned, per server
    determinism: dict[str, Any] | None = None  # whether the run can be deterministic (preflight.determinism)

    def to_workerinput(self) -> dict[str, Any]:
        data = asdict(self)
        data["dataset"] = str(self.dataset)
        data["run_dir"] = str(self.run_dir)
        return data

    @classmethod
    def from_workerinput(cls, data: dict[str, Any]) -> Settings:
        return cls(**{**data, "dataset": Path(data["dataset"]), "run_dir": Path(data["run_dir"])})


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "model"


def latest_run(runs: Path, model: str) -> Path | None:
    candidates = sorted(p for p in runs.glob(f"*--{safe_name(model)}") if p.is_dir())
    return candidates[-1] if candidates else None


def resolve(config: pytest.Config) -> Settings:
    """Settings from options; bad values raise :class:`pytest.UsageError` (one line, no traceback)."""
    opt = config.getoption
    model: str = opt("localcode_model")
    try:
        dataset = resolve_dataset(opt("localcode_exercises"), PROJECT_DIR)
    except LocalcodeError as exc:
        raise pytest.UsageError(str(exc)) from None
    server_urls = server_urls_of(opt("localcode_server_url") or [])
    server_url = server_urls[0] if server_urls else None
    server_count = opt("localcode_servers")
    if server_count is not None and server_count < 1:
        raise pytest.UsageError(f"--servers must be at least 1 (got {server_count})")
    if server_count is not None and server_urls:
        raise pytest.UsageError("--servers starts model servers and --server-url uses running ones: "
                                "give one or the other")
    shard = None
    if opt("localcode_shard") is not None:
        try:
            shard = parse_shard(opt("localcode_shard"))
        except ShardError as exc:
            raise pytest.UsageError(str(exc)) from None
    tries = opt("localcode_tries")
    if tries < 1:
        raise pytest.UsageError(f"--tries must be at least 1 (got {tries})")
    epochs = opt("localcode_epochs")
    if epochs < 1:
        raise pytest.UsageError(f"--epochs must be at least 1 (got {epochs}): it is how many times every exercise runs")
    sandbox = opt("localcode_sandbox")
    if sandbox not in SANDBOX_KINDS:
        raise pytest.UsageError(f"--sandbox must be one of {', '.join(SANDBOX_KINDS)} (got {sandbox!r})")
    if sandbox == "auto":
        # Resolved once here so every xdist worker uses the same kind (and reports name it).
        from pytest_localcode.sandbox.select import docker_available

        sandbox = "docker" if docker_available() else "local"
    # Not config.rootpath: pytest picks the rootdir before plugins register their options, so a
    # separated "--exercises ../dir" value can move it; the invocation directory is what users expect.
    runs = Path(config.invocation_params.dir) / "runs"
    resumed_from = None
    run_dir_opt = opt("localcode_run_dir")
    if run_dir_opt:
        run_dir = Path(run_dir_opt).expanduser().resolve()
        if run_dir.exists() and not run_dir.is_dir():
            raise pytest.UsageError(f"--run-dir {run_dir} exists and is not a directory")
        if run_dir.is_dir():
            resumed_from = str(run_dir)
    elif opt("localcode_resume"):
        found = latest_run(runs, model)
        if found is None:
            raise pytest.UsageError(f"--resume: no earlier run of {model!r} under {runs} (start one without --resume)")
        run_dir, resumed_from = found, str(found)
    else:
        stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
        run_dir = runs / f"{stamp}--{safe_name(model)}"
    if shard is not None:  # every shard of one run gets its own directory in it (merge joins them)
        run_dir = run_dir / shard.dirname
        resumed_from = str(run_dir) if run_dir.is_dir() else None
    timeout = opt("localcode_agent_timeout")
    if timeout <= 0:
        raise pytest.UsageError(f"--agent-timeout must be positive seconds (got {timeout})")
    test_timeout = opt("localcode_test_timeout")
    if test_timeout is not None and test_timeout <= 0:
        raise pytest.UsageError(f"--test-timeout must be positive seconds (got {test_timeout})")
    live = opt("localcode_live")
    if live not in LIVE_MODES:
        raise pytest.UsageError(f"--live must be one of {', '.join(LIVE_MODES)} (got {live!r})")
    fraction = opt("localcode_slowdown_fraction")
    if not 0 < fraction < 1:
        raise pytest.UsageError(f"--slowdown-fraction must be between 0 and 1 (got {fraction}): a slowdown is the "
                                "decode speed falling below that fraction of the first minutes'")
    return Settings(
        model=model,
        dataset=dataset,
        run_dir=run_dir,
        tries=tries,
        sandbox=sandbox,
        server_url=server_url,
        external_server=server_url is not None,
        server_urls=server_urls,
        server_count=server_count or 1,
        shard=shard.to_list() if shard else None,
        agent_timeout=timeout,
        max_turns=opt("localcode_max_turns"),
        max_tokens=opt("localcode_max_tokens"),
        test_timeout=test_timeout,
        resumed_from=resumed_from,
        epochs=epochs,
        seed=opt("localcode_seed"),
        live=live,
        live_dir=str(session_dir(run_dir)),
        slowdown_fraction=fraction,
        stop_on_slowdown=bool(opt("localcode_stop_on_slowdown")),
    )


def server_urls_of(given: list[str]) -> list[str]:
    """Every ``--server-url``, normalised; a malformed or repeated one is a usage error."""
    urls: list[str] = []
    for raw in given:
        try:
            url = normalize_base_url(raw)
        except ValueError as exc:
            raise pytest.UsageError(f"--server-url: {exc}") from None
        if url in urls:
            raise pytest.UsageError(f"--server-url {raw}: given twice "
                                    "(list each server once: it gets workers by its slot count)")
        urls.append(url)
    return urls


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")
