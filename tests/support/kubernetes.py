"""The Kubernetes manifests in deploy/kubernetes/ as tests read them: the harness's command line
exactly as the kubelet would start it.

The kubelet builds a container's argv from ``command`` + ``args``, replacing ``$(VAR)`` with the
value of the container's environment variable VAR (``$$`` is a literal ``$``; ``$VAR`` and an
undefined ``$(VAR)`` are left alone), and gives an Indexed Job's pod ``JOB_COMPLETION_INDEX``.
:func:`pod_command` does the same, so a test runs the manifest's own command line as K local
processes — with only the site's values (model, server URL, run directory…) put in the
environment the manifest declares.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
SHARDS_JOB = MANIFESTS / "indexed-job.yaml"
MERGE_JOB = MANIFESTS / "merge-job.yaml"
REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def container(job: dict[str, Any], name: str) -> dict[str, Any]:
    spec = job["spec"]["template"]["spec"]
    for entry in [*spec.get("initContainers", []), *spec["containers"]]:
        if entry["name"] == name:
            return entry
    raise KeyError(name)


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """``$(VAR)`` → its value when defined, ``$$`` → ``$``; everything else unchanged."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return REFERENCE.sub(replace, text)


def pod_command(path: Path, name: str, site: dict[str, str]) -> tuple[list[str], dict[str, str], str]:
    """(argv, the container's declared environment with ``site`` values put in, working directory)
    for container ``name`` of the Job in ``path``. ``site`` may only set variables the manifest declares."""
    (job,) = documents(path)
    spec = container(job, name)
    env = {entry["name"]: str(entry.get("value", "")) for entry in spec.get("env", [])}
    unknown = set(site) - set(env)
    assert not unknown, f"{path.name} declares no {sorted(unknown)}: the test would run another command line"
    env.update(site)
    argv = [kubelet_expand(part, env) for part in [*spec.get("command", []), *spec.get("args", [])]]
    return argv, env, spec.get("workingDir", "")
