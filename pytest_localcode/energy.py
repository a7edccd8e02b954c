"""Energy the machine used during a session, from the hardware's own cumulative counters.

Counters, read at the start and the end of a session (differences, never estimates):

* NVIDIA GPUs: ``nvidia-smi --query-gpu=total_energy_consumption`` (NVML, millijoules since the
  driver loaded; Volta and later);
* Intel and AMD CPUs on Linux: RAPL's ``/sys/class/powercap/intel-rapl:*/energy_uj`` (package and
  DRAM domains, microjoules, wrapping at ``max_energy_range_uj``).

Apple's ``powermetrics`` samples power (it needs root) rather than exposing a counter, so on a Mac
energy is recorded as absent, like on any machine without a readable counter: with the reason.
Counters cover the whole machine, not one exercise, so energy is per session and per run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

POWERCAP = Path("/sys/class/powercap")
SESSIONS_DIR = "energy"  # <run>/energy/<start>-<pid>.json: one record per session of the run
RAPL_DOMAINS = ("package", "dram", "psys")


def nvidia_counters(binary: str | None = None) -> tuple[dict[str, float], str | None]:
    """Joules per GPU since the driver loaded, or ({}, why not)."""
    binary = binary or shutil.which("nvidia-smi")
    if not binary:
        return {}, "no nvidia-smi"
    try:
        out = subprocess.run([binary, "--query-gpu=index,total_energy_consumption", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {}, f"nvidia-smi failed: {exc}"
    if out.returncode != 0:
        return {}, f"nvidia-smi exited {out.returncode}: {out.stderr.strip()[:200]}"
    counters: dict[str, float] = {}
    for line in out.stdout.splitlines():
        index, _, value = (part.strip() for part in line.partition(","))
        try:
            counters[f"gpu{index}"] = float(value) / 1000.0
        except ValueError:
            return {}, f"GPU {index} has no energy counter ({value})"
    return (counters, None) if counters else ({}, "nvidia-smi listed no GPU")


def rapl_counters(root: Path = POWERCAP) -> tuple[dict[str, tuple[float, float]], str | None]:
    """(joules, wrap range in joules) per RAPL package/DRAM/psys domain, or ({}, why not). Core and
    uncore sub-domains are left out: the package counter already contains them."""
    if not root.is_dir():
        return {}, f"no {root}"
    counters: dict[str, tuple[float, float]] = {}
    problem = None
    for domain in sorted(root.glob("intel-rapl:*")):
        try:
            name = (domain / "name").read_text().strip()
            if not name.startswith(RAPL_DOMAINS):
                continue
            energy = int((domain / "energy_uj").read_text()) / 1e6
            span = int((domain / "max_energy_range_uj").read_text()) / 1e6
        except PermissionError:
            problem = f"{domain}/energy_uj is not readable (root only on this kernel)"
            continue
        except (OSError, ValueError) as exc:
            problem = f"{domain}: {exc}"
            continue
        counters[f"rapl:{domain.name.removeprefix('intel-rapl:')}:{name}"] = (energy, span)
    if not counters:
        return {}, problem or f"no RAPL package domain under {root}"
    return counters, None


def read() -> dict[str, Any]:
    """One reading of every counter this machine exposes, and why the others are absent."""
    nvidia, nvidia_absent = nvidia_counters()
    rapl, rapl_absent = rapl_counters()
    absent = {"nvidia": nvidia_absent, "rapl": rapl_absent}
    if sys.platform == "darwin":
        absent["apple"] = "powermetrics samples power and needs root; no counter to read"
    return {"time": time.time(), "nvidia": nvidia, "rapl": rapl, "absent": {k: v for k, v in absent.items() if v}}


def session(start: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """Joules per counter between two readings; a counter missing from either reading is absent."""
    joules: dict[str, float] = {}
    for gpu, value in end["nvidia"].items():
        if gpu in start["nvidia"]:
            joules[f"nvidia:{gpu}"] = max(0.0, value - start["nvidia"][gpu])
    for domain, (value, span) in end["rapl"].items():
        if domain in start["rapl"]:
            before = start["rapl"][domain][0]
            joules[domain] = value - before if value >= before else value + span - before  # one wrap at most
    return {"start": start["time"], "end": end["time"], "seconds": round(end["time"] - start["time"], 3),
            "joules": joules, "total_joules": total(joules), "absent": {**start["absent"], **end["absent"]}}


def total(joules: dict[str, float]) -> float | None:
    """The machine's energy from its counters: GPUs plus either RAPL's platform (psys) domain,
    which already holds the packages and DRAM, or the packages and DRAM; None without counters."""
    if not joules:
        return None
    gpus = sum(v for k, v in joules.items() if k.startswith("nvidia:"))
    rapl = {k: v for k, v in joules.items() if k.startswith("rapl:")}
    platform = [v for k, v in rapl.items() if k.endswith(":psys")]
    return gpus + (sum(platform) if platform else sum(rapl.values()))


def start_session(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Read the counters and leave a record saying a session started: a session killed before
    :func:`finish_session` stays on file as unmeasured, so no per-solved figure leaves it out."""
    from pytest_localcode.results import write_atomic

    reading = read()
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.localtime(reading["time"]))
    path = run_dir / SESSIONS_DIR / f"{stamp}-{os.getpid()}.json"
    write_atomic(path, {"start": reading["time"], "end": None, "joules": {}, "total_joules": None,
                        "absent": {"session": "interrupted before its end was read"}})
    return path, reading


def finish_session(path: Path, start: dict[str, Any]) -> dict[str, Any]:
    from pytest_localcode.results import write_atomic

    record = session(start, read())
    write_atomic(path, record)
    return record


def load_sessions(run_dir: Path) -> list[dict[str, Any]]:
    """Every session's energy record of a run (unreadable ones skipped), oldest first."""
    records = []
    for path in sorted((run_dir / SESSIONS_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("joules"), dict):
            records.append(record)
    return records
