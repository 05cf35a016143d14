"""Library signatures from typeshed (stdlib and installed third-party stubs) via typeshed_client.

This module answers three questions for the static evaluator, with local caches:
what a qualified name is (function overloads, class, variable, type alias, type variable),
how a stub annotation reads as a TypeExpr with fully qualified names, and what a class's
type parameters, bases and members are.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import typeshed_client

from ..typeexpr import TypeExpr, TypeParseError, from_ast, make_union

__all__ = ["StubClass", "StubFunction", "StubTypeVar", "Stubs", "default_search_context",
           "qualified"]

#: Stub spellings that mean a plain builtin for inference purposes.
_SIMPLIFY = {"LiteralString": "str", "Self": "Self"}
#: Narrowing return types: as a value, what such a function returns is a plain bool.
_NARROWING = frozenset({"TypeGuard", "TypeIs"})


@dataclass(frozen=True, slots=True)
class StubTypeVar:
    """A type variable of a stub: ``AnyStr = TypeVar("AnyStr", str, bytes)``."""

    qualname: str
    constraints: tuple[TypeExpr, ...] = ()
    bound: TypeExpr | None = None


@dataclass(frozen=True, slots=True)
class StubFunction:
    """One overload (or the only definition) of a stub function or method."""

    module: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    is_method: bool


@dataclass(slots=True)
class StubClass:
    """A class of a stub: its type parameters, instantiated bases and member names."""

    qualname: str
    module: str
    node: ast.ClassDef
    type_params: tuple[str, ...] = ()
    bases: tuple[TypeExpr, ...] = ()
    members: dict[str, Any] = field(default_factory=dict)
    is_protocol: bool = False


@lru_cache(maxsize=1)
def default_search_context() -> typeshed_client.SearchContext:
    """Where stubs are looked up: typeshed, then this interpreter's ``sys.path``.

    typeshed_client's default asks a new ``python -c`` for its ``sys.path``, from the working
    directory, which is usually the project being analysed: a ``json.py`` there would be
    imported and run. The path is taken from this process instead (less the working
    directory, as that ``python -c`` would have dropped it), once per process.
    """
    here = os.getcwd()
    path = [Path(entry) for entry in sys.path if entry and os.path.abspath(entry) != here]
    return typeshed_client.get_search_context(search_path=path)


def qualified(t: TypeExpr) -> str:
    """The fully qualified name of a (resolved) type's class."""
    return f"{t.module or 'builtins'}.{t.name}"


