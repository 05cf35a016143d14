"""Interprocedural context: the arguments a project's own call sites pass to each parameter.

``make_user("ada", admin=True)`` tells the model that ``name`` receives a string and ``admin``
a boolean. Every call in the project whose callee resolves (through the static engine) to a
project function or class is mapped onto the callee's parameters; each argument contributes
its expression shape and, where static inference knows it, its type.

The index keeps what the model reads of each argument, not the syntax trees: it can be
gathered in batches of modules, each dropped before the next is loaded, so that its memory
does not grow with the project's code (``typeseer.api`` does so on large projects).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from ..project import DependencyLog, Project
from ..sites import ModuleSites, Scope, Site, SiteKind, last_name
from ..static.engine import ProjectClass, ProjectFunction, StaticEngine
from .features import expression_features

__all__ = ["CallArgument", "CallSites"]

#: Arguments kept per parameter.
MAX_ARGUMENTS = 6

#: A parameter: the file index of its function, the function's ``(line, col)``, its name.
_ParameterKey = tuple[int, int, int, str]


@dataclass(frozen=True, slots=True)
class CallArgument:
    """One argument a call passes to a parameter, as the model reads it."""

    #: ``cs.`` shape features, and ``cst=TYPE`` where static inference knows its type.
    features: tuple[str, ...]
    #: ``(file index, line, col, end line, end col)`` of the argument (file index -1: unknown).
    place: tuple[int, int, int, int, int]
    #: With dependency tracking: what working out its type read of the project.
    dependencies: frozenset[str] = frozenset()


class CallSites:
    """Arguments per parameter, gathered from every call in the modules given.

    ``CallSites(engine, modules)`` gathers from modules loaded together; a caller that loads
    them in batches calls ``add_names`` for every batch first, then ``add_calls``.
    """

    def __init__(self, engine: StaticEngine | None = None,
                 modules: Iterable[ModuleSites] = ()) -> None:
        self._names: set[str] = set()
        self._arguments: dict[_ParameterKey, list[CallArgument]] = {}
        modules = list(modules)
        if engine is not None and modules:
            self.add_names(modules)
            self.add_calls(engine, modules)

    def add_names(self, modules: Iterable[ModuleSites]) -> None:
        """Learn the names of the modules' functions and classes: a call can only resolve to
        the project when its callee's name is one of them (a cheap filter)."""
        self._names.update(child.node.name for module in modules for child in module.scope.walk()
                           if child.kind in ("function", "class") and hasattr(child.node, "name"))

    def add_calls(self, engine: StaticEngine, modules: Iterable[ModuleSites]) -> None:
        """Record the arguments of the modules' calls (after ``add_names`` of every module)."""
        for module in modules:
            for scope in module.scope.walk():
                for call in scope.calls:
                    self._add(engine, call, scope)

    def _add(self, engine: StaticEngine, call: ast.Call, scope: Scope) -> None:
        func = call.func
        if last_name(func) not in self._names:
            return
        try:
            callee = engine.value(func, scope)
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
        index = engine.project.file_of_root(target.root)
        if index is None:
            return
        node = target.function
        positional = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
        if (bound or isinstance(func, ast.Attribute)) and target.self_name is not None:
            positional = positional[1:]
        function = (index, node.lineno, node.col_offset)
        for position, argument in enumerate(call.args):
            if isinstance(argument, ast.Starred) or position >= len(positional):
                break
            self._record(engine, (*function, positional[position]), argument, scope)
        for keyword in call.keywords:
            if keyword.arg is not None:
                self._record(engine, (*function, keyword.arg), keyword.value, scope)

    def _record(self, engine: StaticEngine, key: _ParameterKey, argument: ast.expr,
                scope: Scope) -> None:
        found = self._arguments.setdefault(key, [])
        if len(found) >= MAX_ARGUMENTS:
            return
        log = engine.project.dependencies
        if log is not None:
            log.push()
        try:
            fact = engine.fact(argument, scope)
        except RecursionError:
            fact = None
        finally:
            read = frozenset(log.pop()) if log is not None else frozenset()
        features = expression_features(argument, "cs.")
        if fact is not None:
            features.append(f"cst={fact.type}")
        file = engine.project.file_of_root(scope.root)
        place = (-1 if file is None else file, argument.lineno, argument.col_offset,
                 argument.end_lineno or 0, argument.end_col_offset or 0)
        found.append(CallArgument(tuple(features), place, read))

    def arguments(self, site: Site, project: Project) -> list[CallArgument]:
        """The arguments kept for a parameter site of a module ``project`` loaded."""
        if site.kind is not SiteKind.PARAM or site.owner is None:
            return []
        index = project.file_of_root(site.owner.root)
        if index is None or site.owner.kind != "function":
            return []
        node = site.owner.function
        return self._arguments.get((index, node.lineno, node.col_offset, site.name), [])

    def features(self, site: Site, project: Project,
                 log: DependencyLog | None = None) -> list[str]:
        """``cs.`` features of a parameter site: shapes and static types of its arguments.
        What working out those types read is added to ``log``."""
        if site.kind is not SiteKind.PARAM or site.owner is None:
            return []
        arguments = self.arguments(site, project)
        if not arguments:
            return ["cs.none"]
        found: list[str] = []
        for argument in arguments:
            found.extend(argument.features)
            if log is not None:
                log.add(argument.dependencies)
        return found
