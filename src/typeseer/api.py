"""The typed Python API behind the CLI: ``infer(paths, config) -> InferResult``.

With ``cache``, results are kept per file in the project's incremental cache (typeseer.cache)
and only the files whose inputs changed are analysed again.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .annotations import existing_type
from .apply.options import ExistingPolicy
from .combine import CERTAIN, decide, load_decision_map
from .config import Config
from .model.callsites import CallSites
from .model.features import candidate_classes, hash_features, site_features
from .project import ANYTHING, DependencyLog, Project, file_dependency
from .sites import ModuleSites, Site, SiteKey, SiteKind
from .sources import Diagnostic, Severity, SourceFile, discover
from .static import Fact, StaticEngine
from .static.calibration import calibration_kind, load_calibration
from .static.stubs import Stubs

__all__ = ["CallArguments", "InferResult", "Prediction", "ProjectAnalysis", "WorkerFailure",
           "collector_paused", "infer"]

#: How many files one worker task handles: large enough to amortise the hand-off, small
#: enough to keep both cores busy to the end.
_CHUNK = 64


class WorkerFailure(RuntimeError):
    """A worker process died during the run (killed, out of memory): no complete result."""


@dataclass(frozen=True, slots=True)
class Prediction:
    """One site's inferred type (the DESIGN.md JSONL contract)."""

    file: str
    line: int
    col: int
    scope: str
    kind: str
    name: str
    #: Normalised type, or None when nothing passes the confidence threshold.
    type: str | None
    #: Probability that ``type`` (or the top alternative) is exactly right.
    confidence: float
    #: ``static``, ``model``, ``combined`` or ``existing``.
    source: str
    #: Candidate types with their confidence, best first.
    alternatives: tuple[tuple[str, float], ...] = ()
    #: The rules or signals behind the top candidate.
    evidence: tuple[str, ...] = ()
    #: Where names in ``type`` come from, when inference knows it: ``(("Path", "pathlib"),)``.
    #: Used to write imports; not part of the JSON output.
    origins: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> SiteKey:
        return SiteKey(self.file, self.scope, self.kind, self.name)

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file, "line": self.line, "col": self.col, "scope": self.scope,
            "kind": self.kind, "name": self.name, "type": self.type,
            "confidence": round(self.confidence, 4), "source": self.source,
            "alternatives": [[t, round(c, 4)] for t, c in self.alternatives],
            "evidence": list(self.evidence),
        }


@dataclass(slots=True)
class InferResult:
    """Predictions for every site of the files found, with diagnostics and run figures."""

    predictions: list[Prediction] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    lines: int = 0
    seconds: float = 0.0
    #: Files whose results came from the incremental cache.
    cached_files: int = 0
    #: Files analysed in this run (all of them without a cache).
    analysed_files: int = 0
    #: The ``file`` keys of the files analysed in this run, in file order.
    analysed_paths: list[str] = field(default_factory=list)


#: The arguments the project passes to one parameter site, as the model's call-site features
#: read them: ``(scope, name, line, col, ((file index, line, col, end line, end col), ...))``.
CallArguments = tuple[str, str, int, int, tuple[tuple[int, int, int, int, int], ...]]


@dataclass(slots=True)
class _FileResult:
    predictions: list[Prediction]
    diagnostics: list[Diagnostic]
    lines: int
    #: With dependency tracking: what the results were computed from besides the file's text
    #: (``project.module_dependency``/``file_dependency`` strings).
    dependencies: frozenset[str] = frozenset()
    #: With dependency tracking: the call sites the model read for the file's parameters.
    calls: tuple[CallArguments, ...] = ()
    #: False when the analysis was cut short (time limit, internal error): not worth caching.
    complete: bool = True


@dataclass(slots=True)
class _Pending:
    """A site waiting for the model, with its static fact."""

    site: Site
    fact: Fact | None
    confidence: float


