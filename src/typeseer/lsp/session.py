"""The language server's long-lived analysis session.

It keeps what is costly to load (the model, typeshed stubs, an index of the workspace's
modules) and the documents the editor has open, whose text overrides the files on disk. A
document is re-analysed in a background thread once it has stopped changing for ``debounce``
seconds; requests never wait for that thread, they read the latest finished ``Analysis``.

Each analysis builds a fresh inference worker (``typeseer.api._Worker``) over the workspace
with the open documents as an overlay, so that it sees exactly what ``typeseer infer`` would
see on those texts, and shares the typeshed cache between analyses. Call-site evidence for the
model comes from the document and from the modules that import it (or a package re-exporting
it), not from the whole workspace: the calls that can reach a module's functions, at a small
part of the cost. When a document changes, the other open documents that import it are
analysed again too.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api import Prediction, _Worker
from ..apply.names import ProjectClasses
from ..config import Config, ConfigError, load_config
from ..explain import project_root
from ..parsing import ParseFailure, parse_source
from ..project import module_name_for
from ..sites import ModuleSites, Site, SiteKey, SiteKind, extract_sites
from ..sources import SourceFile, UnreadableSource, discover, read_source
from ..static import StaticEngine

if TYPE_CHECKING:
    from ..apply.insert import ModuleRenderer
    from ..static.stubs import Stubs

__all__ = ["DEFAULT_DEBOUNCE", "Analysis", "Document", "Session"]

logger = logging.getLogger("typeseer.lsp")

#: Seconds a document must stay unchanged before it is analysed again.
DEFAULT_DEBOUNCE = 0.3
#: Modules importing a document whose calls are read for call-site evidence.
MAX_CALLER_MODULES = 40
#: Seconds between two full garbage collections run by the analysis thread (``collect``).
COLLECT_INTERVAL = 2.0
#: Workspaces with more files are not indexed as a whole: project classes and callers are then
#: looked for in the open documents only (the first analysis would otherwise parse them all).
MAX_INDEXED_FILES = 3000


@dataclass(frozen=True, slots=True)
class Document:
    """One version of a document the editor has open."""

    uri: str
    #: Absolute path of a ``file:`` document; None for other schemes and for a URI naming a
    #: directory (never analysed).
    path: Path | None
    text: str
    version: int


class Analysis:
    """A finished analysis of one document version, and what requests derive from it.

    Derived values (plans, positions) are computed on first use and kept; the LibCST tree
    `apply` renders from is parsed on first use too, and rendering holds its own lock, so
    that a long rendering never delays the other requests.
    """

    def __init__(self, document: Document, config: Config, module_name: str,
                 module: ModuleSites | None, predictions: Sequence[Prediction],
                 classes: ProjectClasses | None, error: str | None, seconds: float) -> None:
        #: The document version analysed (its text is what positions refer to).
        self.document = document
        #: The configuration it was analysed with (every site, every confidence).
        self.config = config
        self.module_name = module_name
        #: The document's sites; None when it could not be parsed.
        self.module = module
        #: One prediction per unannotated site of any kind, whatever its confidence.
        self.predictions = tuple(predictions)
        #: The workspace's module-level classes (where `apply` imports project types from).
        self.classes = classes
        #: Why there are no predictions (a syntax error), if there are none for a reason.
        self.error = error
        self.seconds = seconds
        self.sites: dict[SiteKey, Site] = \
            {site.key: site for site in module.sites} if module is not None else {}
        self._lock = threading.RLock()
        #: Held while rendering (see ``renderer``).
        self.render_lock = threading.RLock()
        #: Values derived from this analysis, by name (see ``derived``).
        self._derived: dict[object, object] = {}
        self._renderer: ModuleRenderer | None = None

    @property
    def text(self) -> str:
        return self.document.text

    def derived(self, key: object, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per key for this analysis."""
        with self._lock:
            if key not in self._derived:
                self._derived[key] = compute()
            return self._derived[key]

    def renderer(self) -> ModuleRenderer:
        """`apply`'s renderer over the analysed text, parsed once (raises ``RenderError``).
        Render with ``render_lock`` held: one thread at a time uses the tree."""
        with self.render_lock:
            if self._renderer is None:
                from ..apply.insert import ModuleRenderer  # LibCST loads on first use

                self._renderer = ModuleRenderer(self.text, self.module_name)
            return self._renderer


