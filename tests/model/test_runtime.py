"""The NumPy runtime on a small synthetic model file: no pickle, batched, open vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from typeseer.model.features import BUCKETS, class_features, hash_features
from typeseer.model.runtime import Model, ModelFileError

VOCABULARY = ["<unknown>", "int", "str", "@ | None"]


def _write_model(path: Path, class_bias: str) -> None:
    rng = np.random.default_rng(0)
    dim, hidden = 8, 4
    embedding = np.zeros((BUCKETS, dim), dtype=np.float16)
    for feature in class_features(class_bias):  # the preferred class points along axis 0
        embedding[hash_features([feature])[0], 0] = 1.0
    np.savez_compressed(
        path,
        embedding=embedding,
        hidden_w=np.abs(rng.normal(size=(dim, hidden))).astype(np.float16),
        hidden_b=np.ones(hidden, dtype=np.float32),
        output_w=np.zeros((hidden, len(VOCABULARY)), dtype=np.float16),
        output_b=np.array([0.0, 0.0, 0.0, 5.0], dtype=np.float32),  # favours the template
        query_w=np.zeros((hidden, dim), dtype=np.float16),
        query_b=np.eye(dim, dtype=np.float32)[0],  # the query looks along axis 0
        vocabulary=np.asarray(VOCABULARY, dtype=np.str_),
        meta=np.asarray([json.dumps({"temperature": 1.0, "buckets": BUCKETS})], dtype=np.str_),
    )


def test_template_is_filled_with_the_most_similar_candidate(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    _write_model(path, "InvoiceLine")
    model = Model.load(path)
    [ranked] = model.predict([hash_features(["n=line"])], [["Customer", "InvoiceLine"]])
    assert ranked[0][0] == "InvoiceLine | None"
    assert abs(sum(p for _, p in ranked) - 1.0) < 0.2
    assert all(0.0 <= p <= 1.0 for _, p in ranked)


def test_batch_matches_single_rows(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    _write_model(path, "Customer")
    model = Model.load(path)
    bags = [hash_features(["a"]), hash_features(["b", "c"]), []]
    candidates = [["Customer"], [], ["Customer", "Other"]]
    together = model.predict(bags, candidates)
    alone = [model.predict([b], [c])[0] for b, c in zip(bags, candidates, strict=True)]
    assert together == alone


def test_a_pickled_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    _write_model(path, "Customer")
    with np.load(path) as data:
        arrays = dict(data)
    arrays["vocabulary"] = np.array(["int", object()], dtype=object)  # needs pickle to load
    evil = tmp_path / "evil.npz"
    np.savez(evil, **arrays)
    with pytest.raises(ModelFileError, match="pickle"):
        Model.load(evil)


def test_a_damaged_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a typeseer model file"):
        Model.load(path)