class _Worker:
    """Per-process state: the project index, the memoised static engine and the model."""

    def __init__(self, files: Sequence[SourceFile], config: Config,
                 overlay: Mapping[Path, str] | None = None, *,
                 contents: Mapping[Path, bytes] | None = None, track: bool = False) -> None:
        """``contents``: bytes already read, by absolute path; ``track``: record what each
        file's results depend on (for the incremental cache)."""
        self.files = files
        self.config = config
        self.project = Project(files, config.max_file_bytes, overlay, contents)
        if track:
            self.project.dependencies = DependencyLog()
        #: Replacing existing annotations means inferring as if they were not there.
        self.replacing = config.existing is ExistingPolicy.REPLACE
        self.engine = StaticEngine(self.project, Stubs(), config.rules,
                                   use_annotations=not self.replacing)
        self.calibration = load_calibration()
        self.model = None
        if config.use_model:
            from .model.runtime import load_model  # NumPy loads only when the model is used

            self.model = load_model()
        self.decision_map = load_decision_map()
        self.call_sites: CallSites | None = None
        #: While tracking: the parameter sites of the current file the model saw call sites for.
        self._call_site_users: list[Site] = []

    def run(self, index: int) -> _FileResult:
        """One file's result. A file that takes longer than ``config.file_timeout`` or meets
        a bug in typeseer is reported and skipped; the run goes on with the next file."""
        try:
            self.prepare()  # for the whole project: not charged to this file's time
            with _time_limit(self.config.file_timeout):
                return self._tracked_run(index)
        except _FileTimeout:
            reason = (f"analysis stopped by the per-file time limit "
                      f"({self.config.file_timeout:g} s, option file-timeout), skipped")
            severity = Severity.SKIPPED
        except RecursionError:
            reason, severity = "code nested too deeply to analyse, skipped", Severity.SKIPPED
        except Exception as error:  # one file's bug must not stop the run
            reason = (f"internal error ({type(error).__name__}: {error}), skipped; "
                      "please report it")
            severity = Severity.ERROR
        # A computation cut short may have left the engine's memos half-built. The file itself
        # is never loaded again (another file importing it sees a module that failed to load).
        self._forget()
        self.project.give_up(self.files[index], reason)
        return _FileResult([], [Diagnostic(self.files[index].relpath, reason, severity)], 0,
                           complete=False)

    def prepare(self) -> None:
        """Gather what the model reads from the whole project (its call sites). Done before
        the first file is analysed: gathering may drop loaded modules (``_module_batches``),
        which must not happen while a module is being predicted."""
        if self.model is not None:
            self._call_sites()

    def _bound_memory(self) -> None:
        """Modules are loaded as files import them, and nothing needs them all at once (the
        call-site index keeps features, not trees): past a budget, what is loaded is dropped
        and loaded again on demand, so that memory stays bounded on any size of project."""
        if self.project.loaded_lines > self.config.loaded_lines:
            self._forget()

    def _forget(self) -> None:
        """Drop every loaded module and everything computed from them."""
        self.project.release()
        self.engine = StaticEngine(self.project, Stubs(), self.config.rules,
                                   use_annotations=not self.replacing)

    def _tracked_run(self, index: int) -> _FileResult:
        self._bound_memory()
        log = self.project.dependencies
        if log is None:
            return self._run(index)
        log.push()
        try:
            self._call_site_users = []
            result = self._run(index)
            if self._call_site_users:
                result.calls = self.call_arguments(self._call_site_users)
        finally:
            read = log.pop()
        result.dependencies = frozenset(read)
        return result

    def _run(self, index: int) -> _FileResult:
        source = self.files[index]
        loaded = self.project.load(source)
        if loaded.sites is None:
            severity = Severity.SKIPPED if "skipped" in (loaded.error or "") else Severity.ERROR
            return _FileResult([], [Diagnostic(source.relpath, loaded.error or "unknown error",
                                               severity)], 0)
        module = loaded.sites
        diagnostics = []
        if not module.lines or not any(line.strip() for line in module.lines):
            diagnostics.append(Diagnostic(source.relpath, "empty file, nothing to infer",
                                          Severity.INFO))
        return _FileResult(self.predict_module(module), diagnostics, len(module.lines))

    def predict_module(self, module: ModuleSites) -> list[Prediction]:
        """Predictions for the module's sites, in source order; the model runs once per file."""
        slots: list[Prediction | _Pending] = []
        for site in module.sites:
            if site.kind not in self.config.kinds:
                continue
            if site.annotation is not None and not self.replacing:
                if self.config.include_existing:
                    slots.append(self._existing(site))
                continue
            if self._enum_member(site):
                slots.append(self._static(site, None, 0.0))  # members are never annotated
                continue
            fact = self.engine.site_fact(site)
            confidence = self.calibration.confidence(calibration_kind(site), fact) \
                if fact is not None else 0.0
            if self.model is None or (fact is not None and confidence >= CERTAIN):
                # Certain static facts are never contradicted: no need to ask the model.
                slots.append(self._static(site, fact, confidence))
            else:
                slots.append(_Pending(site, fact, confidence))
        pending = [s for s in slots if isinstance(s, _Pending)]
        if pending and self.model is not None:
            call_sites = self._call_sites()
            if self.project.dependencies is not None:
                self._call_site_users.extend(p.site for p in pending
                                             if p.site.kind is SiteKind.PARAM)
            bags = [hash_features(site_features(
                        p.site, module, p.fact, p.confidence,
                        call_sites.features(p.site, self.project, self.project.dependencies)))
                    for p in pending]
            candidates = [candidate_classes(module)] * len(pending)
            outputs = iter(self.model.predict(bags, candidates))
            slots = [self._combined(s, next(outputs)) if isinstance(s, _Pending) else s
                     for s in slots]
        return [s for s in slots if isinstance(s, Prediction)]

    def _call_sites(self) -> CallSites:
        """The project's call sites, gathered once from every module, so that a function's
        parameters see the calls made from any file."""
        if self.call_sites is None:
            log = self.project.dependencies
            if log is None:
                self.call_sites = self._gather_call_sites()
            else:
                with log.isolated():  # gathered for every file: no one file depends on it all
                    self.call_sites = self._gather_call_sites()
        return self.call_sites

    def _gather_call_sites(self) -> CallSites:
        call_sites = CallSites()
        for batch in self._module_batches():
            call_sites.add_names(batch)
        for batch in self._module_batches():
            call_sites.add_calls(self.engine, batch)
        return call_sites

    def _module_batches(self) -> Iterator[list[ModuleSites]]:
        """Every module that loads, in file order, in batches: after each batch that brings
        the loaded code past the budget, what is loaded is dropped (see ``_bound_memory``)."""
        batch: list[ModuleSites] = []
        for source in self.files:
            module = self.project.load(source).sites
            if module is not None:
                batch.append(module)
            if self.project.loaded_lines > self.config.loaded_lines:
                yield batch
                batch = []
                self._forget()
        if batch:
            yield batch

    def call_arguments(self, sites: Sequence[Site]) -> tuple[CallArguments, ...]:
        """Where the arguments the model reads for these parameters come from; each file they
        come from is recorded as a dependency of the file being analysed."""
        call_sites = self._call_sites()
        log = self.project.dependencies
        found: list[CallArguments] = []
        for site in sites:
            places = []
            for argument in call_sites.arguments(site, self.project):
                index = argument.place[0]
                if log is not None:
                    log.note(ANYTHING if index < 0 else file_dependency(index))
                places.append(argument.place)
            found.append((site.scope, site.name, site.line, site.col, tuple(places)))
        return tuple(found)

    def parameter_sites(self, index: int) -> dict[tuple[object, ...], Site]:
        """The parameter sites of the ``index``-th file by ``(scope, name, line, col)``."""
        module = self.project.load(self.files[index]).sites
        if module is None:
            return {}
        return {(s.scope, s.name, s.line, s.col): s for s in module.sites
                if s.kind is SiteKind.PARAM}

    def _enum_member(self, site: Site) -> bool:
        owner = site.owner
        return (site.kind is SiteKind.VARIABLE and owner is not None and owner.kind == "class"
                and self.engine.is_enum(owner))

    @staticmethod
    def _base(site: Site) -> tuple[str, int, int, str, str, str]:
        return (site.file, site.line, site.col, site.scope, site.kind.value, site.name)

    def _existing(self, site: Site) -> Prediction:
        parsed = existing_type(site)
        existing = str(parsed) if parsed is not None else site.annotation or ""
        return Prediction(*self._base(site), existing, 1.0, "existing", ((existing, 1.0),),
                          ("existing_annotation",))

    def _passes(self, confidence: float) -> bool:
        return self.config.report_all or confidence >= self.config.threshold

    def _static(self, site: Site, fact: Fact | None, confidence: float) -> Prediction:
        if fact is None:
            return Prediction(*self._base(site), None, 0.0, "static")
        text = str(fact.type)
        return Prediction(*self._base(site), text if self._passes(confidence) else None,
                          confidence, "static", ((text, confidence),), fact.rules,
                          _origins(fact))

    def _combined(self, pending: _Pending, ranked: list[tuple[str, float]]) -> Prediction:
        fact = pending.fact
        decision = decide(ranked, str(fact.type) if fact is not None else None,
                          pending.confidence, self.decision_map)
        if decision.source == "static":
            evidence: tuple[str, ...] = fact.rules if fact is not None else ()
        elif decision.source == "combined" and fact is not None:
            evidence = ("model", *fact.rules)
        else:
            evidence = ("model",)
        shown = decision.type if self._passes(decision.confidence) else None
        origins = _origins(fact) if fact is not None and decision.type == str(fact.type) else ()
        return Prediction(*self._base(pending.site), shown, decision.confidence,
                          decision.source, decision.alternatives, evidence, origins)


