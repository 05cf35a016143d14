"""The committed package lists of the corpus: candidates, hold-out, pinned versions, splits.

All names are compared in their PEP 503 normal form (``Foo_Bar`` -> ``foo-bar``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from typeseer.corpus.store import atomic_write_text

__all__ = [
    "DATA_DIR",
    "DEFAULT_HOLDOUT_FILE",
    "DEFAULT_LOCK_FILE",
    "DEFAULT_PACKAGES_FILE",
    "DEFAULT_SPLITS_DIR",
    "LockEntry",
    "canonical_name",
    "load_splits",
    "read_lock",
    "read_names",
    "write_lock",
]

#: The folder of this subpackage, where the committed lists live.
DATA_DIR = Path(__file__).resolve().parent
DEFAULT_PACKAGES_FILE = DATA_DIR / "packages.txt"
DEFAULT_HOLDOUT_FILE = DATA_DIR / "holdout.txt"
DEFAULT_LOCK_FILE = DATA_DIR / "lock.txt"
DEFAULT_SPLITS_DIR = DATA_DIR / "splits"

_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503 normal form of a distribution name."""
    return _SEPARATORS.sub("-", name.strip()).lower()


def read_names(path: Path) -> list[str]:
    """Distribution names of a list file (one a line, ``#`` comments), canonical, first
    occurrence kept, in file order."""
    names: list[str] = []
    seen: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        name = canonical_name(text)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


@dataclass(frozen=True, slots=True)
class LockEntry:
    """The exact wheel a package's data came from."""

    name: str
    version: str
    wheel: str
    sha256: str


def read_lock(path: Path) -> dict[str, LockEntry]:
    """Pins of a lock file (tab-separated: name, version, wheel file name, sha256)."""
    entries: dict[str, LockEntry] = {}
    if not path.is_file():
        return entries
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split("\t")
        if len(fields) != 4:
            continue
        name = canonical_name(fields[0])
        entries[name] = LockEntry(name, fields[1], fields[2], fields[3])
    return entries


def write_lock(path: Path, entries: Iterable[LockEntry]) -> None:
    """Write a lock file atomically, sorted by name."""
    lines = ["# name\tversion\twheel\tsha256: pins of the typeseer corpus (typeseer corpus build)"]
    lines += [f"{e.name}\t{e.version}\t{e.wheel}\t{e.sha256}"
              for e in sorted(entries, key=lambda e: e.name)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def load_splits(splits_dir: Path = DEFAULT_SPLITS_DIR) -> dict[str, list[str]]:
    """The committed split lists: ``{"train": [...], "valid": [...], "test": [...]}``."""
    result: dict[str, list[str]] = {}
    for split in ("train", "valid", "test"):
        path = splits_dir / f"{split}.txt"
        result[split] = read_names(path) if path.is_file() else []
    return result
