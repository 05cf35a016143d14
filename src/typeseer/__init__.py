"""typeseer: infer Python type annotations, with calibrated confidence."""

from __future__ import annotations

__version__ = "0.1.0"
