"""The typed Python API behind the CLI: ``infer(paths, config) -> InferResult``."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .annotations import existing_type
from .apply.options import ExistingPolicy
from .combine import CERTAIN, decide, load_decision_map
from .config import Config
from .model.callsites import CallSites
from .model.features import candidate_classes, hash_features, site_features
from .project import Project
from .sites import ModuleSites, Site, SiteKind
from .sources import Diagnostic, Severity, SourceFile, discover
from .static import Fact, StaticEngine
from .static.calibration import calibration_kind, load_calibration
from .static.stubs import Stubs

__all__ = ["InferResult", "Prediction", "infer"]

#: How many files one worker task handles: large enough to amortise the hand-off, small
#: enough to keep both cores busy to the end.
_CHUNK = 64


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


@dataclass(slots=True)
class _FileResult:
    predictions: list[Prediction]
    diagnostics: list[Diagnostic]
    lines: int


@dataclass(slots=True)
class _Pending:
    """A site waiting for the model, with its static fact."""

    site: Site
    fact: Fact | None
    confidence: float


class _Worker:
    """Per-process state: the project index, the memoised static engine and the model."""

    def __init__(self, files: Sequence[SourceFile], config: Config,
                 overlay: Mapping[Path, str] | None = None) -> None:
        self.files = files
        self.config = config
        self.project = Project(files, config.max_file_bytes, overlay)
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

    def run(self, index: int) -> _FileResult:
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
            bags = [hash_features(site_features(p.site, module, p.fact, p.confidence,
                                                call_sites.features(p.site)))
                    for p in pending]
            candidates = [candidate_classes(module)] * len(pending)
            outputs = iter(self.model.predict(bags, candidates))
            slots = [self._combined(s, next(outputs)) if isinstance(s, _Pending) else s
                     for s in slots]
        return [s for s in slots if isinstance(s, Prediction)]

    def _call_sites(self) -> CallSites:
        """The project's call sites, gathered once: every module is loaded first, so that a
        function's parameters see the calls made from any file."""
        if self.call_sites is None:
            self.call_sites = CallSites(self.engine, self.project.load_all())
        return self.call_sites

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


def _origins(fact: Fact) -> tuple[tuple[str, str], ...]:
    """The modules of the names in a static fact's type (typeshed and the project know them)."""
    found = {t.name: t.module for t in fact.type.walk() if t.module and t.name.isidentifier()}
    return tuple(sorted(found.items()))


_worker: _Worker | None = None


def _init_worker(files: Sequence[SourceFile], config: Config,
                 overlay: Mapping[Path, str] | None) -> None:
    global _worker
    gc.disable()  # see _collector_paused
    _worker = _Worker(files, config, overlay)


@contextmanager
def _collector_paused() -> Iterator[None]:
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


def _chunks(count: int, size: int) -> Iterator[list[int]]:
    for start in range(0, count, size):
        yield list(range(start, min(start + size, count)))


def infer(paths: Sequence[str | Path], config: Config | None = None,
          progress: Callable[[int, int], None] | None = None,
          overlay: Mapping[Path, str] | None = None) -> InferResult:
    """Infer the type of every site under ``paths``.

    ``progress(done, total)`` is called as files complete. Files that cannot be read or
    parsed are reported in ``diagnostics``; the rest is still analysed. ``overlay`` gives the
    text of files (by absolute path) to use instead of what is on disk: unsaved editor
    buffers, or code `apply` has annotated in memory.
    """
    with _collector_paused():
        return _infer(paths, config or Config(), progress, overlay)


def _infer(paths: Sequence[str | Path], config: Config,
           progress: Callable[[int, int], None] | None,
           overlay: Mapping[Path, str] | None) -> InferResult:
    started = time.perf_counter()
    files, diagnostics = discover(paths, config.exclude)
    result = InferResult(diagnostics=diagnostics, files=len(files))
    jobs = config.jobs or os.cpu_count() or 1
    jobs = min(jobs, max(1, len(files) // _CHUNK))
    outputs: list[_FileResult] = []
    if jobs <= 1:
        worker = _Worker(files, config, overlay)
        for index in range(len(files)):
            outputs.append(worker.run(index))
            if progress is not None:
                progress(index + 1, len(files))
    else:
        with ProcessPoolExecutor(jobs, initializer=_init_worker,
                                 initargs=(files, config, overlay)) as pool:
            # Contiguous chunks keep a package's files together, so each worker loads (for
            # cross-file inference) mostly the modules its own files import.
            size = max(_CHUNK, -(-len(files) // (jobs * 2)))
            for chunk_result in pool.map(_run_chunk, _chunks(len(files), size)):
                outputs.extend(chunk_result)
                if progress is not None:
                    progress(len(outputs), len(files))
    for output in outputs:
        result.predictions.extend(output.predictions)
        result.diagnostics.extend(output.diagnostics)
        result.lines += output.lines
    result.seconds = time.perf_counter() - started
    return result
