"""Finding and reading the Python files of a project, with one clear diagnostic per bad input."""

from __future__ import annotations

import codecs
import errno
import fnmatch
import io
import os
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "Diagnostic",
    "Severity",
    "SourceFile",
    "UnreadableSource",
    "decode_source",
    "discover",
    "read_source",
]

#: Files above this size are skipped: they are almost always generated, and one of them
#: would dominate the run's time and memory.
DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024

#: Directories never entered: tool caches, virtual environments and VCS data.
_SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
     ".tox", ".nox", ".venv", "venv", ".eggs", "node_modules", ".typeseer_cache"}
)


class Severity(str, Enum):
    """How much a diagnostic matters to the user."""

    #: The file could not be analysed (syntax error, unreadable): reported on stderr.
    ERROR = "error"
    #: The file was deliberately skipped (too large, binary, symlink loop): reported on stderr.
    SKIPPED = "skipped"
    #: Worth knowing but normal (an empty file): only in structured output and with --verbose.
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One line about one input: which file, and why it was not (fully) analysed."""

    #: The path as the user would recognise it (relative to the root where possible).
    file: str
    #: Human-readable reason, one line.
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.file}: {self.severity.value}: {self.message}"


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A Python file found under a root the user named."""

    #: Absolute path on disk.
    path: Path
    #: POSIX path relative to the root given on the command line (the site key's ``file``).
    relpath: str
    #: The root it was found under.
    root: Path


def _excluded(relpath: str, patterns: Sequence[str]) -> bool:
    parts = relpath.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/") or pattern  # "build/" as in .gitignore: the directory
        if fnmatch.fnmatch(relpath, pattern):
            return True
        # A bare pattern such as "tests" or "*_pb2.py" also matches any path component.
        if "/" not in pattern and any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def _contains(outer: str, inner: str) -> bool:
    """Whether the real path ``inner`` is ``outer`` or below it."""
    try:
        return os.path.commonpath([outer, inner]) == outer
    except ValueError:  # different drives (Windows)
        return False


def _walk(root: Path, exclude: Sequence[str]) -> Iterator[SourceFile | Diagnostic]:
    root_real = os.path.realpath(root)
    seen_dirs: set[str] = set()
    stack = [root]
    while stack:
        directory = stack.pop()
        real = os.path.realpath(directory)
        rel_dir = directory.relative_to(root).as_posix()
        if real in seen_dirs:
            yield Diagnostic(rel_dir, "symlink loop (directory already visited), skipped",
                             Severity.SKIPPED)
            continue
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as error:
            yield Diagnostic(rel_dir, f"cannot list directory: {error.strerror}")
            continue
        subdirs: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            relpath = path.relative_to(root).as_posix()
            if _excluded(relpath, exclude):
                continue
            try:
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name in _SKIPPED_DIRS or entry.name.endswith(".egg-info"):
                    continue
                if entry.is_symlink():
                    # A link into the tree would list files under a second name (which one
                    # depends on the walk order); a link to an enclosing directory is a loop.
                    target = os.path.realpath(path)
                    if _contains(target, os.path.realpath(directory)) or _contains(target,
                                                                                   root_real):
                        yield Diagnostic(relpath, "symlink loop (link to an enclosing "
                                         "directory), skipped", Severity.SKIPPED)
                        continue
                    if _contains(root_real, target):
                        yield Diagnostic(relpath, "symlink to a directory inside the tree "
                                         "(analysed under its own name), skipped", Severity.INFO)
                        continue
                subdirs.append(path)
            elif entry.name.endswith(".py"):  # a dangling or looping link fails when read
                yield SourceFile(path, relpath, root)
        stack.extend(reversed(subdirs))


def discover(
    paths: Sequence[str | Path], exclude: Sequence[str] = ()
) -> tuple[list[SourceFile], list[Diagnostic]]:
    """The Python files under ``paths``, in a stable order, and diagnostics for bad paths."""
    files: list[SourceFile] = []
    diagnostics: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            diagnostics.append(Diagnostic(str(raw), "no such file or directory"))
            continue
        if path.is_dir():
            found = 0
            # Absolute (symlinks kept), so that SourceFile.path is absolute as documented.
            for item in _walk(Path(os.path.abspath(path)), exclude):
                if isinstance(item, Diagnostic):
                    diagnostics.append(item)
                else:
                    files.append(item)
                    found += 1
            if found == 0:
                diagnostics.append(
                    Diagnostic(str(raw), "no Python files found under this directory",
                               Severity.SKIPPED)
                )
        else:
            files.append(_single_file(path))
    return files, diagnostics


def _single_file(path: Path) -> SourceFile:
    """A file named on the command line keys its sites by the path as the user sees it
    (relative to the working directory), so that files of the same name in different
    directories stay apart; a file outside the working directory by its name."""
    absolute = Path(os.path.abspath(path))
    cwd = Path.cwd()
    try:
        relpath = absolute.relative_to(cwd).as_posix()
    except ValueError:
        return SourceFile(absolute, absolute.name, absolute.parent)
    return SourceFile(absolute, relpath, cwd)


class UnreadableSource(Exception):
    """The file cannot be turned into text; the message says why, in one line."""


def decode_source(data: bytes) -> str:
    """Decode Python source as the interpreter would (BOM, encoding cookie, UTF-8 default)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # UTF-32's start alike
        raise UnreadableSource("UTF-16 or UTF-32 text (byte order mark): Python reads source "
                               "only in ASCII-compatible encodings, skipped")
    if b"\0" in data:
        raise UnreadableSource("binary file (contains null bytes), skipped")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        if "missing" in str(error):  # detect_encoding read non-UTF-8 bytes and found no cookie
            raise UnreadableSource("not valid UTF-8 text and no encoding declaration, skipped") \
                from None
        if data.startswith(codecs.BOM_UTF8):
            raise UnreadableSource("the UTF-8 byte order mark contradicts the encoding "
                                   "declaration") from None
        raise UnreadableSource(f"bad encoding declaration: {error}") from None
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise UnreadableSource(f"not valid {encoding} text ({error.__class__.__name__}), skipped") \
            from None


def _megabytes(size: int, other: int) -> str:
    """``size`` in MB, with as many decimals as it takes to tell it from ``other``."""
    for decimals in range(1, 7):
        if round(size / 1e6, decimals) != round(other / 1e6, decimals):
            break
    return f"{size / 1e6:.{decimals}f}"


def read_source(source: SourceFile, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> str:
    """The text of ``source``; raises UnreadableSource with a one-line reason."""
    try:
        size = source.path.stat().st_size
        if size > max_bytes:
            raise UnreadableSource(
                f"file is {_megabytes(size, max_bytes)} MB, above the "
                f"{_megabytes(max_bytes, size)} MB limit "
                "(likely generated; raise --max-file-size to analyse it), skipped"
            )
        data = source.path.read_bytes()
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnreadableSource("symlink loop, skipped") from None
        raise UnreadableSource(f"cannot read: {error.strerror or error}") from None
    return decode_source(data)
