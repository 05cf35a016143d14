"""Batch inference over many projects (``typeseer infer --out OUT``), on an executor.

Each PATH is one project. Its files are split, in file order, into batches of
``batch_files``; each batch is one task, which analyses its files with the whole project in
view (``api.ProjectAnalysis``: imports, classes and call sites of every file, wherever the
other batches run), so every file gets what ``typeseer infer PROJECT`` gives it. A task writes
two Parquet parts under OUT, a local path or a URI that pyarrow writes (``s3://``, ``gs://``,
``hdfs://``):

* ``predictions/PROJECT/part-NNNNN-FP.parquet``: one row per site (the JSONL fields, with
  ``project``, and ``alternatives`` as two lists);
* ``files/PROJECT/part-NNNNN-FP.parquet``: one row per file of the batch, with its lines and
  status (``ok``, ``info``, ``skipped``, ``error``) and why; the project's discovery
  diagnostics (unreadable files...) go with its batch 0.

``FP`` fingerprints the project's files (paths, sizes, modification times) and everything
else results depend on (typeseer's code, model, settings). The files part is written last, so
it marks a finished batch: running again after a crash, or with more projects, runs only the
batches without one, and parts of other fingerprints are removed first. A batch that fails
every try is listed in ``summary.json`` (with its files) and the run exits 1; running again
tries it again. ``read_batch_table(OUT, "predictions")`` reads a table back.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import resource
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from .api import InferResult, ProjectAnalysis, collector_paused
from .config import Config
from .executor import Executor, Outcome, Task
from .sources import Diagnostic, Severity, SourceFile, discover
from .store import ResultStore, StoreError, parquet_bytes, read_parquet, require_pyarrow

__all__ = [
    "DEFAULT_BATCH_FILES",
    "BatchError",
    "BatchProject",
    "BatchSummary",
    "Log",
    "files_digest",
    "find_projects",
    "infer_batch",
    "peak_memory_mib",
    "project_files",
    "read_batch_table",
    "stderr_log",
]

#: Files per task: large enough that a task's start (the project index, the call sites the
#: model reads) is amortised, small enough to spread a large project over the workers.
DEFAULT_BATCH_FILES = 200
#: The tables a batch run writes.
TABLES = ("predictions", "files")
_PART = re.compile(r"part-(\d{5})-([0-9a-f]{16})\.parquet")
#: Bump when the parts' columns or meaning change: parts of another format are redone.
_FORMAT = 1
#: Seconds between progress lines.
_PROGRESS_EVERY_S = 10.0

#: Where a batch run writes its progress lines.
Log = Callable[[str], None]


class BatchError(ValueError):
    """The batch run cannot start (a missing project, pyarrow missing...); says why."""


@dataclass(slots=True)
class BatchSummary:
    """What one batch run did (also written to ``OUT/summary.json``)."""

    out: str
    executor: str
    projects: int = 0
    files: int = 0
    batches: int = 0
    #: Batches finished by an earlier run and not run again.
    batches_resumed: int = 0
    batches_run: int = 0
    #: Batches that failed every try: ``{"project", "batch", "error", "attempts", "files"}``.
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: Tries beyond the first, over all batches run.
    retries: int = 0
    #: Over the batches run: files analysed, their lines and sites, and files by status.
    files_analysed: int = 0
    lines: int = 0
    sites: int = 0
    typed_sites: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    #: Peak resident memory (MiB) of each process that ran batches, by process id (a
    #: process's peak over its life so far).
    worker_peak_mib: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _schemas() -> dict[str, Any]:
    pa = require_pyarrow()
    return {
        "predictions": pa.schema([
            ("project", pa.string()), ("file", pa.string()), ("line", pa.int32()),
            ("col", pa.int32()), ("scope", pa.string()), ("kind", pa.string()),
            ("name", pa.string()), ("type", pa.string()), ("confidence", pa.float64()),
            ("source", pa.string()), ("alternatives", pa.list_(pa.string())),
            ("alternative_confidences", pa.list_(pa.float64())),
            ("evidence", pa.list_(pa.string())),
        ]),
        "files": pa.schema([
            ("project", pa.string()), ("file", pa.string()), ("batch", pa.int32()),
            ("lines", pa.int32()), ("status", pa.string()), ("message", pa.string()),
        ]),
    }


def read_batch_table(out: str | os.PathLike[str], table: str = "predictions") -> Any:
    """One table of a batch run's output (``predictions`` or ``files``), every project, as a
    pyarrow Table in (project, batch) order."""
    if table not in TABLES:
        raise BatchError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
    try:
        storage = ResultStore(os.fspath(out))
    except StoreError as error:
        raise BatchError(str(error)) from None
    parts = storage.by_project([table], _PART)
    return read_parquet(storage, sorted(path for project in parts.values()
                                        for path, _ in project), _schemas()[table])


# -- projects and fingerprints ----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BatchProject:
    """One project of a batch run."""

    id: str
    root: Path
    files: list[SourceFile]
    diagnostics: list[Diagnostic]
    #: Digest of the file list (paths, sizes, times): what a worker checks before it trusts
    #: the batch it was given.
    files_digest: str
    fingerprint: str
    #: Bytes of its files (what a task's time grows with).
    size: int = 0


def files_digest(files: Sequence[SourceFile]) -> str:
    """What the file list is now: paths, sizes and modification times."""
    return _listing(files)[0]


def _listing(files: Sequence[SourceFile]) -> tuple[str, int]:
    """``files_digest``, and the bytes of the files, from one ``stat`` of each."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    for source in files:
        try:
            info = source.path.stat()
            stamp = f"{info.st_size}:{info.st_mtime_ns}"
            size += info.st_size
        except OSError:
            stamp = "missing"
        digest.update(f"{source.relpath}\0{stamp}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest(), size


@lru_cache(maxsize=8)
def _results_version(config: Config) -> str:
    from .cache import results_version

    return results_version(config)


def _project_ids(roots: Sequence[Path]) -> list[str]:
    """A folder name per project: its name, made safe, or with a digest of its path where
    two projects share a name."""
    names = [re.sub(r"[^A-Za-z0-9._-]+", "_", root.name).strip(".") or "project"
             for root in roots]
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return [name if counts[name] == 1 else
            f"{name}-{hashlib.blake2b(str(root).encode(), digest_size=4).hexdigest()}"
            for name, root in zip(names, roots, strict=True)]


def find_projects(paths: Sequence[str | Path], config: Config) -> list[BatchProject]:
    """Each path as a project: its files, a folder name, and the fingerprint of its results
    under ``config``. Raises BatchError for a missing path or one given twice."""
    missing = [str(p) for p in paths if not os.path.exists(p)]
    if missing:
        raise BatchError(f"no such file or directory: {', '.join(missing)}")
    roots = [Path(os.path.abspath(p)) for p in paths]
    seen: set[Path] = set()
    for root in roots:
        if root in seen:
            raise BatchError(f"{root} is given twice")
        seen.add(root)
    version = _results_version(config)
    projects = []
    for root, project_id in zip(roots, _project_ids(roots), strict=True):
        files, diagnostics = discover([root], config.exclude)
        listed, size = _listing(files)
        fingerprint = hashlib.blake2b(f"{_FORMAT}\0{version}\0{listed}".encode(),
                                      digest_size=8).hexdigest()
        projects.append(BatchProject(project_id, root, files, diagnostics, listed,
                                     fingerprint, size))
    return projects


def _part_name(table: str, project: str, batch: int, fingerprint: str) -> str:
    return f"{table}/{project}/part-{batch:05d}-{fingerprint}.parquet"


# -- the task -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _BatchTask:
    out: str
    project: str
    root: str
    files_digest: str
    fingerprint: str
    batch: int
    start: int
    stop: int
    config: Config
    #: Discovery diagnostics of the project (batch 0 only): (file, severity, message).
    notes: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class _BatchStats:
    files: int
    lines: int
    sites: int
    typed_sites: int
    statuses: dict[str, int]
    pid: int
    peak_mib: float


class ProjectChanged(RuntimeError):
    """A project's files changed between the start of the run and a batch."""


#: This process's analysis of the project its last batch came from: the next batch of the
#: same project reuses it (its index and call sites), as a worker of ``infer --jobs`` does.
_session: tuple[str, ProjectAnalysis] | None = None


def project_files(root: str, config: Config, digest: str) -> list[SourceFile]:
    """The files of the project at ``root``, as the run planned them: ProjectChanged when
    they are not (another file list, a file edited since), which a worker must not guess."""
    files, _ = discover([root], config.exclude)
    if files_digest(files) != digest:
        raise ProjectChanged(f"{root}: files changed since the run started; run again")
    return files


def peak_memory_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def stderr_log(message: str) -> None:
    """The default log of batch runs: a line on stderr."""
    print(f"typeseer: {message}", file=sys.stderr, flush=True)


def _drop_session() -> None:
    """Free this process's project analysis (its scope trees are unlinked first, so that
    reference counting frees them at once, not a collection at some later time)."""
    global _session
    if _session is not None:
        _session[1].release()
        _session = None


def _analysis(task: _BatchTask) -> ProjectAnalysis:
    global _session
    if _session is not None and _session[0] == task.fingerprint:
        return _session[1]
    _drop_session()
    gc.collect()  # what else the previous project's analysis left
    analysis = ProjectAnalysis(project_files(task.root, task.config, task.files_digest),
                               task.config)
    _session = (task.fingerprint, analysis)
    return analysis


def _status(diagnostics: Iterable[Diagnostic]) -> tuple[str, str]:
    order = {Severity.INFO: 1, Severity.SKIPPED: 2, Severity.ERROR: 3}
    found = sorted(diagnostics, key=lambda d: -order[d.severity])
    if not found:
        return "ok", ""
    return found[0].severity.value, "; ".join(d.message for d in found)


def _prediction_rows(project: str, result: InferResult) -> list[dict[str, Any]]:
    """The JSON Lines records of the predictions, with ``project``, and the alternatives as
    two lists (Parquet columns of one type each)."""
    rows = []
    for prediction in result.predictions:
        record = prediction.to_json()
        alternatives = cast("list[list[Any]]", record.pop("alternatives"))
        rows.append({"project": project, **record,
                     "alternatives": [t for t, _ in alternatives],
                     "alternative_confidences": [c for _, c in alternatives]})
    return rows


def run_batch_task(task: _BatchTask) -> _BatchStats:
    """Analyse one batch and write its two parts (what a worker runs). The collector is
    paused throughout, as ``infer`` does: a process holding a project's trees spends most of
    its time in collections that find nothing to free otherwise."""
    with collector_paused():
        return _run_batch(task)


def _run_batch(task: _BatchTask) -> _BatchStats:
    pa = require_pyarrow()
    storage = ResultStore(task.out)
    predictions: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = [
        {"project": task.project, "file": file, "batch": task.batch, "lines": 0,
         "status": severity, "message": message} for file, severity, message in task.notes]
    lines = sites = typed = 0
    if task.stop > task.start:
        analysis = _analysis(task)
        indices = range(task.start, task.stop)
        for index, result in zip(indices, analysis.analyse(indices), strict=True):
            status, message = _status(result.diagnostics)
            files.append({"project": task.project, "file": analysis.files[index].relpath,
                          "batch": task.batch, "lines": result.lines, "status": status,
                          "message": message})
            predictions.extend(_prediction_rows(task.project, result))
            lines += result.lines
            sites += len(result.predictions)
            typed += sum(1 for p in result.predictions if p.type is not None)
    schemas = _schemas()
    for table, rows in (("predictions", predictions), ("files", files)):  # files: last
        data = parquet_bytes(pa.Table.from_pylist(rows, schema=schemas[table]))
        storage.write(_part_name(table, task.project, task.batch, task.fingerprint), data)
    statuses: dict[str, int] = {}
    for row in files:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return _BatchStats(task.stop - task.start, lines, sites, typed, statuses, os.getpid(),
                       peak_memory_mib())


# -- the run --------------------------------------------------------------------------------

def _plan(projects: Sequence[BatchProject], storage: ResultStore, out: str, config: Config,
          batch_files: int, summary: BatchSummary) -> list[Task[_BatchStats]]:
    """The tasks of the batches not done yet, largest projects first (the run ends sooner
    when the long tasks start early); parts of other fingerprints are removed."""
    existing = storage.by_project(TABLES, _PART)
    tasks = []
    for project in sorted(projects, key=lambda p: -p.size):
        count = max(1, -(-len(project.files) // batch_files))
        done: set[int] = set()
        for path, match in existing.get(project.id, []):
            batch = int(match.group(1))
            if match.group(2) != project.fingerprint or batch >= count:
                storage.delete(path)
            elif path.startswith("files/"):
                done.add(batch)
        summary.projects += 1
        summary.files += len(project.files)
        summary.batches += count
        summary.batches_resumed += len(done)
        notes = tuple((d.file, d.severity.value, d.message) for d in project.diagnostics)
        for batch in range(count):
            if batch in done:
                continue
            start = batch * batch_files
            spec = _BatchTask(out, project.id, str(project.root), project.files_digest,
                              project.fingerprint, batch, start,
                              min(start + batch_files, len(project.files)), config,
                              notes if batch == 0 else ())
            tasks.append(Task(f"{project.id}#{batch}", run_batch_task, (spec,)))
    return tasks


def infer_batch(paths: Sequence[str | Path], out: str | os.PathLike[str], executor: Executor,
                config: Config | None = None, *, batch_files: int = DEFAULT_BATCH_FILES,
                log: Log | None = None) -> BatchSummary:
    """Infer every project of ``paths`` (each one a project) into Parquet under ``out`` with
    ``executor`` (see the module docstring). Raises BatchError when it cannot start."""
    started = time.monotonic()
    log = log or stderr_log
    if batch_files < 1:
        raise BatchError("the batch size must be at least 1 file")
    if not paths:
        raise BatchError("no project given")
    # A task is one process's work: no pool of its own, and no incremental cache (the parts
    # on OUT are what a run resumes from).
    config = replace(config or Config(), jobs=1, cache=False)
    try:
        storage = ResultStore(os.fspath(out))
    except StoreError as error:
        raise BatchError(str(error)) from None
    summary = BatchSummary(os.fspath(out), executor.describe())
    projects = find_projects(paths, config)
    tasks = _plan(projects, storage, storage.location, config, batch_files, summary)
    spec_of: dict[str, _BatchTask] = {task.key: task.args[0] for task in tasks}
    files_of = {project.id: project.files for project in projects}
    log(f"{summary.projects} projects, {summary.files} files, {summary.batches} batches: "
        f"{summary.batches_resumed} done before, {len(tasks)} to run on {summary.executor}")
    shown = time.monotonic()
    for outcome in executor.run(tasks):
        spec = spec_of[outcome.key]
        _account(summary, outcome, spec, files_of[spec.project])
        if time.monotonic() - shown > _PROGRESS_EVERY_S:
            shown = time.monotonic()
            log(f"{summary.batches_run + len(summary.failures)}/{len(tasks)} batches, "
                f"{len(summary.failures)} failed, {summary.files_analysed} files "
                f"({summary.files_analysed / (shown - started):.1f}/s)")
    _drop_session()  # tasks run in this process (one local worker) left their last project
    summary.seconds = round(time.monotonic() - started, 2)
    storage.write("summary.json", json.dumps(summary.to_json(), indent=1).encode() + b"\n")
    log(f"done in {summary.seconds:.1f} s: {summary.batches_run} batches run, "
        f"{summary.batches_resumed} done before, {len(summary.failures)} failed")
    return summary


def _account(summary: BatchSummary, outcome: Outcome[_BatchStats], task: _BatchTask,
             files: Sequence[SourceFile]) -> None:
    summary.retries += outcome.attempts - 1
    stats = outcome.value
    if stats is None:
        summary.failures.append({
            "project": task.project, "batch": task.batch, "error": outcome.error,
            "attempts": outcome.attempts,
            "files": [f.relpath for f in files[task.start:task.stop]]})
        return
    summary.batches_run += 1
    summary.files_analysed += stats.files
    summary.lines += stats.lines
    summary.sites += stats.sites
    summary.typed_sites += stats.typed_sites
    for status, count in stats.statuses.items():
        summary.statuses[status] = summary.statuses.get(status, 0) + count
    worker = str(stats.pid)
    summary.worker_peak_mib[worker] = max(summary.worker_peak_mib.get(worker, 0.0),
                                          stats.peak_mib)