class _FileTimeout(BaseException):
    """Raised in the middle of a file's analysis when its time is up (a BaseException, so
    that no ``except Exception`` on the way swallows it)."""


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise ``_FileTimeout`` in the block after ``seconds`` (0: no limit). Uses SIGALRM, so
    it applies in a process's main thread only (the CLI, worker processes); elsewhere the
    block runs unbounded."""
    if seconds <= 0 or not hasattr(signal, "setitimer") \
            or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise _FileTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _origins(fact: Fact) -> tuple[tuple[str, str], ...]:
    """The modules of the names in a static fact's type (typeshed and the project know them)."""
    found = {t.name: t.module for t in fact.type.walk() if t.module and t.name.isidentifier()}
    return tuple(sorted(found.items()))


class ProjectAnalysis:
    """One project's analysis in this process, for analysing its files in batches anywhere
    (``typeseer.batch``): each file gets exactly what ``infer`` gives it, seeing the whole
    project (imports, call sites), whichever of its files were analysed before."""

    def __init__(self, files: Sequence[SourceFile], config: Config) -> None:
        self.files = files
        self._worker = _Worker(files, config)

    def release(self) -> None:
        """Free what the analysis holds now (its loaded modules are loaded again if it is
        used after)."""
        self._worker._forget()

    def analyse(self, indices: Iterable[int]) -> list[InferResult]:
        """The results of each of ``files[i]`` for i in ``indices``, file by file (the
        collector paused throughout, as for ``infer``)."""
        results = []
        with collector_paused():
            for index in indices:
                started = time.perf_counter()
                output = self._worker.run(index)
                result = InferResult(files=1, analysed_files=1,
                                     analysed_paths=[self.files[index].relpath])
                _add_output(result, output)
                result.seconds = time.perf_counter() - started
                results.append(result)
        return results


