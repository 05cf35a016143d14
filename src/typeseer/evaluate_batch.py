"""Batch evaluation over many projects (``typeseer evaluate --out OUT``), on an executor.

Each PATH is one project and one task: the task runs :func:`typeseer.evaluate.evaluate` on
that project alone (in one process) and stores what scoring needs under OUT, a local folder
or a URI that pyarrow writes (``s3://``, ``gs://``, ``hdfs://``):

* ``truth/PROJECT/truth-FP.parquet``: the scored ground-truth sites (key fields, the type as
  printed in normal form, the annotation as written), in the order evaluation scored them;
* ``predictions/PROJECT/predictions-FP.parquet``: the prediction records scored (key fields,
  type, confidence, source, alternatives as two lists);
* ``projects/PROJECT/project-FP.json``: the rest of the project's result (ground-truth
  counters, class names, timings, stripped files, strip failures, diagnostics), or why there
  was nothing to evaluate, which is an outcome and not a failure. It is written last, so it
  marks a finished project.

``FP`` fingerprints the project's files and everything the results depend on (typeseer's
code, model and the settings evaluation runs with, the threshold included; see
``typeseer.batch.find_projects``), and the evaluation code itself. Running again evaluates only
the projects without a finished record of their current fingerprint, and removes the files of
other fingerprints first.

The driver then rebuilds every project's :class:`~typeseer.evaluate.EvaluationResult` from what
is stored (scoring again, with the run's type sets) and merges them in the order the projects
were given, so the report is the one ``merge_results([evaluate([p]) for p in paths])`` gives,
whether the run was resumed or not. Projects that failed every try are left out of it and
listed in ``OUT/summary.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from .batch import (
    BatchError,
    BatchProject,
    Log,
    find_projects,
    peak_memory_mib,
    project_files,
    stderr_log,
)
from .config import Config
from .evaluate import (
    EvaluationError,
    EvaluationResult,
    NothingToEvaluate,
    Timings,
    _forced_calibration,
    evaluate,
    merge_results,
)
from .executor import Executor, Outcome, Task
from .scoring import GroundTruth, PredictionRecord, TruthSite, score
from .sites import SiteKey
from .sources import Diagnostic, Severity
from .store import ResultStore, StoreError, parquet_bytes, read_parquet, require_pyarrow
from .typeexpr import parse_type

__all__ = [
    "EvaluateBatchError",
    "EvaluateBatchSummary",
    "evaluate_batch",
    "read_evaluation_table",
]

#: The folders of OUT a batch evaluation writes, one file per project in each.
FOLDERS = ("truth", "predictions", "projects")
#: The Parquet tables among them.
_TABLES = ("truth", "predictions")
_FILE = re.compile(r"(truth|predictions|project)-([0-9a-f]{16})\.(parquet|json)")
#: The modules besides inference whose code decides what a task stores: editing one changes
#: every project's fingerprint.
_EVALUATION_MODULES = ("evaluate.py", "evaluate_batch.py", "scoring.py", "strip.py")
#: Seconds between progress lines.
_PROGRESS_EVERY_S = 10.0
#: ``status`` of a project record.
EVALUATED = "evaluated"
NOTHING_TO_EVALUATE = "nothing to evaluate"

class EvaluateBatchError(EvaluationError):
    """The batch evaluation cannot start (a missing project, pyarrow missing...); says why."""


@dataclass(slots=True)
class EvaluateBatchSummary:
    """What one batch evaluation did (also written to ``OUT/summary.json``)."""

    out: str
    executor: str
    #: Threshold of coverage and precision.
    threshold: float
    projects: int = 0
    #: Projects finished by an earlier run and not evaluated again.
    projects_resumed: int = 0
    projects_run: int = 0
    #: Projects in the report (those with an annotated site to score).
    projects_scored: int = 0
    #: Projects with no annotated site to score: ``{"project", "root", "reason"}``.
    nothing_to_evaluate: list[dict[str, str]] = field(default_factory=list)
    #: Projects that failed every try, or whose stored results cannot be read (``attempts``
    #: 0; evaluated again next run): ``{"project", "root", "error", "attempts"}``.
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: Tries beyond the first, over all projects run.
    retries: int = 0
    #: Ground-truth sites scored in the merged report.
    scored_sites: int = 0
    #: Peak resident memory (MiB) of each process that evaluated projects, by process id.
    worker_peak_mib: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- what is stored -------------------------------------------------------------------------

def _schemas() -> dict[str, Any]:
    pa = require_pyarrow()
    key = [("project", pa.string()), ("file", pa.string()), ("scope", pa.string()),
           ("kind", pa.string()), ("name", pa.string())]
    return {
        "truth": pa.schema([*key, ("type", pa.string()), ("annotation", pa.string())]),
        "predictions": pa.schema([
            *key, ("type", pa.string()), ("confidence", pa.float64()), ("source", pa.string()),
            ("alternatives", pa.list_(pa.string())),
            ("alternative_confidences", pa.list_(pa.float64())),
        ]),
    }


def _file_name(folder: str, project: str, fingerprint: str) -> str:
    if folder == "projects":
        return f"projects/{project}/project-{fingerprint}.json"
    return f"{folder}/{project}/{folder}-{fingerprint}.parquet"


def _truth_rows(project: str, sites: Sequence[TruthSite]) -> list[dict[str, Any]]:
    return [{"project": project, "file": s.key.file, "scope": s.key.scope, "kind": s.key.kind,
             "name": s.key.name, "type": str(s.type), "annotation": s.annotation}
            for s in sites]


def _prediction_rows(project: str,
                     records: Sequence[PredictionRecord]) -> list[dict[str, Any]]:
    return [{"project": project, "file": r.key.file, "scope": r.key.scope, "kind": r.key.kind,
             "name": r.key.name, "type": r.type, "confidence": r.confidence,
             "source": r.source, "alternatives": [t for t, _ in r.alternatives],
             "alternative_confidences": [c for _, c in r.alternatives]}
            for r in records]


def _record(task: _ProjectTask, result: EvaluationResult) -> dict[str, Any]:
    truth = result.truth
    return {
        "project": task.project, "root": task.root, "fingerprint": task.fingerprint,
        "status": EVALUATED, "reason": "", "threshold": result.threshold,
        "truth": {"files": truth.files, "unannotated": truth.unannotated,
                  "unparsable": truth.unparsable, "any": truth.any,
                  "qualifier_only": truth.qualifier_only, "declarations": truth.declarations,
                  "failed": [list(f) for f in truth.failed],
                  "class_names": sorted(truth.class_names)},
        "timings": asdict(result.timings),
        "stripped_files": result.stripped_files,
        "strip_failures": [list(f) for f in result.strip_failures],
        "diagnostics": [{"file": d.file, "message": d.message, "severity": d.severity.value}
                        for d in result.diagnostics],
        "sites": len(truth.sites), "predictions": len(result.predictions),
    }


def _table(storage: ResultStore, name: str, schema: Any) -> dict[str, list[Any]]:
    pa = require_pyarrow()
    table = pa.parquet.read_table(pa.BufferReader(storage.read(name)), schema=schema)
    return {column: table.column(column).to_pylist() for column in schema.names}


def _keys(columns: Mapping[str, list[Any]]) -> list[SiteKey]:
    return [SiteKey(*key) for key in zip(columns["file"], columns["scope"], columns["kind"],
                                         columns["name"], strict=True)]


def _read_truth(storage: ResultStore, name: str) -> list[TruthSite]:
    columns = _table(storage, name, _schemas()["truth"])
    return [TruthSite(key, parse_type(printed), annotation) for key, printed, annotation
            in zip(_keys(columns), columns["type"], columns["annotation"], strict=True)]


def _read_predictions(storage: ResultStore, name: str) -> list[PredictionRecord]:
    columns = _table(storage, name, _schemas()["predictions"])
    return [PredictionRecord(key, type_, confidence, source,
                             tuple(zip(alternatives, confidences, strict=True)))
            for key, type_, confidence, source, alternatives, confidences in zip(
                _keys(columns), columns["type"], columns["confidence"], columns["source"],
                columns["alternatives"], columns["alternative_confidences"], strict=True)]


def _rebuild(record: Mapping[str, Any], sites: list[TruthSite],
             records: list[PredictionRecord], threshold: float,
             type_sets: Mapping[str, Collection[str]] | None) -> EvaluationResult:
    """The project's EvaluationResult, scored again from what its task stored."""
    stored = record["truth"]
    truth = GroundTruth(
        sites, set(stored["class_names"]), files=stored["files"],
        unannotated=stored["unannotated"], unparsable=stored["unparsable"], any=stored["any"],
        qualifier_only=stored["qualifier_only"], declarations=stored["declarations"],
        failed=[(file, reason) for file, reason in stored["failed"]])
    report = score(sites, records, threshold=threshold, class_names=truth.class_names,
                   type_sets=type_sets)
    diagnostics = [Diagnostic(d["file"], d["message"], Severity(d["severity"]))
                   for d in record["diagnostics"]]
    return EvaluationResult(
        report, truth, Timings(**record["timings"]), record["stripped_files"],
        [(file, reason) for file, reason in record["strip_failures"]], diagnostics,
        tuple(type_sets or ()), records, _forced_calibration(sites, records))


