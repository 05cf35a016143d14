"""Spelling a normalised type as annotation source for the target Python, with the imports
its names need; and the readability limits (union size, nesting) on what gets written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..typeexpr import ELLIPSIS, EMPTY_TUPLE, NONE, PARAM_LIST, TypeExpr
from .names import ABC_NAMES, Import, Resolution
from .options import PythonVersion

__all__ = ["Spelled", "depth", "spell", "widest_union"]

#: Builtin generics and their ``typing`` spelling before Python 3.9 (PEP 585).
_PRE_585 = {"list": "List", "dict": "Dict", "set": "Set", "frozenset": "FrozenSet",
            "tuple": "Tuple", "type": "Type", "defaultdict": "DefaultDict", "deque": "Deque",
            "OrderedDict": "OrderedDict", "Counter": "Counter", "ChainMap": "ChainMap"}

Resolver = Callable[[str, str], Resolution]


@dataclass(frozen=True, slots=True)
class Spelled:
    """Annotation source text, the imports it needs, and whether it must not be evaluated."""

    text: str
    imports: frozenset[Import]
    deferred: bool


def widest_union(t: TypeExpr) -> int:
    """The most members of any union in ``t`` (1 when there is none)."""
    return max(len(n.args) if n.is_union else 1 for n in t.walk())


def depth(t: TypeExpr) -> int:
    """Nesting depth: ``int`` is 1, ``list[int]`` 2, ``dict[str, list[int]]`` 3; a union
    adds no level of its own."""
    if t.is_union or t.name == PARAM_LIST:
        return max((depth(a) for a in t.args), default=1)
    if t.name == "Literal":
        return 2
    return 1 + max((depth(a) for a in t.args), default=0)


def spell(t: TypeExpr, resolve: Resolver, version: PythonVersion) -> Spelled:
    """Annotation text for ``t``; ``resolve(name, module)`` spells each name (raises
    names.Unresolved when a name cannot be written)."""
    imports: set[Import] = set()
    deferred = False

    def name(short: str, module: str) -> str:
        nonlocal deferred
        resolution = resolve(short, module)
        imports.update(resolution.imports)
        deferred = deferred or resolution.deferred
        return resolution.spelling

    def render(node: TypeExpr) -> str:
        if node == NONE:
            return "None"
        if node.name in (ELLIPSIS, EMPTY_TUPLE):
            return node.name
        if node.name == PARAM_LIST:
            return "[" + ", ".join(render(a) for a in node.args) + "]"
        if node.is_union:
            return render_union(node)
        if node.name == "Literal":
            return name("Literal", "typing") + "[" + ", ".join(a.name for a in node.args) + "]"
        if not node.args:
            return name(node.name, node.module)
        return base(node) + "[" + ", ".join(render(a) for a in node.args) + "]"

    def base(node: TypeExpr) -> str:
        """The subscripted name: ``list`` or, before 3.9, ``typing.List``."""
        nonlocal deferred
        if not version.has_builtin_generics:
            if node.name in _PRE_585 and node.module in ("", "collections"):
                return name(_PRE_585[node.name], "typing")
            if node.name in ABC_NAMES:
                return name(node.name, "typing")
            # Other classes (``re.Pattern``) cannot be subscripted at run time before 3.9.
            deferred = True
        return name(node.name, node.module)

    def render_union(node: TypeExpr) -> str:
        members = node.args
        if version.has_union_operator:
            return " | ".join(render(a) for a in members)
        others = [a for a in members if a != NONE]
        if len(others) < len(members) and len(others) == 1:
            return name("Optional", "typing") + "[" + render(others[0]) + "]"
        return name("Union", "typing") + "[" + ", ".join(render(a) for a in members) + "]"

    text = render(t)
    return Spelled(text, frozenset(imports), deferred)
