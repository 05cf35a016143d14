"""The project being analysed: module names of its files and their parsed scope trees.

Modules are loaded lazily and cached, so a worker that types one part of a large project
parses only the modules its inference actually reaches (cross-file inference stays correct
whichever files a worker was given).

For the incremental cache, a project can keep a ``DependencyLog``: every module that inference
asks for (present or absent) is recorded against the computation in progress, so that a file's
results can be stored with what they were computed from besides the file's own text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .parsing import ParseFailure, parse_source
from .sites import ModuleSites, Scope, extract_sites
from .sources import (
    DEFAULT_MAX_FILE_BYTES,
    SourceFile,
    UnreadableSource,
    decode_source,
    read_source,
)

__all__ = ["ANYTHING", "DependencyLog", "LoadedModule", "Project", "file_dependency",
           "import_root", "module_dependency", "module_name_for"]

#: The dependency of results computed from something the log cannot name: any change to the
#: project invalidates them.
ANYTHING = "*"


def module_dependency(name: str) -> str:
    """The dependency on whichever file provides module ``name`` (or on its absence)."""
    return "m:" + name


def file_dependency(index: int) -> str:
    """The dependency on the text of the project's ``index``-th file."""
    return f"f:{index}"


class DependencyLog:
    """What each computation in progress has read of the project besides its own file.

    Frames nest: ``push`` opens one (for a file being analysed, or a memoised fact being
    computed), ``note`` records a dependency in the innermost, and ``pop`` closes it and adds
    what it recorded to the frame around it, since the outer computation used the inner one.
    Outside any frame nothing is recorded. Dependencies are strings: ``module_dependency``
    and ``file_dependency``.
    """

    def __init__(self) -> None:
        self._frames: list[set[str]] = []

    def push(self) -> None:
        self._frames.append(set())

    def pop(self) -> set[str]:
        """Close the innermost frame; the caller must not change the set returned."""
        frame = self._frames.pop()
        if self._frames and frame:
            self._frames[-1] |= frame
        return frame

    def note(self, dependency: str) -> None:
        if self._frames:
            self._frames[-1].add(dependency)

    def add(self, dependencies: Iterable[str]) -> None:
        """Record what an earlier computation, reused now, depended on."""
        if self._frames:
            self._frames[-1].update(dependencies)

    @contextmanager
    def isolated(self) -> Iterator[None]:
        """Work done for the whole project (gathering call sites), charged to no file."""
        self._frames.append(set())
        try:
            yield
        finally:
            self._frames.pop()


def import_root(directory: Path) -> Path:
    """Where imports of the code in ``directory`` resolve from: the directory above its top
    package (the chain of ``__init__.py`` directories), or ``directory`` itself."""
    while (directory / "__init__.py").is_file() and directory.parent != directory:
        directory = directory.parent
    return directory


def module_name_for(path: Path, cache: dict[Path, str] | None = None) -> tuple[str, bool]:
    """Dotted module name from the chain of ``__init__.py`` directories above ``path``."""
    is_package = path.name == "__init__.py"
    directory = path.parent
    prefix = _package_prefix(directory, cache if cache is not None else {})
    if is_package:
        return prefix, True
    stem = path.stem
    return (f"{prefix}.{stem}" if prefix else stem), False


def _package_prefix(directory: Path, cache: dict[Path, str]) -> str:
    if directory in cache:
        return cache[directory]
    if (directory / "__init__.py").is_file() and directory.name.isidentifier():
        parent = _package_prefix(directory.parent, cache) if directory.parent != directory else ""
        prefix = f"{parent}.{directory.name}" if parent else directory.name
    else:
        prefix = ""
    cache[directory] = prefix
    return prefix


@dataclass(slots=True)
class LoadedModule:
    """A project module: its file and extracted sites (None when it failed to load)."""

    name: str
    source: SourceFile
    sites: ModuleSites | None
    error: str | None = None


