"""deploy/kubernetes/: the manifests are valid Kubernetes objects, and the shard Job runs the
command the shard test runs.

Validation uses ``kubernetes-validate`` (PyPI; it ships the Kubernetes JSON schemas, so it needs
no cluster and no network) in strict mode — unknown fields are errors — against every
Kubernetes version from 1.29 (native sidecars) to the newest it knows. ``kubectl --dry-run=client``
is not used: it needs a cluster's API discovery for a Job.
"""

from __future__ import annotations

import copy
import shlex

import pytest

from tests.support.kubernetes import MANIFESTS, MERGE_JOB, SHARDS_JOB, container, documents, kubelet_expand, pod_command

kv = pytest.importorskip("kubernetes_validate", reason="test extra: pip install -e '.[test]' (bin/setup --tests does)")
from kubernetes_validate.utils import ValidationError, all_versions  # noqa: E402

VERSIONS = sorted({v for v in all_versions() if tuple(map(int, v.split(".")[:2])) >= (1, 29)},
                  key=lambda v: tuple(map(int, v.split("."))))


@pytest.mark.parametrize("path", sorted(MANIFESTS.glob("*.yaml")), ids=lambda p: p.name)
def test_manifests_validate_strictly_on_every_supported_version(path) -> None:  # type: ignore[no-untyped-def]
    docs = documents(path)
    assert docs
    for doc in docs:
        for version in VERSIONS:
            kv.validate(doc, version, strict=True)
    print(f"{path.name}: {len(docs)} object(s) valid on Kubernetes {VERSIONS[0]}–{VERSIONS[-1]}")


def test_the_validator_catches_a_mistake() -> None:
    (job,) = documents(SHARDS_JOB)
    broken = copy.deepcopy(job)
    broken["spec"]["completionsMode"] = broken["spec"].pop("completionMode")  # a typo
    with pytest.raises(ValidationError):
        kv.validate(broken, VERSIONS[-1], strict=True)
    broken = copy.deepcopy(job)
    broken["spec"]["completions"] = "three"
    with pytest.raises(ValidationError):
        kv.validate(broken, VERSIONS[-1], strict=True)


def test_the_shard_job_is_consistent_with_its_command() -> None:
    """K pods, K in --shard, the index from the Job; the harness talks to its sidecar with one
    worker per server slot."""
    (job,) = documents(SHARDS_JOB)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    argv, env, _ = pod_command(SHARDS_JOB, "localcode", {})
    shard = next(a for a in argv if a.startswith("--shard="))
    assert shard == f"--shard=$JOB_COMPLETION_INDEX/{spec['completions']}"  # left for the harness: $VAR is not expanded
    sidecar = container(job, "model-server")
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar: stopped when the harness ends
    server_args = sidecar["args"]
    assert env["SERVER_URL"] == f"http://127.0.0.1:{server_args[server_args.index('--port') + 1]}"
    assert argv[argv.index("-n") + 1] == env["WORKERS"] == server_args[server_args.index("--parallel") + 1]
    assert f"--run-dir={env['RUN_DIR']}" in argv and f"--model={env['MODEL']}" in argv
    assert not any("$(" in a for a in argv)  # every $(VAR) is declared


def test_the_merge_job_reads_the_shards_run_dir() -> None:
    shards, _, _ = pod_command(SHARDS_JOB, "localcode", {})
    merge, env, _ = pod_command(MERGE_JOB, "merge", {})
    run_dir = next(a for a in shards if a.startswith("--run-dir=")).split("=", 1)[1]
    assert merge == [".venv/bin/localcode", "merge", run_dir, "--into", f"{run_dir}/merged"]


def test_the_shard_test_runs_the_manifest_command(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """test_shards.py builds its command only from the manifest; here: what that gives, literally."""
    from tests.plugin.test_shards import shard_command

    class Server:
        url = "http://127.0.0.1:5555"

    argv, env = shard_command(tmp_path / "data", Server(), tmp_path / "run", 2)  # type: ignore[arg-type]
    (job,) = documents(SHARDS_JOB)
    declared = container(job, "localcode")
    site = {"MODEL": env["MODEL"], "SERVER_URL": Server.url, "RUN_DIR": str(tmp_path / "run"),
            "WORKERS": env["WORKERS"], "LOCALCODE_EXERCISES": str(tmp_path / "data")}
    expected = [kubelet_expand(a, site) for a in [*declared["command"], *declared["args"]]]
    assert argv[:len(expected)] == expected, shlex.join(argv)
    # only the exercise selection is added
    assert all(a.startswith(str(tmp_path / "data")) for a in argv[len(expected):])
    assert env["JOB_COMPLETION_INDEX"] == "2"


def test_kubelet_expansion_rules() -> None:
    env = {"A": "x"}
    assert kubelet_expand("$(A)/$(B)/$$(A)/$A", env) == "x/$(B)/$(A)/$A"
