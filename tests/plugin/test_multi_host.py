"""A plain multi-host run: xdist workers started with ``--tx ssh=HOST``, each using a server on its host.

There is one machine here, so "ssh" is simulated: an ``ssh`` executable first on PATH takes
execnet's real command line (``ssh -C HOST 'python -c "…bootstrap…"'``), logs the host, and runs
the remote command as a fresh login would: a clean environment (no PYTHONPATH, no
LOCALCODE_EXERCISES: everything the worker needs must come from the controller) in its own
home directory. Everything past the transport — execnet's bootstrap over stdin/stdout, the
``//python=``/``//chdir=`` specs, xdist's worker, the per-worker server through workerinput —
is the real path (xdist even copies pytest into each host's ``//chdir``, as it does over real
ssh). Two hosts are ``localhost`` and ``127.0.0.1``, and each runs one scripted
server addressed by that name, so "the server on the worker's own host" can be checked.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pytest_localcode.results import load
from tests.support.server_processes import scripted_processes
from tests.support.stand_ins import AGENT_CONFIGS, ROOT

pytestmark = pytest.mark.slow

FAKE_SSH = """#!/bin/sh
# ssh [-C] [-F config] [-o opt|-p port|-i key|-l user …] [user@]host command…
while [ $# -gt 0 ]; do
  case "$1" in
    -C|-T|-q) shift ;;
    -F|-o|-p|-i|-l) shift 2 ;;
    *) host=${1##*@}; shift; break ;;
  esac
done
echo "$host" >> "$FAKE_SSH_LOG"
mkdir -p "$FAKE_SSH_HOMES/$host" && cd "$FAKE_SSH_HOMES/$host" || exit 255
exec env -i HOME="$FAKE_SSH_HOMES/$host" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 sh -c "$*"
"""


def test_ssh_workers_use_the_server_on_their_host(tmp_path: Path, polyglot: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    python = str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).is_file():
        pytest.skip("needs the project's .venv (bin/setup): the 'remote' python")
    ledgers = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    with scripted_processes(ledgers, [1, 1], factory="tests.support.models:reference",
                            kwargs={"dataset": str(polyglot), "delay": 0.2}) as (a, b):
        url_a = a.url.replace("127.0.0.1", "localhost")  # the same listener, named as host "localhost" names it
        url_b = b.url
        hosts = tmp_path / "hosts"  # each "host"'s home, also its //chdir: xdist copies pytest there (rsync roots)
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_SSH_LOG": str(tmp_path / "ssh.log"),
               "FAKE_SSH_HOMES": str(hosts)}
        env.pop("PYTEST_ADDOPTS", None)
        run_dir = tmp_path / "run"  # on a shared filesystem in a real multi-host run: same path everywhere
        proc = subprocess.run(
            [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--model={AGENT_CONFIGS / 'scripted.json'}",
             f"--exercises={polyglot}", f"--run-dir={run_dir}", "--sandbox=local", "--tries=1",
             f"--server-url={url_b}", f"--server-url={url_a}", "--dist=load",
             f"--tx=ssh=localhost//python={python}//chdir={hosts / 'localhost'}",
             f"--tx=ssh=127.0.0.1//python={python}//chdir={hosts / '127.0.0.1'}",
             "-k", "python and (proverb or wordy or transpose or pig-latin)"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert sorted((tmp_path / "ssh.log").read_text().split()) == ["127.0.0.1", "localhost"]
        served = {port: {e["exercise"] for e in s.ledger()} for port, s in ((a.url, a), (b.url, b))}
    saved = {p.parent.name: load(p.parent) for p in run_dir.glob("python/*/.aider.results.json")}
    assert len(saved) == 4
    for slug, result in saved.items():
        assert result is not None and result.solved
        worker, url = result.provenance["worker"], result.provenance["server_url"]
        assert url == (url_a if worker == "gw0" else url_b), (slug, worker, url)  # gw0 is the first --tx: localhost
        port = a.url if url == url_a else b.url
        assert f"python/{slug}" in served[port]  # and that server's own ledger agrees
    assert {r.provenance["worker"] for r in saved.values() if r} == {"gw0", "gw1"}
    assert (hosts / "localhost" / "_pytest").is_dir()  # xdist's own copy to a remote: the ssh path was taken
