"""Verifying inserted annotations with a real type checker (mypy, pyright or pyrefly).

After ``typeseer apply`` has chosen annotations, this module runs the checker on the project as
it is and again with the annotations in place, and removes the annotations that add errors,
re-checking until no new error remains (the search of TypeWriter, with the checker as the
verifier). It never touches the user's files: the project is copied to a temporary directory
and every round is checked there.

An error is *new* when its ``(file, code, message)`` occurs more often than in the baseline.
Lines are not part of that key, because inserting an import shifts every line below it; where
a key occurs more often, the instances that do not sit where a baseline instance moved to are
taken as the new ones (all of them when that cannot be told: dropping too much is the safe
direction). A new error is blamed on

1. the candidates of its file whose annotation is on the error's line; else
2. the candidates of the innermost def/class around the error that holds any (the module's own
   candidates only for an error outside every def and class); else
3. nobody in its file (a return annotation in ``a.py`` breaks a caller in ``b.py``): the culprit
   is found by bisecting the kept candidates, re-checking halves (delta debugging).

Each checker run after the baseline is a *round*. When ``max_rounds`` are spent with new
errors left, the largest set of candidates that was checked clean is kept (the empty set,
the baseline, at worst), so the outcome never leaves a new error.
"""

from __future__ import annotations

import ast
import bisect
import contextlib
import difflib
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePath
from typing import Any

from typeseer.fileio import atomic_write_bytes

__all__ = [
    "BUDGET_EXHAUSTED",
    "DEFAULT_TIMEOUT_S",
    "Candidate",
    "Checker",
    "CheckerError",
    "Rendering",
    "VerifyError",
    "VerifyOutcome",
    "checker_command",
    "parse_output",
    "run_checker",
    "verify",
]

#: Seconds one checker run may take before it counts as hung.
DEFAULT_TIMEOUT_S = 600.0

#: The drop reason of candidates given up when the round budget ran out.
BUDGET_EXHAUSTED = "verification budget exhausted"


class Checker(str, Enum):
    """The type checkers that can verify annotations."""

    #: mypy: incremental across rounds (its cache lives in the temporary copy).
    MYPY = "mypy"
    #: pyright (the PyPI wrapper or the npm package; needs node).
    PYRIGHT = "pyright"
    #: pyrefly; an unconfigured project is checked with its ``default`` preset.
    PYREFLY = "pyrefly"


class VerifyError(Exception):
    """The checker cannot be run, crashed, timed out or printed output that cannot be read."""


@dataclass(frozen=True, slots=True)
class CheckerError:
    """One error reported by a checker."""

    #: POSIX path relative to the checked root.
    file: str
    #: 1-based line (0 when the checker names none).
    line: int
    #: The checker's error code (``arg-type``, ``reportArgumentType``, ``bad-argument-type``);
    #: ``""`` when it gives none.
    code: str
    #: The message as the checker prints it.
    message: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """An annotation that verification may keep or drop."""

    #: Identifies the candidate in ``render`` and in the outcome.
    id: int
    #: Relative path of the file the annotation goes into.
    file: str


@dataclass(frozen=True, slots=True)
class Rendering:
    """The project with a subset of the candidates inserted (what ``render`` returns)."""

    #: Relative path -> full new text, for each file that the kept subset changes.
    texts: Mapping[str, str]
    #: Candidate id -> 1-based line of its annotation in the new text.
    lines: Mapping[int, int]
    #: Candidate id -> (first, last) line of the innermost def/class around the site in the new
    #: text; ``(1, last line of the file)`` at module level.
    scopes: Mapping[int, tuple[int, int]]


@dataclass(slots=True)
class VerifyOutcome:
    """What verification kept and dropped."""

    #: Candidates whose annotations the checker accepts together.
    kept: frozenset[int]
    #: Candidate id -> reason: the checker message (``file:line: message [code]``) that caused
    #: the drop, or BUDGET_EXHAUSTED.
    dropped: dict[int, str]
    #: Errors the checker reports on the unchanged files.
    baseline_errors: int
    #: New errors left with the kept candidates: always empty (kept as a check for callers).
    new_errors: list[CheckerError]
    #: Checker runs after the baseline.
    rounds: int
    #: Wall-clock time of the whole verification.
    seconds: float