_worker: _Worker | None = None


def _init_worker(files: Sequence[SourceFile], config: Config,
                 overlay: Mapping[Path, str] | None, contents: Mapping[Path, bytes] | None,
                 track: bool) -> None:
    global _worker
    gc.disable()  # see collector_paused
    _worker = _Worker(files, config, overlay, contents=contents, track=track)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the run.

    Inference keeps every parsed tree alive until the end, so each collection traverses
    millions of objects for nothing: measured on Django, the collector took half the run.
    What the run allocates is freed by reference counting, or with the run's results.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run_chunk(indices: list[int]) -> list[_FileResult]:
    assert _worker is not None
    return [_worker.run(i) for i in indices]


def _chunks(indices: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(indices), size):
        yield list(indices[start:start + size])


def infer(paths: Sequence[str | Path], config: Config | None = None,
          progress: Callable[[int, int], None] | None = None,
          overlay: Mapping[Path, str] | None = None,
          cache: bool | Path | None = None) -> InferResult:
    """Infer the type of every site under ``paths``.

    ``progress(done, total)`` is called as files complete. Files that cannot be read or
    parsed are reported in ``diagnostics``; the rest is still analysed. ``overlay`` gives the
    text of files (by absolute path) to use instead of what is on disk: unsaved editor
    buffers, or code `apply` has annotated in memory.

    ``cache``: keep results in the incremental cache at this path (True: the project's,
    ``typeseer.cache.default_cache_path``) and analyse only what changed since; None or
    False: no cache. The results are the same either way.
    """
    config = config or Config()
    with collector_paused():
        if cache is None or cache is False:
            return _infer(paths, config, progress, overlay)
        from .cache import default_cache_path, infer_cached

        path = default_cache_path(paths) if cache is True else Path(cache)
        return infer_cached(paths, config, progress, overlay, path)


