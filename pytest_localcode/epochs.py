"""Epochs: where each run of an exercise lives in the run directory, and which seed it samples with.

Epoch 1 lives where a single-epoch run puts its exercise, ``<run>/<lang>/<exercise>/``; epoch
*k* > 1 in ``epoch-<k>/`` below it. So a one-epoch run looks as it always did (Aider's ``--stats``
reads it, and reads a multi-epoch run as its first epoch), and adding epochs to a finished run
with ``--epochs 3 --run-dir RUN`` keeps its first epoch. Epoch *k* samples with seed
``base + k - 1`` (base: ``--seed``, else the agent config's ``seed``, else 1), recorded in its
result file, so epochs are independent samples and a rerun of an epoch draws the same ones.
"""

from __future__ import annotations

from pathlib import Path

EPOCH_PREFIX = "epoch-"
DEFAULT_SEED = 1


def epoch_dir(run_dir: Path, language: str, exercise: str, epoch: int) -> Path:
    base = run_dir / language / exercise
    return base if epoch == 1 else base / f"{EPOCH_PREFIX}{epoch}"


def epoch_seed(base: int | None, epoch: int) -> int:
    return (DEFAULT_SEED if base is None else base) + epoch - 1


def item_name(slug: str, epoch: int, epochs: int) -> str:
    """The item's name: ``react`` in a one-epoch run, ``react[2]`` for epoch 2 of several."""
    return slug if epochs == 1 else f"{slug}[{epoch}]"
