"""The incremental cache: each file's results, kept in an SQLite database in the project with
what they were computed from, so that a run analyses only the files whose inputs changed.

An entry holds one file's predictions and diagnostics under a *version* (typeseer's code, the
model and calibration files, the settings that change results, the Python and the installed
stubs) and is valid while the file's text and everything its results depend on are unchanged:

* the modules static inference read on the file's behalf, or found absent, recorded by the
  project's ``DependencyLog`` through memoised facts too, each with the text it had;
* the files holding the call sites the model read for the file's parameters, with their text,
  and the *call signature*: where those arguments are (file and position). It changes when a
  call anywhere starts or stops resolving to one of the file's functions, so it is compared
  with a fresh gathering of the project's call sites whenever anything changed.

Each entry also records the *state* it was last found valid in: a digest of every file's key,
text and module name. When the state is the one of the previous run (nothing changed), the
stored results are returned without loading the model or parsing anything: the warm path reads
file contents (or trusts an unchanged ``stat``), runs two queries and decodes JSON.

Several processes may use one cache: SQLite in WAL mode, a busy timeout, and one transaction
per run, so a reader never sees half of an entry. A database that is corrupt (not SQLite, a
foreign schema, an entry whose checksum fails) is rebuilt with a warning and never trusted; one
that cannot be written leaves the run without a cache, with a warning. Results with and without
the cache are the same: an entry is the output of the same analysis, stored as JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

from . import __version__
from .api import CallArguments, InferResult, Prediction, _add_output, _analyse, _FileResult, _Worker
from .config import Config, find_pyproject
from .fileio import atomic_write_text
from .project import ANYTHING, Project
from .sources import Diagnostic, Severity, SourceFile, discover

__all__ = [
    "CACHE_DIRECTORY",
    "CACHE_FILE",
    "SCHEMA_VERSION",
    "ResultCache",
    "default_cache_path",
    "infer_cached",
    "inference_modules",
    "results_version",
]

#: The cache's directory, next to the project's pyproject.toml (discovery never enters it).
CACHE_DIRECTORY = ".typeseer_cache"
#: The database file in it.
CACHE_FILE = "cache.sqlite"
#: Bumped whenever the tables or the stored JSON change shape: older caches are rebuilt.
SCHEMA_VERSION = "2"

#: How long a run waits for another process's write before giving up on updating the cache.
_BUSY_TIMEOUT_S = 30.0
#: A file modified less than this before it was hashed is hashed again next time whatever its
#: ``stat`` says: a second write within the file system's timestamp granularity would not
#: change the ``stat`` (the "racy git" problem).
_RACY_NS = 2_000_000_000
#: Versions (code, model, settings) whose entries are kept; older ones are deleted.
_KEPT_VERSIONS = 4
#: Settings that do not change any file's results: parallelism, and which files are analysed
#: (the files themselves are part of the state).
_NEUTRAL_SETTINGS = frozenset({"jobs", "exclude", "cache", "file_timeout", "loaded_lines"})
_PACKAGE = Path(__file__).resolve().parent
#: typeseer's modules that only consume inference results (never imported by ``infer``; a
#: test checks it): editing them does not invalidate the cache.
_CONSUMERS = frozenset({
    "__main__.py", "batch.py", "cli.py", "coverage.py", "evaluate.py", "evaluate_batch.py",
    "executor.py", "explain.py", "pyi.py", "ray_executor.py", "report.py", "store.py",
    "scoring.py", "strip.py", "verify.py", "apply/", "corpus/", "lsp/", "model/dataset.py",
    "model/train.py",
})
#: ... except these, which ``infer`` does import.
_USED_BY_INFERENCE = frozenset({"apply/__init__.py", "apply/options.py"})
#: Data files whose content the results depend on: the model and both calibrations.
_MODEL_FILES = (
    _PACKAGE / "model" / "data" / "typeseer-model.npz",
    _PACKAGE / "model" / "data" / "calibration.json",
    _PACKAGE / "static" / "calibration.json",
)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # What each file's content digest was for a given stat, so an unchanged file is not read.
    "CREATE TABLE IF NOT EXISTS files (location TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,"
    " digest TEXT NOT NULL, checked_ns INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS versions (version TEXT PRIMARY KEY, used_ns INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS entries (version TEXT NOT NULL, file TEXT NOT NULL,"
    " digest TEXT NOT NULL, module TEXT NOT NULL, state TEXT NOT NULL,"
    " dependencies TEXT NOT NULL, dependency_digest TEXT NOT NULL, calls TEXT,"
    " result TEXT NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (version, file))",
    "CREATE INDEX IF NOT EXISTS entries_by_state ON entries (version, state)",
)
_TABLES = frozenset({"meta", "files", "versions", "entries"})


def default_cache_path(paths: Sequence[str | Path]) -> Path:
    """``.typeseer_cache/cache.sqlite`` next to the nearest pyproject.toml above the first
    path, or in the first path (its directory, for a file) when there is none."""
    first = Path(os.path.abspath(paths[0] if paths else "."))
    pyproject = find_pyproject(first)
    if pyproject is not None:
        return pyproject.parent / CACHE_DIRECTORY / CACHE_FILE
    return (first if first.is_dir() else first.parent) / CACHE_DIRECTORY / CACHE_FILE


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _digest_text(text: str) -> str:
    return _digest(text.encode("utf-8", "surrogatepass"))


class _Corrupt(Exception):
    """Something read from the cache is not what typeseer wrote."""


class _Unusable(Exception):
    """The cache cannot be opened or written (read-only, locked for too long, I/O error)."""


# -- the database --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _KnownFile:
    stat: tuple[int, int, int, int]
    digest: str
    checked_ns: int


@dataclass(slots=True)
class _Entry:
    """A stored file result, with what it was computed from."""

    file: str
    digest: str
    module: str
    state: str
    dependencies: tuple[str, ...]
    dependency_digest: str
    #: ``{"sites": [[scope, name, line, col], ...], "digest": ...}`` or None.
    calls: dict[str, object] | None
    result: str
    checksum: str


class ResultCache:
    """The SQLite database of one project's cache. Every method turns a database failure into
    a warning: a corrupt database is rebuilt empty, an unusable one switches the cache off."""

    def __init__(self, path: Path, warnings: list[Diagnostic]) -> None:
        self.path = Path(os.path.abspath(path))
        #: Where the run's warnings go (one per problem, as diagnostics).
        self.warnings = warnings
        #: How many times the database was rebuilt during this run.
        self.rebuilds = 0
        self._connection: sqlite3.Connection | None = None

    @classmethod
    def open(cls, path: Path, warnings: list[Diagnostic]) -> ResultCache | None:
        """The cache at ``path``, created if missing and rebuilt if corrupt; None (with a
        warning) when it cannot be used."""
        cache = cls(path, warnings)
        try:
            cache._prepare_directory()
            cache._connection = cache._connect_checked()
        except _Unusable as error:
            cache._warn_unusable(str(error))
            return None
        except _Corrupt as error:
            try:
                cache._rebuild(str(error))
            except _Unusable as failure:
                cache._warn_unusable(str(failure))
                return None
        return cache

    @property
    def enabled(self) -> bool:
        return self._connection is not None

    @property
    def base(self) -> Path:
        """The directory the cache belongs to: file locations are stored relative to it."""
        return self.path.parent.parent

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- opening ----------------------------------------------------------------------------
    def _prepare_directory(self) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            ignore = directory / ".gitignore"
            if not ignore.exists():  # the cache is never committed, whatever the project's rules
                atomic_write_text(ignore, "# Created by typeseer: the incremental cache.\n*\n")
        except OSError as error:
            raise _Unusable(error.strerror or str(error)) from None

    def _connect_checked(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S,
                                         isolation_level=None)
        except sqlite3.Error as error:
            raise _Unusable(str(error)) from None
        try:
            _enable_wal(connection)
            connection.execute("PRAGMA synchronous=NORMAL")
            tables = {row[0] for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                with _transaction(connection):
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                       (SCHEMA_VERSION,))
            elif not tables >= _TABLES:
                raise _Corrupt("not a typeseer cache")
            rows = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall()
            if rows != [(SCHEMA_VERSION,)]:
                raise _Corrupt(f"schema {rows[0][0] if rows else 'unknown'}, "
                               f"expected {SCHEMA_VERSION}")
        except sqlite3.OperationalError as error:
            connection.close()
            raise _Unusable(str(error)) from None
        except sqlite3.DatabaseError as error:
            connection.close()
            raise _Corrupt(str(error)) from None
        except _Corrupt:
            connection.close()
            raise
        return connection

    def _rebuild(self, reason: str) -> None:
        """Start again from an empty database, with a warning."""
        self.close()
        self.rebuilds += 1
        self.warnings.append(Diagnostic(str(self.path), f"the cache was unreadable ({reason}); "
                                        "it was rebuilt", Severity.ERROR))
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as error:
                raise _Unusable(error.strerror or str(error)) from None
        try:
            self._connection = self._connect_checked()
        except _Corrupt as error:  # another process wrote something odd in between
            raise _Unusable(str(error)) from None

    def _warn_unusable(self, reason: str) -> None:
        self.warnings.append(Diagnostic(str(self.path), f"the cache cannot be used ({reason}); "
                                        "running without it", Severity.SKIPPED))

    def _failed(self, error: Exception) -> None:
        """Handle a failure met while reading or writing."""
        if isinstance(error, (sqlite3.OperationalError, _Unusable)):
            self.close()
            self._warn_unusable(str(error))
            return
        try:
            self._rebuild(str(error))
        except _Unusable as failure:
            self.close()
            self._warn_unusable(str(failure))

    def corrupt(self, reason: str) -> None:
        """An entry turned out unreadable: nothing in this database is trusted any more."""
        self._failed(_Corrupt(reason))

    # -- reading ------------------------------------------------------------------------------
    def known_files(self) -> dict[str, _KnownFile]:
        """The digest each file had for its last known stat, by location."""
        rows = self._query("SELECT location, size, mtime_ns, ctime_ns, inode, digest, checked_ns"
                           " FROM files", (), (str, int, int, int, int, str, int))
        return {row[0]: _KnownFile((row[1], row[2], row[3], row[4]), row[5], row[6])
                for row in rows}

    def current(self, version: str, state: str) -> dict[str, tuple[str, str]]:
        """``file -> (result, checksum)`` of the entries found valid in exactly ``state``."""
        rows = self._query("SELECT file, result, checksum FROM entries"
                           " WHERE version = ? AND state = ?", (version, state), (str, str, str))
        return {row[0]: (row[1], row[2]) for row in rows}

    def entries(self, version: str) -> dict[str, _Entry]:
        """Every entry of ``version``, by file key."""
        rows = self._query("SELECT file, digest, module, state, dependencies, dependency_digest,"
                           " calls, result, checksum FROM entries WHERE version = ?", (version,),
                           (str, str, str, str, str, str, (str, type(None)), str, str))
        found: dict[str, _Entry] = {}
        try:
            for row in rows:
                dependencies = json.loads(row[4])
                calls = json.loads(row[6]) if row[6] is not None else None
                if not isinstance(dependencies, list) or not all(
                        isinstance(d, str) for d in dependencies) or not (
                        calls is None or isinstance(calls, dict)):
                    raise _Corrupt("unreadable entry")
                found[row[0]] = _Entry(row[0], row[1], row[2], row[3], tuple(dependencies),
                                       row[5], calls, row[7], row[8])
        except (ValueError, _Corrupt):
            self.corrupt("unreadable entry")
            return {}
        return found

    def _query(self, sql: str, parameters: tuple[object, ...],
               types: tuple[type | tuple[type, ...], ...]) -> list[tuple[Any, ...]]:
        """The rows of a query, each checked to hold values of ``types`` (SQLite would store
        anything in any column)."""
        if self._connection is None:
            return []
        try:
            rows = self._connection.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as error:
            self._failed(error)
            return []
        for row in rows:
            if len(row) != len(types) or not all(
                    isinstance(value, kind) for value, kind in zip(row, types, strict=True)):
                self.corrupt("a row holds values of the wrong type")
                return []
        return rows

    # -- writing ------------------------------------------------------------------------------
    def save(self, version: str, state: str, *, files: Iterable[tuple[object, ...]] = (),
             entries: Iterable[_Entry] = (), revalidated: Iterable[str] = (),
             obsolete: Iterable[str] = ()) -> None:
        """One transaction: file digests, new entries, entries found valid in ``state`` and
        entries of files that are gone. Either all of it is written, or none."""
        if self._connection is None:
            return
        connection = self._connection
        try:
            with _transaction(connection):
                connection.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                                       files)
                connection.executemany(
                    "INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ((version, e.file, e.digest, e.module, e.state, json.dumps(e.dependencies),
                      e.dependency_digest, json.dumps(e.calls) if e.calls is not None else None,
                      e.result, e.checksum) for e in entries))
                connection.executemany(
                    "UPDATE entries SET state = ? WHERE version = ? AND file = ?",
                    ((state, version, f) for f in revalidated))
                connection.executemany("DELETE FROM entries WHERE version = ? AND file = ?",
                                       ((version, f) for f in obsolete))
                self._keep_recent_versions(connection, version)
        except sqlite3.DatabaseError as error:
            self._failed(error)

    @staticmethod
    def _keep_recent_versions(connection: sqlite3.Connection, version: str) -> None:
        connection.execute("INSERT OR REPLACE INTO versions VALUES (?, ?)",
                           (version, time.time_ns()))
        kept = "SELECT version FROM versions ORDER BY used_ns DESC LIMIT ?"
        connection.execute(f"DELETE FROM entries WHERE version NOT IN ({kept})",
                           (_KEPT_VERSIONS,))
        connection.execute(f"DELETE FROM versions WHERE version NOT IN ({kept})",
                           (_KEPT_VERSIONS,))


def _enable_wal(connection: sqlite3.Connection) -> None:
    """Switch to WAL mode, waiting out other processes doing the same: SQLite answers a
    concurrent switch on a new database with "locked" at once, without its busy handler."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    pause = 0.01
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """A write transaction that takes the lock up front (waiting for other writers) and is
    rolled back whole on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


# -- what results are computed from --------------------------------------------------------

class _Hasher:
    """Content digests of files, reading only those whose ``stat`` changed."""

    def __init__(self, known: Mapping[str, _KnownFile], base: Path) -> None:
        self.known = known
        self.base = base
        #: Rows for the ``files`` table: the files read this time.
        self.updates: list[tuple[object, ...]] = []
        #: Files whose stored digest was trusted, with their stat then (checked again at save).
        self.trusted: dict[Path, tuple[int, int, int, int]] = {}
        self._base_text = str(base) + os.sep

    def location(self, path: Path) -> str:
        text = str(path)
        if text.startswith(self._base_text):
            return text[len(self._base_text):].replace(os.sep, "/")
        return text

    def digest(self, path: Path, max_bytes: int | None = None) -> tuple[str, bytes | None]:
        """``(digest, bytes read or None)``; unreadable and oversized files get a digest that
        says so, since their result (a diagnostic) depends only on that."""
        try:
            info = os.stat(path)
        except OSError as error:
            return f"!{error.errno}", None
        if max_bytes is not None and info.st_size > max_bytes:
            return f"size:{info.st_size}", None
        stat = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        location = self.location(path)
        known = self.known.get(location)
        if known is not None and known.stat == stat \
                and known.checked_ns - info.st_mtime_ns > _RACY_NS:
            self.trusted[path] = stat
            return known.digest, None
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            return f"!{error.errno}", None
        digest = _digest(data)
        self.updates.append((location, *stat, digest, time.time_ns()))
        return digest, data

    def changed_since(self) -> bool:
        """Whether a file whose digest was trusted changed during the run."""
        for path, stat in self.trusted.items():
            try:
                info = os.stat(path)
            except OSError:
                return True
            if (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino) != stat:
                return True
        return False


def _canonical(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (frozenset, set)):
        return sorted((_canonical(v) for v in value), key=repr)
    if isinstance(value, tuple):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _settings_signature(config: Config) -> object:
    """Every setting that can change a file's results (all but ``_NEUTRAL_SETTINGS``: a new
    setting counts until it is known not to)."""
    return {f.name: _canonical(getattr(config, f.name)) for f in fields(Config)
            if f.name not in _NEUTRAL_SETTINGS}


def inference_modules() -> list[str]:
    """typeseer's source files that inference runs, relative to the package (POSIX)."""
    found = []
    for directory, subdirectories, names in os.walk(_PACKAGE):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        relative = Path(directory).relative_to(_PACKAGE).as_posix()
        prefix = "" if relative == "." else relative + "/"
        for name in sorted(names):
            path = prefix + name
            if name.endswith(".py") and (path in _USED_BY_INFERENCE or not any(
                    path == c or (c.endswith("/") and path.startswith(c)) for c in _CONSUMERS)):
                found.append(path)
    return found


