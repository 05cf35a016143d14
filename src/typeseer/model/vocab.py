"""The model's output space: common types, plus templates over the project's own classes.

A label that mentions exactly one candidate class of its module (model/features.py) is learned
as a *template* with that class replaced by ``@``: ``Response | None`` becomes ``@ | None``
and ``list[Node]`` becomes ``list[@]``. At inference a template is filled with each candidate
class, weighted by the learned similarity between the site and the class. This is how the model
predicts structured types over classes it never saw in training (open vocabulary, as in
Type4Py and Typilus).
"""

from __future__ import annotations

from collections.abc import Collection
from functools import lru_cache

from ..typeexpr import TypeExpr, TypeParseError, make_union, parse_type

__all__ = ["SLOT", "UNKNOWN", "fill", "template_of"]

#: Where the candidate class goes in a template.
SLOT = "@"
#: The output class for labels outside the vocabulary.
UNKNOWN = "<unknown>"


def _replace(t: TypeExpr, name: str) -> TypeExpr:
    args = tuple(_replace(a, name) for a in t.args)
    if t.name == "|":
        return make_union(args)
    if t.name == name and not t.args:
        return TypeExpr(SLOT)
    return TypeExpr(t.name, args, t.module)


def template_of(label: str, candidates: Collection[str]) -> tuple[str, str] | None:
    """``("@ | None", "Response")`` for ``Response | None`` when Response is a candidate."""
    try:
        t = parse_type(label)
    except TypeParseError:
        return None
    names = {part.name for part in t.walk() if not part.args} & set(candidates)
    if len(names) != 1:
        return None
    name = names.pop()
    return str(_replace(t, name)), name


_PLACEHOLDER = "__typeseer_slot__"


@lru_cache(maxsize=8192)
def _parsed_template(template: str) -> TypeExpr:
    return parse_type(template.replace(SLOT, _PLACEHOLDER))


def _substitute(t: TypeExpr, name: str) -> TypeExpr:
    if t.name == _PLACEHOLDER and not t.args:
        return TypeExpr(name)
    args = tuple(_substitute(a, name) for a in t.args)
    if t.name == "|":
        return make_union(args)  # re-sorts the members around the new name
    return TypeExpr(t.name, args, t.module)


@lru_cache(maxsize=65536)
def fill(template: str, name: str) -> str:
    """The normalised type of ``template`` with its slot filled by class ``name`` (the
    template is parsed once; filling rebuilds the tree without parsing again)."""
    return str(_substitute(_parsed_template(template), name))
