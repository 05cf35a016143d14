"""What `apply` may write: safety levels, target Python, readability limits, and the policy for
code that is already annotated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

__all__ = ["DEFAULT_PYTHON", "ExistingPolicy", "Level", "PythonVersion", "parse_python_version"]


class Level(str, Enum):
    """How much risk `apply` takes: each level sets the default threshold and which code it
    may touch. An explicit ``min-confidence`` overrides the threshold of any level."""

    #: Only near-certain types (certain static facts, or the model at 0.97), only names that
    #: need no new import of project or third-party code, only undecorated or
    #: known-harmless decorators (``property``, ``staticmethod``, ``functools.cache``...).
    SAFE = "safe"
    #: The default: the 0.9 threshold (>= 95% precision measured), imports of project and
    #: third-party classes under ``if TYPE_CHECKING:``, the same decorator policy as ``safe``.
    BALANCED = "balanced"
    #: A 0.7 threshold and any decorator except those known to read annotations at run time
    #: (``singledispatch``, pydantic ``validate_call``, beartype/typeguard...). Frameworks that
    #: read annotations through an unknown decorator may change behaviour: verify and test.
    AGGRESSIVE = "aggressive"

    @property
    def threshold(self) -> float:
        return _THRESHOLDS[self]


_THRESHOLDS = {Level.SAFE: 0.97, Level.BALANCED: 0.9, Level.AGGRESSIVE: 0.7}


class ExistingPolicy(str, Enum):
    """What happens to sites that already carry an annotation."""

    #: Never touch an existing annotation (the default): only unannotated sites are filled.
    KEEP = "keep"
    #: Replace an existing annotation when typeseer infers a different type above the
    #: threshold (inference then ignores that annotation as evidence). For auditing old hints.
    REPLACE = "replace"


@dataclass(frozen=True, slots=True, order=True)
class PythonVersion:
    """The oldest Python the annotated code must run on; it decides the spelling."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def has_union_operator(self) -> bool:
        """``X | None`` evaluates at run time (PEP 604)."""
        return self >= PythonVersion(3, 10)

    @property
    def has_builtin_generics(self) -> bool:
        """``list[int]`` evaluates at run time (PEP 585)."""
        return self >= PythonVersion(3, 9)

    @property
    def has_typing_self(self) -> bool:
        return self >= PythonVersion(3, 11)


#: Default target of `apply`: PEP 604/585 spelling (``int | None``, ``list[int]``).
DEFAULT_PYTHON = PythonVersion(3, 10)

_VERSION = re.compile(r"(?:py)?3\.?(\d{1,2})")


def parse_python_version(text: str) -> PythonVersion:
    """``"3.9"``, ``"39"``, ``"py39"`` -> 3.9; Python 3.7 is the oldest spelling supported."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a Python version: {text!r} (expected e.g. 3.9)")
    version = PythonVersion(3, int(match.group(1)))
    if version < PythonVersion(3, 7):
        raise ValueError(f"Python {version} is not supported (3.7 or newer)")
    return version