class Stubs:
    """Cached access to typeshed and installed stubs."""

    def __init__(self, search_context: typeshed_client.SearchContext | None = None) -> None:
        self._context = search_context or default_search_context()
        self._names: dict[str, dict[str, Any] | None] = {}
        self._exists: dict[str, bool] = {}
        self._classes: dict[str, StubClass | None] = {}
        self._symbols: dict[str, tuple[str, Any] | None] = {}
        self._typevars: dict[str, StubTypeVar | None] = {}
        self._aliases: dict[str, TypeExpr | None] = {}

    # -- modules and names ------------------------------------------------------------------
    def module_names(self, module: str) -> dict[str, Any] | None:
        if module not in self._names:
            try:
                names = typeshed_client.get_stub_names(module, search_context=self._context)
            except Exception:
                names = None
            self._names[module] = names
        return self._names[module]

    def has_module(self, module: str) -> bool:
        """Whether stubs exist for ``module`` (found on disk, not parsed)."""
        if module in self._names:
            return self._names[module] is not None
        if module not in self._exists:
            try:
                path = typeshed_client.get_stub_file(module, search_context=self._context)
            except Exception:
                path = None
            self._exists[module] = path is not None
        return self._exists[module]

    def lookup(self, qualname: str) -> tuple[str, Any] | None:
        """``(defining module, NameInfo)`` for a fully qualified name, following re-exports."""
        if qualname in self._symbols:
            return self._symbols[qualname]
        self._symbols[qualname] = None  # guards import cycles between stubs
        module, _, name = qualname.rpartition(".")
        result: tuple[str, Any] | None = None
        names = self.module_names(module) if module else None
        if names is not None and name in names:
            info = names[name]
            target = info.ast
            if isinstance(target, typeshed_client.ImportedName):
                source = ".".join(target.module_name)
                result = (self.lookup(f"{source}.{target.name}") if target.name is not None
                          else ("<module>", source))
            elif isinstance(target, ast.Assign) and isinstance(target.value, ast.Name):
                # ``path = _path`` re-binds another name (os.path is bound this way).
                rebound = self.resolve_local(module, target.value.id)
                result = (("<module>", rebound) if self.module_names(rebound) is not None
                          else self.lookup(rebound))
            else:
                result = (module, info)
        elif module and self.module_names(qualname) is not None:
            result = ("<module>", qualname)
        elif "." in module:  # a class member: builtins.str.split
            owner = self.class_info(module)
            if owner is not None and name in owner.members:
                result = (owner.module, owner.members[name])
        self._symbols[qualname] = result
        return result

    def resolve_local(self, module: str, name: str) -> str:
        """Qualified name of ``name`` as seen from inside stub ``module``."""
        names = self.module_names(module)
        if names is not None and name in names:
            target = names[name].ast
            if isinstance(target, typeshed_client.ImportedName):
                source = ".".join(target.module_name)
                return f"{source}.{target.name}" if target.name else source
            return f"{module}.{name}"
        builtins = self.module_names("builtins")
        if builtins is not None and name in builtins:
            return f"builtins.{name}"
        return f"{module}.{name}"

    # -- annotations ------------------------------------------------------------------------
    def annotation(self, node: ast.expr | None, module: str) -> TypeExpr | None:
        """A stub annotation as a TypeExpr whose names carry their defining module."""
        if node is None:
            return None
        try:
            raw = from_ast(node)
        except (TypeParseError, RecursionError):
            return None
        return self.qualify(raw, module)

    def qualify(self, t: TypeExpr, module: str) -> TypeExpr:
        args = tuple(self.qualify(a, module) for a in t.args)
        if t.name in ("|", "[]", "...", "()", "None") or t.name.startswith(("'", '"', "b'")):
            return TypeExpr(t.name, args, t.module) if t.name != "|" else make_union(args)
        if t.name in _NARROWING:
            return TypeExpr("bool")
        if t.name in _SIMPLIFY:
            return TypeExpr(_SIMPLIFY[t.name], args, "" if t.name != "Self" else "typing")
        if t.module == "typing" or t.name == "Literal":
            return TypeExpr(t.name, args, "typing")
        if t.module:
            qual = self.resolve_local(t.module, t.name) if self.has_module(t.module) \
                else f"{t.module}.{t.name}"
        else:
            qual = self.resolve_local(module, t.name)
        found = self.lookup(qual)
        if found is not None and found[0] != "<module>":
            qual = f"{found[0]}.{qual.rpartition('.')[2]}"  # the defining module
        owner, _, short = qual.rpartition(".")
        if owner in ("typing", "typing_extensions"):
            short = {"List": "list", "Dict": "dict", "Set": "set", "FrozenSet": "frozenset",
                     "Tuple": "tuple", "Type": "type", "Text": "str"}.get(short, short)
            if short in _NARROWING:
                return TypeExpr("bool")
            if short in _SIMPLIFY:
                return TypeExpr(_SIMPLIFY[short], args, "typing" if short == "Self" else "")
            if short in ("list", "dict", "set", "frozenset", "tuple", "type", "str"):
                owner = "builtins"
            else:
                owner = "typing"
        if owner == "builtins":
            owner = ""
        elif owner.startswith("_"):
            owner = self._public_module(owner, short)
        return TypeExpr(short, args, owner)

    def _public_module(self, private: str, name: str) -> str:
        """``io`` for ``_io.TextIOWrapper``: the public module re-exporting a private one's name."""
        public = private.lstrip("_")
        names = self.module_names(public) if public else None
        if names is not None and name in names:
            target = names[name].ast
            if isinstance(target, typeshed_client.ImportedName) and \
                    ".".join(target.module_name) == private:
                return public
        return private

    # -- type variables and aliases -----------------------------------------------------------
    def typevar(self, t: TypeExpr) -> StubTypeVar | None:
        """The type variable ``t`` names, if it names one."""
        if t.args or t.name in ("|", "None"):
            return None
        key = qualified(t)
        if key not in self._typevars:
            self._typevars[key] = self._load_typevar(t)
        return self._typevars[key]

    def _load_typevar(self, t: TypeExpr) -> StubTypeVar | None:
        found = self.lookup(qualified(t))
        if found is None or found[0] == "<module>":
            return None
        module, info = found
        node = info.ast
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if not (isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute))):
            return None
        func_name = value.func.id if isinstance(value.func, ast.Name) else value.func.attr
        if func_name != "TypeVar":
            return None
        constraints = tuple(c for c in (self.annotation(a, module) for a in value.args[1:])
                            if c is not None)
        bound = next((self.annotation(k.value, module) for k in value.keywords
                      if k.arg == "bound"), None)
        return StubTypeVar(qualified(t), constraints, bound)

    def alias(self, t: TypeExpr) -> TypeExpr | None:
        """The expansion of a type alias (``StrPath`` -> ``str | PathLike[str]``)."""
        if t.args or not t.module or t.module == "typing":
            return None
        key = qualified(t)
        if key not in self._aliases:
            self._aliases[key] = None
            self._aliases[key] = self._load_alias(key)
        return self._aliases[key]

    def _load_alias(self, key: str) -> TypeExpr | None:
        found = self.lookup(key)
        if found is None or found[0] == "<module>":
            return None
        module, info = found
        node = info.ast
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            annotation = node.annotation
            is_alias = (isinstance(annotation, ast.Name) and annotation.id == "TypeAlias") or (
                isinstance(annotation, ast.Attribute) and annotation.attr == "TypeAlias")
            return self.annotation(node.value, module) if is_alias else None
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Subscript, ast.BinOp)):
            return self.annotation(node.value, module)
        return None

    # -- classes ----------------------------------------------------------------------------
    def class_info(self, qualname: str) -> StubClass | None:
        if qualname not in self._classes:
            self._classes[qualname] = None  # guards recursive bases
            self._classes[qualname] = self._load_class(qualname)
        return self._classes[qualname]

    def _load_class(self, qualname: str) -> StubClass | None:
        found = self.lookup(qualname)
        if found is None or found[0] == "<module>":
            return None
        module, info = found
        node = info.ast
        if not isinstance(node, ast.ClassDef):
            return None
        bases: list[TypeExpr] = []
        params: list[str] = []
        explicit: list[str] | None = None
        is_protocol = False
        for base_node in node.bases:
            base = self.annotation(base_node, module)
            if base is None:
                continue
            variables = [qualified(a) for a in base.walk() if self.typevar(a) is not None]
            if base.name in ("Generic", "Protocol") and base.module == "typing":
                is_protocol = is_protocol or base.name == "Protocol"
                if base.args:
                    explicit = variables
                continue
            params.extend(v for v in variables if v not in params)
            bases.append(base)
        members = dict(info.child_nodes or {})
        type_params = tuple(explicit if explicit is not None else params)
        return StubClass(qualname, module, node, type_params, tuple(bases), members, is_protocol)

    def functions(self, module: str, info: Any, is_method: bool) -> list[StubFunction]:
        """The overloads of a function or method NameInfo, in declaration order."""
        node = info.ast
        if isinstance(node, typeshed_client.OverloadedName):
            definitions = list(node.definitions)
        else:
            definitions = [node]
        return [StubFunction(module, d, is_method) for d in definitions
                if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))]

    def variable_type(self, module: str, info: Any) -> TypeExpr | None:
        node = info.ast
        if isinstance(node, ast.AnnAssign):
            t = self.annotation(node.annotation, module)
            if t is not None and t.name in ("Final", "ClassVar") and t.args:
                return t.args[0]
            return t
        return None

