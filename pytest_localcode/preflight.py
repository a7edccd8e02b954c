"""Before any exercise: is every server of the run the one the agent config describes, and does it work?

Local servers fail quietly: a context smaller than the config's (the agent then trims what the
model sees, and the result is not the config's), another model loaded, a chat template that
answers 400 to tools, a server that answers ``/health`` but never a chat request. Each of these
ends the run here, before any exercise and before any result file, with one line naming the
cause and the fix (a usage error, exit code 4). For every server, managed or ``--server-url``:

1. what it reports (:func:`agent.probe.read_facts`): context per slot, slots, model, template;
2. the context per slot is at least the config's ``server_config.context_window``;
3. the model it serves is the config's (file name; for a managed server, the same file);
   a model file on this machine gets its sha256 recorded;
4. the tool-call probe (:func:`agent.probe.probe_tool_calls`), which is also the template check:
   an HTTP 400/500 stops the run; whether the call came back structured, recovered (which
   syntax) or not at all is recorded;
5. a warm-up of each slot the workers will use (:func:`agent.probe.warm_up`), which also decides
   whether each worker's requests are pinned to its slot (``id_slot``): they are when a slot
   keeps its prompt cache while the others work, which the warm-up of the first slot, sent
   again after the others, shows (a llama-server that clears idle slots is left to choose slots
   and restore prompts from its own cache instead).

None of these requests belongs to an exercise, so none is in any metric. What was learned goes
to the run's provenance (``summary.json`` → ``provenance.preflight``) and the report header,
with a note on whether the run can be deterministic (:func:`determinism`).
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from agent.client import HttpChatClient
from agent.config import ConfigError
from agent.probe import (
    ServerFacts,
    WarmUp,
    explain_chat_error,
    probe_tool_calls,
    read_facts,
    warm_up,
)
from agent.protocols import ChatError
from pytest_localcode.errors import LocalcodeError
from pytest_localcode.server.llama import expand, file_sha256
from pytest_localcode.server.pool import Endpoint, Pool

PREFLIGHT_TIMEOUT = 300.0  # seconds a preflight request may go without a byte (at most the config's request_timeout)


class PreflightError(LocalcodeError):
    """A server is not what the config describes, or does not work (one line, with the fix)."""


def workers_by_server(servers: list[Endpoint], workers: int) -> dict[int, list[int]]:
    """The slots each server's workers will hold (the pool's own assignment, replayed)."""
    pool = Pool(servers)
    out: dict[int, list[int]] = {s.index: [] for s in servers}
    for i in range(max(1, workers)):
        assignment = pool.take(f"preflight-{i}")
        out[assignment.server.index].append(assignment.slot)
    return out


def check_context(facts: ServerFacts, cfg: Any, endpoint: Endpoint) -> dict[str, Any]:
    needed = (cfg.server_config or {}).get("context_window")
    record = {"served": facts.n_ctx_slot, "config": needed, "check": "unknown"}
    if facts.n_ctx_slot is None or not isinstance(needed, int):
        return record  # nothing to compare: shown as unknown
    if facts.n_ctx_slot < needed:
        slots = facts.total_slots or 1
        if endpoint.managed:
            fix = "server_config.extra_args set a smaller context (-c/--ctx-size, -np): remove it"
        else:
            fix = (f"start it with at least {needed} per slot (llama-server: -c {needed * slots} for {slots} slot(s), "
                   f"or --kv-unified --kv-unified-per-slot {needed}), or lower server_config.context_window in a copy "
                   f"of the config and pass --model path/to/that.json")
        raise PreflightError(f"server {endpoint.url} serves {facts.n_ctx_slot} tokens of context per slot, but the "
                             f"agent config {cfg.name} needs context_window {needed}: {fix}")
    record["check"] = "ok"
    return record


def check_model(facts: ServerFacts, cfg: Any, endpoint: Endpoint) -> dict[str, Any]:
    """The served model against the config's model file (names only: an external server's paths
    are its own machine's)."""
    wanted = expand(str((cfg.server_config or {}).get("model_path") or "")) or None
    served = facts.model_path
    record: dict[str, Any] = {"served": served, "names": facts.model_names, "config": wanted, "check": "unknown"}
    if served and wanted:
        same_file = endpoint.managed and os.path.realpath(served) == os.path.realpath(wanted)
        if not same_file and Path(served).name.lower() != Path(wanted).name.lower():
            raise PreflightError(f"server {endpoint.url} serves the model {Path(served).name}, but the agent config "
                                 f"{cfg.name} names {Path(wanted).name}: start the server with {wanted}, or pick the "
                                 f"agent config of the model it serves (--model)")
        record["check"] = "ok"
    sha = endpoint.info.get("model_sha256")
    if not sha and served and Path(served).is_file():
        sha = file_sha256(served)  # the file is on this machine (cached per path, size and mtime)
    if sha:
        record["sha256"] = sha
    return record


