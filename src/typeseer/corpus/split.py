"""Assigning packages to train/valid/test: by a seeded hash of the name, never by file.

A package's split depends on its name and the seed only, so it never moves when packages are
added or removed, and the lists written by a build are the same on every machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from typeseer.corpus.store import atomic_write_text

__all__ = ["DEFAULT_SEED", "SPLITS", "assign_split", "split_packages", "write_split_lists"]

DEFAULT_SEED = "typeseer-corpus-1"
SPLITS = ("train", "valid", "test")
#: Percentages of train and valid; test takes the rest.
TRAIN_PERCENT = 80
VALID_PERCENT = 10


def assign_split(name: str, seed: str = DEFAULT_SEED) -> str:
    """``train`` (80%), ``valid`` (10%) or ``test`` (10%) for a canonical package name."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    if bucket < TRAIN_PERCENT:
        return "train"
    if bucket < TRAIN_PERCENT + VALID_PERCENT:
        return "valid"
    return "test"


def split_packages(names: Iterable[str], seed: str = DEFAULT_SEED) -> dict[str, list[str]]:
    """Sorted package names of each split."""
    result: dict[str, list[str]] = {split: [] for split in SPLITS}
    for name in sorted(set(names)):
        result[assign_split(name, seed)].append(name)
    return result


def write_split_lists(directory: Path, splits: dict[str, list[str]]) -> None:
    """``train.txt``, ``valid.txt``, ``test.txt``: one package a line."""
    for split in SPLITS:
        header = f"# {split} split of the typeseer corpus (hash of the package name)\n"
        atomic_write_text(directory / f"{split}.txt",
                          header + "".join(f"{name}\n" for name in splits.get(split, [])))