def read_evaluation_table(out: str | os.PathLike[str], table: str = "truth") -> Any:
    """One table of a batch evaluation's output (``truth`` or ``predictions``), every project,
    as a pyarrow Table in project order."""
    if table not in _TABLES:
        raise EvaluateBatchError(f"unknown table {table!r}; known: {', '.join(_TABLES)}")
    storage = ResultStore(os.fspath(out))
    parts = storage.by_project([table], _FILE)
    return read_parquet(storage, sorted(path for project in parts.values()
                                        for path, _ in project), _schemas()[table])


def _read_result(storage: ResultStore, project: str, fingerprint: str, threshold: float,
                 type_sets: Mapping[str, Collection[str]] | None,
                 ) -> tuple[dict[str, Any], EvaluationResult | None]:
    """A project's stored record, and its result (None when there was nothing to evaluate).
    Raises OSError, ValueError, KeyError or TypeError when they cannot be read."""
    record: dict[str, Any] = json.loads(storage.read(_file_name("projects", project,
                                                                fingerprint)))
    if record["status"] == NOTHING_TO_EVALUATE:
        return record, None
    sites = _read_truth(storage, _file_name("truth", project, fingerprint))
    records = _read_predictions(storage, _file_name("predictions", project, fingerprint))
    return record, _rebuild(record, sites, records, threshold, type_sets)


