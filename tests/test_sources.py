"""Tests for typeseer.sources: discovering Python files and reading them as text."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from typeseer.sources import (
    DEFAULT_MAX_FILE_BYTES,
    Diagnostic,
    Severity,
    SourceFile,
    UnreadableSource,
    decode_source,
    discover,
    read_source,
)

FIXTURES = Path(__file__).parent / "fixtures"


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for relpath, content in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def relpaths(files: list[SourceFile]) -> list[str]:
    return [f.relpath for f in files]


# -- discover ---------------------------------------------------------------------------------

def test_discover_finds_python_files_in_stable_order(tmp_path: Path) -> None:
    make_tree(tmp_path, {
        "b.py": "", "a.py": "", "pkg/__init__.py": "", "pkg/z.py": "", "pkg/sub/m.py": "",
        "README.md": "", "data.txt": "", "script": "#!/usr/bin/env python\n", "stub.pyi": "",
    })
    files, diagnostics = discover([tmp_path])
    # A directory's files by name, then its subdirectories by name.
    assert relpaths(files) == ["a.py", "b.py", "pkg/__init__.py", "pkg/z.py", "pkg/sub/m.py"]
    assert diagnostics == []
    assert discover([tmp_path])[0] == files  # deterministic


def test_discover_relpaths_are_posix_and_relative_to_the_root(tmp_path: Path) -> None:
    make_tree(tmp_path, {"proj/pkg/sub/deep/mod.py": "x = 1\n"})
    files, _ = discover([tmp_path / "proj"])
    (found,) = files
    assert found.relpath == "pkg/sub/deep/mod.py"
    assert "\\" not in found.relpath and not found.relpath.startswith("/")
    assert found.root == tmp_path / "proj"
    assert found.path == tmp_path / "proj" / "pkg" / "sub" / "deep" / "mod.py"
    assert found.path.is_absolute()


def test_discover_with_a_relative_root_gives_absolute_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, {"proj/pkg/mod.py": "x = 1\n"})
    monkeypatch.chdir(tmp_path)
    for root in ("proj", "./proj", "proj/", Path("proj")):
        files, diagnostics = discover([root])
        assert relpaths(files) == ["pkg/mod.py"], root
        assert files[0].path.is_absolute()
        assert files[0].path.read_text() == "x = 1\n"
        assert diagnostics == []
    monkeypatch.chdir(tmp_path / "proj")
    files, _ = discover(["."])
    assert relpaths(files) == ["pkg/mod.py"]
    assert files[0].path == tmp_path / "proj" / "pkg" / "mod.py"


def test_discover_a_single_file(tmp_path: Path) -> None:
    make_tree(tmp_path, {"pkg/mod.py": "x = 1\n"})
    files, diagnostics = discover([tmp_path / "pkg" / "mod.py"])
    assert diagnostics == []
    (found,) = files
    assert found.relpath == "mod.py"
    assert found.path == tmp_path / "pkg" / "mod.py"


def test_a_file_under_the_working_directory_keeps_its_relative_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path, {"a/__init__.py": "", "b/__init__.py": ""})
    monkeypatch.chdir(tmp_path)
    files, _ = discover(["a/__init__.py", str(tmp_path / "b" / "__init__.py")])
    assert relpaths(files) == ["a/__init__.py", "b/__init__.py"]
    assert files[0].path == tmp_path / "a" / "__init__.py"


def test_discover_several_roots(tmp_path: Path) -> None:
    make_tree(tmp_path, {"one/a.py": "", "two/b.py": "", "three.py": ""})
    files, diagnostics = discover([tmp_path / "one", tmp_path / "two", tmp_path / "three.py"])
    assert relpaths(files) == ["a.py", "b.py", "three.py"]
    assert [f.root for f in files[:2]] == [tmp_path / "one", tmp_path / "two"]
    assert diagnostics == []


@pytest.mark.parametrize(
    ("exclude", "expected"),
    [
        ((), ["a_pb2.py", "main.py", "pkg/core.py", "pkg/tests/test_core.py",
              "tests/test_main.py"]),
        (("tests",), ["a_pb2.py", "main.py", "pkg/core.py"]),  # a bare name: any component
        (("*_pb2.py",), ["main.py", "pkg/core.py", "pkg/tests/test_core.py",
                         "tests/test_main.py"]),
        (("pkg/tests",), ["a_pb2.py", "main.py", "pkg/core.py", "tests/test_main.py"]),
        (("pkg/*",), ["a_pb2.py", "main.py", "tests/test_main.py"]),
        (("test_*.py",), ["a_pb2.py", "main.py", "pkg/core.py"]),
        (("tests/*.py", "main.py"), ["a_pb2.py", "pkg/core.py", "pkg/tests/test_core.py"]),
        (("tests/",), ["a_pb2.py", "main.py", "pkg/core.py"]),  # .gitignore style
        (("pkg/tests/",), ["a_pb2.py", "main.py", "pkg/core.py", "tests/test_main.py"]),
        (("nothing",), ["a_pb2.py", "main.py", "pkg/core.py", "pkg/tests/test_core.py",
                        "tests/test_main.py"]),
    ],
)
def test_discover_excludes(tmp_path: Path, exclude: tuple[str, ...], expected: list[str]) -> None:
    make_tree(tmp_path, {
        "main.py": "", "a_pb2.py": "", "pkg/core.py": "", "pkg/tests/test_core.py": "",
        "tests/test_main.py": "",
    })
    files, _ = discover([tmp_path], exclude=exclude)
    assert relpaths(files) == expected


def test_discover_skips_tool_and_vcs_directories(tmp_path: Path) -> None:
    skipped = [".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache",
               ".pytest_cache", ".tox", ".nox", ".venv", "venv", ".eggs", "node_modules",
               ".typeseer_cache", "typeseer.egg-info"]
    make_tree(tmp_path, {"keep.py": "", "pkg/keep.py": "",
                         **{f"{name}/drop.py": "" for name in skipped},
                         "pkg/__pycache__/drop.py": "", "pkg/.venv/lib/drop.py": ""})
    files, diagnostics = discover([tmp_path])
    assert relpaths(files) == ["keep.py", "pkg/keep.py"]
    assert diagnostics == []


def test_discover_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    files, diagnostics = discover([missing, tmp_path / "nope.py"])
    assert files == []
    assert [d.file for d in diagnostics] == [str(missing), str(tmp_path / "nope.py")]
    assert all(d.severity is Severity.ERROR for d in diagnostics)
    assert all("no such file" in d.message for d in diagnostics)


def test_discover_missing_path_does_not_stop_the_others(tmp_path: Path) -> None:
    make_tree(tmp_path, {"ok/a.py": ""})
    files, diagnostics = discover([tmp_path / "missing", tmp_path / "ok"])
    assert relpaths(files) == ["a.py"]
    assert len(diagnostics) == 1


def test_discover_directory_without_python_files(tmp_path: Path) -> None:
    make_tree(tmp_path, {"docs/index.md": "# hi\n", "docs/conf.txt": ""})
    files, diagnostics = discover([tmp_path / "docs"])
    assert files == []
    (diagnostic,) = diagnostics
    assert diagnostic.severity is Severity.SKIPPED
    assert diagnostic.file == str(tmp_path / "docs")
    assert "no Python files" in diagnostic.message


def test_discover_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    files, diagnostics = discover([tmp_path / "empty"])
    assert files == []
    assert [d.severity for d in diagnostics] == [Severity.SKIPPED]


def test_discover_directory_whose_files_are_all_excluded(tmp_path: Path) -> None:
    make_tree(tmp_path, {"gen/a_pb2.py": ""})
    files, diagnostics = discover([tmp_path / "gen"], exclude=["*_pb2.py"])
    assert files == []
    assert [d.severity for d in diagnostics] == [Severity.SKIPPED]


symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                              reason="needs POSIX symlinks")


def discover_with_deadline(paths: list[Path], seconds: float = 30.0
                           ) -> tuple[list[SourceFile], list[Diagnostic]]:
    """discover(), failing the test instead of hanging when it does not finish."""
    result: list[tuple[list[SourceFile], list[Diagnostic]]] = []
    worker = threading.Thread(target=lambda: result.append(discover(paths)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert result, f"discover() did not finish within {seconds} s"
    return result[0]


@symlinks
def test_discover_symlink_loop_between_directories(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/x.py": "", "b/y.py": ""})
    os.symlink("../b", tmp_path / "a" / "to_b")
    os.symlink("../a", tmp_path / "b" / "to_a")
    files, diagnostics = discover_with_deadline([tmp_path])
    # Each file once, under its own (not a linked) name, whatever the links' names sort as.
    assert relpaths(files) == ["a/x.py", "b/y.py"]
    assert diagnostics, "the links are reported"
    assert all(d.severity in (Severity.SKIPPED, Severity.INFO) for d in diagnostics)
    assert {d.file for d in diagnostics} == {"a/to_b", "b/to_a"}
    assert all("\n" not in str(d) for d in diagnostics)


@symlinks
def test_discover_symlink_to_an_enclosing_directory(tmp_path: Path) -> None:
    make_tree(tmp_path, {"pkg/mod.py": "", "pkg/sub/leaf.py": ""})
    os.symlink("..", tmp_path / "pkg" / "sub" / "up")
    os.symlink(".", tmp_path / "pkg" / "self")
    os.symlink(str(tmp_path), tmp_path / "pkg" / "root")
    os.symlink("/", tmp_path / "pkg" / "slash")  # never walk the whole file system
    files, diagnostics = discover_with_deadline([tmp_path / "pkg"])
    assert relpaths(files) == ["mod.py", "sub/leaf.py"]
    loops = {d.file for d in diagnostics if d.severity is Severity.SKIPPED}
    assert loops == {"sub/up", "self", "root", "slash"}
    assert all("loop" in d.message for d in diagnostics)


@symlinks
def test_discover_symlink_to_a_directory_outside_the_tree_is_followed(tmp_path: Path) -> None:
    make_tree(tmp_path, {"proj/main.py": "", "shared/lib.py": ""})
    os.symlink(tmp_path / "shared", tmp_path / "proj" / "vendored")
    os.symlink(tmp_path / "shared", tmp_path / "proj" / "vendored_again")
    files, diagnostics = discover([tmp_path / "proj"])
    assert relpaths(files) == ["main.py", "vendored/lib.py"]
    assert [d.file for d in diagnostics] == ["vendored_again"]  # visited once
    assert diagnostics[0].severity is Severity.SKIPPED


@symlinks
def test_discover_root_given_through_a_symlink(tmp_path: Path) -> None:
    make_tree(tmp_path, {"real/pkg/a.py": ""})
    os.symlink(tmp_path / "real", tmp_path / "link")
    files, diagnostics = discover([tmp_path / "link"])
    assert relpaths(files) == ["pkg/a.py"]
    assert files[0].path == tmp_path / "link" / "pkg" / "a.py"
    assert diagnostics == []


@symlinks
def test_self_referencing_symlink_file(tmp_path: Path) -> None:
    make_tree(tmp_path, {"ok.py": "x = 1\n"})
    os.symlink("loop.py", tmp_path / "loop.py")
    files, diagnostics = discover([tmp_path])
    assert diagnostics == []
    assert relpaths(files) == ["loop.py", "ok.py"]
    with pytest.raises(UnreadableSource, match="symlink loop"):
        read_source(files[0])
    assert read_source(files[1]) == "x = 1\n"


@symlinks
def test_self_referencing_symlink_given_directly(tmp_path: Path) -> None:
    os.symlink("loop.py", tmp_path / "loop.py")
    files, diagnostics = discover([tmp_path / "loop.py"])
    assert diagnostics == []
    with pytest.raises(UnreadableSource, match="symlink loop"):
        read_source(files[0])


@symlinks
def test_dangling_symlink(tmp_path: Path) -> None:
    os.symlink("gone.py", tmp_path / "dangling.py")
    files, _ = discover([tmp_path])
    assert relpaths(files) == ["dangling.py"]
    with pytest.raises(UnreadableSource, match="cannot read"):
        read_source(files[0])


@pytest.mark.skipif(os.name == "nt" or (hasattr(os, "geteuid") and os.geteuid() == 0),
                    reason="root reads everything")
def test_unreadable_directory(tmp_path: Path) -> None:
    make_tree(tmp_path, {"ok.py": "", "locked/secret.py": ""})
    (tmp_path / "locked").chmod(0)
    try:
        files, diagnostics = discover([tmp_path])
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert relpaths(files) == ["ok.py"]
    assert [d.file for d in diagnostics] == ["locked"]
    assert "cannot list" in diagnostics[0].message


def test_discover_fixture_tree() -> None:
    files, diagnostics = discover([FIXTURES / "tree"], exclude=["*_pb2.py"])
    assert relpaths(files) == ["setup.py", "app/__init__.py", "app/cache.py",
                               "app/util/__init__.py", "app/util/text.py"]
    assert diagnostics == []


def test_diagnostic_str_is_one_line() -> None:
    diagnostic = Diagnostic("pkg/a.py", "syntax error at line 3: invalid syntax")
    assert str(diagnostic) == "pkg/a.py: error: syntax error at line 3: invalid syntax"
    assert str(Diagnostic("x.py", "too big", Severity.SKIPPED)) == "x.py: skipped: too big"


# -- read_source / decode_source --------------------------------------------------------------

def source_file(tmp_path: Path, name: str, content: bytes) -> SourceFile:
    path = tmp_path / name
    path.write_bytes(content)
    return SourceFile(path, name, tmp_path)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"", ""),
        (b"x = 1\n", "x = 1\n"),
        ("s = 'h\u00e9llo \u4e16\u754c'\n".encode(), "s = 'h\u00e9llo \u4e16\u754c'\n"),
        (b"\xef\xbb\xbfx = 1\n", "x = 1\n"),  # the BOM is not part of the text
        (b"# -*- coding: latin-1 -*-\ns = '\xe9'\n", "# -*- coding: latin-1 -*-\ns = '\u00e9'\n"),
        (b"#!/usr/bin/env python\n# coding=cp1252\ns = '\x80'\n",
         "#!/usr/bin/env python\n# coding=cp1252\ns = '\u20ac'\n"),
        (b"# vim: set fileencoding=utf-8 :\nx = 1\n", "# vim: set fileencoding=utf-8 :\nx = 1\n"),
        (b"x = 1\r\ny = 2\r\n", "x = 1\r\ny = 2\r\n"),  # line ends are the parser's business
    ],
)
def test_decode_source(data: bytes, text: str) -> None:
    assert decode_source(data) == text


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x = 1\n\0\0\0", "binary"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "binary"),
        (b"x = 1\ns = '\xe9'\n", "not valid utf-8"),  # latin-1 byte, no cookie
        (b"s = '\xff\xfe'\n", ""),  # on the first line: reported by the cookie check
        (b"# -*- coding: no-such-codec -*-\nx = 1\n", "encoding"),
        (b"\xef\xbb\xbf# coding: latin-1\nx = 1\n", "encoding"),  # BOM contradicts the cookie
        (b"# coding: ascii\ns = '\xc3\xa9'\n", "not valid ascii"),
    ],
)
def test_decode_source_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableSource) as error:
        decode_source(data)
    message = str(error.value)
    assert reason in message
    assert "\n" not in message


def test_read_source(tmp_path: Path) -> None:
    source = source_file(tmp_path, "m.py", b"# coding: latin-1\nname = '\xe9t\xe9'\n")
    assert read_source(source) == "# coding: latin-1\nname = '\u00e9t\u00e9'\n"


def test_read_source_empty_file(tmp_path: Path) -> None:
    assert read_source(source_file(tmp_path, "empty.py", b"")) == ""


def test_read_source_binary_file(tmp_path: Path) -> None:
    source = source_file(tmp_path, "blob.py", bytes(range(256)) * 4)
    with pytest.raises(UnreadableSource, match="null bytes"):
        read_source(source)


def test_read_source_non_utf8(tmp_path: Path) -> None:
    source = source_file(tmp_path, "legacy.py", b"x = 1\n# caf\xe9\n")
    with pytest.raises(UnreadableSource, match="utf-8"):
        read_source(source)


def test_read_source_above_the_size_limit(tmp_path: Path) -> None:
    source = source_file(tmp_path, "big.py", b"x = 1\n" * 100)
    with pytest.raises(UnreadableSource, match="limit") as error:
        read_source(source, max_bytes=100)
    assert "\n" not in str(error.value)
    assert read_source(source, max_bytes=600) == "x = 1\n" * 100  # exactly at the limit


def test_default_size_limit_is_generous(tmp_path: Path) -> None:
    assert DEFAULT_MAX_FILE_BYTES >= 1024 * 1024
    source = source_file(tmp_path, "ok.py", b"x = 1\n" * 10_000)
    assert read_source(source).count("\n") == 10_000


def test_read_source_missing_file(tmp_path: Path) -> None:
    source = SourceFile(tmp_path / "gone.py", "gone.py", tmp_path)
    with pytest.raises(UnreadableSource, match="cannot read"):
        read_source(source)


def test_read_source_directory_named_like_a_file(tmp_path: Path) -> None:
    (tmp_path / "odd.py").mkdir()
    with pytest.raises(UnreadableSource, match="cannot read"):
        read_source(SourceFile(tmp_path / "odd.py", "odd.py", tmp_path))


def test_read_fixture_with_latin1_cookie() -> None:
    path = FIXTURES / "encodings" / "latin1_cookie.py"
    text = read_source(SourceFile(path, "latin1_cookie.py", path.parent))
    assert "caf\u00e9" in text


def test_read_fixture_with_bom() -> None:
    path = FIXTURES / "encodings" / "utf8_bom.py"
    text = read_source(SourceFile(path, "utf8_bom.py", path.parent))
    assert not text.startswith("\ufeff")
    assert text.startswith('"""')