def check_server(endpoint: Endpoint, cfg: Any, slots: list[int]) -> dict[str, Any]:
    """Every check of one server (see the module docstring); its record for the provenance."""
    from agent import Agent

    timeout = min(cfg.request_timeout, PREFLIGHT_TIMEOUT)
    with HttpChatClient(endpoint.url, read_timeout=timeout, retries=1) as client, \
            tempfile.TemporaryDirectory(prefix="localcode-preflight-") as workspace:
        facts = read_facts(client)
        record: dict[str, Any] = {"server": endpoint.index, "url": endpoint.url, "facts": facts.to_dict(),
                                  "context": check_context(facts, cfg, endpoint),
                                  "model": check_model(facts, cfg, endpoint)}
        try:
            agent = Agent(cfg, client=client, workspace=Path(workspace), model_name=cfg.model,
                          context_window=facts.n_ctx_slot or (cfg.server_config or {}).get("context_window"))
        except ConfigError as exc:
            raise PreflightError(str(exc)) from None
        pinned = facts.llama
        requests = 0
        try:
            requests += 1
            probe = probe_tool_calls(agent, slot=0 if pinned else None)
            record["tool_calls"] = probe.to_dict()
            warmed = [warm_up(agent, slot) for slot in (sorted(set(slots)) if pinned else [None])]
            requests += len(warmed)
            if len(warmed) > 1:  # the other slots worked since slot 0 was warmed: did it keep its cache?
                again = warm_up(agent, warmed[0].slot)
                requests += 1
                pinned = keeps_cache(again)
                record["slot_cache"] = asdict(again)
        except ChatError as exc:
            raise PreflightError(f"server {endpoint.url}: {explain_chat_error(exc, timeout=timeout)}") from None
        record["warm_up"] = {"slots": [w.slot for w in warmed], "seconds": [w.seconds for w in warmed]}
        record["id_slot"] = pinned  # each worker's requests go to its own slot
        if facts.llama and not pinned:
            record["id_slot_note"] = ("not pinned: an idle slot lost its prompt cache while another slot worked "
                                      "(llama-server --cache-idle-slots with a unified KV cache; --no-cache-idle-slots "
                                      "keeps it); the server picks each request's slot and restores its prompt cache")
        record["requests"] = requests
        return record


def keeps_cache(again: WarmUp) -> bool:
    """A slot warmed first, asked again after the others: True when it still had the prefix (or
    the server does not say, which a llama.cpp server always does)."""
    if again.cached_tokens is None or not again.prompt_tokens:
        return True
    return again.cached_tokens >= 0.5 * again.prompt_tokens


def determinism(cfg: Any, seed: int | None, records: list[dict[str, Any]],
                concurrency: dict[int, int]) -> dict[str, Any]:
    """Can two runs of this configuration give the same tokens? (``concurrency``: requests that can
    run at once per server, i.e. its workers within its slots.)"""
    slots = [r["facts"]["total_slots"] for r in records]
    at_once = max(concurrency.values(), default=1)
    temperature = cfg.temperature
    if at_once > 1:
        return {"deterministic": False, "note": f"not deterministic: up to {at_once} requests run at once on one "
                f"server, and llama.cpp's results depend on how concurrent requests are batched, even at "
                f"temperature 0 (use one slot and -n 1 for a reproducible run)"}
    if any(s is None for s in slots):
        return {"deterministic": None, "note": "unknown: a server does not report its slots (no llama.cpp /props), "
                "so whether other requests are batched with ours is not known"}
    shared = " (unless other clients use an external server)" if any(not r.get("managed") for r in records) else ""
    if temperature == 0:
        return {"deterministic": True, "note": "deterministic for the same exercise order: temperature 0 (greedy), "
                f"one request at a time per server{shared}; which prefix the prompt cache reuses follows the order"}
    if seed is not None:
        return {"deterministic": True, "note": f"reproducible: sampling at temperature {temperature} with seed "
                f"{seed} (+ epoch - 1), one request at a time per server{shared}"}
    return {"deterministic": False, "note": f"not deterministic: sampling at temperature {temperature} without a seed"}


def run_preflight(servers: list[Endpoint], cfg: Any, *, workers: int,
                  seed: int | None) -> tuple[list[Endpoint], list[dict[str, Any]], dict[str, Any]]:
    """Check every server (at once: each may take a while); the servers with ``id_slot`` set where
    the server takes it, each server's record, and the determinism note. Raises
    :class:`PreflightError` for the first failing server (by index)."""
    slots = workers_by_server(servers, workers)
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        futures = [pool.submit(check_server, s, cfg, slots[s.index]) for s in servers]
    records, errors = [], []
    for server, future in zip(servers, futures):
        try:
            records.append({**future.result(), "managed": server.managed})
        except PreflightError as exc:
            errors.append(str(exc))
    if errors:
        prefix = f"preflight ({len(errors)} of {len(servers)} servers): " if len(servers) > 1 else "preflight: "
        raise PreflightError(prefix + errors[0])
    concurrency = {i: min(len(used), r["facts"]["total_slots"] or 1) for (i, used), r in zip(slots.items(), records)}
    for record in records:
        used = slots[record["server"]]
        record["workers"] = len(used)
        slots_there = record["facts"]["total_slots"]
        if slots_there and len(used) > slots_there:
            record["queueing"] = (f"{len(used)} workers share {slots_there} slot{'s' * (slots_there > 1)}: requests "
                                  "queue for a slot (waiting time is measured apart), and workers on one slot "
                                  "share its prompt cache")
    pinned = [replace(s, id_slot=bool(r["id_slot"])) for s, r in zip(servers, records)]
    return pinned, records, determinism(cfg, seed, records, concurrency)
