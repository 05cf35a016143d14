"""Interprocedural context: the arguments a project's own call sites pass to each parameter.

``make_user("ada", admin=True)`` tells the model that ``name`` receives a string and ``admin``
a boolean. Every call in the project whose callee resolves (through the static engine) to a
project function or class is mapped onto the callee's parameters; each argument contributes
its expression shape and, where static inference knows it, its type.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from ..sites import ModuleSites, Scope, Site, SiteKind, last_name
from ..static.engine import ProjectClass, ProjectFunction, StaticEngine
from .features import expression_features

__all__ = ["CallSites"]

#: Arguments kept per parameter.
MAX_ARGUMENTS = 6


class CallSites:
    """Argument expressions per parameter, gathered from every call in the given modules."""

    def __init__(self, engine: StaticEngine, modules: Iterable[ModuleSites]) -> None:
        self.engine = engine
        modules = list(modules)
        self._names = {child.node.name for module in modules for child in module.scope.walk()
                       if child.kind in ("function", "class") and hasattr(child.node, "name")}
        self._arguments: dict[tuple[int, str], list[tuple[ast.expr, Scope]]] = {}
        for module in modules:
            for scope in module.scope.walk():
                for call in scope.calls:
                    self._add(call, scope)

    def _add(self, call: ast.Call, scope: Scope) -> None:
        func = call.func
        if last_name(func) not in self._names:
            return  # cheap filter: only names the project defines can resolve to it
        try:
            callee = self.engine.value(func, scope)
        except RecursionError:
            return
        target: Scope | None = None
        bound = False
        if isinstance(callee, ProjectFunction):
            target = callee.scope
            bound = callee.receiver is not None
        elif isinstance(callee, ProjectClass):
            target = callee.scope.defs.get("__init__")
            bound = True
        if target is None or target.kind != "function":
            return
        node = target.function
        positional = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
        if (bound or isinstance(func, ast.Attribute)) and target.self_name is not None:
            positional = positional[1:]
        for index, argument in enumerate(call.args):
            if isinstance(argument, ast.Starred) or index >= len(positional):
                break
            self._record(target, positional[index], argument, scope)
        for keyword in call.keywords:
            if keyword.arg is not None:
                self._record(target, keyword.arg, keyword.value, scope)

    def _record(self, function: Scope, param: str, argument: ast.expr, scope: Scope) -> None:
        found = self._arguments.setdefault((id(function), param), [])
        if len(found) < MAX_ARGUMENTS:
            found.append((argument, scope))

    def arguments(self, site: Site) -> list[tuple[ast.expr, Scope]]:
        """The argument expressions kept for a parameter site, each with the scope of its call
        (what ``features`` reads: the incremental cache signs them)."""
        if site.kind is not SiteKind.PARAM or site.owner is None:
            return []
        return self._arguments.get((id(site.owner), site.name), [])

    def features(self, site: Site) -> list[str]:
        """``cs.`` features of a parameter site: shapes and static types of its arguments."""
        if site.kind is not SiteKind.PARAM or site.owner is None:
            return []
        arguments = self.arguments(site)
        if not arguments:
            return ["cs.none"]
        found: list[str] = []
        for argument, scope in arguments:
            found.extend(expression_features(argument, "cs."))
            try:
                fact = self.engine.fact(argument, scope)
            except RecursionError:
                fact = None
            if fact is not None:
                found.append(f"cst={fact.type}")
        return found