# -- the task -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _ProjectTask:
    out: str
    project: str
    root: str
    files_digest: str
    fingerprint: str
    #: The configuration evaluation runs with (one process, no cache, the threshold set).
    config: Config
    threshold: float


@dataclass(frozen=True, slots=True)
class _ProjectStats:
    status: str
    reason: str
    sites: int
    pid: int
    peak_mib: float


def run_project_task(task: _ProjectTask) -> _ProjectStats:
    """Evaluate one project and store its three files (what a worker runs)."""
    pa = require_pyarrow()
    project_files(task.root, task.config, task.files_digest)
    storage = ResultStore(task.out)
    try:
        result = evaluate([task.root], task.config, threshold=task.threshold)
    except NothingToEvaluate as nothing:
        sites: list[TruthSite] = []
        records: list[PredictionRecord] = []
        record = {"project": task.project, "root": task.root, "fingerprint": task.fingerprint,
                  "status": NOTHING_TO_EVALUATE, "reason": str(nothing)}
    else:
        sites, records, record = result.truth.sites, result.predictions, _record(task, result)
    schemas = _schemas()
    for folder, rows in (("truth", _truth_rows(task.project, sites)),
                         ("predictions", _prediction_rows(task.project, records))):
        data = parquet_bytes(pa.Table.from_pylist(rows, schema=schemas[folder]))
        storage.write(_file_name(folder, task.project, task.fingerprint), data)
    storage.write(_file_name("projects", task.project, task.fingerprint),  # last: done
                  json.dumps(record, indent=1).encode() + b"\n")
    return _ProjectStats(record["status"], record["reason"], len(sites), os.getpid(),
                         peak_memory_mib())


# -- the run --------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _evaluation_code() -> str:
    """The evaluation modules, by size and modification time."""
    package = Path(__file__).resolve().parent
    stamps = []
    for name in _EVALUATION_MODULES:
        info = (package / name).stat()
        stamps.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    return "\n".join(stamps)


def _fingerprint(project: BatchProject) -> str:
    """The project's results fingerprint, with the evaluation code's."""
    text = f"{project.fingerprint}\0{_evaluation_code()}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _remove_stale(projects: Sequence[BatchProject], fingerprints: Sequence[str],
                  storage: ResultStore) -> set[str]:
    """Remove the files of the projects' other fingerprints; the names of those kept."""
    existing = storage.by_project(FOLDERS, _FILE)
    kept: set[str] = set()
    for project, fingerprint in zip(projects, fingerprints, strict=True):
        for path, match in existing.get(project.id, []):
            if match.group(2) == fingerprint:
                kept.add(path)
            else:
                storage.delete(path)
    return kept


def _plan(projects: Sequence[BatchProject], fingerprints: Sequence[str],
          storage: ResultStore, out: str, config: Config, threshold: float,
          summary: EvaluateBatchSummary) -> list[Task[_ProjectStats]]:
    """The tasks of the projects not finished yet (a finished one has all three files)."""
    kept = _remove_stale(projects, fingerprints, storage)
    tasks = []
    for project, fingerprint in zip(projects, fingerprints, strict=True):
        summary.projects += 1
        if all(_file_name(folder, project.id, fingerprint) in kept for folder in FOLDERS):
            summary.projects_resumed += 1
            continue
        spec = _ProjectTask(out, project.id, str(project.root), project.files_digest,
                            fingerprint, config, threshold)
        tasks.append(Task(project.id, run_project_task, (spec,)))
    return tasks


