"""The dataset: where it is, which exercises it holds, and what each exercise declares.

An exercise is described by its own ``.meta/config.json`` (solution / test / example / editor
files); everything language-wide comes from :mod:`pytest_localcode.languages`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pytest_localcode.errors import DatasetError
from pytest_localcode.languages import LANGUAGES

DATASET_ENV = "LOCALCODE_EXERCISES"
DATASET_HINT = (
    "clone it with `git clone https://github.com/Aider-AI/polyglot-benchmark` next to the project, "
    f"or pass --exercises DIR / set {DATASET_ENV}"
)


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(relpath: str, pattern: str) -> bool:
    """fnmatch with ``**`` spanning directories; ``*`` stays within one path part."""
    return _glob_regex(pattern).match(relpath) is not None


def matches_any(relpath: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(glob_match(relpath, p) for p in patterns)


@dataclass(frozen=True)
class Exercise:
    language: str
    slug: str
    path: Path
    solution: tuple[str, ...]
    test: tuple[str, ...]
    example: tuple[str, ...]
    editor: tuple[str, ...]

    @property
    def name(self) -> str:
        """Readable id used as the pytest node id: ``python/react``."""
        return f"{self.language}/{self.slug}"

    def files(self) -> list[str]:
        """Every file of the pristine exercise, relative, sorted."""
        return sorted(
            p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file() or p.is_symlink()
        )

    def instructions(self) -> str:
        """The exercise text a solver reads: introduction, instructions, track-specific append."""
        docs = self.path / ".docs"
        parts = [
            (docs / name).read_text(encoding="utf-8").strip()
            for name in ("introduction.md", "instructions.md", "instructions.append.md")
            if (docs / name).is_file()
        ]
        return "\n\n".join(parts)


def load_exercise(path: Path, language: str) -> Exercise:
    """Read one exercise; a malformed config is a one-line :class:`DatasetError`."""
    config = path / ".meta" / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        files = data["files"]
        solution = tuple(files["solution"])
        test = tuple(files["test"])
        example = tuple(files.get("example", ()))
        editor = tuple(files.get("editor", ()))
    except FileNotFoundError:
        raise DatasetError(f"{config}: missing (every exercise needs .meta/config.json)") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{config}: malformed JSON ({exc.msg} at line {exc.lineno})") from None
    except (KeyError, TypeError) as exc:
        raise DatasetError(f"{config}: malformed, needs files.solution and files.test lists ({exc!r})") from None
    if not solution or not test or not all(isinstance(f, str) for f in solution + test + example + editor):
        raise DatasetError(f"{config}: malformed, files.solution and files.test must be non-empty lists of paths")
    return Exercise(language, path.name, path, solution, test, example, editor)


def dataset_candidates(project_dir: Path) -> list[Path]:
    """Where a checkout is looked for when none is named: ``polyglot-benchmark/`` beside the
    project, or in a ``shared/`` folder beside it, then the same beside each folder above it (a
    team keeps one checkout for several project copies, e.g. git worktrees one level deeper)."""
    return [base / sub / "polyglot-benchmark" for base in project_dir.resolve().parents for sub in ("", "shared")]


def resolve_dataset(option: str | None, project_dir: Path) -> Path:
    """--exercises, else $LOCALCODE_EXERCISES, else the first of :func:`dataset_candidates` that
    exists. The one dataset search: the plugin, ``bin/setup`` and the tests all use it."""
    raw = option or os.environ.get(DATASET_ENV)
    if raw:
        root = Path(raw).expanduser()
    else:
        candidates = dataset_candidates(project_dir)
        root = next((c for c in candidates if c.is_dir()), candidates[0])
    root = root.resolve()
    if not root.is_dir():
        raise DatasetError(f"exercises directory {root} does not exist: {DATASET_HINT}")
    if not any((root / lang / "exercises" / "practice").is_dir() for lang in LANGUAGES):
        raise DatasetError(
            f"exercises directory {root} is not a polyglot-benchmark checkout "
            f"(no <language>/exercises/practice/ inside): {DATASET_HINT}"
        )
    return root


def exercise_dirs(root: Path) -> list[tuple[str, Path]]:
    """(language, exercise dir) for every exercise, in a stable order (xdist needs it)."""
    found = []
    for lang_dir in sorted(p for p in root.iterdir() if (p / "exercises" / "practice").is_dir()):
        for ex in sorted((lang_dir / "exercises" / "practice").iterdir()):
            if ex.is_dir() and not ex.name.startswith("."):
                found.append((lang_dir.name, ex))
    return found


def main(argv: list[str] | None = None) -> int:
    """``python -m pytest_localcode.exercises [DIR]``: print the dataset the plugin would use
    (for ``bin/setup``), or the one-line reason there is none (exit 1)."""
    import sys

    from pytest_localcode.paths import PROJECT_DIR

    args = sys.argv[1:] if argv is None else argv
    try:
        print(resolve_dataset(args[0] if args else None, PROJECT_DIR))
    except DatasetError as exc:
        print(f"localcode: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
