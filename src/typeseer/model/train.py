"""Training the type model with PyTorch (CPU), exporting it for the NumPy runtime.

The architecture was chosen for a 2-core laptop CPU, where it has to train in under 90
minutes and infer thousands of sites a second. A site's hashed features are averaged in an
embedding bag (fastText-style), passed through one hidden layer, and scored against two
outputs:

1. a softmax over the vocabulary: common types, templates over the project's classes, and
   ``<unknown>``;
2. for templates, a similarity between a query vector of the site and the embedding of each
   candidate class's name, softmaxed over the module's candidates (open vocabulary).

Training is reproducible (fixed seeds, deterministic order) and resumable: a checkpoint is
written after every epoch and picked up on restart. The shipped artefact is a compressed
``.npz`` of float16 arrays plus the vocabulary, loadable without pickle (model/runtime.py).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .features import BUCKETS, MAX_CANDIDATES, TYPING_NAMES, class_features, hash_features
from .vocab import UNKNOWN, template_of

if TYPE_CHECKING:
    from ..combine import Decision, IsotonicMap
    from .runtime import Model

__all__ = ["TrainConfig", "decide_rows", "load_split", "train"]


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Hyper-parameters; the defaults are the shipped model's."""

    dim: int = 64
    hidden: int = 256
    #: Width of a linear bottleneck before the (wide) output layer; 0 for none. A 64-wide one
    #: makes the output 4x cheaper but cost 0.8 points of accuracy for 4% of end-to-end speed
    #: (docs/model.md), so the shipped model has none.
    output_rank: int = 0
    vocab_size: int = 4000
    min_count: int = 3
    epochs: int = 4
    batch: int = 1024
    #: Share of a site's features hidden at each training step (feature dropout): the model
    #: otherwise memorises rare feature combinations (measured: training loss 0.6 while the
    #: validation accuracy stalled).
    feature_dropout: float = 0.25
    lr: float = 2e-3
    embedding_lr: float = 1e-2
    seed: int = 1234
    max_rows_per_package: int = 20000


#: Features kept per site (the 99th percentile is about 40).
MAX_FEATURES = 48
#: The padding id: one past the last bucket, excluded from the mean by the embedding bag.
PAD = BUCKETS


@dataclass(slots=True)
class Split:
    """One split's rows: a padded feature matrix and per-row metadata."""

    matrix: np.ndarray  # int64 [rows, MAX_FEATURES], PAD-padded
    labels: list[str]
    kinds: list[str]
    candidates: list[list[str]]
    static_types: list[str | None]
    static_confidence: np.ndarray
    packages: list[str]

    def bags(self, rows: Sequence[int] | np.ndarray) -> list[list[int]]:
        """The feature ids of ``rows`` without padding (for the NumPy runtime)."""
        return [[int(i) for i in self.matrix[r] if i != PAD] for r in rows]