def _code_signature() -> list[object]:
    """The code of inference, by file size and modification time (an edit or another install
    changes it)."""
    found: list[object] = []
    for path in inference_modules():
        info = os.stat(_PACKAGE / path)
        found.append([path, info.st_size, info.st_mtime_ns])
    return found


def _environment_signature() -> list[object]:
    """The Python running typeseer and the installed packages, whose stubs static inference
    reads: a package installed or removed changes its site-packages directory."""
    import typeshed_client

    found: list[object] = [sys.version, sys.platform, getattr(typeshed_client, "__version__", "")]
    for entry in sys.path:
        if entry.endswith(("site-packages", "dist-packages")):
            with contextlib.suppress(OSError):
                found.append([entry, os.stat(entry).st_mtime_ns])
    return found


def results_version(config: Config, hasher: _Hasher | None = None) -> str:
    """The digest of everything besides the project that a file's results depend on."""
    hasher = hasher or _Hasher({}, _PACKAGE)
    signature = {
        "schema": SCHEMA_VERSION,
        "typeseer": __version__,
        "code": _code_signature(),
        "model": [hasher.digest(path)[0] for path in _MODEL_FILES],
        "settings": _settings_signature(config),
        "environment": _environment_signature(),
    }
    return _digest_text(json.dumps(signature, sort_keys=True))


