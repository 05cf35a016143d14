"""Writing files safely: atomically (temp file + rename), keeping permissions, and never over a
file that changed on disk since typeseer read it."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = [
    "FileChangedError",
    "ReadOnlyFileError",
    "atomic_write_bytes",
    "atomic_write_text",
    "write_if_unchanged",
]

#: Any write permission bit: a file with none of them is read-only on purpose.
_WRITABLE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class FileChangedError(OSError):
    """The file on disk is no longer the one that was read: it is left as it is."""


class ReadOnlyFileError(PermissionError):
    """The file has no write permission: it is left as it is (even for root, whom the system
    would let replace it)."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a part.

    The data is flushed to disk before the rename, and an existing file's permission bits are
    kept. On any error (a full disk, a read-only directory) the target is untouched and the
    temporary file removed.
    """
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = None
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_directory(directory)


def atomic_write_text(path: Path, text: str) -> None:
    """Atomic write of UTF-8 text, line endings as given."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_if_unchanged(path: Path, data: bytes, original: bytes) -> None:
    """Atomically replace ``path`` with ``data`` unless its content is no longer ``original``.

    Raises FileChangedError when someone edited (or removed) the file since it was read, and
    ReadOnlyFileError when it has no write permission.
    """
    try:
        current = path.read_bytes()
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FileChangedError(f"{path}: removed since it was read; not written") from None
    if current != original:
        raise FileChangedError(f"{path}: changed on disk since it was read; not written")
    if not mode & _WRITABLE_BITS:
        raise ReadOnlyFileError(f"{path}: read-only file; not written")
    atomic_write_bytes(path, data)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); harmless where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
