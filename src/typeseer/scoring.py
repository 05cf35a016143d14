"""Scoring predictions against the annotations of real code (the DESIGN.md evaluation protocol).

Ground truth is the annotated sites of the *original* code, normalised with
:func:`typeseer.typeexpr.parse_type`; annotations that do not parse and ``Any`` are not scored,
``-> None`` returns are. Predictions are records of the JSONL output contract, matched to
ground truth by site key ``(file, scope, kind, name)``; a site without a prediction is a miss.

Measures, per kind and in total (and again with ``-> None`` returns left out, by type category
and by prediction source):

* forced top-1 exact match and match up to parametric type over *all* ground-truth sites (the
  prediction's ``type``, as given by an ``--all`` run; when it is null, its first alternative);
* at a confidence threshold: coverage (share of sites given a type: ``type`` not null and
  ``confidence >= threshold``) and precision (share of given types that are exact);
* expected calibration error of ``confidence`` over the given predictions (10 equal-width bins,
  correct = exact match).

Type categories: ``basic`` (outer constructor one of the 11 basic types), ``user-defined``
(outer name is a class defined in the evaluated project), ``other``; plus optional named type
sets (``top-100`` of a training distribution...), which overlap the first three. A union's
outer constructor is ``|``, so ``int | None`` is ``other``.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typeseer.annotations import module_aliases, resolve_aliases, unqualified
from typeseer.config import DEFAULT_MIN_CONFIDENCE
from typeseer.parsing import ParseFailure, parse_source
from typeseer.sites import (
    BindingKind,
    ModuleSites,
    Site,
    SiteKey,
    SiteKind,
    extract_sites,
)
from typeseer.sources import UnreadableSource, discover, read_source
from typeseer.typeexpr import (
    ANY,
    NONE,
    TypeExpr,
    TypeParseError,
    outer_name,
    parse_type,
    same_up_to_parametric,
)

__all__ = [
    "BASIC_TYPES",
    "DEFAULT_THRESHOLD",
    "KINDS",
    "Calibration",
    "CalibrationBin",
    "Counts",
    "GroundTruth",
    "PredictionRecord",
    "Report",
    "TruthSite",
    "category_of",
    "collect_ground_truth",
    "expected_calibration_error",
    "ground_truth_of_module",
    "load_predictions",
    "module_name_of",
    "prediction_from_dict",
    "render_table",
    "report_to_dict",
    "resolve_aliases",
    "score",
    "unqualified",
]

#: The 11 basic types of the protocol (outer constructor).
BASIC_TYPES = frozenset(
    {"int", "str", "bool", "float", "bytes", "list", "dict", "tuple", "set", "None", "Any"})
#: Site kinds in report order.
KINDS = tuple(kind.value for kind in SiteKind)
#: Threshold used when none is given: the CLI's default ``--min-confidence``.
DEFAULT_THRESHOLD = DEFAULT_MIN_CONFIDENCE


# -- ground truth ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TruthSite:
    """An annotated site of the original code."""

    key: SiteKey
    type: TypeExpr
    #: The annotation's source text, as written.
    annotation: str

    @property
    def is_none_return(self) -> bool:
        return self.key.kind == SiteKind.RETURN.value and self.type == NONE


@dataclass(slots=True)
class GroundTruth:
    """The scored sites of a project, and what was left out and why."""

    sites: list[TruthSite] = field(default_factory=list)
    #: Names of the classes defined in the project (for the ``user-defined`` category).
    class_names: set[str] = field(default_factory=set)
    files: int = 0
    #: Sites without an annotation (not scored).
    unannotated: int = 0
    #: Annotations that ``parse_type`` rejects (not scored).
    unparsable: int = 0
    #: Annotations that are ``Any`` (not scored).
    any: int = 0
    #: Annotations that are a bare qualifier with no type: ``Final``, ``ClassVar``,
    #: ``TypeAlias`` (not scored; ``Final[int]`` is scored as ``int``).
    qualifier_only: int = 0
    #: Sites bound only by bare declarations (``x: int``), which stripping removes: they do not
    #: exist in the stripped code (not scored unless asked).
    declarations: int = 0
    #: Files that could not be read or parsed: (file, reason).
    failed: list[tuple[str, str]] = field(default_factory=list)


def _declared_only(site: Site) -> bool:
    scope = site.owner
    if scope is None:
        return False
    if site.kind is SiteKind.VARIABLE:
        bindings = scope.bindings.get(site.name, [])
    elif site.kind is SiteKind.ATTRIBUTE:
        bindings = scope.attr_bindings.get(site.name, [])
    else:
        return False
    return bool(bindings) and all(b.kind is BindingKind.DECLARATION for b in bindings)




def ground_truth_of_module(module: ModuleSites, truth: GroundTruth,
                           include_declarations: bool = False) -> None:
    """Add the scored sites and class names of one module to ``truth``."""
    truth.files += 1
    truth.class_names.update(
        node.name for node in ast.walk(module.tree) if isinstance(node, ast.ClassDef))
    for site in module.sites:
        if site.annotation is None:
            truth.unannotated += 1
            continue
        if not include_declarations and _declared_only(site):
            truth.declarations += 1
            continue
        try:
            parsed = unqualified(parse_type(resolve_aliases(site.annotation,
                                                            module_aliases(site.owner))))
        except (TypeParseError, RecursionError):
            truth.unparsable += 1
            continue
        if parsed is None:
            truth.qualifier_only += 1
            continue
        if parsed == ANY:
            truth.any += 1
            continue
        truth.sites.append(TruthSite(site.key, parsed, site.annotation))


def module_name_of(relpath: str) -> tuple[str, bool]:
    """Dotted module name of a POSIX relative path, and whether it is a package's
    ``__init__``: ``pkg/sub/__init__.py`` -> ``("pkg.sub", True)``."""
    parts = relpath.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def collect_ground_truth(paths: Sequence[str | Path], exclude: Sequence[str] = (),
                         include_declarations: bool = False) -> GroundTruth:
    """Ground truth of the Python files under ``paths`` (file keys relative to each path, as
    ``typeseer infer`` gives them)."""
    truth = GroundTruth()
    files, diagnostics = discover(paths, exclude)
    truth.failed.extend((d.file, d.message) for d in diagnostics)
    for source_file in files:
        try:
            text = read_source(source_file)
            tree = parse_source(text, str(source_file.path))
        except (UnreadableSource, ParseFailure) as error:
            truth.failed.append((source_file.relpath, str(error)))
            continue
        module_name, is_package = module_name_of(source_file.relpath)
        module = extract_sites(source_file.relpath, text, tree, module_name, is_package)
        ground_truth_of_module(module, truth, include_declarations)
    return truth


# -- predictions ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One record of the JSONL prediction contract (the fields scoring reads)."""

    key: SiteKey
    #: The normalised type, or None when nothing passed the threshold.
    type: str | None
    confidence: float
    source: str = ""
    alternatives: tuple[tuple[str, float], ...] = ()

    @property
    def top1(self) -> str | None:
        """The forced top-1 type: ``type``, or the first alternative when it is null."""
        if self.type is not None:
            return self.type
        return self.alternatives[0][0] if self.alternatives else None


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)


