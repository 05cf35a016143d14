"""Running the shipped model with NumPy: no PyTorch, no pickle, batched.

The model file is a compressed ``.npz`` (model/train.py ``export``) loaded with
``allow_pickle=False``, so loading it can never execute code.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..typeexpr import TypeParseError
from .features import class_features, hash_features
from .vocab import SLOT, UNKNOWN, fill

__all__ = ["MODEL_FILE", "Model", "ModelFileError", "load_model"]

MODEL_FILE = "typeseer-model.npz"
#: Alternatives kept per site.
TOP_K = 5
#: Labels less likely than this are not expanded into alternatives.
MIN_PROBABILITY = 1e-3


class ModelFileError(ValueError):
    """The model file is missing parts, damaged, or holds pickled objects."""


F = TypeVar("F", bound=Callable[..., Any])


@functools.lru_cache(maxsize=1)
def _thread_pools() -> Any:
    """threadpoolctl's controller of the thread pools loaded in this process (BLAS's)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _one_blas_thread(method: F) -> F:
    """Run ``method`` with BLAS on one thread. The order in which a matrix product sums its
    terms depends on how many threads share it, and float32 results differ in their last
    bits: on one thread, every probability is the same on any machine and in any worker
    (a Ray task gets one thread, the CLI one per core), so outputs are identical everywhere.
    The products are small (one file's sites at a time): threads gained nothing there."""

    @functools.wraps(method)
    def limited(*args: Any, **kwargs: Any) -> Any:
        with _thread_pools().limit(limits=1, user_api="blas"):
            return method(*args, **kwargs)

    return limited  # type: ignore[return-value]


