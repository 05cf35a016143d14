"""Type expressions: parse, normalise, compare and print them (DESIGN.md normalisation contract).

Every other module goes through this one, so that output, application, evaluation and training
labels all agree on what a type looks like. Normal form:

* PEP 585/604 spelling: ``List[int]`` -> ``list[int]``, ``Optional[X]`` -> ``X | None``;
* union members flattened, de-duplicated and sorted by their printed form, ``None`` last
  (so the canonical form reads naturally: ``int | None``);
* ``typing.``, ``typing_extensions.``, ``builtins.``, ``collections.abc.`` prefixes dropped, other
  dotted names reduced to their last component (the module is kept aside, for imports), except
  where the name alone would read back as a ``typing`` form (``mylib.Text``, ``mylib.Union[...]``);
* string (forward-reference) annotations parsed; ``Annotated[X, ...]`` reduced to ``X``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "ANY",
    "NONE",
    "TypeExpr",
    "TypeParseError",
    "from_ast",
    "make_union",
    "normalise",
    "outer_name",
    "parse_type",
    "same_type",
    "same_up_to_parametric",
    "strip_parameters",
]

UNION = "|"
PARAM_LIST = "[]"  # the first argument of ``Callable[[A, B], R]``
ELLIPSIS = "..."
EMPTY_TUPLE = "()"  # the argument of ``tuple[()]``

#: Deprecated ``typing`` aliases and their PEP 585 spelling.
_ALIASES = {
    "List": "list",
    "Dict": "dict",
    "Set": "set",
    "FrozenSet": "frozenset",
    "Tuple": "tuple",
    "Type": "type",
    "Text": "str",
    "DefaultDict": "defaultdict",
    "Deque": "deque",
    "NoneType": "None",
}
#: Where the PEP 585 spelling of an alias lives, for imports.
_ALIAS_MODULES = {"defaultdict": "collections", "deque": "collections"}


class TypeParseError(ValueError):
    """The text is not a type expression that typeseer can represent."""


@dataclass(frozen=True, slots=True)
class TypeExpr:
    """A normalised type expression; equality is the contract's exact match."""

    #: Short name (``"int"``, ``"Pattern"``); ``"|"`` for a union; a ``repr`` for a Literal value.
    name: str
    #: Type arguments (union members for ``"|"``).
    args: tuple[TypeExpr, ...] = ()
    #: Module the name comes from (``"re"`` for ``Pattern``); ``""`` for builtins or unknown.
    module: str = field(default="", compare=False, hash=False)

    def __str__(self) -> str:
        return _format(self)

    @property
    def is_union(self) -> bool:
        return self.name == UNION

    @property
    def members(self) -> tuple[TypeExpr, ...]:
        """The union members, or the type itself for a non-union."""
        return self.args if self.is_union else (self,)

    def walk(self) -> Iterable[TypeExpr]:
        yield self
        for arg in self.args:
            yield from arg.walk()


ANY = TypeExpr("Any", module="typing")
NONE = TypeExpr("None")


#: Names that parse_type reads as a ``typing`` special form or alias (``Text`` is ``str``).
_REREAD = frozenset({"Union", "Optional", "Literal", "Annotated", *_ALIASES})


def _printed_name(t: TypeExpr) -> str:
    """The name as printed: a class of another module that shares its name with a ``typing``
    special form or alias (a project's ``Text``, ``mylib.Optional``) keeps its module, so that
    the printed form parses back to the same type, not to ``str`` or a union."""
    if t.name in _REREAD and t.module not in ("", "typing"):
        return f"{t.module}.{t.name}"
    return t.name


def _format(t: TypeExpr) -> str:
    if t.name == UNION:
        return " | ".join(_format(a) for a in t.args)
    if t.name == PARAM_LIST:
        return "[" + ", ".join(_format(a) for a in t.args) + "]"
    if not t.args:
        return _printed_name(t)
    return _printed_name(t) + "[" + ", ".join(_format(a) for a in t.args) + "]"


def _union_key(t: TypeExpr) -> tuple[bool, str]:
    return (t == NONE, _format(t))


def make_union(members: Iterable[TypeExpr]) -> TypeExpr:
    """Flatten, de-duplicate and sort ``members`` into one type (``None`` last)."""
    flat: set[TypeExpr] = set()
    for member in members:
        flat.update(member.members)
    if not flat:
        raise ValueError("a union needs at least one member")
    if ANY in flat:
        return ANY
    if len(flat) == 1:
        return flat.pop()
    return TypeExpr(UNION, tuple(sorted(flat, key=_union_key)))


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _split_name(dotted: str) -> tuple[str, str]:
    """``"typing.List"`` -> ``("", "list")``; ``"re.Pattern"`` -> ``("re", "Pattern")``."""
    module, _, name = dotted.rpartition(".")
    if module not in ("", "typing", "typing_extensions", "builtins"):
        return module, name  # collections.abc and every other module: last component
    if name in _ALIASES:
        name = _ALIASES[name]
        return _ALIAS_MODULES.get(name, ""), name
    return ("typing" if module.startswith("typing") else ""), name


def _subscript_args(node: ast.expr) -> list[ast.expr]:
    return list(node.elts) if isinstance(node, ast.Tuple) and node.elts else [node]