@dataclass(slots=True)
class _IndexEntry:
    stamp: object
    name: str
    sites: ModuleSites | None
    imports: frozenset[str]


@dataclass(slots=True)
class _ModuleIndex:
    """Module-level facts of a workspace's files, re-read only when a file changes: the scope
    tree (for the project's classes) and the modules each file imports (for its callers)."""

    entries: dict[Path, _IndexEntry] = field(default_factory=dict)

    def update(self, files: Sequence[SourceFile], overlay: Mapping[Path, str],
               max_bytes: int) -> None:
        listed = {source.path for source in files}
        for path in [p for p in self.entries if p not in listed]:
            del self.entries[path]
        prefixes: dict[Path, str] = {}
        for source in files:
            stamp = _stamp(source.path, overlay)
            entry = self.entries.get(source.path)
            if entry is not None and entry.stamp == stamp:
                continue
            name, is_package = module_name_for(source.path, prefixes)
            sites = _parse_module(source, overlay, name, is_package, max_bytes)
            self.entries[source.path] = _IndexEntry(stamp, name, sites, _imports_of(sites))

    def put(self, path: Path, stamp: object, name: str, sites: ModuleSites) -> None:
        self.entries[path] = _IndexEntry(stamp, name, sites, _imports_of(sites))

    def classes(self) -> ProjectClasses:
        return ProjectClasses((e.name, e.sites) for e in self.entries.values()
                              if e.sites is not None)

    def importers(self, module: str) -> list[str]:
        """Modules that import ``module``, or a package whose ``__init__`` imports it."""
        names = {module}
        packages = {e.name: e for e in self.entries.values() if e.sites is not None
                    and e.sites.file.endswith("__init__.py")}
        parts = module.split(".")
        for size in range(1, len(parts)):
            package = packages.get(".".join(parts[:size]))
            if package is not None and module in package.imports:
                names.add(package.name)
        return [e.name for e in self.entries.values() if e.name != module and e.imports & names]


def _stamp(path: Path, overlay: Mapping[Path, str]) -> object:
    text = overlay.get(path)
    if text is not None:
        return ("text", len(text), hash(text))
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size)


def _parse_module(source: SourceFile, overlay: Mapping[Path, str], name: str,
                  is_package: bool, max_bytes: int) -> ModuleSites | None:
    try:
        text = overlay.get(source.path)
        if text is None:
            text = read_source(source, max_bytes)
        return extract_sites(source.relpath, text, parse_source(text, source.relpath), name,
                             is_package)
    except (UnreadableSource, ParseFailure, RecursionError):
        return None


def _imports_of(sites: ModuleSites | None) -> frozenset[str]:
    if sites is None:
        return frozenset()
    found: set[str] = set()
    for scope in sites.scope.walk():
        for ref in scope.imports.values():
            found.add(ref.module)
            if ref.attr is not None:
                found.add(f"{ref.module}.{ref.attr}")
    return frozenset(found)


@dataclass(slots=True)
class _Due:
    deadline: float
    #: Analysed because a module it imports changed (such an analysis cascades no further).
    cascade: bool


