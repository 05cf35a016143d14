"""The typed Python API behind the CLI: ``infer(paths, config) -> InferResult``."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .annotations import existing_type
from .config import Config
from .project import Project
from .sites import Site
from .sources import Diagnostic, Severity, SourceFile, discover
from .static import StaticEngine
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


class _Worker:
    """Per-process state: the project index and the memoised static engine."""

    def __init__(self, files: Sequence[SourceFile], config: Config) -> None:
        self.files = files
        self.config = config
        self.project = Project(files, config.max_file_bytes)
        self.engine = StaticEngine(self.project, Stubs(), config.rules)
        self.calibration = load_calibration()

    def run(self, index: int) -> _FileResult:
        source = self.files[index]
        loaded = self.project.load(source)
        if loaded.sites is None:
            severity = Severity.SKIPPED if "skipped" in (loaded.error or "") else Severity.ERROR
            return _FileResult([], [Diagnostic(source.relpath, loaded.error or "unknown error",
                                               severity)], 0)
        module = loaded.sites
        self.engine.register(module.scope, loaded.name)
        diagnostics = []
        if not module.lines or not any(line.strip() for line in module.lines):
            diagnostics.append(Diagnostic(source.relpath, "empty file, nothing to infer",
                                          Severity.INFO))
        predictions = [p for p in (self.predict(site) for site in module.sites) if p is not None]
        return _FileResult(predictions, diagnostics, len(module.lines))

    def predict(self, site: Site) -> Prediction | None:
        config = self.config
        if site.kind not in config.kinds:
            return None
        base = (site.file, site.line, site.col, site.scope, site.kind.value, site.name)
        if site.annotation is not None:
            if not config.include_existing:
                return None
            parsed = existing_type(site)
            existing = str(parsed) if parsed is not None else site.annotation
            return Prediction(*base, existing, 1.0, "existing", ((existing, 1.0),),
                              ("existing_annotation",))
        fact = self.engine.site_fact(site)
        if fact is None:
            return Prediction(*base, None, 0.0, "static")
        text = str(fact.type)
        confidence = self.calibration.confidence(calibration_kind(site), fact)
        passes = config.report_all or confidence >= config.min_confidence
        return Prediction(*base, text if passes else None, confidence, "static",
                          ((text, confidence),), fact.rules)


_worker: _Worker | None = None


def _init_worker(files: Sequence[SourceFile], config: Config) -> None:
    global _worker
    gc.disable()  # see _collector_paused
    _worker = _Worker(files, config)


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
          progress: Callable[[int, int], None] | None = None) -> InferResult:
    """Infer the type of every site under ``paths``.

    ``progress(done, total)`` is called as files complete. Files that cannot be read or
    parsed are reported in ``diagnostics``; the rest is still analysed.
    """
    with _collector_paused():
        return _infer(paths, config or Config(), progress)


def _infer(paths: Sequence[str | Path], config: Config,
           progress: Callable[[int, int], None] | None) -> InferResult:
    started = time.perf_counter()
    files, diagnostics = discover(paths, config.exclude)
    result = InferResult(diagnostics=diagnostics, files=len(files))
    jobs = config.jobs or os.cpu_count() or 1
    jobs = min(jobs, max(1, len(files) // _CHUNK))
    outputs: list[_FileResult] = []
    if jobs <= 1:
        worker = _Worker(files, config)
        for index in range(len(files)):
            outputs.append(worker.run(index))
            if progress is not None:
                progress(index + 1, len(files))
    else:
        with ProcessPoolExecutor(jobs, initializer=_init_worker,
                                 initargs=(files, config)) as pool:
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