def prediction_from_dict(record: Mapping[str, Any]) -> PredictionRecord | None:
    """A contract record as a PredictionRecord; None for a record that is not a site (a
    diagnostic line, say)."""
    try:
        key = SiteKey(str(record["file"]), str(record["scope"]), str(record["kind"]),
                      str(record["name"]))
    except KeyError:
        return None
    raw_type = record.get("type")
    alternatives: list[tuple[str, float]] = []
    for item in record.get("alternatives") or ():
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
            alternatives.append((item[0], _number(item[1])))
    return PredictionRecord(key, raw_type if isinstance(raw_type, str) else None,
                            _number(record.get("confidence")), str(record.get("source") or ""),
                            tuple(alternatives))


def load_predictions(lines: Iterable[str]) -> list[PredictionRecord]:
    """Parse JSONL text (one record a line; blank lines and non-site records skipped)."""
    records: list[PredictionRecord] = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        data = json.loads(line)
        if isinstance(data, dict):
            record = prediction_from_dict(data)
            if record is not None:
                records.append(record)
    return records


# -- measures -------------------------------------------------------------------------------

def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(slots=True)
class Counts:
    """Counts over a set of ground-truth sites; rates are None where undefined."""

    #: Ground-truth sites.
    sites: int = 0
    #: Sites with any prediction record.
    predicted: int = 0
    #: Forced top-1: exact and up-to-parametric matches.
    top1_exact: int = 0
    top1_parametric: int = 0
    #: At the threshold: sites given a type, and given types that match.
    given: int = 0
    given_exact: int = 0
    given_parametric: int = 0

    @property
    def top1_exact_rate(self) -> float | None:
        return _rate(self.top1_exact, self.sites)

    @property
    def top1_parametric_rate(self) -> float | None:
        return _rate(self.top1_parametric, self.sites)

    @property
    def coverage(self) -> float | None:
        return _rate(self.given, self.sites)

    @property
    def precision(self) -> float | None:
        return _rate(self.given_exact, self.given)

    @property
    def precision_parametric(self) -> float | None:
        return _rate(self.given_parametric, self.given)

    def add(self, outcome: _Outcome) -> None:
        self.sites += 1
        self.predicted += outcome.predicted
        self.top1_exact += outcome.top1_exact
        self.top1_parametric += outcome.top1_parametric
        self.given += outcome.given
        self.given_exact += outcome.given and outcome.given_exact
        self.given_parametric += outcome.given and outcome.given_parametric