class Session:
    """Open documents, their analyses, and the thread that keeps those up to date."""

    def __init__(self, roots: Iterable[Path] = (), overrides: Mapping[str, Any] | None = None,
                 *, debounce: float = DEFAULT_DEBOUNCE,
                 on_analysed: Callable[[str], None] | None = None,
                 on_message: Callable[[str], None] | None = None,
                 prepare: Callable[[Analysis], None] | None = None,
                 collect: bool = False) -> None:
        """``on_analysed(uri)`` is called (from the analysis thread) once an analysis is
        available, ``prepare(analysis)`` just before, to compute in that thread what the
        first requests will need; ``on_message`` receives warnings for the user.

        ``collect``: the process leaves full garbage collections to this session, which runs
        them in its thread between analyses (see ``_collect``).
        """
        self.debounce = debounce
        self._prepare = prepare
        self._collect_garbage = collect
        self._collected = time.monotonic()
        self._on_analysed = on_analysed or (lambda uri: None)
        self._on_message = on_message or (lambda message: None)
        self._roots = sorted({Path(os.path.abspath(r)) for r in roots}, key=lambda p: -len(p.parts))
        self._overrides: dict[str, Any] = dict(overrides or {})
        self._condition = threading.Condition()
        self._documents: dict[str, Document] = {}
        self._analyses: dict[str, Analysis] = {}
        self._due: dict[str, _Due] = {}
        self._configs: dict[Path, Config] = {}
        self._files: dict[Path, list[SourceFile]] = {}
        self._indexes: dict[Path, _ModuleIndex] = {}
        self._stubs: Stubs | None = None
        self._stopped = False
        #: Analyses run so far (tests read it to check the debounce).
        self.analyses_run = 0
        self._thread = threading.Thread(target=self._loop, name="typeseer-analysis",
                                        daemon=True)
        self._thread.start()

    # -- documents ---------------------------------------------------------------------------
    def open(self, uri: str, text: str, version: int) -> None:
        """A document was opened: analyse it right away."""
        with self._condition:
            self._documents[uri] = Document(uri, _document_path(uri), text, version)
            self._schedule(uri, 0.0)

    def change(self, uri: str, text: str, version: int) -> None:
        """A document's text changed: analyse it once it has been quiet for ``debounce``."""
        with self._condition:
            self._documents[uri] = Document(uri, _document_path(uri), text, version)
            self._schedule(uri, self.debounce)

    def close(self, uri: str) -> None:
        """The editor closed the document: the file on disk counts again."""
        with self._condition:
            self._documents.pop(uri, None)
            self._analyses.pop(uri, None)
            self._due.pop(uri, None)
            self._condition.notify_all()

    def document(self, uri: str) -> Document | None:
        with self._condition:
            return self._documents.get(uri)

    def latest(self, uri: str) -> Analysis | None:
        """The latest finished analysis of an open document (maybe of an older version)."""
        with self._condition:
            if uri not in self._documents:
                return None
            return self._analyses.get(uri)

    def current(self, uri: str) -> Analysis | None:
        """The analysis of the document's current text, if it is finished."""
        with self._condition:
            return self._current(uri)

    def _current(self, uri: str) -> Analysis | None:
        document = self._documents.get(uri)
        analysis = self._analyses.get(uri)
        if document is None or analysis is None or analysis.text != document.text:
            return None
        return analysis

    def pending(self, uri: str) -> bool:
        """Whether an analysis of the document is due or running."""
        with self._condition:
            return uri in self._documents and self._current(uri) is None

    def wait(self, uri: str, timeout: float) -> Analysis | None:
        """Block until the document's current text is analysed (None after ``timeout``, or
        when the document is closed). For scripts and tests; the server never blocks."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                analysis = self._current(uri)
                remaining = deadline - time.monotonic()
                if analysis is not None or uri not in self._documents or remaining <= 0:
                    return analysis
                self._condition.wait(remaining)

    # -- configuration -----------------------------------------------------------------------
    def configure(self, overrides: Mapping[str, Any]) -> None:
        """New settings from the client (``Config`` field overrides, already checked): every
        open document is analysed again."""
        with self._condition:
            self._overrides = dict(overrides)
            self._configs.clear()
            for uri in self._documents:
                self._schedule(uri, 0.0)

    def set_roots(self, roots: Iterable[Path]) -> None:
        with self._condition:
            self._roots = sorted({Path(os.path.abspath(r)) for r in roots},
                                 key=lambda p: -len(p.parts))
            self.files_changed()

    def files_changed(self) -> None:
        """Files were created or deleted on disk: find the workspace's files again."""
        with self._condition:
            self._files.clear()
            for uri in self._documents:
                self._schedule(uri, self.debounce)

    def config_for(self, uri: str) -> Config:
        """The configuration that applies to a document: defaults, ``[tool.typeseer]`` of its
        project, then the client's settings."""
        with self._condition:
            document = self._documents.get(uri)
            path = document.path if document is not None else _path_of(uri)
            return self._config(self._root_of(path) if path is not None else None)

    def _config(self, root: Path | None) -> Config:
        if root is None:
            return replace(Config(), **self._overrides)
        config = self._configs.get(root)
        if config is None:
            try:
                config = load_config(root, self._overrides)
            except ConfigError as error:
                self._on_message(f"typeseer: {error}; using the defaults")
                config = replace(Config(), **self._overrides)
            self._configs[root] = config
        return config

    def _root_of(self, path: Path) -> Path:
        """The innermost workspace folder holding ``path``, else its project's directory."""
        for root in self._roots:
            if path.is_relative_to(root):
                return root
        return project_root(path)

    # -- the analysis thread -----------------------------------------------------------------
    def shutdown(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _schedule(self, uri: str, delay: float, cascade: bool = False) -> None:
        """Analyse ``uri`` after ``delay`` seconds: an edit pushes a due analysis back (the
        debounce), a cascade only brings it forward."""
        deadline = time.monotonic() + delay
        due = self._due.get(uri)
        if due is None:
            self._due[uri] = _Due(deadline, cascade)
        elif cascade:
            due.deadline = min(due.deadline, deadline)
        else:
            due.deadline = deadline
            due.cascade = False
        self._condition.notify_all()

    def _next_due(self) -> tuple[Document, Path, Config, dict[Path, str], bool] | None:
        """Wait for the next document that is due (None once stopped)."""
        with self._condition:
            while not self._stopped:
                now = time.monotonic()
                ready = [(due.deadline, uri) for uri, due in self._due.items()
                         if due.deadline <= now]
                if ready:
                    _, uri = min(ready)
                    due = self._due.pop(uri)
                    document = self._documents.get(uri)
                    if document is None or document.path is None:
                        continue
                    root = self._root_of(document.path)
                    overlay = {d.path: d.text for d in self._documents.values()
                               if d.path is not None}
                    return document, root, self._config(root), overlay, due.cascade
                waits = [due.deadline - now for due in self._due.values()]
                self._condition.wait(min(waits) if waits else None)
            return None

    def _loop(self) -> None:
        while True:
            job = self._next_due()
            if job is None:
                return
            document, root, config, overlay, cascade = job
            try:
                analysis = self._analyse(document, root, config, overlay)
            except Exception as error:  # a bug must not stop the server: report and go on
                logger.exception("analysis of %s failed", document.uri)
                analysis = Analysis(document, config, "", None, (), None,
                                    f"analysis failed: {error}", 0.0)
            if self._prepare is not None:
                try:
                    self._prepare(analysis)
                except Exception:
                    logger.exception("preparing the analysis of %s failed", document.uri)
            with self._condition:
                self.analyses_run += 1
                if self._documents.get(document.uri) is None:
                    continue  # closed meanwhile
                previous = self._analyses.get(document.uri)
                self._analyses[document.uri] = analysis
                if not cascade and (previous is None or previous.text != analysis.text):
                    self._schedule_importers(document.uri, analysis)
                self._condition.notify_all()
            try:
                self._on_analysed(document.uri)
            except Exception:
                logger.exception("listener failed after analysing %s", document.uri)
            self._warm(analysis)
            if self._collect_garbage:
                self._collect()

    def _warm(self, analysis: Analysis) -> None:
        """Parse the analysed text for `apply`'s renderer while idle, so that the first code
        action resolved on it does not pay for LibCST's parse (a second on 5,000 lines)."""
        with self._condition:
            now = time.monotonic()
            if analysis.module is None or any(due.deadline <= now + self.debounce
                                              for due in self._due.values()):
                return
        try:
            with analysis.render_lock:
                analysis.renderer().prepare()
        except Exception:  # not renderable (LibCST cannot parse it): resolves will say so
            logger.debug("warming the renderer of %s failed", analysis.document.uri,
                         exc_info=True)

    def _collect(self) -> None:
        """A full garbage collection, when nothing is due and none ran for a while.

        The trees an analysis keeps (``ast``, scopes, LibCST) are hundreds of thousands of
        objects, so a full collection takes 0.1-0.25 s; left to the interpreter it lands in
        the middle of requests. Replaced analyses hold reference cycles (scope trees), so
        they are only freed by these collections.
        """
        with self._condition:
            now = time.monotonic()
            if now - self._collected < COLLECT_INTERVAL or any(
                    due.deadline <= now + self.debounce for due in self._due.values()):
                return
            self._collected = now
        gc.collect()

    def _schedule_importers(self, uri: str, analysis: Analysis) -> None:
        """The other open documents that import the one just analysed are analysed again."""
        if not analysis.module_name:
            return
        for other, latest in self._analyses.items():
            if other == uri or latest.module is None:
                continue
            if analysis.module_name in _imports_of(latest.module) and other in self._documents:
                self._schedule(other, 0.0, cascade=True)

    # -- one analysis ------------------------------------------------------------------------
    def _analyse(self, document: Document, root: Path, config: Config,
                 overlay: Mapping[Path, str]) -> Analysis:
        started = time.perf_counter()
        assert document.path is not None
        files = self._workspace_files(root, config, document.path)
        source = next(s for s in files if s.path == document.path)
        # Every site of every kind with its best type: thresholds and kinds are applied per
        # request, so that changing them needs no new analysis.
        every_site = replace(config, report_all=True, include_existing=False,
                             kinds=frozenset(SiteKind), jobs=1)
        worker = _Worker(files, every_site, overlay)
        if self._stubs is None:
            from ..static.stubs import Stubs

            self._stubs = Stubs()
        worker.engine = StaticEngine(worker.project, self._stubs, every_site.rules,
                                     use_annotations=not worker.replacing)
        loaded = worker.project.load(source)
        module_name = worker.project.module_name(source)
        module = loaded.sites
        if module is None:
            return Analysis(document, config, module_name, None, (), None,
                            loaded.error or "cannot be analysed", time.perf_counter() - started)
        index = self._indexes.setdefault(root, _ModuleIndex())
        index.put(source.path, _stamp(source.path, overlay), module_name, module)
        self._update_index(index, files, overlay, config)
        if worker.model is not None:
            from ..model.callsites import CallSites

            callers = [worker.project.module(name)
                       for name in index.importers(module_name)[:MAX_CALLER_MODULES]]
            worker.call_sites = CallSites(worker.engine,
                                          [module, *(c for c in callers if c is not None)])
        predictions = worker.predict_module(module)
        return Analysis(document, config, module_name, module, predictions, index.classes(),
                        None, time.perf_counter() - started)

    def _workspace_files(self, root: Path, config: Config, path: Path) -> list[SourceFile]:
        files = self._files.get(root)
        if files is None:
            files, _ = discover([root], config.exclude) if root.is_dir() else ([], [])
            self._files[root] = files
        if not any(s.path == path for s in files):
            # Not on disk yet, or excluded by the configuration: analysed all the same.
            try:
                relpath = path.relative_to(root).as_posix()
            except ValueError:
                relpath = path.name
            files = [*files, SourceFile(path, relpath, root)]
        return files

    @staticmethod
    def _update_index(index: _ModuleIndex, files: Sequence[SourceFile],
                      overlay: Mapping[Path, str], config: Config) -> None:
        if len(files) > MAX_INDEXED_FILES:
            files = [s for s in files if s.path in overlay]
        index.update(files, overlay, config.max_file_bytes)


def _document_path(uri: str) -> Path | None:
    """The path of a document that can be analysed: a ``file:`` URI that does not name a
    directory (whose workspace would be all the files under it: ``file:///`` is the disk)."""
    path = _path_of(uri)
    return None if path is None or path.is_dir() else path


def _path_of(uri: str) -> Path | None:
    """The absolute path of a ``file:`` URI (None for other schemes)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if os.name == "nt" and path.startswith("/") and len(path) > 2 and path[2] == ":":
        path = path[1:]
    if parsed.netloc and parsed.netloc != "localhost":
        path = f"//{parsed.netloc}{path}"
    return Path(os.path.abspath(path))