@dataclass(slots=True)
class _Snapshot:
    """The project as this run sees it."""

    files: Sequence[SourceFile]
    #: Per file, in file order: the stored key, content digest and module name.
    keys: list[str]
    digests: list[str]
    modules: list[str]
    #: Module name -> index of the file that provides it.
    providers: dict[str, int]
    index_of: dict[str, int]
    #: Bytes read while hashing, analysed as they are (never read twice).
    contents: dict[Path, bytes]
    state: str = ""
    _current: dict[str, str] = field(default_factory=dict)

    def dependency(self, name: str) -> str:
        """What a dependency is now: the providing file and its digest, or ``-`` (absent);
        for ``ANYTHING``, the whole state."""
        if name == ANYTHING:
            return self.state
        found = self._current.get(name)
        if found is None:
            kind, _, rest = name.partition(":")
            index = self.providers.get(rest) if kind == "m" else self.index_of.get(rest)
            found = "-" if index is None else f"{self.keys[index]}\t{self.digests[index]}"
            self._current[name] = found
        return found

    def dependency_digest(self, names: Iterable[str]) -> str:
        return _digest_text("\n".join(f"{name}\t{self.dependency(name)}" for name in names))


def _snapshot(files: Sequence[SourceFile], config: Config, overlay: Mapping[Path, str],
              hasher: _Hasher) -> _Snapshot:
    project = Project(files, config.max_file_bytes)
    snapshot = _Snapshot(files, [], [], [], {}, {}, {})
    for index, source in enumerate(files):
        key = f"{hasher.location(source.path)}\n{source.relpath}"
        text = overlay.get(source.path)
        if text is not None:
            digest = "text:" + _digest_text(text)
        else:
            digest, data = hasher.digest(source.path, config.max_file_bytes)
            if data is not None:
                snapshot.contents[source.path] = data
        module = project.module_name(source)
        snapshot.keys.append(key)
        snapshot.digests.append(digest)
        snapshot.modules.append(module)
        snapshot.index_of[key] = index
        if project.source_of_module(module) == source:
            snapshot.providers[module] = index
    snapshot.state = _digest_text("\n".join(
        f"{k}\t{d}\t{m}" for k, d, m in zip(snapshot.keys, snapshot.digests, snapshot.modules,
                                            strict=True)))
    return snapshot