# --- Running a checker -------------------------------------------------------------------------

#: Configuration files that the checkers read, copied with the project.
CONFIG_FILES = frozenset({
    "pyproject.toml", "setup.cfg", "mypy.ini", ".mypy.ini", "pyrightconfig.json", "pyrefly.toml",
})

#: How much of a failing checker's output goes into the error message.
_TAIL_CHARS = 2000


#: Keeps the working directory (the project) out of ``sys.path`` for ``python -m CHECKER``:
#: a ``mypy.py`` in the project must not run in the checker's place.
_SAFE_PATH = ("-P",) if sys.version_info >= (3, 11) else ("-I",)


def checker_command(checker: Checker) -> list[str]:
    """The command that starts ``checker``: its executable on PATH, beside the running Python
    (an unactivated virtualenv), or ``python -m CHECKER`` when the module is importable."""
    name = checker.value
    found = shutil.which(name)
    if found is None:
        beside = Path(sys.executable).parent / (name + (".exe" if os.name == "nt" else ""))
        found = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None
    if found is not None:
        return [found]
    if importlib.util.find_spec(name) is not None:
        return [sys.executable, *_SAFE_PATH, "-m", name]
    raise VerifyError(f"{name} not found: pip install 'typeseer[{name}]'")


def run_checker(checker: Checker, root: Path, files: Sequence[str], *,
                timeout_s: float = DEFAULT_TIMEOUT_S,
                cache_dir: Path | None = None) -> list[CheckerError]:
    """Run ``checker`` in ``root`` on ``files`` (paths relative to it) and return its errors.

    The project's own configuration applies because the checker runs in ``root``. Only errors
    count (not notes, warnings or information). ``cache_dir`` is mypy's cache (ignored by the
    other checkers). Raises VerifyError when the checker is missing, crashes, stops on a
    blocking error, times out or prints output that cannot be read.
    """
    if not files:
        return []
    prefix = checker_command(checker)
    command = [*prefix, *_arguments(checker, prefix, root, cache_dir), *files]
    completed = _run(command, root, timeout_s, checker)
    _raise_on_failure(checker, completed)
    errors = parse_output(checker, completed.stdout, root)
    if checker is Checker.MYPY and completed.returncode == 1 and not errors:
        raise VerifyError(f"mypy reported errors that could not be read:\n{_tail(completed)}")
    return errors


def _arguments(checker: Checker, prefix: Sequence[str], root: Path,
               cache_dir: Path | None) -> list[str]:
    if checker is Checker.MYPY:
        cache = ["--cache-dir", str(cache_dir)] if cache_dir is not None else []
        if _mypy_has_json_output(tuple(prefix)):
            return ["-O", "json", "--no-error-summary", *cache]
        return ["--show-error-codes", "--show-column-numbers", "--no-error-summary",
                "--no-pretty", "--hide-error-context", "--no-color-output", *cache]
    if checker is Checker.PYRIGHT:
        return ["--outputjson"]
    arguments = ["check", "--output-format", "json"]
    if not _has_pyrefly_config(root) and _pyrefly_has_presets(tuple(prefix)):
        # Unconfigured, pyrefly uses its "basic" preset, which skips most checks (a wrong
        # return annotation passes): verification needs the checks a configured project gets.
        arguments += ["--preset", "default"]
    return arguments


def _run(command: Sequence[str], cwd: Path, timeout_s: float,
         checker: Checker) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                              errors="replace", timeout=timeout_s, stdin=subprocess.DEVNULL,
                              check=False)
    except subprocess.TimeoutExpired:
        raise VerifyError(f"{checker.value} did not finish within {timeout_s:g} s") from None
    except OSError as error:
        raise VerifyError(f"{checker.value} could not be started: {error}") from None


def _raise_on_failure(checker: Checker, completed: subprocess.CompletedProcess[str]) -> None:
    """Exit codes 0 (clean) and 1 (errors found) are results; anything else is a failure:
    mypy's 2 is a crash or a blocking error (a syntax error, a duplicate module), pyright's
    2-4 a fatal, configuration or usage error, pyrefly's others a panic."""
    if completed.returncode in (0, 1):
        return
    raise VerifyError(f"{checker.value} failed (exit status {completed.returncode}):\n"
                      f"{_tail(completed)}")


