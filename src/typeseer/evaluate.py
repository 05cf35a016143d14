"""``typeseer evaluate``: the DESIGN.md evaluation protocol on any annotated project.

1. Ground truth: the annotated sites of the original files
   (:func:`typeseer.scoring.collect_ground_truth`; ``Any``, unparsable annotations and bare
   declarations are not scored, ``-> None`` returns are).
2. Strip every annotation (:func:`typeseer.strip.strip_annotations`) into a temporary copy that
   keeps each file's path relative to its root, so site keys match. Only the Python files the
   run would analyse are copied (``exclude`` applies; files above ``max_file_bytes`` are
   left out). A file that cannot be stripped is left out of the copy *and* of the ground truth:
   its annotations would give the answer away.
3. Run :func:`typeseer.api.infer` in-process on the copy with the configuration's options,
   forced top-1 (``report_all``) and without ``existing`` predictions.
4. Score (:func:`typeseer.scoring.score`) at ``threshold`` (default: the configuration's
   ``min_confidence``), with optional named type sets for the ``top-100``/``top-500``
   categories of a training distribution (:func:`top_type_sets`).
5. Speed: sites/s and source lines/s of the ``infer`` call (discovery, parsing, sites,
   inference; no process start or output), and its ratio to plain ``ast.parse`` of the same
   stripped files read from disk, timed right after it in the same process.

Reports of several evaluations combine into one micro-average with :func:`merge_results`.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import tempfile
import time
import tokenize
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .api import Prediction, infer
from .config import Config
from .scoring import (
    Calibration,
    CalibrationBin,
    Counts,
    GroundTruth,
    PredictionRecord,
    Report,
    TruthSite,
    collect_ground_truth,
    expected_calibration_error,
    render_table,
    report_to_dict,
    score,
    unqualified,
)
from .sites import SiteKey
from .sources import Diagnostic, SourceFile, UnreadableSource, discover
from .strip import StripError, strip_annotations
from .typeexpr import TypeParseError, parse_type

__all__ = [
    "TOP_TYPE_SIZES",
    "EvaluationError",
    "EvaluationResult",
    "NothingToEvaluate",
    "Timings",
    "evaluate",
    "merge_reports",
    "merge_results",
    "read_top_types",
    "render_result",
    "result_to_dict",
    "top_type_sets",
]

#: The ``top-N`` categories made from a ranking of the training distribution's types.
TOP_TYPE_SIZES = (100, 500)


class EvaluationError(ValueError):
    """The evaluation cannot run (a path does not exist...); the message says why."""


class NothingToEvaluate(EvaluationError):
    """The paths hold no annotated site to score."""


@dataclass(frozen=True, slots=True)
class Timings:
    """Sizes and wall times (seconds) of one evaluation, or the sums of several."""

    #: Python files analysed by ``infer`` on the stripped copy, their lines, its sites.
    files: int = 0
    lines: int = 0
    sites: int = 0
    #: The ``infer`` call (end to end in-process).
    infer_seconds: float = 0.0
    #: Plain ``ast.parse`` of the same stripped files, reading included.
    parse_seconds: float = 0.0
    #: Ground truth collection, and stripping into the temporary copy.
    truth_seconds: float = 0.0
    strip_seconds: float = 0.0
    #: The whole evaluation.
    total_seconds: float = 0.0

    @property
    def sites_per_second(self) -> float | None:
        return self.sites / self.infer_seconds if self.infer_seconds > 0 else None

    @property
    def lines_per_second(self) -> float | None:
        return self.lines / self.infer_seconds if self.infer_seconds > 0 else None

    @property
    def ratio_to_parse(self) -> float | None:
        """``infer`` time over ``ast.parse`` time of the same files."""
        return self.infer_seconds / self.parse_seconds if self.parse_seconds > 0 else None

    def __add__(self, other: Timings) -> Timings:
        return Timings(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(slots=True)
class EvaluationResult:
    """The scoring report of one evaluation, with what was scored and how fast it ran."""

    report: Report
    #: Ground truth of the original files (sites of files that could not be stripped removed).
    truth: GroundTruth
    timings: Timings
    #: Python files written stripped.
    stripped_files: int = 0
    #: Files left out of the copy and of the ground truth: (file, reason).
    strip_failures: list[tuple[str, str]] = field(default_factory=list)
    #: Diagnostics of the ``infer`` run on the stripped copy.
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: Names of the ``type_sets`` categories used.
    type_sets: tuple[str, ...] = ()
    #: The predictions scored (forced top-1), as scoring reads them.
    predictions: list[PredictionRecord] = field(default_factory=list)
    #: Calibration of the forced top-1 type of every scored site that has one, whatever its
    #: confidence (the report's calibration covers the types given at the threshold only).
    calibration_top1: Calibration = field(
        default_factory=lambda: expected_calibration_error(()))

    @property
    def threshold(self) -> float:
        return self.report.threshold


# -- type sets --------------------------------------------------------------------------------

def _normalised(text: str) -> str:
    """``text`` printed as scoring prints a true type (unparsable text is kept as it is)."""
    try:
        parsed = unqualified(parse_type(text))
    except (TypeParseError, RecursionError):
        return text
    return text if parsed is None else str(parsed)


def read_top_types(path: str | os.PathLike[str]) -> list[str]:
    """The ranking in a top-types file: one type a line, most common first.

    Blank lines and ``#`` comments are skipped; anything after a tab (a count, say) is ignored.
    Types are normalised as ground truth is, and a repeated type keeps its first rank.
    Raises OSError or UnicodeDecodeError when the file cannot be read.
    """
    ranking: list[str] = []
    seen: set[str] = set()
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        text = raw.split("\t", 1)[0].strip()
        if not text or text.startswith("#"):
            continue
        normalised = _normalised(text)
        if normalised not in seen:
            seen.add(normalised)
            ranking.append(normalised)
    return ranking


def top_type_sets(ranking: Sequence[str],
                  sizes: Iterable[int] = TOP_TYPE_SIZES) -> dict[str, frozenset[str]]:
    """``{"top-100": ..., "top-500": ...}`` from a ranking of types, most common first."""
    return {f"top-{size}": frozenset(ranking[:size]) for size in sizes}


# -- the evaluation ---------------------------------------------------------------------------

def _encoding_of(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return "utf-8"
    return encoding


def _strip_file(path: Path, max_bytes: int) -> bytes:
    """The stripped bytes of the file at ``path``, in its own encoding."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnreadableSource(f"file is {size / 1e6:.1f} MB, above the "
                                   f"{max_bytes / 1e6:.1f} MB limit, skipped")
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableSource(f"cannot read: {error.strerror or error}") from None
    if b"\0" in data:
        raise UnreadableSource("binary file (contains null bytes), skipped")
    encoding = _encoding_of(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise UnreadableSource(f"cannot decode ({error.__class__.__name__})") from None
    stripped = strip_annotations(text)
    return data if stripped == text else stripped.encode(encoding)


def _strip_task(task: tuple[str, int]) -> bytes | str:
    """Stripped bytes, or the reason the file cannot be stripped (for a worker process)."""
    try:
        return _strip_file(Path(task[0]), task[1])
    except (StripError, UnreadableSource) as error:
        return str(error)
    except RecursionError:
        return "too deeply nested to strip"


@dataclass(slots=True)
class _Copy:
    """The stripped copy: the paths to run ``infer`` on, and what was written."""

    paths: list[Path] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def _strip_copy(paths: Sequence[str | Path], target: Path, config: Config,
                jobs: int) -> _Copy:
    """Strip the files under each path into ``target/<index>/``, keeping relative paths;
    ``jobs`` processes strip (1: in this process)."""
    copy = _Copy()
    planned: list[tuple[SourceFile, Path]] = []
    for index, raw in enumerate(paths):
        path = Path(raw)
        files, _ = discover([path], config.exclude)
        base = target / str(index)
        # Keys are relative to the root; a file given by name is keyed by its name
        # (sources.discover), so it keeps it.
        root = base / "root" if path.is_dir() else base / path.name
        copy.paths.append(root)
        base.mkdir(parents=True, exist_ok=True)
        planned.extend((source, root / source.relpath if path.is_dir() else root)
                       for source in files)
    tasks = [(str(source.path), config.max_file_bytes) for source, _ in planned]
    jobs = min(jobs, max(1, len(tasks) // 8))
    if jobs <= 1:
        outputs: Iterable[bytes | str] = map(_strip_task, tasks)
        return _write_copy(copy, planned, outputs)
    with ProcessPoolExecutor(jobs) as pool:
        return _write_copy(copy, planned, pool.map(_strip_task, tasks, chunksize=8))


def _write_copy(copy: _Copy, planned: Sequence[tuple[SourceFile, Path]],
                outputs: Iterable[bytes | str]) -> _Copy:
    for (source, destination), output in zip(planned, outputs, strict=True):
        if isinstance(output, str):
            copy.failures.append((source.relpath, output))
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(output)
        copy.written.append(destination)
    return copy


def _parse_all(files: Iterable[Path]) -> float:
    """Seconds to read and ``ast.parse`` every file (the speed baseline)."""
    started = time.perf_counter()
    for path in files:
        with contextlib.suppress(SyntaxError, ValueError, OSError):
            ast.parse(path.read_bytes())
    return time.perf_counter() - started


def _record(prediction: Prediction) -> PredictionRecord:
    return PredictionRecord(
        prediction.key,
        prediction.type, prediction.confidence, prediction.source, prediction.alternatives)


def _forced_calibration(truth: Iterable[TruthSite],
                        records: Iterable[PredictionRecord]) -> Calibration:
    """Calibration of (confidence, exact) over the scored sites with a forced top-1 type."""
    by_key: dict[SiteKey, PredictionRecord] = {}
    for record in records:
        by_key.setdefault(record.key, record)
    pairs: list[tuple[float, bool]] = []
    seen: set[SiteKey] = set()
    for site in truth:
        found = by_key.get(site.key)
        if site.key in seen or found is None or found.top1 is None:
            continue
        seen.add(site.key)
        try:
            predicted = unqualified(parse_type(found.top1))
        except (TypeParseError, RecursionError):
            predicted = None
        pairs.append((found.confidence, predicted is not None and predicted == site.type))
    return expected_calibration_error(pairs)


def evaluate(paths: Sequence[str | Path], config: Config | None = None, *,
             threshold: float | None = None,
             type_sets: Mapping[str, Collection[str]] | None = None,
             progress: Callable[[int, int], None] | None = None,
             strip_jobs: int | None = None) -> EvaluationResult:
    """Evaluate inference on the annotated code under ``paths`` (see the module docstring).

    ``threshold`` defaults to ``config.threshold``; ``type_sets`` names extra categories
    (``top_type_sets(read_top_types(FILE))``); ``progress(done, total)`` is passed to ``infer``;
    ``strip_jobs`` processes strip the copy (default ``config.jobs``; 0: one per CPU), which
    changes no figure but the evaluation's own time.
    Raises EvaluationError when a path does not exist, NothingToEvaluate when no annotated site
    can be scored. Temporary files are removed.
    """
    started = time.perf_counter()
    config = config or Config()
    if not paths:
        raise EvaluationError("no path given")
    for raw in paths:
        if not os.path.exists(raw):
            raise EvaluationError(f"{raw}: no such file or directory")
    threshold = config.threshold if threshold is None else threshold
    if not 0.0 <= threshold <= 1.0:
        raise EvaluationError("the threshold must be between 0 and 1")

    truth = collect_ground_truth(paths, config.exclude)
    kinds = {kind.value for kind in config.kinds}
    truth.sites = [site for site in truth.sites if site.key.kind in kinds]
    truth_seconds = time.perf_counter() - started
    if not truth.sites:
        raise NothingToEvaluate(_nothing_message(paths, truth))

    run_config = replace(config, report_all=True, include_existing=False,
                         min_confidence=threshold)
    with tempfile.TemporaryDirectory(prefix="typeseer-evaluate-") as temp:
        strip_started = time.perf_counter()
        jobs = config.jobs if strip_jobs is None else strip_jobs
        copy = _strip_copy(paths, Path(temp), config, jobs or os.cpu_count() or 1)
        strip_seconds = time.perf_counter() - strip_started
        if copy.failures:
            left_out = {file for file, _ in copy.failures}
            truth.sites = [site for site in truth.sites if site.key.file not in left_out]
        result = infer([p for p in copy.paths if p.exists()], run_config, progress)
        parse_seconds = _parse_all(copy.written)
    records = [_record(p) for p in result.predictions]
    report = score(truth.sites, records, threshold=threshold, class_names=truth.class_names,
                   type_sets=type_sets)
    timings = Timings(files=result.files, lines=result.lines, sites=len(result.predictions),
                      infer_seconds=result.seconds, parse_seconds=parse_seconds,
                      truth_seconds=truth_seconds, strip_seconds=strip_seconds,
                      total_seconds=time.perf_counter() - started)
    return EvaluationResult(report, truth, timings, len(copy.written), copy.failures,
                            result.diagnostics, tuple(type_sets or ()), records,
                            _forced_calibration(truth.sites, records))


def _nothing_message(paths: Sequence[str | Path], truth: GroundTruth) -> str:
    where = ", ".join(str(p) for p in paths)
    if truth.files == 0:
        return f"no Python file could be read under {where}: nothing to evaluate"
    not_scored = truth.any + truth.unparsable + truth.qualifier_only + truth.declarations
    return (f"no annotated site to score under {where} ({truth.files} files, "
            f"{truth.unannotated} sites without annotations, {not_scored} annotations not "
            "scored): evaluate needs annotated code, whose annotations are the ground truth")


# -- combining --------------------------------------------------------------------------------

def _sum_counts(items: Iterable[Counts]) -> Counts:
    total = Counts()
    for counts in items:
        for f in fields(Counts):
            setattr(total, f.name, getattr(total, f.name) + getattr(counts, f.name))
    return total


def _sum_by_name(maps: Sequence[Mapping[str, Counts]]) -> dict[str, Counts]:
    names: list[str] = []
    for mapping in maps:
        names.extend(name for name in mapping if name not in names)
    return {name: _sum_counts(m[name] for m in maps if name in m) for name in names}


def _merge_calibration(items: Sequence[Calibration]) -> Calibration:
    """The calibration of the union of the runs' predictions (same bins in every run)."""
    if not items:
        return Calibration(None, (), 0)
    n_bins = max(len(c.bins) for c in items)
    counts = [0] * n_bins
    sums = [0.0] * n_bins
    hits = [0] * n_bins
    for calibration in items:
        for index, b in enumerate(calibration.bins):
            counts[index] += b.count
            if b.count and b.mean_confidence is not None and b.accuracy is not None:
                sums[index] += b.mean_confidence * b.count
                hits[index] += round(b.accuracy * b.count)
    total = sum(counts)
    bins: list[CalibrationBin] = []
    ece = 0.0
    for index in range(n_bins):
        count = counts[index]
        mean = sums[index] / count if count else None
        accuracy = hits[index] / count if count else None
        if mean is not None and accuracy is not None:
            ece += count / total * abs(accuracy - mean)
        bins.append(CalibrationBin(index / n_bins, (index + 1) / n_bins, count, mean, accuracy))
    return Calibration(ece if total else None, tuple(bins), total)


def merge_reports(reports: Sequence[Report]) -> Report:
    """One report over all the sites of ``reports`` (a micro-average; categories are decided
    per run, so ``user-defined`` means a class of the site's own project)."""
    if not reports:
        raise ValueError("no report to merge")
    return Report(
        threshold=reports[0].threshold,
        total=_sum_counts(r.total for r in reports),
        by_kind=_sum_by_name([r.by_kind for r in reports]),
        total_without_none_returns=_sum_counts(r.total_without_none_returns for r in reports),
        by_kind_without_none_returns=_sum_by_name(
            [r.by_kind_without_none_returns for r in reports]),
        by_category=_sum_by_name([r.by_category for r in reports]),
        by_source=_sum_by_name([r.by_source for r in reports]),
        calibration=_merge_calibration([r.calibration for r in reports]),
        unmatched_predictions=sum(r.unmatched_predictions for r in reports),
        duplicate_predictions=sum(r.duplicate_predictions for r in reports),
        unparsable_predictions=sum(r.unparsable_predictions for r in reports),
    )


def merge_results(results: Sequence[EvaluationResult]) -> EvaluationResult:
    """One result over several evaluations: reports micro-averaged, counts and times summed
    (ground truth keeps the counts, not the sites; failures, diagnostics and predictions are
    not kept)."""
    if not results:
        raise ValueError("no result to merge")
    truth = GroundTruth()
    timings = Timings()
    for result in results:
        part = result.truth
        truth.files += part.files
        truth.unannotated += part.unannotated
        truth.unparsable += part.unparsable
        truth.any += part.any
        truth.qualifier_only += part.qualifier_only
        truth.declarations += part.declarations
        timings = timings + result.timings
    return EvaluationResult(merge_reports([r.report for r in results]), truth, timings,
                            sum(r.stripped_files for r in results),
                            type_sets=results[0].type_sets,
                            calibration_top1=_merge_calibration(
                                [r.calibration_top1 for r in results]))


# -- output -----------------------------------------------------------------------------------

def _scored(result: EvaluationResult) -> int:
    return result.report.total.sites


def _timings_dict(timings: Timings) -> dict[str, object]:
    return {
        "files": timings.files, "lines": timings.lines, "sites": timings.sites,
        "infer_seconds": timings.infer_seconds, "ast_parse_seconds": timings.parse_seconds,
        "ground_truth_seconds": timings.truth_seconds, "strip_seconds": timings.strip_seconds,
        "total_seconds": timings.total_seconds, "sites_per_second": timings.sites_per_second,
        "lines_per_second": timings.lines_per_second,
        "ratio_to_ast_parse": timings.ratio_to_parse,
    }


def _calibration_dict(calibration: Calibration) -> dict[str, object]:
    return {"ece": calibration.ece, "count": calibration.count,
            "bins": [{"lower": b.lower, "upper": b.upper, "count": b.count,
                      "mean_confidence": b.mean_confidence, "accuracy": b.accuracy}
                     for b in calibration.bins]}


def result_to_dict(result: EvaluationResult) -> dict[str, object]:
    """The result as plain JSON-able data."""
    truth = result.truth
    return {
        "threshold": result.threshold,
        "ground_truth": {
            "files": truth.files, "scored": _scored(result), "unannotated": truth.unannotated,
            "any": truth.any, "unparsable": truth.unparsable,
            "qualifier_only": truth.qualifier_only, "declarations_only": truth.declarations,
            "failed_files": [list(f) for f in truth.failed],
        },
        "stripped_files": result.stripped_files,
        "strip_failures": [list(f) for f in result.strip_failures],
        "type_sets": list(result.type_sets),
        "speed": _timings_dict(result.timings),
        "report": report_to_dict(result.report),
        "calibration_top1": _calibration_dict(result.calibration_top1),
        "diagnostics": [{"file": d.file, "severity": d.severity.value, "message": d.message}
                        for d in result.diagnostics],
    }


def _rate(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:,.0f} {unit}"


def render_result(result: EvaluationResult, title: str = "") -> str:
    """The scoring table with a line on the ground truth before it and the speed after it."""
    truth, timings = result.truth, result.timings
    not_scored = truth.any + truth.unparsable + truth.qualifier_only + truth.declarations
    head = (f"{truth.files} files, {_scored(result)} annotated sites scored "
            f"({truth.unannotated} unannotated and {not_scored} Any/unparsable/declaration-only "
            "not scored)")
    if result.strip_failures:
        head += f"; {len(result.strip_failures)} files left out (could not be stripped)"
    if not result.type_sets:
        head += "; no top-types ranking given (no top-N categories)"
    ratio = timings.ratio_to_parse
    speed = (f"speed: {timings.sites} sites, {timings.lines} lines in "
             f"{timings.infer_seconds:.2f} s: {_rate(timings.sites_per_second, 'sites/s')}, "
             f"{_rate(timings.lines_per_second, 'lines/s')}; "
             f"{'-' if ratio is None else f'{ratio:.1f}x'} ast.parse "
             f"({timings.parse_seconds:.2f} s)")
    forced = result.calibration_top1
    calibration = (f"forced top-1: ECE {'-' if forced.ece is None else f'{forced.ece:.3f}'} "
                   f"over {forced.count} sites with a top-1 type (all confidences)")
    lines = [title] if title else []
    lines.extend([head, render_table(result.report), calibration, speed])
    return "\n".join(lines)