# -- stored results --------------------------------------------------------------------------

def _encode(result: _FileResult) -> str:
    """A file's result as compact JSON: the file named once, pairs flattened (decoding all of
    a large project's entries is most of the warm path's time). Floats keep every digit."""
    file = result.predictions[0].file if result.predictions else ""
    return json.dumps({
        "f": file,
        "p": [[p.line, p.col, p.scope, p.kind, p.name, p.type, p.confidence, p.source,
               [x for pair in p.alternatives for x in pair], p.evidence,
               [x for pair in p.origins for x in pair], *([p.file] if p.file != file else [])]
              for p in result.predictions],
        "d": [[d.file, d.message, d.severity.value] for d in result.diagnostics],
        "l": result.lines,
    }, separators=(",", ":"))


def _decode(text: str, checksum: str) -> _FileResult:
    """The result ``_encode`` wrote. The checksum catches a damaged entry; a forged one would
    also need the version digest, which includes the modification times of this installation
    of typeseer and of site-packages, so a cache from elsewhere is never used."""
    if _digest_text(text) != checksum:
        raise _Corrupt("an entry's checksum does not match")
    try:
        data = json.loads(text)
        file = data["f"]
        predictions: list[Prediction] = []
        append = predictions.append
        for row in data["p"]:
            alternatives, origins = iter(row[8]), iter(row[10])
            append(Prediction(row[11] if len(row) > 11 else file, row[0], row[1], row[2],
                              row[3], row[4], row[5], row[6], row[7],
                              tuple(zip(alternatives, alternatives, strict=True)),
                              tuple(row[9]),
                              tuple(zip(origins, origins, strict=True)) if row[10] else ()))
        diagnostics = [Diagnostic(file, message, Severity(severity))
                       for file, message, severity in data["d"]]
        lines = data["l"]
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise _Corrupt(f"unreadable entry ({error.__class__.__name__})") from None
    if not isinstance(lines, int):
        raise _Corrupt("unreadable entry")
    return _FileResult(predictions, diagnostics, lines)


