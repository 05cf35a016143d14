"""Annotations already in the code, read the way the normalisation contract expects.

Module aliases are spelled out (``import typing as t``: ``t.Optional[t.List[int]]`` reads as
``list[int] | None``) and type qualifiers unwrapped (``Final[int]`` is ``int``). Output
(``source: existing``), evaluation ground truth and training labels all read annotations here.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from .sites import Scope, Site
from .typeexpr import TypeExpr, TypeParseError, parse_type

__all__ = ["existing_type", "module_aliases", "resolve_aliases", "unqualified"]


#: Modules whose names the normalisation drops; an alias of one (``import typing as t``) is
#: spelled out before parsing, so that ``t.Optional[t.List[int]]`` reads as ``list[int] | None``.
_NORMALISED_MODULES = frozenset({"typing", "typing_extensions", "builtins", "collections.abc"})


def module_aliases(scope: Scope | None) -> dict[str, str]:
    """Names that, in ``scope`` and the scopes around it, stand for (a member of) a module that
    the normalisation knows: ``{"t": "typing", "Opt": "typing.Optional"}``."""
    found: dict[str, str] = {}
    while scope is not None:
        for name, ref in scope.imports.items():
            if name in found or ref.module not in _NORMALISED_MODULES:
                continue
            if ref.attr == name or (ref.attr is None and ref.module == name):
                continue  # ``from typing import List``, ``import typing``: nothing to spell out
            found[name] = ref.module if ref.attr is None else f"{ref.module}.{ref.attr}"
        scope = scope.parent
    return found


class _SpellOut(ast.NodeTransformer):
    def __init__(self, aliases: Mapping[str, str]) -> None:
        self.aliases = aliases

    def visit_Name(self, node: ast.Name) -> ast.expr:
        full = self.aliases.get(node.id)
        if full is None:
            return node
        return ast.parse(full, mode="eval").body


def resolve_aliases(annotation: str, aliases: Mapping[str, str]) -> str:
    """``annotation`` with module aliases spelled out: ``t.List[int]`` -> ``typing.List[int]``
    given ``{"t": "typing"}``. Text that does not parse is returned as it is."""
    if not aliases:
        return annotation
    try:
        tree = ast.parse(annotation.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return annotation
    if not any(isinstance(n, ast.Name) and n.id in aliases for n in ast.walk(tree)):
        return annotation
    return ast.unparse(_SpellOut(aliases).visit(tree))


#: Type qualifiers: they say how a name may be used, not what type it has.
_QUALIFIERS = frozenset({"Final", "ClassVar", "InitVar", "Required", "NotRequired", "ReadOnly"})


def unqualified(t: TypeExpr) -> TypeExpr | None:
    """The type inside qualifiers (``Final[int]`` -> ``int``, ``ClassVar[Final[str]]`` ->
    ``str``); None for a qualifier without a type (``Final``, ``ClassVar``, ``TypeAlias``)."""
    while t.name in _QUALIFIERS and len(t.args) == 1:
        t = t.args[0]
    if t.name in _QUALIFIERS or (t.name == "TypeAlias" and not t.args):
        return None
    return t


def existing_type(site: Site) -> TypeExpr | None:
    """The normalised type of a site's existing annotation; None when it has none, when it is
    not a type, or when it is a bare qualifier (``Final``, ``TypeAlias``)."""
    if site.annotation is None:
        return None
    try:
        return unqualified(parse_type(resolve_aliases(site.annotation,
                                                      module_aliases(site.owner))))
    except TypeParseError:
        return None
