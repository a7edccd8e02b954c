"""``localcode merge RUN_DIR… --into DIR``: join the run directories of one run's shards.

Shards (``--shard I/K``, one per cluster pod or CI job) each leave a run directory. Merging
copies their per-exercise directories into a new one and then builds ``summary.json``,
``benchmark_results.txt`` and ``report.html`` with the code an ordinary run uses (see
:mod:`pytest_localcode.report.replay`: nothing is re-run, no model server, no dataset), so the
reports are what one unsharded run would have written, and the summary stays a function of the
result files alone.

Merging refuses, with one line, runs that cannot be one run: another model, model file, agent
config, sampling or limits, another dataset commit, or shards that overlap (the same shard
twice, different shard counts, an exercise in two inputs). A directory holding ``shard-I-of-K``
subdirectories stands for all of them.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_localcode.report.replay import ReplayError, replay, result_dirs
from pytest_localcode.results import RESULTS_FILE

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
        first_file, other_file = model_file(first), model_file(other)
        if first_file and other_file and first_file != other_file:
            raise MergeError(f"cannot merge runs of different model files (sha256 {first_file[:12]}… vs "
                             f"{other_file[:12]}…: {first.path} and {other.path})")
    by_shard: dict[tuple[int, int], Part] = {}
    for part in parts:
        if part.shard is None:
            continue
        seen = next(iter(by_shard.values()), None)
        if seen is not None and seen.shard and seen.shard[1] != part.shard[1]:
            raise MergeError(f"overlapping shards: {seen.describe()} and {part.describe()} "
                             "split the exercises differently")
        if part.shard in by_shard:
            raise MergeError(f"overlapping shards: {by_shard[part.shard].path} and {part.path} are both shard "
                             f"{part.shard[0]}/{part.shard[1]}")
        by_shard[part.shard] = part
    owner: dict[str, Part] = {}
    for part in parts:
        for name in part.exercises:
            if name in owner:
                raise MergeError(f"overlapping shards: {name} is in both {owner[name].describe()} "
                                 f"and {part.describe()}")
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
    try:
        replay(into, merged_provenance(parts, into, argv))
    except ReplayError as exc:
        raise MergeError(str(exc)) from None
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
    note = (f" (shards {', '.join(map(str, shards))}"
            + (f"; missing {', '.join(map(str, missing))})" if missing else ")"))
    what = "run directory" if len(parts) == 1 else "run directories"
    print(f"Merged {len(parts)} {what}{note if shards else ''} into {into}: "
          "summary.json, benchmark_results.txt, report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