def _call_signature(calls: Sequence[CallArguments], snapshot: _Snapshot) -> str:
    """The digest of where the arguments come from, with files by key (stable across runs)."""
    def key(index: int) -> str:
        return snapshot.keys[index] if 0 <= index < len(snapshot.keys) else ""

    canonical = [[scope, name, line, col, [[key(place[0]), *place[1:]] for place in places]]
                 for scope, name, line, col, places in calls]
    return _digest_text(json.dumps(canonical, separators=(",", ":")))


def _calls_still_match(worker: _Worker, index: int, calls: Mapping[str, object],
                       snapshot: _Snapshot) -> bool:
    stored_sites = calls.get("sites")
    if not isinstance(stored_sites, list):
        return False
    by_position = worker.parameter_sites(index)
    sites = []
    for item in stored_sites:
        site = by_position.get(tuple(item)) if isinstance(item, list) else None
        if site is None:
            return False
        sites.append(site)
    return _call_signature(worker.call_arguments(sites), snapshot) == calls.get("digest")


def _new_entry(index: int, output: _FileResult, snapshot: _Snapshot) -> _Entry:
    dependencies = tuple(sorted(
        f"f:{snapshot.keys[int(name[2:])]}" if name.startswith("f:") else name
        for name in output.dependencies))
    calls: dict[str, object] | None = None
    if output.calls:
        calls = {"sites": [[scope, name, line, col] for scope, name, line, col, _ in output.calls],
                 "digest": _call_signature(output.calls, snapshot)}
    result = _encode(output)
    return _Entry(snapshot.keys[index], snapshot.digests[index], snapshot.modules[index],
                  snapshot.state, dependencies, snapshot.dependency_digest(dependencies), calls,
                  result, _digest_text(result))