def _tail(completed: subprocess.CompletedProcess[str]) -> str:
    text = "\n".join(part.strip() for part in (completed.stdout, completed.stderr)
                     if part.strip())
    return text[-_TAIL_CHARS:] if text else "(no output)"


@functools.cache
def _mypy_has_json_output(prefix: tuple[str, ...]) -> bool:
    """``-O json`` exists from mypy 1.11 on; older ones get the one-line text format."""
    help_text = _help_text([*prefix, "--help"])
    return "--output FORMAT" in help_text or "--output=FORMAT" in help_text


@functools.cache
def _pyrefly_has_presets(prefix: tuple[str, ...]) -> bool:
    return "--preset" in _help_text([*prefix, "check", "--help"])


def _help_text(command: Sequence[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, encoding="utf-8",
                                   errors="replace", timeout=60, stdin=subprocess.DEVNULL,
                                   check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return completed.stdout + completed.stderr


def _has_pyrefly_config(root: Path) -> bool:
    if (root / "pyrefly.toml").is_file():
        return True
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return re.search(r"^\s*\[tool\.pyrefly[\].]", text, re.MULTILINE) is not None


# --- Reading a checker's output ----------------------------------------------------------------

#: mypy's one-line form: ``file:line[:col]: error: message  [code]`` (line missing for
#: whole-file errors). Drive letters are allowed in the path.
_MYPY_LINE = re.compile(
    r"^(?P<file>(?:[A-Za-z]:)?[^:\n]+):(?:(?P<line>\d+):)?(?:\d+:)? "
    r"(?P<severity>error|warning|note): (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$")


def parse_output(checker: Checker, output: str, root: Path) -> list[CheckerError]:
    """The errors in a checker's machine-readable output, paths made relative to ``root``.

    mypy's output may be its JSON lines (``-O json``) or its one-line text form; pyright's is
    ``--outputjson``, pyrefly's ``--output-format json``. Raises VerifyError when JSON output
    cannot be read.
    """
    if checker is Checker.MYPY:
        return _parse_mypy(output, root)
    document = _json_document(checker, output)
    if checker is Checker.PYRIGHT:
        return _parse_pyright(document, root)
    return _parse_pyrefly(document, root)


def _parse_mypy(output: str, root: Path) -> list[CheckerError]:
    errors: list[CheckerError] = []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                raise VerifyError(f"mypy printed a line that is not JSON: {line[:200]}") from None
            if isinstance(entry, dict) and entry.get("severity") == "error":
                errors.append(CheckerError(
                    file=_relative(str(entry.get("file", "")), root),
                    line=max(_as_int(entry.get("line")), 0),
                    code=str(entry.get("code") or ""),
                    message=str(entry.get("message", ""))))
            continue
        match = _MYPY_LINE.match(line)
        if match is not None and match["severity"] == "error":
            errors.append(CheckerError(
                file=_relative(match["file"], root), line=int(match["line"] or 0),
                code=match["code"] or "", message=match["message"]))
    return errors


def _json_document(checker: Checker, output: str) -> dict[str, Any]:
    """The JSON object in the output; text a wrapper printed before it is skipped."""
    start = output.find("{")
    try:
        if start < 0:
            raise ValueError("no JSON object")
        document, _ = json.JSONDecoder().raw_decode(output, start)
    except ValueError:
        shown = output.strip()[-_TAIL_CHARS:] or "(no output)"
        raise VerifyError(f"could not read {checker.value}'s JSON output:\n{shown}") from None
    if not isinstance(document, dict):
        raise VerifyError(f"{checker.value}'s JSON output is not an object")
    return document


def _parse_pyright(document: Mapping[str, Any], root: Path) -> list[CheckerError]:
    errors: list[CheckerError] = []
    for entry in _entries(document, "generalDiagnostics", Checker.PYRIGHT):
        if entry.get("severity") != "error":
            continue
        start = entry.get("range", {}).get("start", {})
        line = _as_int(start.get("line"), default=-1) + 1  # pyright counts lines from 0
        errors.append(CheckerError(
            file=_relative(str(entry.get("file", "")), root), line=max(line, 0),
            code=str(entry.get("rule") or ""), message=str(entry.get("message", ""))))
    return errors


def _parse_pyrefly(document: Mapping[str, Any], root: Path) -> list[CheckerError]:
    errors: list[CheckerError] = []
    for entry in _entries(document, "errors", Checker.PYREFLY):
        if entry.get("severity", "error") != "error":
            continue
        errors.append(CheckerError(
            file=_relative(str(entry.get("path", "")), root),
            line=max(_as_int(entry.get("line")), 0),
            code=str(entry.get("name") or ""),
            message=str(entry.get("description") or entry.get("concise_description") or "")))
    return errors


def _entries(document: Mapping[str, Any], key: str, checker: Checker) -> list[dict[str, Any]]:
    entries = document.get(key)
    if not isinstance(entries, list):
        raise VerifyError(f"{checker.value}'s JSON output has no {key!r} list")
    return [entry for entry in entries if isinstance(entry, dict)]


def _as_int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _relative(path: str, root: Path) -> str:
    """A checker's path as a POSIX path relative to ``root`` (unchanged when outside it)."""
    candidate = Path(path)
    if candidate.is_absolute():
        with contextlib.suppress(ValueError, OSError):
            return candidate.resolve().relative_to(root.resolve()).as_posix()
        return candidate.as_posix()
    return PurePath(path).as_posix()


# --- The temporary copy ------------------------------------------------------------------------

#: Directories never copied, besides hidden ones and virtualenvs.
_SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules", "site-packages"})


def _is_environment(directory: Path) -> bool:
    return (directory / "pyvenv.cfg").is_file() or (directory / "conda-meta").is_dir()


def _is_skipped(directory: Path) -> bool:
    name = directory.name
    return (name.startswith(".") or name in _SKIPPED_DIRECTORIES or name.endswith(".egg-info")
            or _is_environment(directory))


def _is_copied(name: str) -> bool:
    return name.endswith((".py", ".pyi")) or name == "py.typed" or name in CONFIG_FILES


def _project_files(root: Path) -> Iterator[Path]:
    """The files a checker reads from the project, found without entering skipped trees."""
    for directory, subdirectories, names in os.walk(root):
        here = Path(directory)
        subdirectories[:] = sorted(name for name in subdirectories
                                   if not _is_skipped(here / name))
        for name in sorted(names):
            if _is_copied(name):
                yield here / name


#: Markers of a repository's top: mypy stops looking upward for configuration there.
_REPOSITORY_MARKERS = (".git", ".hg")


def _ancestors_to_repository_top(root: Path) -> list[Path]:
    """The directories above ``root`` up to its repository's top, whose configuration files
    the checkers read too when run in ``root``; none when ``root`` is not inside a repository
    below its top (configuration further up is then not carried over)."""
    if _is_repository_top(root):
        return []
    ancestors: list[Path] = []
    for directory in root.parents:
        ancestors.append(directory)
        if _is_repository_top(directory):
            return ancestors
    return []


def _is_repository_top(directory: Path) -> bool:
    return any((directory / marker).exists() for marker in _REPOSITORY_MARKERS)


class _Workspace:
    """A copy of the project in a temporary directory, showing one subset of the candidates.

    When ``root`` lies below its repository's top, the copy sits at the same place below a
    mirror of that top holding the configuration files (and ``__init__.py`` files) of the
    directories in between: a ``pyproject.toml`` at the top still applies to ``src/``, and
    module names stay the same. The copy's top is marked as a repository top so that no
    configuration above the temporary directory is picked up.

    Files are rewritten only when their content changes, and each write gets a fresh mtime so
    that mypy's cache (which trusts an unchanged size and whole-second mtime) sees every change.
    """

    def __init__(self, root: Path, directory: Path) -> None:
        root = root.resolve()
        ancestors = _ancestors_to_repository_top(root)
        top = ancestors[-1] if ancestors else root
        mirror = directory / "tree" / (top.name or "project")
        self.tree = mirror / root.relative_to(top)
        self.cache = directory / "cache"
        self._original: dict[str, bytes] = {}
        self._shown: dict[str, bytes] = {}
        self._stamp = int(time.time())
        for path in _project_files(root):
            relpath = path.relative_to(root).as_posix()
            data = _read(path)
            if data is not None:
                self._original[relpath] = data
                atomic_write_bytes(self.tree / relpath, data)
        self.tree.mkdir(parents=True, exist_ok=True)
        for ancestor in ancestors:
            for name in sorted(CONFIG_FILES | {"__init__.py"}):
                data = _read(ancestor / name)
                if data is not None:
                    atomic_write_bytes(mirror / ancestor.relative_to(top) / name, data)
        (mirror / _REPOSITORY_MARKERS[-1]).mkdir(exist_ok=True)
        for source in [root, *ancestors]:
            _link_environments(source, mirror / source.relative_to(top))

    def show(self, texts: Mapping[str, str]) -> None:
        """Make the copy the original project with ``texts`` in place of their files."""
        wanted = {relpath: text.encode("utf-8") for relpath, text in texts.items()}
        for relpath in sorted(set(wanted) | set(self._shown)):
            data = wanted.get(relpath, self._original.get(relpath))
            if data is None:  # a file the rendering added earlier and no longer does
                with contextlib.suppress(FileNotFoundError):
                    (self.tree / _safe(relpath)).unlink()
                self._shown.pop(relpath, None)
                continue
            if data == self._shown.get(relpath, self._original.get(relpath)):
                continue
            path = self.tree / _safe(relpath)
            atomic_write_bytes(path, data)
            self._stamp += 1
            os.utime(path, (self._stamp, self._stamp))
            if relpath in wanted:
                self._shown[relpath] = data
            else:
                self._shown.pop(relpath, None)

    def original_text(self, relpath: str) -> str | None:
        return _decode(self._original.get(relpath))

    def shown_text(self, relpath: str) -> str | None:
        return _decode(self._shown.get(relpath, self._original.get(relpath)))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError:
        return None


def _link_environments(source: Path, target: Path) -> None:
    """Virtualenvs are linked, not copied, so that configuration naming them (pyright's
    ``venv``, a relative interpreter path) still finds them."""
    with contextlib.suppress(OSError):
        for entry in sorted(source.iterdir()):
            if entry.is_dir() and _is_environment(entry):
                with contextlib.suppress(OSError):
                    (target / entry.name).symlink_to(entry.resolve(), target_is_directory=True)


def _safe(relpath: str) -> str:
    path = PurePath(relpath)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"rendered path is not inside the project: {relpath!r}")
    return relpath


def _decode(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


# --- New errors ---------------------------------------------------------------------------------

_ErrorKey = tuple[str, str, str]


#: Codes whose message changes when a definition gets some of its annotations ("missing a type
#: annotation" becomes "missing a type annotation for one or more arguments"): the same error.
_MESSAGE_VARIES = frozenset({"no-untyped-def"})


def _key(error: CheckerError) -> _ErrorKey:
    """What identifies an error across rounds: line numbers inside messages ("defined on line
    5") move with inserted imports, so they are left out like the error's own line."""
    if error.code in _MESSAGE_VARIES:
        return error.file, error.code, ""
    return error.file, error.code, re.sub(r"\bline \d+", "line N", error.message)


def _line_mapping(before: str | None, after: str | None) -> Callable[[int], int | None]:
    """Where each line of ``before`` went in ``after`` (None where it was changed)."""
    if before is None or after is None or before == after:
        return lambda line: line
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(),
                                      autojunk=False)
    blocks = [block for block in matcher.get_matching_blocks() if block.size]
    starts = [block.a for block in blocks]

    def moved(line: int) -> int | None:
        index = bisect.bisect_right(starts, line - 1) - 1
        if index < 0:
            return None
        block = blocks[index]
        offset = line - 1 - block.a
        return block.b + offset + 1 if offset < block.size else None

    return moved


def _new_errors(baseline: Sequence[CheckerError], current: Sequence[CheckerError],
                workspace: _Workspace) -> list[CheckerError]:
    """The errors of ``current`` that the baseline does not account for (see the module
    docstring)."""
    before: defaultdict[_ErrorKey, list[CheckerError]] = defaultdict(list)
    for error in baseline:
        before[_key(error)].append(error)
    after: defaultdict[_ErrorKey, list[CheckerError]] = defaultdict(list)
    for error in current:
        after[_key(error)].append(error)
    mappings: dict[str, Callable[[int], int | None]] = {}
    new: list[CheckerError] = []
    for key, errors in after.items():
        old = before.get(key, [])
        excess = len(errors) - len(old)
        if excess <= 0:
            continue
        file = key[0]
        if file not in mappings:
            mappings[file] = _line_mapping(workspace.original_text(file),
                                           workspace.shown_text(file))
        moved_lines = Counter(mappings[file](error.line) for error in old)
        unmatched: list[CheckerError] = []
        for error in errors:
            if moved_lines[error.line] > 0:
                moved_lines[error.line] -= 1
            else:
                unmatched.append(error)
        new.extend(unmatched if len(unmatched) >= excess else errors)
    return sorted(new, key=lambda error: (error.file, error.line, error.code, error.message))


def _describe(error: CheckerError) -> str:
    code = f"  [{error.code}]" if error.code else ""
    return f"{error.file}:{error.line}: {error.message}{code}"


# --- Blame --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _definition_ranges(text: str | None) -> tuple[tuple[int, int], ...] | None:
    """The (first, last) lines of every def and class in ``text``; None when it cannot be
    parsed. Cached: a round asks once per error, about a few files."""
    if text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    return tuple((node.lineno, node.end_lineno or node.lineno) for node in ast.walk(tree)
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))


