"""``localcode merge RUN_DIR… --into DIR``: join the run directories of one run's shards.

Shards (``--shard I/K``, one per cluster pod or CI job) each leave a run directory. Merging
copies their per-exercise directories into a new one and then builds ``summary.json``,
``benchmark_results.txt`` and ``report.html`` with the code an ordinary run uses: a short
pytest session whose items replay the saved results (nothing is re-run, no model server, no
dataset), so the reports are what one unsharded run would have written, and the summary stays a
function of the result files alone.

Merging refuses, with one line, runs that cannot be one run: another model, model file, agent
config, sampling or limits, another dataset commit, or shards that overlap (the same shard
twice, different shard counts, an exercise in two inputs). A directory holding ``shard-I-of-K``
subdirectories stands for all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from pytest_localcode.errors import LocalcodeError
from pytest_localcode.results import RESULTS_FILE, ExerciseResult, load

SHARD_DIR = re.compile(r"^shard-\d+-of-\d+$")
# Provenance that must agree between inputs, and what a difference is called in the refusal.
SAME = (("model", "models"), ("agent_config", "agent configs"), ("sampling", "sampling settings"),
        ("limits", "limits (--tries, --max-turns, --max-tokens, timeouts)"), ("dataset_commit", "dataset commits"))


class MergeError(Exception):
    """Inputs that cannot be merged; the message is the one line the user sees."""


@dataclass
class Part:
    """One input run directory."""

    path: Path
    provenance: dict[str, Any]
    exercises: dict[str, list[PurePosixPath]]  # "lang/exercise" -> result directories under it, relative

    @property
    def shard(self) -> tuple[int, int] | None:
        shard = self.provenance.get("shard")
        return (int(shard[0]), int(shard[1])) if shard else None

    def describe(self) -> str:
        return f"{self.path}" + (f" (shard {self.shard[0]}/{self.shard[1]})" if self.shard else "")


def expand_inputs(paths: list[Path]) -> list[Path]:
    """A directory with ``shard-I-of-K`` subdirectories (and no results of its own) stands for them."""
    out: list[Path] = []
    for path in paths:
        shards = sorted(p for p in path.glob("shard-*-of-*") if p.is_dir() and SHARD_DIR.match(p.name))
        out.extend(shards if shards and not (path / "summary.json").exists() else [path])
    return out


def result_dirs(path: Path) -> dict[str, list[PurePosixPath]]:
    """``lang/exercise`` → the directories holding its result files (one, or one per epoch)."""
    found: dict[str, list[PurePosixPath]] = {}
    for depth in ("*/*/", "*/*/*/"):
        for file in sorted(path.glob(depth + RESULTS_FILE)):
            rel = PurePosixPath(file.parent.relative_to(path).as_posix())
            if depth == "*/*/*/" and rel.parts[2] in ("workspace", "grade", "logs"):
                continue
            found.setdefault("/".join(rel.parts[:2]), []).append(rel)
    return found


def load_part(path: Path) -> Part:
    if not path.is_dir():
        raise MergeError(f"{path}: no such run directory")
    summary = path / "summary.json"
    if not summary.is_file():
        raise MergeError(f"{path}: no summary.json, so this run did not finish; resume it (the same command with "
                         f"--run-dir {path}), then merge")
    try:
        provenance = json.loads(summary.read_text(encoding="utf-8")).get("provenance") or {}
    except (OSError, ValueError) as exc:
        raise MergeError(f"{summary}: unreadable ({exc})") from None
    exercises = result_dirs(path)
    if not exercises:
        raise MergeError(f"{path}: not a localcode run directory (no <language>/<exercise>/{RESULTS_FILE})")
    return Part(path, provenance, exercises)


def model_file(part: Part) -> str | None:
    server = part.provenance.get("server") or {}
    return server.get("model_sha256")


def check(parts: list[Part]) -> None:
    """Refuse inputs that are not pieces of one run (one line, naming the two inputs)."""
    first = parts[0]
    for other in parts[1:]:
        for key, what in SAME:
            a, b = first.provenance.get(key), other.provenance.get(key)
            if key == "dataset_commit" and not (a and b):
                continue  # a dataset outside git: nothing to compare
            if a != b:
                shown = f": {a} vs {b}" if key in ("model", "dataset_commit") else ""
                raise MergeError(f"cannot merge runs of different {what}{shown} ({first.path} and {other.path})")
        if model_file(first) and model_file(other) and model_file(first) != model_file(other):
            raise MergeError(f"cannot merge runs of different model files (sha256 {model_file(first)[:12]}… vs "
                             f"{model_file(other)[:12]}…: {first.path} and {other.path})")
    by_shard: dict[tuple[int, int], Part] = {}
    for part in parts:
        if part.shard is None:
            continue
        other = next(iter(by_shard.values()), None)
        if other is not None and other.shard and other.shard[1] != part.shard[1]:
            raise MergeError(f"overlapping shards: {other.describe()} and {part.describe()} split the exercises differently")
        if part.shard in by_shard:
            raise MergeError(f"overlapping shards: {by_shard[part.shard].path} and {part.path} are both shard "
                             f"{part.shard[0]}/{part.shard[1]}")
        by_shard[part.shard] = part
    owner: dict[str, Part] = {}
    for part in parts:
        for name in part.exercises:
            if name in owner:
                raise MergeError(f"overlapping shards: {name} is in both {owner[name].describe()} and {part.describe()}")
            owner[name] = part


def merged_provenance(parts: list[Part], into: Path, argv: list[str]) -> dict[str, Any]:
    """The first input's provenance (model, config, sampling, dataset: equal in all), this merge's
    own run dir, date and command, and every input's shard, machine, server and commit."""
    merged = dict(parts[0].provenance)
    commits = sorted({str(p.provenance.get("git_commit") or "") for p in parts} - {""})
    merged.update({
        "run_dir": str(into),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": ["localcode", "merge", *argv],
        "git_commit": ", ".join(commits),
        "shard": None,
        "merged_from": [{
            "run_dir": str(p.path),
            "shard": p.provenance.get("shard"),
            "exercises": len(p.exercises),
            "date": p.provenance.get("date"),
            "git_commit": p.provenance.get("git_commit"),
            "command": p.provenance.get("command"),
            "server": p.provenance.get("server"),
            "servers": p.provenance.get("servers"),
            "machine": p.provenance.get("machine"),
        } for p in parts],
    })
    counts = {p.shard[1] for p in parts if p.shard}
    if counts:
        count = counts.pop()
        merged["shards"] = {"count": count, "merged": sorted(p.shard[0] for p in parts if p.shard),
                            "missing": sorted(set(range(count)) - {p.shard[0] for p in parts if p.shard})}
    return merged