class Project:
    """Module index of a set of source files, loading each module at most once."""

    def __init__(self, files: Iterable[SourceFile],
                 max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 overlay: Mapping[Path, str] | None = None,
                 contents: Mapping[Path, bytes] | None = None) -> None:
        self.max_file_bytes = max_file_bytes
        #: Text to use instead of the file on disk, by absolute path.
        self.overlay = overlay or {}
        #: Bytes already read from disk (by the cache, which hashed them), by absolute path:
        #: what is analysed is then exactly what was hashed.
        self.contents = contents or {}
        #: Set to record which modules each computation reads (see DependencyLog).
        self.dependencies: DependencyLog | None = None
        #: Lines of the modules loaded and kept so far (what the memory use grows with).
        self.loaded_lines = 0
        self._by_module: dict[str, SourceFile] = {}
        self._packages: set[str] = set()
        self._module_of: dict[str, str] = {}
        #: Loaded files, by file: each one once, also a file whose module name another file
        #: provides (a clash), so that the objects of every scope tree stay alive as long as
        #: inference may have memoised facts about them (by identity).
        self._loaded: dict[str, LoadedModule] = {}
        #: Module name of each loaded module's root scope (what static inference reads).
        self._root_names: dict[int, str] = {}
        #: Index in ``files`` of the file behind each loaded module's root scope.
        self._root_files: dict[int, int] = {}
        self._index_of: dict[str, int] = {}
        self._files = list(files)
        prefixes: dict[Path, str] = {}
        for index, source in enumerate(self._files):
            name, is_package = module_name_for(source.path, prefixes)
            if is_package:
                self._packages.add(name)
            # First file wins on a clash (two roots holding the same module).
            self._by_module.setdefault(name, source)
            self._module_of[self._file_key(source)] = name
            self._index_of.setdefault(self._file_key(source), index)

    @property
    def files(self) -> list[SourceFile]:
        return self._files

    def has_module(self, name: str) -> bool:
        if self.dependencies is not None:
            self.dependencies.note(module_dependency(name))
        return name in self._by_module

    def source_of_module(self, name: str) -> SourceFile | None:
        """The file that provides module ``name`` (the first one, on a clash)."""
        return self._by_module.get(name)

    def module_name(self, source: SourceFile) -> str:
        return self._module_of[self._file_key(source)]

    def is_package(self, name: str) -> bool:
        return name in self._packages

    def load(self, source: SourceFile) -> LoadedModule:
        """Read, parse and extract one file (once)."""
        key = self._file_key(source)
        cached = self._loaded.get(key)
        if cached is not None:
            return cached
        name = self.module_name(source)
        try:
            text = self._text(source)
            tree = parse_source(text, source.relpath)
            sites = extract_sites(source.relpath, text, tree, name, self.is_package(name))
            self._root_names[id(sites.scope)] = name
            self._root_files[id(sites.scope)] = self.index_of(source)
            loaded = LoadedModule(name, source, sites)
        except (UnreadableSource, ParseFailure) as error:
            loaded = LoadedModule(name, source, None, str(error))
        except RecursionError:
            loaded = LoadedModule(name, source, None, "code nested too deeply to analyse")
        self._loaded[key] = loaded
        if loaded.sites is not None:
            self.loaded_lines += len(loaded.sites.lines)
        return loaded

    @staticmethod
    def _file_key(source: SourceFile) -> str:
        return source.relpath + "\0" + str(source.root)

    def release(self) -> None:
        """Drop every loaded module, breaking their scope trees' cycles (see
        ``Scope.release``); they are loaded again on demand, and nothing loaded before may be
        used afterwards. Modules that failed to load (or were given up) stay failed."""
        for loaded in self._loaded.values():
            if loaded.sites is not None:
                loaded.sites.scope.release()
        self._loaded = {key: loaded for key, loaded in self._loaded.items()
                        if loaded.sites is None}
        self._root_names.clear()
        self._root_files.clear()
        self.loaded_lines = 0

    def give_up(self, source: SourceFile, reason: str) -> None:
        """Treat ``source`` as a module that failed to load, for ``reason``."""
        self._loaded[self._file_key(source)] = LoadedModule(self.module_name(source), source,
                                                            None, reason)

    def _text(self, source: SourceFile) -> str:
        text = self.overlay.get(source.path)
        if text is not None:
            return text
        data = self.contents.get(source.path)
        if data is not None and len(data) <= self.max_file_bytes:
            return decode_source(data)
        return read_source(source, self.max_file_bytes)

    def index_of(self, source: SourceFile) -> int:
        """The position of ``source`` in ``files``."""
        return self._index_of[self._file_key(source)]

    def load_all(self) -> list[ModuleSites]:
        """Every module of the project that loads, in file order (cached like ``load``)."""
        loaded = (self.load(source).sites for source in self._files)
        return [sites for sites in loaded if sites is not None]

    def module_of_root(self, root: Scope) -> str:
        """The module name of a root scope this project loaded (``""`` for any other)."""
        return self._root_names.get(id(root), "")

    def file_of_root(self, root: Scope) -> int | None:
        """The index in ``files`` of the file a root scope was loaded from."""
        return self._root_files.get(id(root))

    def module(self, name: str) -> ModuleSites | None:
        """The scope tree of a project module, or None if it is not in the project."""
        if self.dependencies is not None:
            self.dependencies.note(module_dependency(name))
        source = self._by_module.get(name)
        if source is None:
            return None
        return self.load(source).sites