def _blame_in_file(error: CheckerError, suspects: Sequence[Candidate], rendering: Rendering,
                   text: str | None) -> list[int]:
    """The candidates of the error's own file that explain it: those on its line, else those
    of the innermost scope around it (see the module docstring); empty when none do."""
    on_line = [candidate.id for candidate in suspects
               if rendering.lines.get(candidate.id) == error.line]
    if on_line:
        return on_line
    around = [(scope, candidate.id) for candidate in suspects
              if (scope := rendering.scopes.get(candidate.id)) is not None
              and scope[0] <= error.line <= scope[1]]
    if not around:
        return []
    innermost = min((scope for scope, _ in around), key=lambda scope: scope[1] - scope[0])
    module_wide = innermost[0] <= 1 and text is not None and innermost[1] >= _line_count(text)
    if module_wide:
        definitions = _definition_ranges(text)
        if definitions is None or any(first <= error.line <= last
                                      for first, last in definitions):
            return []  # inside a def or class that has no candidate: look elsewhere
    return [identifier for scope, identifier in around if scope == innermost]


def _line_count(text: str) -> int:
    return max(len(text.splitlines()), 1)


# --- The search ---------------------------------------------------------------------------------

_NO_RENDERING = Rendering(texts={}, lines={}, scopes={})


