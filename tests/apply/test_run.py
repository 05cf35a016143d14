"""`apply` on real files: encodings and line endings kept, atomic and safe writes, bad files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from typeseer.apply.run import apply
from typeseer.config import Config

STATIC = Config(use_model=False, min_confidence=0.3)


def _write(root: Path, name: str, data: bytes) -> Path:
    path = root / name
    path.write_bytes(data)
    return path


def test_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, "crlf.py", b"def f():\r\n    return 1\r\n\r\nX = 'a'\r\n")
    apply([tmp_path], STATIC, write=True)
    assert path.read_bytes() == b"def f() -> int:\r\n    return 1\r\n\r\nX: str = 'a'\r\n"


def test_latin1_encoding_cookie_is_kept(tmp_path: Path) -> None:
    source = "# -*- coding: latin-1 -*-\nNAME = 'caf\u00e9'\n"
    path = _write(tmp_path, "latin.py", source.encode("latin-1"))
    apply([tmp_path], STATIC, write=True)
    data = path.read_bytes()
    assert data == "# -*- coding: latin-1 -*-\nNAME: str = 'caf\u00e9'\n".encode("latin-1")


def test_byte_order_mark_is_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom.py", b"\xef\xbb\xbfdef f():\n    return True\n")
    apply([tmp_path], STATIC, write=True)
    assert path.read_bytes() == b"\xef\xbb\xbfdef f() -> bool:\n    return True\n"


def test_comments_and_formatting_are_kept(tmp_path: Path) -> None:
    source = (b"def f( a ,b=1 ):  # keep me\n"
              b"    # inside\n"
              b"    return  True  # and me\n")
    path = _write(tmp_path, "fmt.py", source)
    apply([tmp_path], STATIC, write=True)
    assert path.read_bytes() == (b"def f( a ,b: int = 1 ) -> bool:  # keep me\n"
                                 b"    # inside\n"
                                 b"    return  True  # and me\n")


def test_preview_writes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, "m.py", b"def f():\n    return 1\n")
    result = apply([tmp_path], STATIC)
    assert path.read_bytes() == b"def f():\n    return 1\n"
    assert [c.relpath for c in result.changes] == ["m.py"]
    assert "+def f() -> int:" in result.changes[0].diff()
    assert not result.written


def test_file_changed_on_disk_is_not_overwritten(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "m.py", b"def f():\n    return 1\n")
    import typeseer.apply.run as run

    original_write = run._write

    def edit_then_write(result: run.ApplyResult) -> None:
        path.write_bytes(b"def f():\n    return 2  # edited meanwhile\n")
        original_write(result)

    monkeypatch.setattr(run, "_write", edit_then_write)
    result = apply([tmp_path], STATIC, write=True)
    assert path.read_bytes() == b"def f():\n    return 2  # edited meanwhile\n"
    assert result.failed == ["m.py"]
    assert any("changed on disk" in d.message for d in result.diagnostics)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write read-only files")
def test_read_only_directory_gives_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    path = _write(directory, "m.py", b"def f():\n    return 1\n")
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = apply([directory], STATIC, write=True)
    finally:
        directory.chmod(stat.S_IRWXU)
    assert path.read_bytes() == b"def f():\n    return 1\n"
    assert result.failed == ["m.py"]
    assert any("cannot write" in d.message for d in result.diagnostics)


def test_read_only_file_gives_a_clear_error(tmp_path: Path) -> None:
    """Checked from the permission bits, so that it holds for root as well."""
    path = _write(tmp_path, "m.py", b"def f():\n    return 1\n")
    other = _write(tmp_path, "n.py", b"def g():\n    return 1\n")
    path.chmod(0o444)
    result = apply([tmp_path], STATIC, write=True)
    assert path.read_bytes() == b"def f():\n    return 1\n"
    assert other.read_bytes() == b"def g() -> int:\n    return 1\n"
    assert result.failed == ["m.py"]
    assert [d.message for d in result.diagnostics] == ["read-only file; not written"]


def test_permissions_are_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, "tool.py", b"#!/usr/bin/env python3\ndef f():\n    return 1\n")
    path.chmod(0o755)
    apply([tmp_path], STATIC, write=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert b"-> int" in path.read_bytes()


def test_unparsable_file_is_skipped_and_the_rest_annotated(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.py", b"def f(:\n")
    good = _write(tmp_path, "good.py", b"def g():\n    return 1\n")
    result = apply([tmp_path], STATIC, write=True)
    assert bad.read_bytes() == b"def f(:\n"
    assert good.read_bytes() == b"def g() -> int:\n    return 1\n"
    assert any(d.file == "bad.py" for d in result.diagnostics)


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    _write(tmp_path, "m.py", b"def f():\n    return 1\n")
    apply([tmp_path], STATIC, write=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.py"]


def test_every_written_file_compiles_and_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    _write(package, "__init__.py", b"")
    _write(package, "a.py", b"from .b import make\n\ndef get():\n    return make()\n")
    _write(package, "b.py", b"def make():\n    return Thing()\n\nclass Thing:\n    pass\n")
    apply([tmp_path], STATIC, write=True)
    import subprocess
    import sys

    checked = subprocess.run([sys.executable, "-c", "import pkg.a, pkg.b; print(pkg.a.get())"],
                             cwd=tmp_path, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert '-> "Thing"' in (package / "a.py").read_text()
    assert '-> "Thing"' in (package / "b.py").read_text()


def test_zero_files(tmp_path: Path) -> None:
    result = apply([tmp_path], STATIC, write=True)
    assert result.changes == [] and result.failed == []


def test_files_named_alike_in_different_directories(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # As pre-commit passes them: paths relative to the repository top.
    for package in ("a", "b"):
        (tmp_path / package).mkdir()
        _write(tmp_path / package, "__init__.py", b"def f():\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    result = apply(["a/__init__.py", "b/__init__.py"], STATIC, write=True)
    assert sorted(c.relpath for c in result.changes) == ["a/__init__.py", "b/__init__.py"]
    for package in ("a", "b"):
        assert (tmp_path / package / "__init__.py").read_bytes().startswith(b"def f() -> int:")


def test_same_relative_path_under_two_roots_is_reported(tmp_path: Path) -> None:
    for package in ("a", "b"):
        (tmp_path / package).mkdir()
        _write(tmp_path / package, "m.py", b"def f():\n    return 1\n")
    result = apply([tmp_path / "a", tmp_path / "b"], STATIC, write=True)
    assert result.changes == []
    assert sum("another root" in d.message for d in result.diagnostics) == 2
