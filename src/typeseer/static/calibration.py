"""Calibrated confidence for static facts: measured precision per kind of derivation.

A fact's confidence is the share of facts derived the same way that matched the developer's
annotation on stripped real packages (``bench/calibrate_static.py`` measures it and writes
``calibration.json`` beside this file). Derivations are grouped from specific to general:
``kind/final-rule``, then ``kind/final-rule/first-rule[:outer-type]``; each level's precision
is shrunk towards the level above, the top towards the rule's prior (static/rules.py).
Variables are keyed with their scope kind too (``variable@class``): a string default of a
class-body field is far less often ``str`` than a function's local string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..sites import Site, SiteKind
from .engine import Fact
from .rules import RULES

__all__ = ["Calibration", "calibration_keys", "calibration_kind", "fit", "load_calibration"]

#: Pseudo-count of the shrinkage towards the more general group.
SHRINKAGE = 10.0
_FILE = "calibration.json"


def calibration_keys(kind: str, fact: Fact) -> list[str]:
    """The groups a fact belongs to, most general first (the rule alone is the prior)."""
    final = fact.rules[-1] if fact.rules else "?"
    first = fact.rules[0] if fact.rules else "?"
    if first == "literal":
        first = f"literal:{fact.type.name}"
    return [f"{kind}/{final}", f"{kind}/{final}/{first}"]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Measured precision per derivation group."""

    #: group -> (exact matches, facts)
    counts: dict[str, tuple[int, int]]

    def confidence(self, kind: str, fact: Fact) -> float:
        """Precision of the fact's group, each level shrunk towards the level above it
        (``(hits + m * parent) / (facts + m)``), so that small groups lean on large ones."""
        final = fact.rules[-1] if fact.rules else ""
        rule = RULES.get(final)
        estimate = rule.confidence if rule is not None else fact.confidence
        for key in calibration_keys(kind, fact):
            hits, total = self.counts.get(key, (0, 0))
            estimate = (hits + SHRINKAGE * estimate) / (total + SHRINKAGE)
        return estimate


def calibration_kind(site: Site) -> str:
    """The site's kind, with the scope kind for variables (``variable@class``)."""
    if site.kind is SiteKind.VARIABLE and site.owner is not None:
        return f"variable@{site.owner.kind}"
    return site.kind.value


def fit(outcomes: Iterable[tuple[str, Fact, bool]]) -> Calibration:
    """Count exact matches per group from ``(kind, fact, correct)`` outcomes; ``kind`` may
    carry the scope kind (``variable@class``)."""
    counts: dict[str, list[int]] = {}
    for kind, fact, correct in outcomes:
        for key in calibration_keys(kind, fact):
            entry = counts.setdefault(key, [0, 0])
            entry[0] += int(correct)
            entry[1] += 1
    return Calibration({k: (v[0], v[1]) for k, v in sorted(counts.items())})


def dump(calibration: Calibration, sources: list[str]) -> str:
    document = {"sources": sources,
                "groups": {k: list(v) for k, v in calibration.counts.items()}}
    return json.dumps(document, indent=1) + "\n"


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    """The calibration shipped in the package (empty when none was measured yet)."""
    try:
        text = resources.files(__package__).joinpath(_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return Calibration({})
    groups = json.loads(text).get("groups", {})
    return Calibration({k: (int(v[0]), int(v[1])) for k, v in groups.items()})