@dataclass(slots=True)
class _Search:
    """One verification: the rounds, what is kept and dropped, the best clean subset seen."""

    workspace: _Workspace
    checker: Checker
    files: list[str]
    candidates: dict[int, Candidate]
    render: Callable[[frozenset[int]], Rendering]
    max_rounds: int
    timeout_s: float
    baseline: list[CheckerError] = field(default_factory=list)
    dropped: dict[int, str] = field(default_factory=dict)
    rounds: int = 0
    best_clean: frozenset[int] = frozenset()

    def check(self, kept: frozenset[int]) -> tuple[list[CheckerError], Rendering]:
        """One round: the new errors with ``kept`` inserted, and the rendering checked."""
        rendering = self.render(kept) if kept else _NO_RENDERING
        self.workspace.show(rendering.texts)
        errors = run_checker(self.checker, self.workspace.tree, self.files,
                             timeout_s=self.timeout_s, cache_dir=self.workspace.cache)
        self.rounds += 1
        new = _new_errors(self.baseline, errors, self.workspace)
        if not new and len(kept) > len(self.best_clean):
            self.best_clean = kept
        return new, rendering

    def run(self) -> frozenset[int]:
        """Drop candidates until the kept ones add no error; returns the kept ones."""
        self.workspace.show({})
        self.baseline = run_checker(self.checker, self.workspace.tree, self.files,
                                    timeout_s=self.timeout_s, cache_dir=self.workspace.cache)
        kept = frozenset(self.candidates)
        while kept:
            if self.rounds >= self.max_rounds:
                return self._give_up(kept)
            new, rendering = self.check(kept)
            if not new:
                return kept
            blamed = self._blame(new, kept, rendering)
            if not blamed:
                culprit = self._bisect(kept, new)
                if culprit is None:
                    return self._give_up(kept)
                blamed = dict([culprit])
            self.dropped.update(blamed)
            kept = kept - blamed.keys()
        return kept

    def _blame(self, new: Sequence[CheckerError], kept: frozenset[int],
               rendering: Rendering) -> dict[int, str]:
        by_file: defaultdict[str, list[Candidate]] = defaultdict(list)
        for identifier in sorted(kept):
            by_file[self.candidates[identifier].file].append(self.candidates[identifier])
        blamed: dict[int, str] = {}
        for error in new:
            text = self.workspace.shown_text(error.file)
            for identifier in _blame_in_file(error, by_file.get(error.file, []), rendering, text):
                blamed.setdefault(identifier, _describe(error))
        return blamed

    def _bisect(self, kept: frozenset[int],
                new: Sequence[CheckerError]) -> tuple[int, str] | None:
        """One candidate whose annotation brings back the errors nobody in their file explains:
        the shortest prefix of the kept candidates (in a fixed order) that shows one of them
        ends with it. None when the rounds run out first."""
        targets = {_key(error) for error in new}
        suspects = sorted(kept, key=lambda identifier: (self.candidates[identifier].file,
                                                        identifier))
        witness = new[0]
        low, high = 0, len(suspects)  # suspects[:low] shows no target; suspects[:high] does
        while high - low > 1:
            if self.rounds >= self.max_rounds:
                return None
            middle = (low + high) // 2
            errors, _ = self.check(frozenset(suspects[:middle]))
            hits = [error for error in errors if _key(error) in targets]
            if hits:
                high, witness = middle, hits[0]
            else:
                low = middle
        return suspects[low], _describe(witness)

    def _give_up(self, kept: frozenset[int]) -> frozenset[int]:
        """Keep the largest subset that was checked clean (exactly that subset: a part of a
        clean subset was never checked); everything else is dropped."""
        for identifier in self.best_clean:
            self.dropped.pop(identifier, None)
        for identifier in sorted(kept - self.best_clean):
            self.dropped[identifier] = BUDGET_EXHAUSTED
        return self.best_clean