def _literal_values(node: ast.expr) -> Iterator[TypeExpr]:
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes, int, bool)):
        yield TypeExpr(repr(node.value))
        return
    if isinstance(node, ast.Constant) and node.value is None:
        yield NONE
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = node.operand
        if isinstance(operand, ast.Constant) and isinstance(operand.value, int):
            yield TypeExpr(repr(-operand.value))
            return
    if isinstance(node, ast.Subscript):  # PEP 586: Literal[Literal[1, 2], 3] is Literal[1, 2, 3]
        base = _dotted(node.value)
        if base is not None and _split_name(base) in (("", "Literal"), ("typing", "Literal")):
            for arg in _subscript_args(node.slice):
                yield from _literal_values(arg)
            return
    dotted = _dotted(node)
    if dotted is not None:  # an enum member: Literal[Color.RED]
        yield TypeExpr(dotted)
        return
    raise TypeParseError(f"not a Literal value: {ast.unparse(node)}")


#: Forms that are only valid as type arguments (``Callable[[A], R]``, ``tuple[int, ...]``,
#: ``tuple[()]``), never as a type on their own.
_ARGUMENT_ONLY = frozenset({PARAM_LIST, ELLIPSIS, EMPTY_TUPLE})


def from_ast(node: ast.expr) -> TypeExpr:
    """Normalise an annotation expression. Raises TypeParseError on non-type expressions."""
    result = _from_ast(node)
    if result.name in _ARGUMENT_ONLY:
        raise TypeParseError(f"not a type on its own: {ast.unparse(node)}")
    return result


def _from_ast(node: ast.expr) -> TypeExpr:
    """Like from_ast, but also accepts the forms that only stand as type arguments."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return NONE
        if node.value is Ellipsis:
            return TypeExpr(ELLIPSIS)
        if isinstance(node.value, str):
            return parse_type(node.value)
        raise TypeParseError(f"not a type: {node.value!r}")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return make_union((from_ast(node.left), from_ast(node.right)))
    if isinstance(node, ast.List):  # the parameter list of Callable[[A, B], R]
        return TypeExpr(PARAM_LIST, tuple(from_ast(e) for e in node.elts))
    if isinstance(node, ast.Tuple) and not node.elts:
        return TypeExpr(EMPTY_TUPLE)
    dotted = _dotted(node)
    if dotted is not None:
        module, name = _split_name(dotted)
        return TypeExpr(name, module=module)
    if isinstance(node, ast.Subscript):
        return _from_subscript(node)
    raise TypeParseError(f"not a type expression: {ast.unparse(node)}")


def _from_subscript(node: ast.Subscript) -> TypeExpr:
    base = _dotted(node.value)
    if base is None:
        raise TypeParseError(f"not a type expression: {ast.unparse(node)}")
    module, name = _split_name(base)
    if name == NONE.name:  # NoneType[...]: ``None`` takes no arguments, nor prints with them
        raise TypeParseError(f"not a type expression: {ast.unparse(node)}")
    raw_args = _subscript_args(node.slice)
    special = module in ("", "typing")
    if name == "Annotated" and special:
        return from_ast(raw_args[0])
    if name == "Literal" and special:
        values = {value for a in raw_args for value in _literal_values(a)}
        return TypeExpr("Literal", tuple(sorted(values, key=_union_key)))
    if name == "Optional" and special:
        if len(raw_args) != 1:
            raise TypeParseError("Optional takes exactly one argument")
        return make_union((from_ast(raw_args[0]), NONE))
    if name == "Union" and special:
        return make_union(from_ast(a) for a in raw_args)
    return TypeExpr(name, tuple(_from_ast(a) for a in raw_args), module)


@lru_cache(maxsize=65536)
def parse_type(text: str) -> TypeExpr:
    """Parse and normalise the source text of an annotation."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as error:  # ValueError: null bytes
        raise TypeParseError(f"cannot parse type {text!r}: {error}") from None
    except (RecursionError, MemoryError):  # the parser's own limits on nesting
        raise TypeParseError("type expression nested too deeply") from None
    try:
        return from_ast(tree.body)
    except RecursionError:
        raise TypeParseError("type expression nested too deeply") from None


def normalise(text: str) -> str:
    """The normal form of an annotation's source text, as a string."""
    return str(parse_type(text))


def strip_parameters(t: TypeExpr) -> TypeExpr:
    """Drop every subscript: ``dict[str, int] | None`` -> ``dict | None``."""
    if t.is_union:
        return make_union(strip_parameters(a) for a in t.args)
    return TypeExpr(t.name, module=t.module) if t.args else t


def same_type(a: TypeExpr, b: TypeExpr) -> bool:
    """Exact match under the normalisation contract."""
    return a == b


def same_up_to_parametric(a: TypeExpr, b: TypeExpr) -> bool:
    """Match after dropping every subscript (``list[int]`` ~ ``list[str]``)."""
    return strip_parameters(a) == strip_parameters(b)


def outer_name(t: TypeExpr) -> str:
    """The outer type constructor: ``list`` for ``list[int]``, ``|`` for any union."""
    return t.name
