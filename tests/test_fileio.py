"""Atomic writes under faults: a full disk, a read-only file or directory, a file changed or
removed under typeseer. The target is always left whole, old or new, and no temporary file
stays behind."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from typeseer import fileio
from typeseer.fileio import (
    FileChangedError,
    ReadOnlyFileError,
    atomic_write_bytes,
    write_if_unchanged,
)

OLD = b"def f():\n    return 1\n"
NEW = b"def f() -> int:\n    return 1\n"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "module.py"
    path.write_bytes(OLD)
    return path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "module.py")


def fail_with(monkeypatch: pytest.MonkeyPatch, name: str, code: int) -> None:
    """Make ``fileio``'s ``os.NAME`` fail as the system would with ``code``."""
    def failing(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fileio.os, name, failing)


@pytest.mark.parametrize("call", ["fsync", "replace"])
def test_a_full_disk_leaves_the_file_whole(target: Path, monkeypatch: pytest.MonkeyPatch,
                                           call: str) -> None:
    fail_with(monkeypatch, call, errno.ENOSPC)
    with pytest.raises(OSError, match="No space left on device"):
        atomic_write_bytes(target, NEW)
    assert target.read_bytes() == OLD
    assert leftovers(target.parent) == []


def test_a_short_write_on_a_full_disk_leaves_the_file_whole(target: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """The temporary file's data goes through ``os.fdopen``; make its write fail midway."""
    opened = fileio.os.fdopen

    class FullDisk:
        def __init__(self, fd: int, mode: str) -> None:
            self.handle = opened(fd, mode)

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            self.handle.write(data[:5])
            self.handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fdopen", FullDisk)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, NEW)
    assert target.read_bytes() == OLD
    assert leftovers(target.parent) == []


def test_a_read_only_directory_leaves_the_file_whole(target: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """As root the system lets anything through; the failure is injected where it happens."""
    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError):
        atomic_write_bytes(target, NEW)
    assert target.read_bytes() == OLD and leftovers(target.parent) == []


def test_a_read_only_file_is_not_replaced_even_by_root(target: Path) -> None:
    target.chmod(0o444)
    with pytest.raises(ReadOnlyFileError, match="read-only file; not written"):
        write_if_unchanged(target, NEW, OLD)
    assert target.read_bytes() == OLD
    assert stat.S_IMODE(target.stat().st_mode) == 0o444


def test_a_file_changed_under_it_is_not_overwritten(target: Path) -> None:
    target.write_bytes(OLD + b"# edited meanwhile\n")
    with pytest.raises(FileChangedError, match="changed on disk"):
        write_if_unchanged(target, NEW, OLD)
    assert target.read_bytes() == OLD + b"# edited meanwhile\n"


def test_a_file_removed_under_it_is_not_recreated(target: Path) -> None:
    target.unlink()
    with pytest.raises(FileChangedError, match="removed"):
        write_if_unchanged(target, NEW, OLD)
    assert not target.exists() and leftovers(target.parent) == []


def test_the_new_file_keeps_the_permissions(target: Path) -> None:
    target.chmod(0o750)
    write_if_unchanged(target, NEW, OLD)
    assert target.read_bytes() == NEW
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