# -- the run ---------------------------------------------------------------------------------

def infer_cached(paths: Sequence[str | Path], config: Config,
                 progress: Callable[[int, int], None] | None,
                 overlay: Mapping[Path, str] | None, path: Path) -> InferResult:
    """``infer`` with the incremental cache at ``path`` (see the module docstring)."""
    started = time.perf_counter()
    files, diagnostics = discover(paths, config.exclude)
    warnings: list[Diagnostic] = []
    result = InferResult(diagnostics=warnings, files=len(files))
    cache = ResultCache.open(path, warnings)
    try:
        outputs, analysed = _cached_outputs(cache, files, config, overlay or {}, progress)
    finally:
        if cache is not None:
            cache.close()
    result.diagnostics.extend(diagnostics)
    for output in outputs:
        _add_output(result, output)
    result.analysed_paths = [files[i].relpath for i in analysed]
    result.analysed_files = len(analysed)
    result.cached_files = len(files) - len(analysed)
    result.seconds = time.perf_counter() - started
    return result


def _cached_outputs(cache: ResultCache | None, files: Sequence[SourceFile], config: Config,
                    overlay: Mapping[Path, str], progress: Callable[[int, int], None] | None
                    ) -> tuple[list[_FileResult], list[int]]:
    """Every file's result in file order, and the indices of the files analysed."""
    everything = list(range(len(files)))
    if cache is None:
        return _analyse(files, everything, config, overlay, progress=progress), everything
    hasher = _Hasher(cache.known_files(), cache.base)
    version = results_version(config, hasher)
    snapshot = _snapshot(files, config, overlay, hasher)
    rebuilds = cache.rebuilds
    warm = _warm_outputs(cache, version, snapshot)
    if warm is not None:
        if hasher.updates:  # files touched without a change: their new stat is worth keeping
            cache.save(version, snapshot.state, files=hasher.updates)
        return warm, []
    if cache.rebuilds != rebuilds:  # nothing read from the damaged database is trusted
        hasher = _Hasher({}, cache.base)
        version = results_version(config, hasher)
        snapshot = _snapshot(files, config, overlay, hasher)
    entries = cache.entries(version)
    valid = _valid_entries(entries, snapshot)
    worker: _Worker | None = None
    if config.use_model and any(e.calls is not None and e.state != snapshot.state
                                for e in valid.values()):
        # Call signatures are compared with the call sites of the project as it is now.
        worker = _Worker(files, config, overlay, contents=snapshot.contents, track=True)
        valid = {i: e for i, e in valid.items() if e.calls is None or e.state == snapshot.state
                 or _calls_still_match(worker, i, e.calls, snapshot)}
    reused: dict[int, _FileResult] = {}
    try:
        reused = {i: _decode(e.result, e.checksum) for i, e in valid.items()}
    except _Corrupt as error:
        cache.corrupt(str(error))
        reused = {}
    analysed = [i for i in everything if i not in reused]
    outputs = _analyse(files, analysed, config, overlay, contents=snapshot.contents,
                       track=cache.enabled, progress=progress, done=len(reused), worker=worker)
    fresh = dict(zip(analysed, outputs, strict=True))
    if cache.enabled and not hasher.changed_since():
        cache.save(version, snapshot.state, files=hasher.updates,
                   entries=[_new_entry(i, fresh[i], snapshot) for i in analysed
                            if fresh[i].complete],
                   revalidated=[e.file for e in valid.values() if e.state != snapshot.state],
                   obsolete=_obsolete(entries, snapshot, cache.base))
    elif cache.enabled:
        cache.save(version, snapshot.state, files=hasher.updates)
    return [reused[i] if i in reused else fresh[i] for i in everything], analysed


