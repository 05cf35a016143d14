"""One frozen configuration object: defaults, then ``[tool.typeseer]`` in pyproject.toml, then
command-line flags."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .apply.options import (
    DEFAULT_PYTHON,
    ExistingPolicy,
    Level,
    PythonVersion,
    parse_python_version,
)
from .sites import SiteKind
from .sources import DEFAULT_MAX_FILE_BYTES
from .static.rules import RuleSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "CHECKERS",
    "DEFAULT_FILE_TIMEOUT_S",
    "DEFAULT_LOADED_LINES",
    "DEFAULT_MIN_CONFIDENCE",
    "Config",
    "ConfigError",
    "add_analysis_options",
    "config_overrides",
    "load_config",
]

#: Default threshold: static facts below it are reported without a type. Chosen so that the
#: types typeseer gives are exactly right at least 95% of the time (docs/benchmarks.md).
DEFAULT_MIN_CONFIDENCE = 0.9
#: Default per-file time limit, in seconds: far above any real file measured
#: (docs/benchmarks.md, "Reliability"), low enough that one pathological file cannot stall a run.
DEFAULT_FILE_TIMEOUT_S = 60.0
#: Default memory bound of one process: lines of parsed modules it keeps loaded (about 600 MB
#: of syntax trees) before dropping them and loading again on demand (docs/benchmarks.md,
#: "Reliability").
DEFAULT_LOADED_LINES = 300_000


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class Config:
    """Options shared by every command."""

    #: Predictions below this confidence are reported with ``type: null``; None: the
    #: threshold of ``level`` (0.9 for the default level). See ``threshold``.
    min_confidence: float | None = None
    #: Report the top-1 type of every site whatever its confidence (forced top-1 evaluation).
    report_all: bool = False
    #: Site kinds to report.
    kinds: frozenset[SiteKind] = frozenset(SiteKind)
    #: Glob patterns of paths to skip (matched against POSIX paths relative to each root).
    exclude: tuple[str, ...] = ()
    #: Worker processes; 0 means one per CPU. Each worker loads the modules its files import
    #: (cross-file inference), so on tightly coupled projects one process is fastest
    #: (docs/benchmarks.md): the default.
    jobs: int = 1
    #: Files larger than this are skipped with a diagnostic.
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    #: Seconds one file's analysis may take before it is stopped, reported and skipped
    #: (0: no limit). Applies in the main thread of each process (the CLI and its workers).
    file_timeout: float = DEFAULT_FILE_TIMEOUT_S
    #: Lines of parsed modules a process keeps loaded (cross-file inference) before dropping
    #: them and loading again on demand: the bound on its memory, at some cost in time.
    loaded_lines: int = DEFAULT_LOADED_LINES
    #: Static rules switched off.
    disabled_rules: frozenset[str] = frozenset()
    #: Also report sites that are already annotated (``source: existing``).
    include_existing: bool = True
    #: Combine the learned model with static inference (False: static facts only).
    use_model: bool = True
    #: `infer`: keep each file's results in the project's incremental cache
    #: (``.typeseer_cache/``) and analyse only what changed.
    cache: bool = True

    #: Safety level of ``apply`` (and the default threshold of every command).
    level: Level = Level.BALANCED
    #: ``apply``/``stub``: the oldest Python the written annotations must run on.
    python_version: PythonVersion = DEFAULT_PYTHON
    #: ``apply``: types with a union of more members than this are not written.
    max_union: int = 3
    #: ``apply``: types nested deeper than this (``dict[str, list[int]]`` is 3) are not written.
    max_depth: int = 3
    #: ``apply``: what happens to sites that already have an annotation.
    existing: ExistingPolicy = ExistingPolicy.KEEP
    #: ``apply``: write only these types (normalised spelling, e.g. ``None``); empty: any type.
    types: frozenset[str] = frozenset()
    #: ``apply``: type checker that verifies the written annotations (None: no verification).
    verify: str | None = None

    @property
    def threshold(self) -> float:
        """The confidence a type needs to be reported or written."""
        return self.level.threshold if self.min_confidence is None else self.min_confidence

    @property
    def rules(self) -> RuleSet:
        return RuleSet.without(self.disabled_rules)


_KEYS = {
    "min-confidence": "min_confidence",
    "kinds": "kinds",
    "exclude": "exclude",
    "jobs": "jobs",
    "max-file-size": "max_file_bytes",
    "file-timeout": "file_timeout",
    "loaded-lines": "loaded_lines",
    "disable-rules": "disabled_rules",
    "include-existing": "include_existing",
    "use-model": "use_model",
    "cache": "cache",
    "level": "level",
    "python-version": "python_version",
    "max-union": "max_union",
    "max-depth": "max_depth",
    "existing": "existing",
    "types": "types",
    "verify": "verify",
}

#: Type checkers ``--verify`` can run.
CHECKERS = ("mypy", "pyright", "pyrefly")


def parse_kinds(values: str | list[str]) -> frozenset[SiteKind]:
    items = values.split(",") if isinstance(values, str) else values
    try:
        return frozenset(SiteKind(v.strip()) for v in items if v.strip())
    except ValueError:
        known = ", ".join(k.value for k in SiteKind)
        raise ConfigError(f"unknown site kind in {values!r}; known: {known}") from None


def coerce(key: str, value: Any) -> Any:
    """Check and convert one configuration value (from TOML or a flag)."""
    try:
        if key == "min_confidence":
            number = float(value)
            if not 0.0 <= number <= 1.0:
                raise ConfigError("min-confidence must be between 0 and 1")
            return number
        if key == "kinds":
            return parse_kinds(value)
        if key == "exclude":
            return tuple(str(v) for v in ([value] if isinstance(value, str) else value))
        if key in ("jobs", "max_file_bytes", "loaded_lines"):
            number = int(value)
            if number < 0:
                raise ConfigError(f"{key} must not be negative")
            return number
        if key == "file_timeout":
            seconds = float(value)
            if not seconds >= 0 or seconds == float("inf"):
                raise ConfigError("file-timeout must be a number of seconds, 0 for no limit")
            return seconds
        if key in ("max_union", "max_depth"):
            number = int(value)
            if number < 1:
                raise ConfigError(f"{key.replace('_', '-')} must be at least 1")
            return number
        if key == "level":
            return Level(value)
        if key == "existing":
            return ExistingPolicy(value)
        if key == "python_version":
            return parse_python_version(str(value))
        if key == "types":
            from .typeexpr import normalise

            items = value.split(",") if isinstance(value, str) else list(value)
            return frozenset(normalise(str(item).strip()) for item in items if str(item).strip())
        if key == "verify":
            if value not in CHECKERS:
                raise ConfigError(f"verify must be one of {', '.join(CHECKERS)}")
            return value
        if key == "disabled_rules":
            names = [value] if isinstance(value, str) else list(value)
            RuleSet.without(names)  # validates the names
            return frozenset(names)
        if key in ("include_existing", "use_model", "cache"):
            if not isinstance(value, bool):
                raise ConfigError(f"{key.replace('_', '-')} must be true or false")
            return value
    except (TypeError, ValueError) as error:
        raise ConfigError(f"invalid value for {key.replace('_', '-')}: {error}") from None
    raise ConfigError(f"unknown option {key}")


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``start``."""
    current = start.resolve()
    if current.is_file():
        current = current.parent
    for directory in (current, *current.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(start: Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """Defaults, then ``[tool.typeseer]`` of the nearest pyproject.toml, then ``overrides``.

    The file is only read as data: no value in it is ever executed.
    """
    config = Config()
    pyproject = find_pyproject(start)
    if pyproject is not None:
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ConfigError(f"{pyproject}: cannot read configuration: {error}") from None
        section = data.get("tool", {}).get("typeseer", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{pyproject}: [tool.typeseer] must be a table")
        values = {}
        for key, value in section.items():
            if key not in _KEYS:
                raise ConfigError(f"{pyproject}: unknown key {key!r} in [tool.typeseer]; "
                                  f"known: {', '.join(sorted(_KEYS))}")
            try:
                values[_KEYS[key]] = coerce(_KEYS[key], value)
            except ConfigError as error:
                raise ConfigError(f"{pyproject}: {error}") from None
        config = replace(config, **values)
    if overrides:
        known = {f.name for f in fields(Config)}
        config = replace(config, **{k: v for k, v in overrides.items() if k in known})
    return config


#: Option keys shared by `infer`, `apply` and `stub`, as argparse destinations.
_OPTION_KEYS = ("min_confidence", "kinds", "exclude", "jobs", "max_file_bytes",
                "file_timeout", "loaded_lines", "disabled_rules", "level", "python_version",
                "max_union", "max_depth", "existing", "types", "verify")


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that analyse a project (`infer`, `apply`, `stub`) that
    choose which files and evidence are used; ``config_overrides`` reads them back."""
    parser.add_argument("--exclude", action="append", default=None, metavar="GLOB",
                        help="skip paths matching GLOB (repeatable)")
    parser.add_argument("--max-file-size", type=int, metavar="BYTES", dest="max_file_bytes",
                        help="skip files larger than this (default 2 MB)")
    parser.add_argument("--file-timeout", type=float, metavar="SECONDS",
                        help="stop and skip a file whose analysis takes longer "
                             f"(default {DEFAULT_FILE_TIMEOUT_S:g}; 0: no limit)")
    parser.add_argument("--loaded-lines", type=int, metavar="N",
                        help="memory bound per process: lines of parsed modules kept loaded "
                             f"(default {DEFAULT_LOADED_LINES:,}; lower uses less memory, "
                             "more time)")
    parser.add_argument("--disable-rule", action="append", default=None, metavar="RULE",
                        dest="disabled_rules", help="switch off a static rule (repeatable)")
    parser.add_argument("--no-model", action="store_false", dest="use_model", default=None,
                        help="static inference only, without the learned model")


def config_overrides(args: argparse.Namespace) -> dict[str, object]:
    """Configuration values given on the command line (checked like the pyproject ones)."""
    values: dict[str, object] = {}
    for key in _OPTION_KEYS:
        raw = getattr(args, key, None)
        if raw is not None:
            values[key] = coerce(key, raw)
    for key in ("include_existing", "use_model", "cache"):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    if getattr(args, "report_all", False):
        values["report_all"] = True
    return values
