"""From predictions to edits: which predictions may be written, where, spelled how.

An edit is decided against the original text of its file: what it annotates (a parameter or
return of the function defined on a line, the target of an assignment, or a declaration
inserted before a statement), the annotation's source text, and the imports it needs. A
prediction that cannot be written safely becomes a skip with its reason.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..annotations import existing_type
from ..api import Prediction
from ..config import Config
from ..sites import BindingKind, ModuleSites, Scope, Site, SiteKey, SiteKind
from ..typeexpr import NONE, TypeExpr, TypeParseError, make_union, parse_type
from .names import Import, ModuleNames, Unresolved
from .options import ExistingPolicy, Level
from .safety import class_variable_reason, function_reason, value_reason, variable_reason
from .spelling import depth, spell, widest_union

__all__ = ["Edit", "Plan", "plan_module"]


@dataclass(frozen=True, slots=True)
class Edit:
    """One annotation to write into one file."""

    id: int
    key: SiteKey
    kind: SiteKind
    #: Line of the site in the original text.
    line: int
    #: Annotation source text as written (quoted when it must not be evaluated).
    annotation: str
    imports: frozenset[Import]
    prediction: Prediction
    #: Parameters and returns: line of the function's ``def``.
    def_line: int = 0
    #: Variables and attributes: line of the statement the edit goes into or before.
    statement_line: int = 0
    #: Variables and attributes: the assignment target in source form (``x``, ``self.x``).
    target: str = ""
    #: True: annotate the assignment itself (``x: T = v``); False: declare ``x: T`` before it.
    inline: bool = True
    #: An existing annotation is replaced (``--existing replace``).
    replaces: bool = False

    def to_json(self) -> dict[str, object]:
        p = self.prediction
        return {"file": self.key.file, "line": self.line, "scope": self.key.scope,
                "kind": self.kind.value, "name": self.key.name, "type": p.type,
                "annotation": self.annotation, "confidence": round(p.confidence, 4),
                "source": p.source}


@dataclass(slots=True)
class Plan:
    """Edits of one file, and how many predictions were skipped, by reason."""

    edits: list[Edit]
    skipped: Counter[str]


class _Skip(Exception):
    pass


def plan_module(module: ModuleSites, names: ModuleNames, predictions: Iterable[Prediction],
                config: Config, next_id: int, claimed: dict[str, Import] | None = None,
                ) -> Plan:
    """Edits for the predictions of one module; ``claimed`` records which import each short
    name got in this file (shared across passes, so one name never means two things)."""
    sites = {site.key: site for site in module.sites}
    claimed = {} if claimed is None else claimed
    plan = Plan([], Counter())
    for prediction in predictions:
        if prediction.type is None:
            continue
        site = sites.get(prediction.key)
        if site is None:
            plan.skipped["site not found in the original text"] += 1
            continue
        try:
            edit = _plan_site(site, prediction, module, names, config, next_id, claimed)
        except _Skip as skip:
            plan.skipped[str(skip)] += 1
            continue
        if edit is not None:
            plan.edits.append(edit)
            next_id += 1
    return plan


def _plan_site(site: Site, prediction: Prediction, module: ModuleSites, names: ModuleNames,
               config: Config, edit_id: int, claimed: dict[str, Import]) -> Edit | None:
    assert prediction.type is not None
    replaces = site.annotation is not None
    if replaces:
        if config.existing is not ExistingPolicy.REPLACE:
            return None
        if _same_as_existing(site, prediction.type):
            return None
    if config.types and prediction.type not in config.types:
        raise _Skip("type not selected by --types")
    t = _parse(prediction.type)
    if site.kind is SiteKind.PARAM and site.default == "None" and NONE not in t.members:
        t = make_union((t, NONE))  # the default is None: the annotation must admit it
    if any(n.name == "Self" for n in t.walk()) and not _in_method(site):
        raise _Skip("Self outside a method")
    if widest_union(t) > config.max_union:
        raise _Skip(f"union wider than max-union={config.max_union}")
    if depth(t) > config.max_depth:
        raise _Skip(f"nested deeper than max-depth={config.max_depth}")
    _check_runtime_safety(site, t, module, config.level)
    if site.kind in (SiteKind.PARAM, SiteKind.RETURN):
        return _function_edit(site, prediction, t, names, config, edit_id, claimed, replaces)
    return _binding_edit(site, prediction, t, module, names, config, edit_id, claimed,
                         replaces)


def _in_method(site: Site) -> bool:
    """Where ``Self`` means something: a method's signature, or an attribute."""
    owner = site.owner
    if site.kind is SiteKind.ATTRIBUTE:
        return True
    return (site.kind in (SiteKind.PARAM, SiteKind.RETURN) and owner is not None
            and owner.parent is not None and owner.parent.kind == "class")