def _account(summary: EvaluateBatchSummary, outcome: Outcome[_ProjectStats],
             project: BatchProject) -> None:
    summary.retries += outcome.attempts - 1
    stats = outcome.value
    if stats is None:
        summary.failures.append({"project": project.id, "root": str(project.root),
                                 "error": outcome.error, "attempts": outcome.attempts})
        return
    summary.projects_run += 1
    worker = str(stats.pid)
    summary.worker_peak_mib[worker] = max(summary.worker_peak_mib.get(worker, 0.0),
                                          stats.peak_mib)


def _results(projects: Sequence[BatchProject], fingerprints: Sequence[str],
             storage: ResultStore, threshold: float,
             type_sets: Mapping[str, Collection[str]] | None, summary: EvaluateBatchSummary,
             log: Log) -> list[EvaluationResult]:
    """Every finished project's result, read back in project order (only what merging keeps:
    the sites and predictions are let go as each project is read)."""
    failed = {failure["project"] for failure in summary.failures}
    results = []
    for project, fingerprint in zip(projects, fingerprints, strict=True):
        if project.id in failed:
            continue
        try:
            record, result = _read_result(storage, project.id, fingerprint, threshold,
                                          type_sets)
        except (OSError, ValueError, KeyError, TypeError) as error:
            # a stored file was removed or damaged: the project is evaluated again next run
            with contextlib.suppress(OSError):
                storage.delete(_file_name("projects", project.id, fingerprint))
            summary.failures.append({
                "project": project.id, "root": str(project.root), "attempts": 0,
                "error": f"stored results cannot be read ({type(error).__name__}: {error})"})
            continue
        if result is None:
            summary.nothing_to_evaluate.append({"project": project.id,
                                                "root": str(project.root),
                                                "reason": record["reason"]})
            log(f"{project.id}: {record['reason']}")
            continue
        result.truth.sites = []
        result.predictions = []
        results.append(result)
    return results


def evaluate_batch(paths: Sequence[str | Path], out: str | os.PathLike[str],
                   executor: Executor, config: Config | None = None, *,
                   threshold: float | None = None,
                   type_sets: Mapping[str, Collection[str]] | None = None,
                   log: Log | None = None,
                   ) -> tuple[EvaluationResult | None, EvaluateBatchSummary]:
    """Evaluate every project of ``paths`` (each one a project, one task each) with
    ``executor``, storing each project's results under ``out`` (see the module docstring).

    Returns the micro-average over the projects that have annotated sites to score (None when
    none has), and the summary, whose ``failures`` lists the projects that failed every try.
    ``threshold`` defaults to ``config.threshold``; ``type_sets`` as for ``evaluate``.
    Raises EvaluateBatchError when the run cannot start; OSError when OUT cannot be written.
    """
    started = time.monotonic()
    log = log or stderr_log
    config = config or Config()
    if not paths:
        raise EvaluateBatchError("no project given")
    threshold = config.threshold if threshold is None else threshold
    if not 0.0 <= threshold <= 1.0:
        raise EvaluateBatchError("the threshold must be between 0 and 1")
    # What ``evaluate`` runs with, in one process of its own and without the incremental
    # cache: the fingerprints are those of these settings.
    config = replace(config, jobs=1, cache=False, report_all=True, include_existing=False,
                     min_confidence=threshold)
    try:
        storage = ResultStore(os.fspath(out))
        projects = find_projects(paths, config)
    except (StoreError, BatchError) as error:
        raise EvaluateBatchError(str(error)) from None
    fingerprints = [_fingerprint(project) for project in projects]
    summary = EvaluateBatchSummary(os.fspath(out), executor.describe(), threshold)
    tasks = _plan(projects, fingerprints, storage, storage.location, config, threshold, summary)
    by_id = {project.id: project for project in projects}
    log(f"{summary.projects} projects: {summary.projects_resumed} done before, {len(tasks)} "
        f"to evaluate on {summary.executor}")
    shown = time.monotonic()
    for outcome in executor.run(tasks):
        _account(summary, outcome, by_id[outcome.key])
        if time.monotonic() - shown > _PROGRESS_EVERY_S:
            shown = time.monotonic()
            log(f"{summary.projects_run + len(summary.failures)}/{len(tasks)} projects, "
                f"{len(summary.failures)} failed")
    results = _results(projects, fingerprints, storage, threshold, type_sets, summary, log)
    merged = merge_results(results) if results else None
    summary.projects_scored = len(results)
    summary.scored_sites = merged.report.total.sites if merged is not None else 0
    summary.seconds = round(time.monotonic() - started, 2)
    storage.write("summary.json", json.dumps(summary.to_json(), indent=1).encode() + b"\n")
    log(f"done in {summary.seconds:.1f} s: {summary.projects_run} projects evaluated, "
        f"{summary.projects_resumed} done before, {len(summary.nothing_to_evaluate)} with "
        f"nothing to evaluate, {len(summary.failures)} failed")
    return merged, summary
