"""``--shard I/K``: one of K deterministic, language-balanced slices of the selected exercises.

K copies of one command (a Kubernetes Indexed Job, a CI matrix) each run one slice; `localcode
merge` joins their run directories. The slice is a pure function of the selected exercises'
``(language, exercise)`` keys, so every process (and every xdist worker) computes the same one,
and all items of one exercise (its epochs, when a run has several) land in the same shard.
Keys are dealt round-robin in (language, exercise) order, so each language is spread evenly over
the shards (slow C++ and Java builds do not pile up in one) and shard sizes differ by at most one.

``I`` counts from 0, like ``JOB_COMPLETION_INDEX``; it may be written as ``$VAR`` (the harness
reads the variable), so one command line serves every pod of an Indexed Job:
``--shard '$JOB_COMPLETION_INDEX/3'``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
Key = tuple[str, str]  # (language, exercise)

SPEC = re.compile(r"^\s*(?P<index>\$\{?\w+\}?|[+-]?\d+)\s*/\s*(?P<count>[+-]?\d+)\s*$")


class ShardError(ValueError):
    """A ``--shard`` value that cannot be used; the message is one line with the fix."""


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def dirname(self) -> str:
        """The shard's subdirectory of the run directory."""
        return f"shard-{self.index}-of-{self.count}"

    def to_list(self) -> list[int]:
        return [self.index, self.count]


def parse(text: str, environ: Mapping[str, str] | None = None) -> Shard:
    """``"1/3"`` or ``"$JOB_COMPLETION_INDEX/3"`` → :class:`Shard`; bad input → :class:`ShardError`."""
    env = os.environ if environ is None else environ
    match = SPEC.match(text or "")
    if not match:
        raise ShardError(f"--shard {text}: expected I/K, shard I (from 0) of K, e.g. --shard 0/3 or "
                         f"--shard '$JOB_COMPLETION_INDEX/3'")
    count = int(match["count"])
    raw = match["index"]
    if raw.startswith("$"):
        name = raw.strip("${}")
        value = env.get(name)
        if value is None or not value.strip().lstrip("+-").isdigit():
            shown = "is not set" if value is None else f"is {value!r}, not a number"
            raise ShardError(f"--shard {text}: ${name} {shown} (a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX; "
                             f"elsewhere give the number, e.g. --shard 0/{count})")
        index = int(value)
    else:
        index = int(raw)
    if count < 1:
        raise ShardError(f"--shard {text}: the number of shards must be at least 1 (got {count})")
    if not 0 <= index < count:
        raise ShardError(f"--shard {text}: shard index {index} is outside 0..{count - 1} "
                         f"(shards count from 0, like JOB_COMPLETION_INDEX)")
    return Shard(index, count)


def assign(keys: Iterable[Key], count: int) -> dict[Key, int]:
    """Shard number of every distinct key: sorted keys dealt round-robin."""
    return {key: n % count for n, key in enumerate(sorted(set(keys)))}


def select(items: Iterable[T], key_of: Callable[[T], Key], shard: Shard) -> tuple[list[T], list[T]]:
    """(kept, deselected): the items whose key falls in ``shard``, in their original order."""
    items = list(items)
    owner = assign((key_of(item) for item in items), shard.count)
    kept = [item for item in items if owner[key_of(item)] == shard.index]
    dropped = [item for item in items if owner[key_of(item)] != shard.index]
    return kept, dropped
