"""Small storage helpers: atomic writes (temp file + rename) and JSON records."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "read_json", "write_json"]

_counter = 0
_counter_lock = threading.Lock()


def _temp_path(path: Path) -> Path:
    global _counter
    with _counter_lock:
        _counter += 1
        serial = _counter
    return path.with_name(f".{path.name}.{os.getpid()}.{serial}.tmp")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    tmp.write_bytes(data)
    tmp.replace(path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, value: Any) -> None:
    atomic_write_text(path, json.dumps(value, indent=1, sort_keys=True) + "\n")


def read_json(path: Path) -> Any:
    """The JSON value in ``path``, or None when it is missing or unreadable (a crash mid-write
    of an older non-atomic version, a hand edit): the caller then recomputes it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