@dataclass(frozen=True, slots=True)
class _Outcome:
    predicted: bool
    top1_exact: bool
    top1_parametric: bool
    given: bool
    given_exact: bool
    given_parametric: bool
    confidence: float


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """Given predictions with ``lower <= confidence < upper`` (the last bin includes 1)."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


@dataclass(frozen=True, slots=True)
class Calibration:
    """Expected calibration error (None without predictions) and its bins."""

    ece: float | None
    bins: tuple[CalibrationBin, ...]
    count: int


def expected_calibration_error(pairs: Iterable[tuple[float, bool]],
                               n_bins: int = 10) -> Calibration:
    """ECE of (confidence, correct) pairs over ``n_bins`` equal-width bins of [0, 1]:
    the sum over bins of (bin size / total) * |accuracy - mean confidence|."""
    sums = [0.0] * n_bins
    hits = [0] * n_bins
    counts = [0] * n_bins
    for confidence, correct in pairs:
        index = min(max(int(confidence * n_bins), 0), n_bins - 1)
        sums[index] += confidence
        hits[index] += correct
        counts[index] += 1
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


def category_of(truth: TypeExpr, class_names: Collection[str]) -> str:
    """``basic``, ``user-defined`` or ``other`` (by the outer constructor)."""
    name = outer_name(truth)
    if name in BASIC_TYPES:
        return "basic"
    if name in class_names:
        return "user-defined"
    return "other"


@dataclass(slots=True)
class Report:
    """Every measure of one scoring run."""

    threshold: float
    total: Counts
    by_kind: dict[str, Counts]
    #: The same with ``-> None`` returns left out.
    total_without_none_returns: Counts
    by_kind_without_none_returns: dict[str, Counts]
    #: ``basic``, ``user-defined``, ``other``, then the named type sets.
    by_category: dict[str, Counts]
    #: By the ``source`` of the site's prediction (``"missing"`` without one).
    by_source: dict[str, Counts]
    calibration: Calibration
    #: Prediction records for sites that have no scored ground truth.
    unmatched_predictions: int = 0
    #: Records whose key was already seen (the first one counts).
    duplicate_predictions: int = 0
    #: Predicted types that ``parse_type`` rejects, or bare qualifiers (they count as wrong).
    unparsable_predictions: int = 0


def _parse_prediction(text: str | None, bad: list[int]) -> TypeExpr | None:
    if text is None:
        return None
    try:
        parsed = unqualified(parse_type(text))
    except TypeParseError:
        parsed = None
    if parsed is None:
        bad[0] += 1
    return parsed


def _outcome(truth: TypeExpr, prediction: PredictionRecord | None, threshold: float,
             bad: list[int]) -> _Outcome:
    if prediction is None:
        return _Outcome(False, False, False, False, False, False, 0.0)
    top1 = _parse_prediction(prediction.top1, bad)
    top1_exact = top1 is not None and top1 == truth
    top1_parametric = top1 is not None and same_up_to_parametric(top1, truth)
    if prediction.type is not None and prediction.confidence >= threshold:
        # ``type`` is not null, so it is the top-1 type
        return _Outcome(True, top1_exact, top1_parametric, True, top1_exact, top1_parametric,
                        prediction.confidence)
    return _Outcome(True, top1_exact, top1_parametric, False, False, False,
                    prediction.confidence)


def score(truth: Iterable[TruthSite], predictions: Iterable[PredictionRecord], *,
          threshold: float = DEFAULT_THRESHOLD, class_names: Collection[str] = frozenset(),
          type_sets: Mapping[str, Collection[str]] | None = None) -> Report:
    """Score ``predictions`` against ``truth`` (see the module docstring).

    ``type_sets`` maps a category name (``"top-100"``) to normalised type strings; a site is in
    the category when its true type, printed, is in the set.
    """
    by_key: dict[SiteKey, PredictionRecord] = {}
    duplicates = 0
    for prediction in predictions:
        if prediction.key in by_key:
            duplicates += 1
        else:
            by_key[prediction.key] = prediction
    sets = {name: frozenset(types) for name, types in (type_sets or {}).items()}
    report = Report(
        threshold=threshold, total=Counts(), by_kind={kind: Counts() for kind in KINDS},
        total_without_none_returns=Counts(),
        by_kind_without_none_returns={kind: Counts() for kind in KINDS},
        by_category={name: Counts() for name in ("basic", "user-defined", "other", *sets)},
        by_source={}, calibration=expected_calibration_error(()),
        duplicate_predictions=duplicates)
    bad = [0]
    pairs: list[tuple[float, bool]] = []
    matched = 0
    seen: set[SiteKey] = set()
    for site in truth:
        if site.key in seen:
            continue
        seen.add(site.key)
        found = by_key.get(site.key)
        matched += found is not None
        outcome = _outcome(site.type, found, threshold, bad)
        report.total.add(outcome)
        report.by_kind.setdefault(site.key.kind, Counts()).add(outcome)
        if not site.is_none_return:
            report.total_without_none_returns.add(outcome)
            report.by_kind_without_none_returns.setdefault(site.key.kind, Counts()).add(outcome)
        report.by_category[category_of(site.type, class_names)].add(outcome)
        printed = str(site.type)
        for name, types in sets.items():
            if printed in types:
                report.by_category[name].add(outcome)
        source = (found.source or "unknown") if found is not None else "missing"
        report.by_source.setdefault(source, Counts()).add(outcome)
        if outcome.given:
            pairs.append((outcome.confidence, outcome.given_exact))
    report.calibration = expected_calibration_error(pairs)
    report.unmatched_predictions = len(by_key) - matched
    report.unparsable_predictions = bad[0]
    return report


# -- output ---------------------------------------------------------------------------------

def _counts_dict(counts: Counts) -> dict[str, object]:
    return {
        "sites": counts.sites, "predicted": counts.predicted,
        "top1_exact": counts.top1_exact, "top1_parametric": counts.top1_parametric,
        "given": counts.given, "given_exact": counts.given_exact,
        "given_parametric": counts.given_parametric,
        "top1_exact_rate": counts.top1_exact_rate,
        "top1_parametric_rate": counts.top1_parametric_rate,
        "coverage": counts.coverage, "precision": counts.precision,
        "precision_parametric": counts.precision_parametric,
    }


def report_to_dict(report: Report) -> dict[str, object]:
    """The report as plain JSON-able data (rates are None where undefined)."""
    return {
        "threshold": report.threshold,
        "total": _counts_dict(report.total),
        "by_kind": {k: _counts_dict(c) for k, c in report.by_kind.items()},
        "total_without_none_returns": _counts_dict(report.total_without_none_returns),
        "by_kind_without_none_returns": {
            k: _counts_dict(c) for k, c in report.by_kind_without_none_returns.items()},
        "by_category": {k: _counts_dict(c) for k, c in report.by_category.items()},
        "by_source": {k: _counts_dict(c) for k, c in sorted(report.by_source.items())},
        "calibration": {
            "ece": report.calibration.ece,
            "count": report.calibration.count,
            "bins": [{"lower": b.lower, "upper": b.upper, "count": b.count,
                      "mean_confidence": b.mean_confidence, "accuracy": b.accuracy}
                     for b in report.calibration.bins],
        },
        "unmatched_predictions": report.unmatched_predictions,
        "duplicate_predictions": report.duplicate_predictions,
        "unparsable_predictions": report.unparsable_predictions,
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


_COLUMNS = ("", "sites", "top1", "top1~", "given", "coverage", "precision", "precision~")


def _row(label: str, counts: Counts) -> list[str]:
    return [label, str(counts.sites), _percent(counts.top1_exact_rate),
            _percent(counts.top1_parametric_rate), str(counts.given),
            _percent(counts.coverage), _percent(counts.precision),
            _percent(counts.precision_parametric)]


def _format_rows(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                      for i, cell in enumerate(row)).rstrip() for row in rows]


def render_table(report: Report, title: str = "") -> str:
    """A plain-text table of the report: rows by kind, without ``-> None`` returns, by
    category and by source; ``~`` columns match up to parametric type."""
    rows: list[list[str]] = [list(_COLUMNS)]
    rows.append(_row("total", report.total))
    rows.extend(_row(f"  {kind}", counts) for kind, counts in report.by_kind.items())
    rows.append(_row("total w/o -> None", report.total_without_none_returns))
    rows.append(_row("  return w/o None", report.by_kind_without_none_returns.get(
        SiteKind.RETURN.value, Counts())))
    rows.extend(_row(f"category {name}", counts) for name, counts in report.by_category.items())
    rows.extend(_row(f"source {name}", counts)
                for name, counts in sorted(report.by_source.items()))
    lines = [title] if title else []
    lines.extend(_format_rows(rows))
    ece = report.calibration.ece
    lines.append(
        f"threshold {report.threshold:g}; ECE "
        f"{'-' if ece is None else f'{ece:.3f}'} over {report.calibration.count} given; "
        f"{report.unmatched_predictions} predictions without ground truth, "
        f"{report.duplicate_predictions} duplicates, "
        f"{report.unparsable_predictions} unparsable")
    return "\n".join(lines)
