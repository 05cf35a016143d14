"""Small storage helpers: atomic writes (temp file + rename) and JSON records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typeseer.fileio import atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write_bytes", "atomic_write_text", "read_json", "write_json"]

def write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=1, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    """The JSON value in ``path``, or None when it is missing or unreadable (a crash mid-write
    of an older non-atomic version, a hand edit): the caller then recomputes it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
