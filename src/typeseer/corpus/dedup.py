"""De-duplicating files across packages: exact, layout-insensitive, and near duplicates.

Three tests, in order, against every file kept before (files are visited in a fixed order, so
the outcome is reproducible):

1. *exact*: the same bytes (sha256);
2. *normalised*: the same token stream once comments and layout are removed;
3. *near*: estimated Jaccard similarity of the sets of 5-token shingles >= ``NEAR_THRESHOLD``,
   from 64-value MinHash signatures bucketed by locality-sensitive hashing (16 bands of 4).
   Files shorter than ``MIN_TOKENS`` tokens are only compared by the first two tests: tiny
   modules look alike without being copies.

Hashing is deterministic (CRC-32 of tokens, fixed multipliers), independent of
``PYTHONHASHSEED``, and vectorised with NumPy.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BANDS",
    "MIN_TOKENS",
    "NEAR_THRESHOLD",
    "NUM_HASHES",
    "Deduplicator",
    "DuplicateOf",
    "fingerprint",
    "similarity",
]

NUM_HASHES = 64
BANDS = 16
SHINGLE = 5
MIN_TOKENS = 100
NEAR_THRESHOLD = 0.8

_COMMENT = re.compile(r"#[^\n]*")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|[^\sA-Za-z0-9_]")
_rng = np.random.default_rng(20240611)
_MULT: npt.NDArray[np.uint64] = _rng.integers(1, 2**63, NUM_HASHES, dtype=np.uint64) | np.uint64(1)
_ADD: npt.NDArray[np.uint64] = _rng.integers(0, 2**63, NUM_HASHES, dtype=np.uint64)
_SHINGLE_PRIME = np.uint64(1099511628211)
_BLOCK = 16384

_token_ids: dict[str, int] = {}


def _token_id(token: str) -> int:
    value = _token_ids.get(token)
    if value is None:
        if len(_token_ids) > 2_000_000:
            _token_ids.clear()
        value = zlib.crc32(token.encode("utf-8", "surrogatepass")) | (len(token) << 32)
        _token_ids[token] = value
    return value


def _minhash(tokens: list[str]) -> str:
    ids = np.fromiter((_token_id(t) for t in tokens), dtype=np.uint64, count=len(tokens))
    count = len(ids) - SHINGLE + 1
    shingles = np.zeros(count, dtype=np.uint64)
    for offset in range(SHINGLE):
        shingles = shingles * _SHINGLE_PRIME + ids[offset:offset + count]
    shingles = np.unique(shingles)
    mins = np.full(NUM_HASHES, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(shingles), _BLOCK):
        block = shingles[start:start + _BLOCK]
        values = _MULT[:, None] * block[None, :] + _ADD[:, None]
        np.minimum(mins, values.min(axis=1), out=mins)
    return str((mins >> np.uint64(32)).astype(">u4").tobytes().hex())


def fingerprint(text: str) -> tuple[str, str, int]:
    """(hash of the comment- and layout-free token stream, hex MinHash or "", token count)."""
    tokens = _TOKEN.findall(_COMMENT.sub("", text))
    norm_hash = hashlib.blake2b("\x00".join(tokens).encode("utf-8", "surrogatepass"),
                                digest_size=16).hexdigest()
    minhash = _minhash(tokens) if len(tokens) >= MIN_TOKENS else ""
    return norm_hash, minhash, len(tokens)


def _signature(minhash: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(bytes.fromhex(minhash), dtype=">u4").astype(np.uint32)


def similarity(a: str, b: str) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    return float(np.mean(_signature(a) == _signature(b)))


@dataclass(frozen=True, slots=True)
class DuplicateOf:
    """Why a file was dropped: which kind of duplicate, and of which earlier file."""

    kind: str  # "exact", "normalised" or "near"
    package: str
    path: str


class Deduplicator:
    """Remembers kept files; ``check`` says whether a new file duplicates one of them."""

    def __init__(self, threshold: float = NEAR_THRESHOLD) -> None:
        self.threshold = threshold
        self.exact: dict[str, tuple[str, str]] = {}
        self.normalised: dict[str, tuple[str, str]] = {}
        self.buckets: dict[bytes, list[int]] = {}
        self.kept: list[tuple[str, str, npt.NDArray[np.uint32]]] = []

    def check(self, package: str, path: str, sha256: str, norm_hash: str,
              minhash: str) -> DuplicateOf | None:
        """None when the file is new (it is then remembered), else what it duplicates."""
        earlier = self.exact.get(sha256)
        if earlier is not None:
            return DuplicateOf("exact", *earlier)
        earlier = self.normalised.get(norm_hash)
        if earlier is not None:
            return DuplicateOf("normalised", *earlier)
        keys: list[bytes] = []
        if minhash:
            signature = _signature(minhash)
            rows = NUM_HASHES // BANDS
            keys = [bytes([band]) + signature[band * rows:(band + 1) * rows].tobytes()
                    for band in range(BANDS)]
            candidates: set[int] = set()
            for key in keys:
                candidates.update(self.buckets.get(key, ()))
            for index in sorted(candidates):
                other_package, other_path, other = self.kept[index]
                if float(np.mean(other == signature)) >= self.threshold:
                    return DuplicateOf("near", other_package, other_path)
            self.kept.append((package, path, signature))
            for key in keys:
                self.buckets.setdefault(key, []).append(len(self.kept) - 1)
        self.exact[sha256] = (package, path)
        self.normalised[norm_hash] = (package, path)
        return None
