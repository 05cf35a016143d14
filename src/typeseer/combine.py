"""Combining static facts with the model's ranking into one calibrated prediction.

Policy:

* a static fact whose calibrated confidence is at least ``CERTAIN`` is never contradicted;
* otherwise the model, which saw the static fact among its inputs, ranks the types, and the
  static fact wins only if it is more likely than the model's best guess;
* the model's probabilities are mapped through an isotonic calibration fitted on the
  validation split (``fit_calibration``), so that ``confidence`` is the probability that the
  type is exactly right.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = [
    "CERTAIN",
    "Decision",
    "IsotonicMap",
    "decide",
    "fit_calibration",
    "fit_decisions",
    "load_decision_map",
]

#: A static fact at least this likely to be exact is never contradicted by the model.
CERTAIN = 0.97
_FILE = "calibration.json"


@dataclass(frozen=True, slots=True)
class IsotonicMap:
    """A monotone piecewise-linear map from raw model probability to measured precision."""

    knots_x: tuple[float, ...] = (0.0, 1.0)
    knots_y: tuple[float, ...] = (0.0, 1.0)

    def __call__(self, value: float) -> float:
        # bisect on tuples: a scalar np.interp costs more than the whole lookup
        xs, ys = self.knots_x, self.knots_y
        if value <= xs[0]:
            return ys[0]
        if value >= xs[-1]:
            return ys[-1]
        right = bisect.bisect_right(xs, value)
        x0, x1, y0, y1 = xs[right - 1], xs[right], ys[right - 1], ys[right]
        return y0 + (y1 - y0) * (value - x0) / (x1 - x0)


@dataclass(frozen=True, slots=True)
class Decision:
    type: str | None
    confidence: float
    #: ``static``, ``model`` or ``combined`` (the model agrees with the static fact).
    source: str
    alternatives: tuple[tuple[str, float], ...]


def decide(ranked: Sequence[tuple[str, float]], static_type: str | None,
           static_confidence: float, calibrate: IsotonicMap) -> Decision:
    """The prediction for one site from the model's ranking and the static fact."""
    if static_type is not None and static_confidence >= CERTAIN:
        return Decision(static_type, static_confidence, "static",
                        ((static_type, static_confidence),))
    calibrated = tuple((t, calibrate(p)) for t, p in ranked)
    if static_type is not None and (not calibrated or static_confidence >= calibrated[0][1]):
        rest = tuple(a for a in calibrated if a[0] != static_type)
        return Decision(static_type, static_confidence, "static",
                        ((static_type, static_confidence), *rest))
    if not calibrated:
        return Decision(None, 0.0, "model", ())
    best, confidence = calibrated[0]
    source = "combined" if best == static_type else "model"
    return Decision(best, confidence, source, calibrated)


def fit_calibration(confidences: Sequence[float], correct: Sequence[bool],
                    knots: int = 40) -> IsotonicMap:
    """Isotonic regression (pool adjacent violators) of correctness on raw confidence,
    summarised as at most ``knots`` points."""
    import numpy as np  # training only: inference never pays for NumPy's import here
    order = np.argsort(np.asarray(confidences, dtype=np.float64))
    x = np.asarray(confidences, dtype=np.float64)[order]
    y = np.asarray(correct, dtype=np.float64)[order]
    values: list[float] = []
    weights: list[float] = []
    ends: list[int] = []
    for index, value in enumerate(y):
        values.append(float(value))
        weights.append(1.0)
        ends.append(index)
        while len(values) > 1 and values[-2] > values[-1]:
            merged_weight = weights[-2] + weights[-1]
            merged = (values[-2] * weights[-2] + values[-1] * weights[-1]) / merged_weight
            values[-2:] = [merged]
            weights[-2:] = [merged_weight]
            ends[-2:] = [ends[-1]]
    fitted = np.repeat(values, np.asarray(weights, dtype=np.int64))
    picks = np.unique(np.linspace(0, len(x) - 1, num=min(knots, len(x))).astype(np.int64))
    knots_x = [0.0, *x[picks].tolist(), 1.0]
    knots_y = [0.0, *fitted[picks].tolist(), float(fitted[-1]) if len(fitted) else 1.0]
    knots_x, knots_y = _dedupe(knots_x, knots_y)
    return IsotonicMap(tuple(knots_x), tuple(knots_y))


def _dedupe(xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    out_x: list[float] = []
    out_y: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        if out_x and x <= out_x[-1]:
            out_y[-1] = max(out_y[-1], y)
            continue
        out_x.append(x)
        out_y.append(max(y, out_y[-1]) if out_y else y)
    return out_x, out_y


def fit_decisions(confidences: Sequence[float], correct: Sequence[bool],
                  model_sourced: Sequence[bool], target_precision: float = 0.95
                  ) -> tuple[IsotonicMap, float, dict[str, float]]:
    """Fit the map on the model-sourced decisions, then pick the lowest threshold (in steps
    of 0.01 from 0.5) at which all decisions reach ``target_precision``. Returns the map, the
    threshold, and the figures at it."""
    picked = [i for i, m in enumerate(model_sourced) if m]
    mapping = fit_calibration([confidences[i] for i in picked], [correct[i] for i in picked])
    final = [mapping(c) if m else c for c, m in zip(confidences, model_sourced, strict=True)]

    def given_at(threshold: float) -> list[bool]:
        return [ok for c, ok in zip(final, correct, strict=True) if c >= threshold]

    threshold = 1.0
    for step in range(50, 100):
        given = given_at(step / 100)
        if given and sum(given) / len(given) >= target_precision:
            threshold = step / 100
            break
    given = given_at(threshold)
    total = max(len(correct), 1)
    return mapping, threshold, {"precision_at_threshold": sum(given) / max(len(given), 1),
                                "coverage_at_threshold": len(given) / total,
                                "top1": sum(correct) / total}


def dump_decision_map(mapping: IsotonicMap, threshold: float, notes: dict[str, object]) -> str:
    return json.dumps({"knots_x": mapping.knots_x, "knots_y": mapping.knots_y,
                       "default_threshold": threshold, **notes}, indent=1) + "\n"


@lru_cache(maxsize=1)
def load_decision_map() -> IsotonicMap:
    """The calibration shipped beside the model (identity when there is none)."""
    resource = resources.files("typeseer.model").joinpath("data").joinpath(_FILE)
    if not resource.is_file():
        return IsotonicMap()
    data = json.loads(resource.read_text(encoding="utf-8"))
    return IsotonicMap(tuple(data["knots_x"]), tuple(data["knots_y"]))