def copy_parts(parts: list[Part], into: Path) -> None:
    """Every exercise directory (results, logs, workspace), and each input's summary and server logs
    under ``parts/`` for the record."""
    for i, part in enumerate(parts):
        for name in part.exercises:
            shutil.copytree(part.path / name, into / name, symlinks=True, ignore=shutil.ignore_patterns("shell-cache"))
        keep = into / "parts" / f"{i}-{part.path.name}"
        keep.mkdir(parents=True)
        for file in [part.path / "summary.json", *sorted(part.path.glob("server*.log"))]:
            shutil.copy2(file, keep / file.name)


# -- the replay session: the reports of an ordinary run, from the saved results ----------------------


class ReplayItem(pytest.Item):
    """One saved result, judged as in the run that made it: an error in setup, the verdict in call."""

    def __init__(self, *, result_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result_dir = result_dir
        self.result: ExerciseResult | None = None

    def setup(self) -> None:
        from pytest_localcode.plugin import RESULT_KEY, properties

        self.result = load(self.result_dir)
        if self.result is None:
            raise LocalcodeError(f"{self.result_dir}: unreadable result file")
        self.add_marker(self.result.language)
        self.stash[RESULT_KEY] = self.result
        self.user_properties.extend(properties(self.result))
        if self.result.error:
            raise LocalcodeError(self.result.error)

    def runtest(self) -> None:
        from pytest_localcode.collect import ExerciseNotSolved

        assert self.result is not None
        if not self.result.solved:
            raise ExerciseNotSolved(self.result.failure_text())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.result_dir, None, self.name


def node_name(rel: PurePosixPath) -> str:
    """``lang/ex`` → ``ex``; a result one level deeper (an epoch) → ``ex[<its number>]``."""
    if len(rel.parts) == 2:
        return rel.parts[1]
    return f"{rel.parts[1]}[{re.sub(r'[^0-9]', '', rel.parts[2]) or rel.parts[2]}]"


class ReplayLanguage(pytest.Directory):
    """One exercise directory; node id ``<language>``, so items read ``python::react`` as in a run."""

    def __init__(self, *, results: list[PurePosixPath], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results

    def collect(self) -> list[pytest.Item]:
        root = self.path.parents[1]
        return [ReplayItem.from_parent(self, name=node_name(rel), result_dir=root / rel) for rel in self.results]


class ReplayRun(pytest.Directory):
    def collect(self) -> list[pytest.Collector]:
        found = result_dirs(self.path)
        return [ReplayLanguage.from_parent(self, path=self.path / name, nodeid=name.split("/")[0], results=rels)
                for name, rels in sorted(found.items())]


class ReplayPlugin:
    def __init__(self, into: Path, provenance: dict[str, Any]):
        self.into = into
        self.provenance = provenance

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        return ReplayRun.from_parent(parent, path=path) if path == self.into else None

    def pytest_configure(self, config: pytest.Config) -> None:
        from pytest_localcode.report.plugin import ReportPlugin

        provenance = self.provenance

        class MergedReport(ReportPlugin):
            def make_provenance(self, session: pytest.Session) -> dict[str, Any]:
                return provenance

        config.pluginmanager.register(MergedReport(settings_for(self.into, provenance), config), "localcode-report")


def settings_for(into: Path, provenance: dict[str, Any]) -> Any:
    """The merged run's settings, as far as the reports read them."""
    from pytest_localcode.settings import Settings

    limits = provenance.get("limits") or {}
    return Settings(model=str(provenance.get("model") or "?"), dataset=Path(str(provenance.get("dataset") or ".")),
                    run_dir=into, tries=int(provenance.get("tries") or limits.get("tries") or 2),
                    sandbox=str(provenance.get("sandbox") or "?"), server_url=None,
                    agent_timeout=float(limits.get("agent_timeout") or 900.0), max_turns=limits.get("max_turns"),
                    max_tokens=limits.get("max_tokens"))


def replay(into: Path, provenance: dict[str, Any]) -> str:
    """Run the replay session in this process; returns its terminal output."""
    args = [str(into), "-c", os.devnull, "--rootdir", str(into), "-p", "no:cacheprovider", "-p", "no:randomly",
            "-q", "-rN", f"--html={into / 'report.html'}", "--self-contained-html"]
    out = io.StringIO()
    saved = os.environ.pop("PYTEST_ADDOPTS", None)
    try:
        with contextlib.redirect_stdout(out):
            code = pytest.main(args, plugins=[ReplayPlugin(into, provenance)])
    finally:
        if saved is not None:
            os.environ["PYTEST_ADDOPTS"] = saved
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not (into / "summary.json").is_file():
        raise MergeError(f"building the merged reports failed (pytest exit {int(code)}): {out.getvalue()[-2000:]}")
    return out.getvalue()


def merge(inputs: list[Path], into: Path, argv: list[str]) -> list[Part]:
    parts = [load_part(p) for p in expand_inputs(inputs)]
    if not parts:
        raise MergeError("nothing to merge: give the shards' run directories")
    check(parts)
    for part in parts:
        if part.path == into or part.path in into.parents or into in part.path.parents:
            raise MergeError(f"--into {into}: overlaps the input {part.path}; merge into a directory of its own")
    if into.exists() and (not into.is_dir() or any(into.iterdir())):
        raise MergeError(f"--into {into}: exists and is not empty; merge into a new directory")
    into.mkdir(parents=True, exist_ok=True)
    copy_parts(parts, into)
    replay(into, merged_provenance(parts, into, argv))
    return parts


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="localcode merge", description="Join the run directories of a run's "
                                     "shards (--shard I/K) into one run directory with one report.")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="shard run directories (a directory of shard-I-of-K subdirectories stands for them)")
    parser.add_argument("--into", required=True, type=Path, metavar="DIR", help="the merged run directory (new)")
    args = parser.parse_args(argv)
    into = args.into.expanduser().resolve()
    try:
        parts = merge([p.expanduser().resolve() for p in args.runs], into, argv)
    except MergeError as exc:
        print(f"localcode merge: {exc}", file=sys.stderr)
        return 2
    text = (into / "benchmark_results.txt").read_text(encoding="utf-8")
    sys.stdout.write(text)
    shards = sorted(p.shard[0] for p in parts if p.shard)
    missing = merged_provenance(parts, into, argv).get("shards", {}).get("missing")
    note = f" (shards {', '.join(map(str, shards))}" + (f"; missing {', '.join(map(str, missing))})" if missing else ")")
    what = "run directory" if len(parts) == 1 else "run directories"
    print(f"Merged {len(parts)} {what}{note if shards else ''} into {into}: summary.json, benchmark_results.txt, report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
