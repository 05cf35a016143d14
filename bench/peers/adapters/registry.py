"""Every tool of the peer benchmark, found by importing its adapter module.

Each adapter module of this package exposes ``ADAPTER``. A module that is missing, does not
import, or has no usable ``ADAPTER`` is not an error here: the tool is listed with the reason,
so that the benchmark's table says why it has no figures instead of leaving it out.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .base import Adapter

__all__ = ["ADAPTER_MODULES", "Registry", "load_adapter", "load_registry"]

#: Adapter modules in table order, with the tool name used when a module cannot give one.
ADAPTER_MODULES: tuple[tuple[str, str], ...] = (
    ("typeseer_adapter", "typeseer"),
    ("pyrefly", "pyrefly"),
    ("pyre", "pyre"),
    ("basedpyright", "basedpyright"),
    ("ty", "ty"),
    ("jedi", "jedi"),
    ("hityper", "hityper"),
    ("autotyping", "autotyping"),
    ("infer_types", "infer-types"),
    ("stubgen", "stubgen"),
    ("pytype", "pytype"),
)


@dataclass
class Registry:
    """The adapters that loaded, and the reason for each tool whose adapter did not."""

    #: Loaded adapters by tool name, in table order.
    adapters: dict[str, Adapter] = field(default_factory=dict)
    #: Tool name -> why its adapter is unavailable.
    unavailable: dict[str, str] = field(default_factory=dict)
    #: Tool name -> adapter module name (for run_one).
    modules: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Every tool, loaded or not, in table order."""
        return [*self.adapters, *(n for n in self.unavailable if n not in self.adapters)]


def _is_adapter(candidate: object) -> bool:
    return (isinstance(getattr(candidate, "name", None), str)
            and isinstance(getattr(candidate, "rust", None), bool)
            and callable(getattr(candidate, "install", None))
            and callable(getattr(candidate, "run", None)))


def load_adapter(module_name: str) -> Adapter:
    """The ``ADAPTER`` of one module of this package. Raises LookupError with the reason."""
    try:
        module = importlib.import_module(f"{__package__}.{module_name}")
    except ModuleNotFoundError as error:
        if error.name == f"{__package__}.{module_name}":
            raise LookupError("adapter not written (no module "
                              f"bench/peers/adapters/{module_name}.py)") from error
        raise LookupError(f"adapter does not import: {type(error).__name__}: {error}") from error
    except Exception as error:  # any failure of a module is recorded
        raise LookupError(f"adapter does not import: {type(error).__name__}: {error}") from error
    adapter = getattr(module, "ADAPTER", None)
    if adapter is None:
        raise LookupError(f"adapters/{module_name}.py has no ADAPTER")
    if not _is_adapter(adapter):
        raise LookupError(f"adapters/{module_name}.py: ADAPTER lacks name/rust/install/run")
    return adapter  # type: ignore[no-any-return]


def load_registry() -> Registry:
    """Import every adapter module of :data:`ADAPTER_MODULES`."""
    registry = Registry()
    for module_name, tool in ADAPTER_MODULES:
        try:
            adapter = load_adapter(module_name)
        except LookupError as error:
            registry.unavailable[tool] = str(error)
            registry.modules[tool] = module_name
            continue
        registry.adapters[adapter.name] = adapter
        registry.modules[adapter.name] = module_name
    return registry