def _infer(paths: Sequence[str | Path], config: Config,
           progress: Callable[[int, int], None] | None,
           overlay: Mapping[Path, str] | None) -> InferResult:
    started = time.perf_counter()
    files, diagnostics = discover(paths, config.exclude)
    result = InferResult(diagnostics=diagnostics, files=len(files))
    outputs = _analyse(files, range(len(files)), config, overlay, progress=progress)
    for source, output in zip(files, outputs, strict=True):
        _add_output(result, output)
        result.analysed_paths.append(source.relpath)
    result.analysed_files = len(files)
    result.seconds = time.perf_counter() - started
    return result


def _add_output(result: InferResult, output: _FileResult) -> None:
    result.predictions.extend(output.predictions)
    result.diagnostics.extend(output.diagnostics)
    result.lines += output.lines


def _analyse(files: Sequence[SourceFile], indices: Sequence[int], config: Config,
             overlay: Mapping[Path, str] | None, *,
             contents: Mapping[Path, bytes] | None = None, track: bool = False,
             progress: Callable[[int, int], None] | None = None, done: int = 0,
             worker: _Worker | None = None) -> list[_FileResult]:
    """The results of the files at ``indices`` (in that order), in this process or in
    ``config.jobs`` processes. ``done`` files are already done (for ``progress``); ``worker``
    is one already built for these files and settings, used when one process does it all."""
    jobs = config.jobs or os.cpu_count() or 1
    jobs = min(jobs, max(1, len(indices) // _CHUNK))
    total = done + len(indices)
    outputs: list[_FileResult] = []
    if jobs <= 1:
        if worker is None:
            worker = _Worker(files, config, overlay, contents=contents, track=track)
        for index in indices:
            outputs.append(worker.run(index))
            if progress is not None:
                progress(done + len(outputs), total)
    else:
        try:
            with ProcessPoolExecutor(jobs, initializer=_init_worker,
                                     initargs=(files, config, overlay, contents, track)) as pool:
                # Contiguous chunks keep a package's files together, so each worker loads (for
                # cross-file inference) mostly the modules its own files import.
                size = max(_CHUNK, -(-len(indices) // (jobs * 2)))
                for chunk_result in pool.map(_run_chunk, _chunks(indices, size)):
                    outputs.extend(chunk_result)
                    if progress is not None:
                        progress(done + len(outputs), total)
        except BrokenProcessPool:
            raise WorkerFailure(f"a worker process died (killed, or out of memory?); run again "
                                f"with fewer --jobs than {jobs}, or on fewer files") from None
    return outputs
