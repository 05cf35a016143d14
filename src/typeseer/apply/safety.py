"""Which sites `apply` must not annotate because the annotation would change what the code does
at run time, or what a type checker thinks a definition is.

Python evaluates the annotations of parameters, returns, and module and class variables, and
some code reads them: dataclasses, ``NamedTuple``, ``TypedDict``, pydantic and attrs models turn
class-level annotations into fields; ``functools.singledispatch`` dispatches on a parameter's
annotation; FastAPI, typer and pydantic's ``validate_call`` parse arguments by them; beartype
and typeguard check them. Each function here returns the reason a site is skipped, or None.
"""

from __future__ import annotations

import ast
import builtins

from ..sites import Scope, Site, SiteKind, decorator_names, last_name
from .options import Level

__all__ = ["class_variable_reason", "function_reason", "value_reason", "variable_reason"]

#: Decorators that never read annotations nor change what they mean.
HARMLESS_DECORATORS = frozenset({
    "property", "setter", "getter", "deleter", "staticmethod", "classmethod",
    "abstractmethod", "abstractproperty", "abstractclassmethod", "abstractstaticmethod",
    "cache", "lru_cache", "cached_property", "wraps", "contextmanager",
    "asynccontextmanager", "override", "final", "fixture", "parametrize", "skip", "skipif",
    "xfail", "usefixtures", "filterwarnings", "patch", "deprecated",
})
#: Decorators known to read annotations at run time (or to make them meaningless): their
#: functions are never annotated, whatever the level.
ANNOTATION_READERS = frozenset({
    "singledispatch", "singledispatchmethod", "register", "validate_call",
    "validate_arguments", "validator", "field_validator", "model_validator", "root_validator",
    "field_serializer", "model_serializer", "computed_field", "typechecked", "beartype",
    "no_type_check", "command", "callback", "get", "post", "put", "patch", "delete", "head",
    "options", "route", "api_route", "websocket", "middleware", "exception_handler",
    "dataclass_transform", "jit", "njit", "vectorize",
})
#: Class decorators after which class-level annotations still mean nothing at run time.
HARMLESS_CLASS_DECORATORS = frozenset({"final", "total_ordering"})
#: Builtin classes (``dict``, ``Exception``...): their subclasses' annotations are inert.
_BUILTIN_CLASSES = frozenset(
    name for name, value in vars(builtins).items() if isinstance(value, type))
#: Types of values that define types (aliases, type variables): annotating them as
#: variables would turn an alias into a plain variable for type checkers.
TYPE_DEFINING = frozenset({"type", "TypeVar", "ParamSpec", "TypeVarTuple", "NewType",
                           "TypeAliasType", "GenericAlias", "UnionType", "_SpecialForm",
                           "_GenericAlias", "TypeAlias"})


def function_reason(site: Site, level: Level) -> str | None:
    """Parameters and returns: skip functions whose decorators may read annotations."""
    owner = site.owner
    if owner is None or owner.kind != "function":
        return None
    names = decorator_names(owner.function)
    readers = names & ANNOTATION_READERS
    if readers:
        return f"decorator @{sorted(readers)[0]} reads annotations at run time"
    unknown = names - HARMLESS_DECORATORS
    if unknown and level is not Level.AGGRESSIVE:
        return f"decorator @{sorted(unknown)[0]} may read annotations (use --level aggressive)"
    return None


def class_variable_reason(cls: Scope, module: Scope) -> str | None:
    """Class-level variables: only in plain classes, where an annotation is inert."""
    return _plain_class(cls, module, set())


def _plain_class(cls: Scope, module: Scope, seen: set[str]) -> str | None:
    node = cls.node
    assert isinstance(node, ast.ClassDef)
    if cls.qualname in seen:
        return None
    seen.add(cls.qualname)
    decorators = decorator_names(node) - HARMLESS_CLASS_DECORATORS
    if decorators:
        return f"class decorated with @{sorted(decorators)[0]} may turn annotations into fields"
    if node.keywords:
        return "class with a metaclass or class keywords may read its annotations"
    for base in node.bases:
        reason = _base_reason(base, module, seen)
        if reason is not None:
            return reason
    return None


def _base_reason(base: ast.expr, module: Scope, seen: set[str]) -> str | None:
    if isinstance(base, ast.Subscript):
        base = base.value
    name = last_name(base)
    if name in ("Generic", "ABC") or (isinstance(base, ast.Name) and name in _BUILTIN_CLASSES
                                        and name not in module.defs):
        return None
    local = module.defs.get(name) if isinstance(base, ast.Name) else None
    if local is not None and local.kind == "class":
        return _plain_class(local, module, seen)
    return f"base class {name or ast.unparse(base)} may read class annotations " \
           "(dataclass, NamedTuple, TypedDict, pydantic, attrs, Protocol)"


def variable_reason(site: Site) -> str | None:
    """Variables: names declared ``global``/``nonlocal`` cannot be annotated in that scope."""
    owner = site.owner
    if owner is None:
        return "no scope"
    if site.name in owner.declared_global or site.name in owner.declared_nonlocal:
        return "name declared global or nonlocal"
    return None


def value_reason(site: Site, type_name: str) -> str | None:
    """Module and class variables holding a type, alias or type variable stay unannotated."""
    if site.kind is SiteKind.VARIABLE and type_name in TYPE_DEFINING:
        return "the value defines a type (alias, TypeVar): left for the checker to infer"
    return None
