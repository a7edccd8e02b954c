"""``--shard I/K``: parsing (numbers or ``$JOB_COMPLETION_INDEX``) and the split itself."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from pytest_localcode.shard import Shard, ShardError, assign, parse, select

LANGUAGES = ("cpp", "go", "java", "javascript", "python", "rust")


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("0/3", {}, Shard(0, 3)),
    (" 2 / 3 ", {}, Shard(2, 3)),
    ("0/1", {}, Shard(0, 1)),
    ("$JOB_COMPLETION_INDEX/3", {"JOB_COMPLETION_INDEX": "1"}, Shard(1, 3)),
    ("${SHARD}/4", {"SHARD": "3"}, Shard(3, 4)),
])
def test_parse(text: str, env: dict[str, str], expected: Shard) -> None:
    assert parse(text, env) == expected


@pytest.mark.parametrize(("text", "env", "needle"), [
    ("3/2", {}, "shard index 3 is outside 0..1 (shards count from 0"),
    ("2/2", {}, "shard index 2 is outside 0..1"),
    ("0/0", {}, "the number of shards must be at least 1 (got 0)"),
    ("-1/3", {}, "shard index -1 is outside 0..2"),
    ("1", {}, "expected I/K"),
    ("a/b", {}, "expected I/K"),
    ("$JOB_COMPLETION_INDEX/3", {}, "$JOB_COMPLETION_INDEX is not set"),
    ("$JOB_COMPLETION_INDEX/3", {"JOB_COMPLETION_INDEX": "x"}, "is 'x', not a number"),
    ("$JOB_COMPLETION_INDEX/3", {"JOB_COMPLETION_INDEX": "3"}, "shard index 3 is outside 0..2"),
])
def test_bad_values_are_one_line(text: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ShardError) as info:
        parse(text, env)
    message = str(info.value)
    assert message.startswith(f"--shard {text}:") and needle in message and "\n" not in message


def random_selection(rng: random.Random) -> list[tuple[str, str]]:
    return [(lang, f"ex{i}") for lang in LANGUAGES for i in range(rng.randint(0, 12))]


@pytest.mark.parametrize("seed", range(20))
def test_every_key_in_exactly_one_shard_balanced_by_language(seed: int) -> None:
    rng = random.Random(seed)
    keys = random_selection(rng)
    count = rng.randint(1, 7)
    owner = assign(keys, count)
    assert set(owner) == set(keys) and set(owner.values()) <= set(range(count))
    sizes = Counter(owner.values())
    assert max(sizes.values(), default=0) - min((sizes[i] for i in range(count)), default=0) <= 1
    for language in LANGUAGES:
        per_shard = Counter(shard for (lang, _), shard in owner.items() if lang == language)
        assert max(per_shard.values(), default=0) - min(per_shard[i] for i in range(count)) <= 1, language


def test_the_split_ignores_the_order_items_come_in() -> None:
    keys = random_selection(random.Random(1))
    shuffled = keys[:]
    random.Random(2).shuffle(shuffled)
    assert assign(keys, 3) == assign(shuffled, 3)


def test_all_items_of_one_exercise_stay_together() -> None:
    """Epochs: several items share one (language, exercise) key; they land in one shard, in order."""
    items = [(lang, f"ex{i}", epoch) for lang in LANGUAGES for i in range(3) for epoch in (1, 2, 3)]
    kept_by_shard = [select(items, lambda item: (item[0], item[1]), Shard(i, 4))[0] for i in range(4)]
    seen: dict[tuple[str, str], int] = {}
    for shard, kept in enumerate(kept_by_shard):
        for lang, ex, _ in kept:
            assert seen.setdefault((lang, ex), shard) == shard
    assert sum(len(k) for k in kept_by_shard) == len(items)
    assert all(sum(1 for it in kept if it[:2] == key) == 3 for kept in kept_by_shard for key in {it[:2] for it in kept})
    kept, dropped = select(items, lambda item: (item[0], item[1]), Shard(0, 4))
    assert kept == [it for it in items if it in kept] and len(kept) + len(dropped) == len(items)