def _warm_outputs(cache: ResultCache, version: str, snapshot: _Snapshot
                  ) -> list[_FileResult] | None:
    """Every file's stored result when nothing changed since the entries were checked."""
    rows = cache.current(version, snapshot.state)
    if len(rows) < len(snapshot.keys) or any(key not in rows for key in snapshot.keys):
        return None
    try:
        return [_decode(*rows[key]) for key in snapshot.keys]
    except _Corrupt as error:
        cache.corrupt(str(error))
        return None


def _valid_entries(entries: Mapping[str, _Entry], snapshot: _Snapshot) -> dict[int, _Entry]:
    """The entries whose file and static dependencies are unchanged, by file index."""
    valid: dict[int, _Entry] = {}
    for index, key in enumerate(snapshot.keys):
        entry = entries.get(key)
        if entry is None or entry.digest != snapshot.digests[index] \
                or entry.module != snapshot.modules[index]:
            continue
        if entry.state == snapshot.state or \
                entry.dependency_digest == snapshot.dependency_digest(entry.dependencies):
            valid[index] = entry
    return valid


def _obsolete(entries: Mapping[str, _Entry], snapshot: _Snapshot, base: Path) -> list[str]:
    """Entries of files that no longer exist (not merely outside this run's paths)."""
    gone = []
    for key in entries:
        if key in snapshot.index_of:
            continue
        location = key.partition("\n")[0]
        if not (base / location).exists():
            gone.append(key)
    return gone