def _same_as_existing(site: Site, inferred: str) -> bool:
    existing = existing_type(site)
    return existing is not None and str(existing) == inferred


def _parse(text: str) -> TypeExpr:
    try:
        return parse_type(text)
    except TypeParseError:
        raise _Skip("type cannot be spelled") from None


def _check_runtime_safety(site: Site, t: TypeExpr, module: ModuleSites, level: Level) -> None:
    owner = site.owner
    if site.kind in (SiteKind.PARAM, SiteKind.RETURN):
        reason = function_reason(site, level)
    elif site.kind is SiteKind.VARIABLE:
        reason = variable_reason(site)
        if reason is None and owner is not None and owner.kind in ("class", "module"):
            reason = value_reason(site, t.name)
        if reason is None and owner is not None and owner.kind == "class":
            reason = class_variable_reason(owner, module.scope)
    else:
        reason = None
    if reason is not None:
        raise _Skip(reason)


def _scopes_from(scope: Scope | None) -> list[Scope]:
    """``scope`` and its enclosing scopes, innermost first, without the module."""
    chain = []
    while scope is not None and scope.kind != "module":
        chain.append(scope)
        scope = scope.parent
    return chain


def _spell(t: TypeExpr, prediction: Prediction, names: ModuleNames, scopes: list[Scope],
           line: int, evaluated: bool, config: Config,
           claimed: dict[str, Import]) -> tuple[str, frozenset[Import]]:
    origins = dict(prediction.origins)
    allow = config.level is not Level.SAFE
    try:
        spelled = spell(t, lambda n, m: names.resolve(n, origins.get(n, m), scopes, line, allow),
                        config.python_version)
    except Unresolved as error:
        raise _Skip(f"name not written: {error}") from None
    for need in spelled.imports:
        if need.name is None:
            continue
        previous = claimed.get(need.name)
        if previous is not None and previous.module != need.module:
            raise _Skip(f"{need.name!r} already imported from {previous.module} in this file")
    for need in spelled.imports:
        if need.name is not None:
            claimed.setdefault(need.name, need)
    text = spelled.text
    if spelled.deferred and evaluated and not names.future_annotations:
        text = _quoted(text)
    return text, spelled.imports


def _quoted(text: str) -> str:
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    raise _Skip("annotation needs quoting but contains both kinds of quote")


def _function_edit(site: Site, prediction: Prediction, t: TypeExpr, names: ModuleNames,
                   config: Config, edit_id: int, claimed: dict[str, Import],
                   replaces: bool) -> Edit:
    owner = site.owner
    assert owner is not None
    node = owner.function
    # Annotations of a def are evaluated where the def runs, in the enclosing scopes.
    text, imports = _spell(t, prediction, names, _scopes_from(owner.parent), node.lineno,
                           True, config, claimed)
    return Edit(edit_id, site.key, site.kind, site.line, text, imports, prediction,
                def_line=node.lineno, replaces=replaces)


def _binding_edit(site: Site, prediction: Prediction, t: TypeExpr, module: ModuleSites,
                  names: ModuleNames, config: Config, edit_id: int,
                  claimed: dict[str, Import], replaces: bool) -> Edit:
    owner = site.owner
    assert owner is not None
    if site.kind is SiteKind.ATTRIBUTE:
        method = owner.attr_scopes.get((site.line, site.col))
        if method is None or method.self_name is None:
            raise _Skip("attribute binding not found")
        scope, target = method, f"{method.self_name}.{site.name}"
        bindings = owner.attr_bindings.get(site.name, [])
    else:
        scope, target = owner, site.name
        bindings = owner.bindings.get(site.name, [])
    first = min(bindings, key=lambda b: (b.line, b.col))
    statement, inline = _statement_of(scope, first.line, first.col, first.kind, first.path,
                                      site.kind is SiteKind.ATTRIBUTE, site.name, module.lines)
    if replaces and not (inline and isinstance(statement, ast.AnnAssign)):
        raise _Skip("existing annotation is not on the first binding")
    # Annotations in function bodies are never evaluated; module and class ones are.
    evaluated = scope.kind != "function"
    text, imports = _spell(t, prediction, names, _scopes_from(scope), first.line, evaluated,
                           config, claimed)
    return Edit(edit_id, site.key, site.kind, site.line, text, imports, prediction,
                statement_line=statement.lineno, target=target, inline=inline,
                replaces=replaces)