def load_split(directory: Path, max_rows_per_package: int, seed: int) -> Split:
    """Read a split's Parquet files; packages above the cap are sampled (fixed seed) so that
    no package dominates (generated SDKs)."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    rows: list[list[int]] = []
    split = Split(np.zeros((0, MAX_FEATURES), np.int64), [], [], [], [],
                  np.zeros(0, np.float32), [])
    confidences: list[float] = []
    for path in sorted(directory.glob("*.parquet")):
        table = pq.read_table(path).to_pydict()
        count = len(table["label"])
        keep = np.arange(count)
        if count > max_rows_per_package:
            keep = np.sort(rng.choice(count, max_rows_per_package, replace=False))
        for index in keep.tolist():
            rows.append(table["features"][index][:MAX_FEATURES])
            split.labels.append(table["label"][index])
            split.kinds.append(table["kind"][index])
            split.candidates.append([c for c in table["candidates"][index] or []
                                     if c not in TYPING_NAMES])
            split.static_types.append(table["static_type"][index])
            confidences.append(float(table["static_confidence"][index] or 0.0))
            split.packages.append(table["package"][index])
    split.matrix = np.full((len(rows), MAX_FEATURES), PAD, dtype=np.int64)
    for row, ids in enumerate(rows):
        split.matrix[row, :len(ids)] = ids
    split.static_confidence = np.asarray(confidences, dtype=np.float32)
    return split


@dataclass(slots=True)
class Targets:
    """Training targets of a split against a vocabulary."""

    label_index: np.ndarray  # int64
    #: Per row: candidate class ids (into the class table), -1-padded, and the position of the
    #: target class among them (-1: the label is not a template).
    candidate_ids: np.ndarray  # int64 [rows, MAX_CANDIDATES]
    candidate_target: np.ndarray


def build_vocabulary(split: Split, config: TrainConfig) -> list[str]:
    counts: Counter[str] = Counter()
    for label, candidates in zip(split.labels, split.candidates, strict=True):
        templated = template_of(label, candidates)
        counts[templated[0] if templated else label] += 1
    common = [label for label, n in counts.most_common(config.vocab_size - 1)
              if n >= config.min_count]
    return [UNKNOWN, *common]


class ClassTable:
    """Candidate class names and their padded feature ids (shared across splits)."""

    WIDTH = 8

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.rows: list[list[int]] = []

    def id(self, name: str) -> int:
        found = self.index.get(name)
        if found is None:
            found = len(self.rows)
            self.index[name] = found
            self.rows.append(hash_features(class_features(name))[: self.WIDTH])
        return found

    def matrix(self) -> np.ndarray:
        out = np.full((max(len(self.rows), 1), self.WIDTH), PAD, dtype=np.int64)
        for row, ids in enumerate(self.rows):
            out[row, :len(ids)] = ids
        return out


def build_targets(split: Split, vocabulary: list[str], classes: ClassTable) -> Targets:
    position = {label: i for i, label in enumerate(vocabulary)}
    count = len(split.labels)
    label_index = np.zeros(count, dtype=np.int64)
    candidate_ids = np.full((count, MAX_CANDIDATES), -1, dtype=np.int64)
    candidate_target = np.full(count, -1, dtype=np.int64)
    for row, (label, candidates) in enumerate(zip(split.labels, split.candidates, strict=True)):
        candidates = candidates[:MAX_CANDIDATES]
        templated = template_of(label, candidates)
        target = templated[0] if templated else label
        label_index[row] = position.get(target, 0)
        candidate_ids[row, :len(candidates)] = [classes.id(c) for c in candidates]
        if templated is not None and target in position:
            candidate_target[row] = candidates.index(templated[1])
    return Targets(label_index, candidate_ids, candidate_target)


def _model(config: TrainConfig, vocab_size: int) -> Any:
    import torch
    from torch import nn

    class TypeModel(nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.EmbeddingBag(BUCKETS + 1, config.dim, mode="mean",
                                             sparse=True, padding_idx=PAD)
            self.hidden = nn.Linear(config.dim, config.hidden)
            rank = config.output_rank or config.hidden
            self.bottleneck = nn.Linear(config.hidden, rank) if config.output_rank else None
            self.output = nn.Linear(rank, vocab_size)
            self.query = nn.Linear(config.hidden, config.dim)
            nn.init.normal_(self.embedding.weight, 0.0, 0.1)

        def encode(self, ids: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.hidden(self.embedding(ids)))

        def logits(self, hidden: torch.Tensor) -> torch.Tensor:
            if self.bottleneck is not None:
                hidden = self.bottleneck(hidden)
            return self.output(hidden)

    return TypeModel()


def _candidate_loss(model: Any, hidden: Any, rows: np.ndarray, targets: Targets,
                    class_matrix: np.ndarray) -> Any:
    """Cross-entropy of the target class among each templated row's candidates."""
    import torch

    chosen = np.flatnonzero(targets.candidate_target[rows] >= 0)
    if len(chosen) == 0:
        return None
    ids = targets.candidate_ids[rows[chosen]]  # [n, MAX_CANDIDATES], -1 padded
    mask = ids >= 0
    needed, inverse = np.unique(ids[mask], return_inverse=True)
    local = np.zeros_like(ids)
    local[mask] = inverse
    class_vectors = model.embedding(torch.from_numpy(class_matrix[needed]))  # [u, dim]
    queries = model.query(hidden[torch.from_numpy(chosen)])  # [n, dim]
    scores = queries @ class_vectors.T  # [n, u]
    scores = torch.gather(scores, 1, torch.from_numpy(local))  # [n, MAX_CANDIDATES]
    scores = scores.masked_fill(~torch.from_numpy(mask), -1e9)
    target = torch.from_numpy(targets.candidate_target[rows[chosen]])
    return torch.nn.functional.cross_entropy(scores, target)


def _logits(model: Any, split: Split, rows: np.ndarray) -> np.ndarray:
    import torch

    chunks = []
    with torch.no_grad():
        for start in range(0, len(rows), 8192):
            part = rows[start:start + 8192]
            hidden = model.encode(torch.from_numpy(split.matrix[part]))
            chunks.append(model.logits(hidden).numpy())
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)