@dataclass(frozen=True, slots=True, eq=False)
class Model:
    """The type model's weights and vocabulary."""

    embedding: np.ndarray
    hidden_w: np.ndarray
    hidden_b: np.ndarray
    output_w: np.ndarray
    output_b: np.ndarray
    query_w: np.ndarray
    query_b: np.ndarray
    #: Optional linear bottleneck before the output layer (identity when absent).
    bottleneck_w: np.ndarray | None
    bottleneck_b: np.ndarray | None
    vocabulary: list[str]
    temperature: float
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: Path | Any) -> Model:
        """Load a model file; raises ModelFileError with the reason when it is not one."""
        try:
            return cls._load(path)
        except (OSError, KeyError, ValueError, IndexError) as error:
            raise ModelFileError(f"{path}: not a typeseer model file ({error})") from None

    @classmethod
    def _load(cls, path: Path | Any) -> Model:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][0]))
            table = data["embedding"]
            embedding = np.zeros((table.shape[0] + 1, table.shape[1]), dtype=np.float32)
            embedding[:-1] = table  # the last row is the padding: all zeros
            return cls(
                embedding=embedding, hidden_w=data["hidden_w"].astype(np.float32),
                hidden_b=data["hidden_b"], output_w=data["output_w"].astype(np.float32),
                output_b=data["output_b"], query_w=data["query_w"].astype(np.float32),
                query_b=data["query_b"],
                bottleneck_w=data["bottleneck_w"].astype(np.float32)
                if "bottleneck_w" in data else None,
                bottleneck_b=data.get("bottleneck_b", None),
                vocabulary=_vocabulary(data["vocabulary"], meta),
                temperature=float(meta["temperature"]), meta=meta)

    def _bags(self, bags: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean embedding of each bag (empty bags give zeros), vectorised over a padded
        index matrix whose padding points at the all-zero last row."""
        width = max((len(b) for b in bags), default=0)
        pad = self.embedding.shape[0] - 1
        index = np.full((len(bags), max(width, 1)), pad, dtype=np.int64)
        for row, ids in enumerate(bags):
            index[row, :len(ids)] = ids
        counts = np.maximum((index != pad).sum(axis=1, keepdims=True), 1).astype(np.float32)
        summed: np.ndarray = self.embedding[index].sum(axis=1)
        means: np.ndarray = summed / counts  # float32 throughout: float64 doubles the cost
        return means

    @_one_blas_thread
    def predict(self, feature_bags: Sequence[Sequence[int]],
                candidates: Sequence[Sequence[str]]) -> list[list[tuple[str, float]]]:
        """For each site, the top types with their probability, best first."""
        if not feature_bags:
            return []
        hidden = self._hidden(feature_bags)
        # Softmax in place, then the top labels by repeated arg-max: on a few thousand labels
        # this is several times faster than a full sort or partition (docs/benchmarks.md).
        scores = self._exp_scores(hidden)
        totals = scores.sum(axis=1)
        rows = np.arange(len(feature_bags))
        keep = min(TOP_K * 2, scores.shape[1])
        top_index = np.empty((len(feature_bags), keep), dtype=np.int64)
        top_prob = np.empty((len(feature_bags), keep), dtype=np.float64)
        for k in range(keep):
            best = scores.argmax(axis=1)
            top_index[:, k] = best
            top_prob[:, k] = scores[rows, best] / totals
            scores[rows, best] = -1.0
        queries = hidden @ self.query_w + self.query_b
        return [self._distribution(top_index[row], top_prob[row], queries[row],
                                   candidates[row]) for row in rows.tolist()]

    def _hidden(self, feature_bags: Sequence[Sequence[int]]) -> np.ndarray:
        hidden: np.ndarray = np.maximum(
            self._bags(feature_bags) @ self.hidden_w + self.hidden_b, 0.0)
        return hidden

    def _exp_scores(self, hidden: np.ndarray) -> np.ndarray:
        """Unnormalised label probabilities: the softmax up to its division by the row sum."""
        projected = hidden
        if self.bottleneck_w is not None and self.bottleneck_b is not None:
            projected = hidden @ self.bottleneck_w + self.bottleneck_b
        scores: np.ndarray = projected @ self.output_w + self.output_b
        scores /= self.temperature
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        return scores

    @_one_blas_thread
    def type_probabilities(self, feature_bags: Sequence[Sequence[int]],
                           candidates: Sequence[Sequence[str]],
                           types: Sequence[str]) -> list[list[float]]:
        """For each site, the probability of each of ``types`` (normalised spellings).

        Unlike ``predict``, nothing is cut to the top labels or the top candidate classes: a
        type's probability is its own label's plus, for a type over a candidate class, every
        template that this class fills into it, weighted by the class's similarity. So a type
        can be followed while it drops out of the top (occlusion in ``typeseer explain``).
        A type the model cannot spell has probability 0.
        """
        if not feature_bags:
            return []
        hidden = self._hidden(feature_bags)
        scores = self._exp_scores(hidden)
        probabilities = scores / scores.sum(axis=1, keepdims=True)
        queries = hidden @ self.query_w + self.query_b
        index, templates = _label_index(self)
        found: list[list[float]] = []
        for row, row_candidates in enumerate(candidates):
            names = tuple(row_candidates)
            class_probs = np.zeros(0)
            if names:
                similarity = _class_vectors(self, names) @ queries[row]
                similarity = np.exp(similarity - similarity.max())
                class_probs = similarity / similarity.sum()
            row_probs = probabilities[row]
            values: list[float] = []
            for text in types:
                value = float(row_probs[index[text]]) if text in index else 0.0
                for position, name in enumerate(names):
                    if not re.search(rf"\b{re.escape(name)}\b", text):
                        continue
                    weight = float(class_probs[position])
                    for label in templates:
                        try:
                            filled = fill(self.vocabulary[label], name)
                        except TypeParseError:
                            continue
                        if filled == text:
                            value += float(row_probs[label]) * weight
                values.append(value)
            found.append(values)
        return found

    def _distribution(self, top_index: np.ndarray, top_prob: np.ndarray, query: np.ndarray,
                      candidates: Sequence[str]) -> list[tuple[str, float]]:
        class_probs: np.ndarray | None = None
        merged: dict[str, float] = {}
        for index, p in zip(top_index.tolist(), top_prob.tolist(), strict=True):
            if p < MIN_PROBABILITY:
                break  # ordered by probability: the rest cannot matter
            label = self.vocabulary[index]
            if label == UNKNOWN:
                continue
            if SLOT in label:
                if not candidates:
                    continue
                if class_probs is None:
                    vectors = _class_vectors(self, tuple(candidates))
                    scores = vectors @ query
                    scores -= scores.max()
                    class_probs = np.exp(scores) / np.exp(scores).sum()
                for position in np.argsort(-class_probs)[:3].tolist():
                    try:
                        concrete = fill(label, candidates[position])
                    except TypeParseError:
                        continue
                    merged[concrete] = merged.get(concrete, 0.0) + p * float(
                        class_probs[position])
            else:
                merged[label] = merged.get(label, 0.0) + p
        ranked = sorted(merged.items(), key=lambda kv: -kv[1])
        return [(t, p) for t, p in ranked if p >= MIN_PROBABILITY][:TOP_K]


@functools.lru_cache(maxsize=4096)
def _class_vectors(model: Model, names: tuple[str, ...]) -> np.ndarray:
    return model._bags([hash_features(class_features(n)) for n in names])


@functools.lru_cache(maxsize=4)
def _label_index(model: Model) -> tuple[dict[str, int], tuple[int, ...]]:
    """Each plain label's row, and the rows of the templates (labels with a slot)."""
    index: dict[str, int] = {}
    templates: list[int] = []
    for row, label in enumerate(model.vocabulary):
        if label == UNKNOWN:
            continue
        if SLOT in label:
            templates.append(row)
        else:
            index.setdefault(label, row)
    return index, tuple(templates)


def _vocabulary(stored: np.ndarray, meta: dict[str, Any]) -> list[str]:
    """Format 2 keeps the labels as one newline-joined string, format 1 as an array."""
    if int(meta.get("format", 1)) >= 2:
        return str(stored[0]).split("\n")
    return [str(v) for v in stored]


@functools.lru_cache(maxsize=1)
def load_model() -> Model | None:
    """The model shipped in the package, or None when it is missing."""
    resource = resources.files(__package__).joinpath("data").joinpath(MODEL_FILE)
    if not resource.is_file():
        return None
    with resources.as_file(resource) as path:
        return Model.load(path)