def verify(root: Path, checker: Checker, files: Sequence[str], candidates: Sequence[Candidate],
           render: Callable[[frozenset[int]], Rendering], *, max_rounds: int = 10,
           timeout_s: float = DEFAULT_TIMEOUT_S) -> VerifyOutcome:
    """Keep the candidates whose annotations add no checker error to the project under ``root``.

    ``files`` are the paths (relative to ``root``) the checker checks; the files of the
    candidates are added. ``render(kept)`` gives the project's text with the ``kept``
    candidates inserted. The checker runs on a temporary copy (the user's files are never
    touched), first on the unchanged project and then up to ``max_rounds`` times. Raises
    VerifyError when the checker cannot be run or fails.
    """
    started = time.monotonic()
    checked = sorted({*files, *(candidate.file for candidate in candidates)})
    with tempfile.TemporaryDirectory(prefix="typeseer-verify-") as directory:
        search = _Search(workspace=_Workspace(root, Path(directory)), checker=checker,
                         files=checked,
                         candidates={candidate.id: candidate for candidate in candidates},
                         render=render, max_rounds=max_rounds, timeout_s=timeout_s)
        kept = search.run()
    return VerifyOutcome(kept=kept, dropped=search.dropped, baseline_errors=len(search.baseline),
                         new_errors=[], rounds=search.rounds,
                         seconds=time.monotonic() - started)