def _evaluate(model: Any, split: Split, targets: Targets, limit: int = 20000) -> float:
    rows = np.arange(min(len(split.labels), limit))
    predicted = _logits(model, split, rows).argmax(axis=1)
    return float((predicted == targets.label_index[rows]).mean()) if len(rows) else 0.0


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the validation negative log-likelihood (grid, then refine)."""
    def nll(temperature: float) -> float:
        scaled = logits / temperature
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(labels)), labels].mean())

    grid = [0.5 + 0.05 * i for i in range(50)]
    best = min(grid, key=nll)
    for step in (0.02, 0.005):
        best = min((best + step * k for k in range(-4, 5) if best + step * k > 0.05), key=nll)
    return best


def train(data_dir: Path, out_file: Path, checkpoint_dir: Path,
          config: TrainConfig | None = None,
          log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> dict[str, Any]:
    """Train on ``data_dir/train``, calibrate on ``data_dir/valid``, write ``out_file``."""
    import torch

    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    started = time.perf_counter()
    log("loading training data")
    train_split = load_split(data_dir / "train", config.max_rows_per_package, config.seed)
    valid_split = load_split(data_dir / "valid", config.max_rows_per_package, config.seed)
    vocabulary = build_vocabulary(train_split, config)
    classes = ClassTable()
    train_targets = build_targets(train_split, vocabulary, classes)
    valid_targets = build_targets(valid_split, vocabulary, classes)
    class_matrix = classes.matrix()
    log(f"{len(train_split.labels)} training rows, {len(valid_split.labels)} validation rows, "
        f"{len(vocabulary)} labels ({time.perf_counter() - started:.0f} s)")

    model = _model(config, len(vocabulary))
    dense = [p for n, p in model.named_parameters() if not n.startswith("embedding")]
    optimiser = torch.optim.Adam(dense, lr=config.lr)
    sparse = torch.optim.SparseAdam(list(model.embedding.parameters()), lr=config.embedding_lr)
    checkpoint = checkpoint_dir / "checkpoint.pt"
    first_epoch = 0
    best_accuracy: float = -1.0
    best_state: dict[str, Any] | None = None
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True)
        if state.get("vocab_size") == len(vocabulary):
            model.load_state_dict(state["model"])
            optimiser.load_state_dict(state["dense"])
            sparse.load_state_dict(state["sparse"])
            first_epoch = int(state["epoch"]) + 1
            best_state, best_accuracy = state.get("best"), float(state.get("best_accuracy", -1))
            log(f"resuming after epoch {first_epoch}")
    rng = np.random.default_rng(config.seed)
    orders = [rng.permutation(len(train_split.labels)) for _ in range(config.epochs)]
    for epoch in range(first_epoch, config.epochs):
        model.train()
        order = orders[epoch]
        steps = math.ceil(len(order) / config.batch)
        total = 0.0
        for step in range(steps):
            rows = order[step * config.batch:(step + 1) * config.batch]
            batch = train_split.matrix[rows]
            if config.feature_dropout > 0:
                dropped = rng.random(batch.shape) < config.feature_dropout
                dropped[:, 0] = False  # keep the kind feature: a bag is never empty
                batch = np.where(dropped, PAD, batch)
            hidden = model.encode(torch.from_numpy(batch))
            loss = torch.nn.functional.cross_entropy(
                model.logits(hidden), torch.from_numpy(train_targets.label_index[rows]))
            extra = _candidate_loss(model, hidden, rows, train_targets, class_matrix)
            if extra is not None:
                loss = loss + extra
            optimiser.zero_grad()
            sparse.zero_grad()
            loss.backward()
            optimiser.step()
            sparse.step()
            total += float(loss.detach())
            if step % 200 == 0:
                log(f"epoch {epoch + 1}/{config.epochs} step {step}/{steps} "
                    f"loss {total / (step + 1):.3f} ({time.perf_counter() - started:.0f} s)")
        model.eval()
        accuracy = _evaluate(model, valid_split, valid_targets)
        log(f"epoch {epoch + 1}: validation label accuracy {accuracy:.3f}")
        if accuracy > best_accuracy:
            best_accuracy = accuracy
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "dense": optimiser.state_dict(),
                    "sparse": sparse.state_dict(), "epoch": epoch,
                    "vocab_size": len(vocabulary), "best": best_state,
                    "best_accuracy": best_accuracy}, checkpoint_dir / "checkpoint.tmp")
        (checkpoint_dir / "checkpoint.tmp").replace(checkpoint)

    if best_state is not None:  # early stopping: the epoch with the best validation accuracy
        model.load_state_dict(best_state)
    temperature = _calibrate(model, valid_split, valid_targets)
    log(f"temperature {temperature:.3f}")
    export(model, vocabulary, temperature, config, out_file)
    decisions = calibrate_decisions(out_file, valid_split, out_file.with_name("calibration.json"))
    log(f"decision calibration: {decisions}")
    seconds = time.perf_counter() - started
    summary = {"rows": len(train_split.labels), "valid_rows": len(valid_split.labels),
               "labels": len(vocabulary), "temperature": temperature, "seconds": seconds,
               "config": asdict(config)}
    log(json.dumps(summary))
    return summary


def _calibrate(model: Any, split: Split, targets: Targets, rows: int = 10000) -> float:
    picked = np.random.default_rng(0).permutation(len(split.labels))[:rows]
    return fit_temperature(_logits(model, split, picked), targets.label_index[picked])


def export(model: Any, vocabulary: Sequence[str], temperature: float, config: TrainConfig,
           out_file: Path) -> None:
    """Write the runtime artefact: float16 weights, the vocabulary, and metadata (no pickle)."""
    state = {name: tensor.detach().numpy() for name, tensor in model.state_dict().items()}
    arrays = {
        "embedding": state["embedding.weight"][:BUCKETS].astype(np.float16),  # no padding row
        "hidden_w": state["hidden.weight"].T.astype(np.float16),
        "hidden_b": state["hidden.bias"].astype(np.float32),
        "output_w": state["output.weight"].T.astype(np.float16),
        "output_b": state["output.bias"].astype(np.float32),
        "query_w": state["query.weight"].T.astype(np.float16),
        "query_b": state["query.bias"].astype(np.float32),
        # One newline-joined string: an array of fixed-width strings is padded to the longest
        # label (16 MB to decompress at every start for 4,000 labels).
        "vocabulary": np.asarray(["\n".join(vocabulary)], dtype=np.str_),
        "meta": np.asarray([json.dumps({"temperature": temperature, "buckets": BUCKETS,
                                        "config": asdict(config), "format": 2})], dtype=np.str_),
    }
    if "bottleneck.weight" in state:
        arrays["bottleneck_w"] = state["bottleneck.weight"].T.astype(np.float16)
        arrays["bottleneck_b"] = state["bottleneck.bias"].astype(np.float32)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    temp = out_file.with_name(out_file.name + ".tmp.npz")
    np.savez_compressed(temp, **arrays)
    temp.replace(out_file)


def decide_rows(model: Model, split: Split, mapping: IsotonicMap, chunk: int = 4096
                ) -> Iterator[tuple[int, Decision, bool]]:
    """For every row of ``split``: the decision ``typeseer infer`` would make (model ranking
    plus static fact, api.py) and whether it is exactly the label."""
    from ..combine import decide
    from ..typeexpr import TypeParseError, parse_type

    for start in range(0, len(split.labels), chunk):
        part = list(range(start, min(start + chunk, len(split.labels))))
        ranked = model.predict(split.bags(part), [split.candidates[i] for i in part])
        for i, r in zip(part, ranked, strict=True):
            decision = decide(r, split.static_types[i], float(split.static_confidence[i]),
                              mapping)
            try:
                right = decision.type is not None and \
                    parse_type(decision.type) == parse_type(split.labels[i])
            except TypeParseError:
                right = False
            yield i, decision, right


def calibrate_decisions(model_file: Path, split: Split, out_file: Path,
                        target_precision: float = 0.95) -> dict[str, Any]:
    """Fit the isotonic map of final confidences on ``split`` (validation), pick the default
    threshold for ``target_precision``, and write them beside the model."""
    from ..combine import IsotonicMap, dump_decision_map, fit_decisions
    from .runtime import Model

    confidences: list[float] = []
    correct: list[bool] = []
    model_sourced: list[bool] = []
    for _, decision, right in decide_rows(Model.load(model_file), split, IsotonicMap()):
        confidences.append(decision.confidence)
        correct.append(right)
        model_sourced.append(decision.source != "static")
    mapping, threshold, figures = fit_decisions(confidences, correct, model_sourced,
                                                target_precision)
    notes: dict[str, object] = {"fitted_on": "valid split", "rows": len(correct), **figures}
    out_file.write_text(dump_decision_map(mapping, threshold, notes), encoding="utf-8")
    return {"threshold": threshold, **notes}
