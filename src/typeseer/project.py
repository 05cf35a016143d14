"""The project being analysed: module names of its files and their parsed scope trees.

Modules are loaded lazily and cached, so a worker that types one part of a large project
parses only the modules its inference actually reaches (cross-file inference stays correct
whichever files a worker was given).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .parsing import ParseFailure, parse_source
from .sites import ModuleSites, Scope, extract_sites
from .sources import DEFAULT_MAX_FILE_BYTES, SourceFile, UnreadableSource, read_source

__all__ = ["LoadedModule", "Project", "module_name_for"]


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
                 overlay: Mapping[Path, str] | None = None) -> None:
        self.max_file_bytes = max_file_bytes
        #: Text to use instead of the file on disk, by absolute path.
        self.overlay = overlay or {}
        self._by_module: dict[str, SourceFile] = {}
        self._packages: set[str] = set()
        self._module_of: dict[str, str] = {}
        self._loaded: dict[str, LoadedModule] = {}
        #: Module name of each loaded module's root scope (what static inference reads).
        self._root_names: dict[int, str] = {}
        self._files = list(files)
        prefixes: dict[Path, str] = {}
        for source in self._files:
            name, is_package = module_name_for(source.path, prefixes)
            if is_package:
                self._packages.add(name)
            # First file wins on a clash (two roots holding the same module).
            self._by_module.setdefault(name, source)
            self._module_of[source.relpath + "\0" + str(source.root)] = name

    def has_module(self, name: str) -> bool:
        return name in self._by_module

    def module_name(self, source: SourceFile) -> str:
        return self._module_of[source.relpath + "\0" + str(source.root)]

    def is_package(self, name: str) -> bool:
        return name in self._packages

    def load(self, source: SourceFile) -> LoadedModule:
        """Read, parse and extract one file (cached by module name)."""
        name = self.module_name(source)
        cached = self._loaded.get(name)
        if cached is not None and cached.source == source:
            return cached
        try:
            text = self.overlay.get(source.path)
            if text is None:
                text = read_source(source, self.max_file_bytes)
            tree = parse_source(text, source.relpath)
            sites = extract_sites(source.relpath, text, tree, name, self.is_package(name))
            self._root_names[id(sites.scope)] = name
            loaded = LoadedModule(name, source, sites)
        except (UnreadableSource, ParseFailure) as error:
            loaded = LoadedModule(name, source, None, str(error))
        except RecursionError:
            loaded = LoadedModule(name, source, None, "code nested too deeply to analyse")
        if self._by_module.get(name) == source:
            self._loaded[name] = loaded
        return loaded

    def load_all(self) -> list[ModuleSites]:
        """Every module of the project that loads, in file order (cached like ``load``)."""
        loaded = (self.load(source).sites for source in self._files)
        return [sites for sites in loaded if sites is not None]

    def module_of_root(self, root: Scope) -> str:
        """The module name of a root scope this project loaded (``""`` for any other)."""
        return self._root_names.get(id(root), "")

    def module(self, name: str) -> ModuleSites | None:
        """The scope tree of a project module, or None if it is not in the project."""
        source = self._by_module.get(name)
        if source is None:
            return None
        return self.load(source).sites
