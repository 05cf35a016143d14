"""The client's settings (``initializationOptions``, ``workspace/didChangeConfiguration``,
``workspace/configuration``) as overrides of ``[tool.typeseer]``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import ConfigError, coerce

__all__ = ["SECTION", "SETTINGS", "read_settings"]

#: The section the settings live under in editors' configuration (``typeseer.minConfidence``).
SECTION = "typeseer"
#: Client setting -> ``Config`` field. The ``[tool.typeseer]`` spellings are accepted too.
SETTINGS = {
    "minConfidence": "min_confidence",
    "kinds": "kinds",
    "level": "level",
    "useModel": "use_model",
}
_ALIASES = {
    **{key: key for key in SETTINGS},
    "min-confidence": "minConfidence", "min_confidence": "minConfidence",
    "use-model": "useModel", "use_model": "useModel",
}


def read_settings(raw: object) -> tuple[dict[str, Any], list[str]]:
    """``Config`` overrides from a settings object, and one message per value that was
    ignored because it is invalid. The object is either the settings themselves or holds
    them under ``typeseer``; other keys (other tools' settings) are ignored, and ``null``
    means "not set"."""
    if isinstance(raw, Mapping) and isinstance(raw.get(SECTION), Mapping):
        raw = raw[SECTION]
    if not isinstance(raw, Mapping):
        return {}, []
    overrides: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        name = _ALIASES.get(str(key))
        if name is None or value is None:
            continue
        field = SETTINGS[name]
        try:
            if field == "min_confidence" and isinstance(value, bool):
                raise ConfigError("min-confidence must be a number")
            if field == "kinds" and not (isinstance(value, str) or (
                    isinstance(value, list) and all(isinstance(v, str) for v in value))):
                raise ConfigError("kinds must be a list of site kinds")
            overrides[field] = coerce(field, value)
        except (ConfigError, TypeError, ValueError) as error:
            problems.append(f"typeseer: ignoring the setting {name}={value!r}: {error}")
    return overrides, problems