def _statement_of(scope: Scope, line: int, col: int, kind: BindingKind, path: tuple[int, ...],
                  attribute: bool, name: str, lines: Sequence[str]) -> tuple[ast.stmt, bool]:
    """The statement holding a binding, and whether the annotation can go on it inline."""
    chain = _chain(scope.node.body, line, col)
    if not chain:
        raise _Skip("binding statement not found")
    statement = chain[-1][1]
    if kind in (BindingKind.ASSIGN, BindingKind.ANNOTATED) and not path and _simple_target(
            statement, attribute, name):
        return statement, True
    if kind not in (BindingKind.ASSIGN, BindingKind.FOR, BindingKind.WITH, BindingKind.WALRUS):
        raise _Skip(f"cannot annotate a {kind.value} binding")
    # A declaration goes on a line of its own before the statement, or before the first
    # statement of its line (``x = 1; a, b = t``); a statement on its compound parent's line
    # (``if x: y = 1``) gets it before the parent.
    while chain:
        body, statement = chain[-1]
        anchor = _first_on_line(body, statement, lines)
        if anchor is not None and not (len(chain) > 1 and _is_elif(chain)):
            return anchor, False
        chain.pop()
    # ``def f(): a, b = 1, 2``: before the statement is the enclosing ``def``, where a
    # declaration would bind the name in the wrong scope.
    raise _Skip("binding on a one-line body")


def _first_on_line(body: Sequence[ast.stmt], statement: ast.stmt,
                   lines: Sequence[str]) -> ast.stmt | None:
    """The first of the statements of ``body`` sharing ``statement``'s line, when it begins
    its logical line (only indentation before it, no backslash continuation into it)."""
    index = next(i for i, s in enumerate(body) if s is statement)
    while index > 0 and body[index - 1].end_lineno == body[index].lineno:
        index -= 1
    first = body[index]
    if not 0 < first.lineno <= len(lines):
        return None
    text = lines[first.lineno - 1]
    before = text.encode("utf-8")[:first.col_offset].decode("utf-8", "replace")
    if before.strip(" \t\f"):
        return None
    if first.lineno > 1 and lines[first.lineno - 2].endswith("\\"):
        return None
    return first


def _is_elif(chain: list[tuple[Sequence[ast.stmt], ast.stmt]]) -> bool:
    """An ``elif`` cannot have a statement before it: the declaration goes before the ``if``."""
    inner, outer = chain[-1][1], chain[-2][1]
    return isinstance(inner, ast.If) and isinstance(outer, ast.If) and outer.orelse == [inner]


def _simple_target(statement: ast.stmt, attribute: bool, name: str) -> bool:
    if isinstance(statement, ast.AnnAssign):
        target: ast.expr = statement.target
    elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
        target = statement.targets[0]
    else:
        return False
    if attribute:
        return isinstance(target, ast.Attribute) and target.attr == name and isinstance(
            target.value, ast.Name)
    return isinstance(target, ast.Name) and target.id == name


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _chain(body: Sequence[ast.stmt], line: int, col: int,
           ) -> list[tuple[Sequence[ast.stmt], ast.stmt]]:
    """The statements containing the position, outermost first, each with the body it is in,
    without entering nested scopes (empty when it is in a nested function or class)."""
    position = (line, col)
    for statement in body:
        start = (statement.lineno, statement.col_offset)
        end = (statement.end_lineno or statement.lineno, statement.end_col_offset or 0)
        if not start <= position <= end:
            continue
        if isinstance(statement, _DEFINITIONS):
            return []
        for block in _blocks(statement):
            inner = _chain(block, line, col)
            if inner:
                return [(body, statement), *inner]
        return [(body, statement)]
    return []


def _blocks(statement: ast.stmt) -> list[list[ast.stmt]]:
    blocks: list[list[ast.stmt]] = []
    for field in ("body", "orelse", "finalbody"):
        value = getattr(statement, field, None)
        if isinstance(value, list):
            blocks.append(value)
    for handler in getattr(statement, "handlers", []):
        blocks.append(handler.body)
    for case in getattr(statement, "cases", []):
        blocks.append(case.body)
    return blocks
