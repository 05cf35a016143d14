"""Tests for typeseer.typeexpr: the DESIGN.md type normalisation contract, rule by rule."""

from __future__ import annotations

import ast

import pytest

from typeseer.typeexpr import (
    ANY,
    NONE,
    TypeExpr,
    TypeParseError,
    from_ast,
    make_union,
    normalise,
    outer_name,
    parse_type,
    same_type,
    same_up_to_parametric,
    strip_parameters,
)

# (annotation source text, normal form): one row per rule of the contract.
NORMALISATION = [
    # Plain names stay as they are.
    ("int", "int"),
    ("None", "None"),
    ("MyClass", "MyClass"),
    # PEP 585: deprecated typing aliases -> builtin spelling.
    ("List[int]", "list[int]"),
    ("Dict[str, int]", "dict[str, int]"),
    ("Set[int]", "set[int]"),
    ("FrozenSet[str]", "frozenset[str]"),
    ("Tuple[int, str]", "tuple[int, str]"),
    ("Type[Foo]", "type[Foo]"),
    ("DefaultDict[str, int]", "defaultdict[str, int]"),
    ("Deque[int]", "deque[int]"),
    ("List", "list"),
    ("Dict", "dict"),
    ("NoneType", "None"),
    ("Text", "str"),
    ("List[Text]", "list[str]"),
    ("List[List[Dict[str, Set[int]]]]", "list[list[dict[str, set[int]]]]"),
    # PEP 604: Optional and Union.
    ("Optional[int]", "int | None"),
    ("Optional[List[int]]", "list[int] | None"),
    ("Union[int, str]", "int | str"),
    ("Union[str, int]", "int | str"),  # sorted
    ("str | int", "int | str"),
    ("Union[int, int]", "int"),  # de-duplicated
    ("Union[int, str, int]", "int | str"),
    ("Union[int]", "int"),
    ("Union[None, int]", "int | None"),  # None last
    ("None | int", "int | None"),
    ("Union[None, str, bytes]", "bytes | str | None"),
    ("Optional[Union[int, str]]", "int | str | None"),  # flattened
    ("Union[int, Union[str, bytes]]", "bytes | int | str"),
    ("Union[int, Optional[str]]", "int | str | None"),
    ("int | (str | None)", "int | str | None"),
    ("Optional[int] | None", "int | None"),
    ("Optional[None]", "None"),
    ("Union[List[int], list[int]]", "list[int]"),
    ("Dict[str, Optional[int]]", "dict[str, int | None]"),
    ("list[Union[str, int]]", "list[int | str]"),
    # Prefixes dropped.
    ("typing.List[int]", "list[int]"),
    ("typing.Optional[typing.Text]", "str | None"),
    ("typing.Union[int, str]", "int | str"),
    ("typing.Any", "Any"),
    ("typing_extensions.Literal['a']", "Literal['a']"),
    ("typing_extensions.Optional[int]", "int | None"),
    ("builtins.int", "int"),
    ("builtins.list[builtins.str]", "list[str]"),
    ("collections.abc.Iterable[int]", "Iterable[int]"),
    ("collections.abc.Callable[[int], str]", "Callable[[int], str]"),
    ("collections.abc.Mapping[str, int]", "Mapping[str, int]"),
    ("typing.Iterator[int]", "Iterator[int]"),
    # Other dotted names: last component.
    ("foo.bar.Baz", "Baz"),
    ("re.Pattern[str]", "Pattern[str]"),
    ("np.ndarray", "ndarray"),
    ("collections.OrderedDict[str, int]", "OrderedDict[str, int]"),
    ("pkg.mod.Node | None", "Node | None"),
    # A "List" of some other module is not typing.List: it keeps its module, so that it does
    # not read back as list.
    ("mymod.List[int]", "mymod.List[int]"),
    ("mymod.Text", "mymod.Text"),
    ("ping.Union[int, str]", "ping.Union[int, str]"),
    # String (forward-reference) annotations.
    ("'int'", "int"),
    ('"Optional[Foo]"', "Foo | None"),
    ("List['Node']", "list[Node]"),
    ("Dict[str, 'Optional[int]']", "dict[str, int | None]"),
    ("'Foo' | None", "Foo | None"),
    ("\"'int'\"", "int"),
    ("  List[int]  ", "list[int]"),
    # Annotated keeps only the type.
    ("Annotated[int, 'meta']", "int"),
    ("Annotated[List[int], Gt(0), 'doc']", "list[int]"),
    ("typing.Annotated[Optional[str], ...]", "str | None"),
    ("typing_extensions.Annotated[str, 1]", "str"),
    ("list[Annotated[int, 'x']]", "list[int]"),
    # Literal: values kept as their repr, sorted and de-duplicated, None last.
    ("Literal['a']", "Literal['a']"),
    ('Literal["a"]', "Literal['a']"),
    ("Literal['b', 'a']", "Literal['a', 'b']"),
    ("Literal['a', 'a']", "Literal['a']"),
    ("Literal[1, 2]", "Literal[1, 2]"),
    ("Literal[-1]", "Literal[-1]"),
    ("Literal[True]", "Literal[True]"),
    ("Literal[b'x']", "Literal[b'x']"),
    ("Literal[None, 'a']", "Literal['a', None]"),
    ("Literal[Color.RED]", "Literal[Color.RED]"),
    ("typing.Literal['r', 'w']", "Literal['r', 'w']"),
    ("Literal[Literal[1, 2], 3]", "Literal[1, 2, 3]"),  # PEP 586: nested Literal flattens
    ("Optional[Literal['a']]", "Literal['a'] | None"),
    # Callable.
    ("Callable[[int, str], bool]", "Callable[[int, str], bool]"),
    ("Callable[[], None]", "Callable[[], None]"),
    ("Callable[..., Any]", "Callable[..., Any]"),
    ("typing.Callable[[List[int]], Optional[str]]", "Callable[[list[int]], str | None]"),
    ("Callable[[int], Callable[[str], None]]", "Callable[[int], Callable[[str], None]]"),
    # Tuples.
    ("tuple[int, ...]", "tuple[int, ...]"),
    ("Tuple[int, ...]", "tuple[int, ...]"),
    ("tuple[()]", "tuple[()]"),
    ("Tuple[()]", "tuple[()]"),
    ("tuple[int]", "tuple[int]"),
    ("tuple[int, str, None]", "tuple[int, str, None]"),
    # Any absorbs the other members of a union.
    ("Union[int, Any]", "Any"),
    # Type parameters of user generics are kept.
    ("Mapping[str, Sequence[T]]", "Mapping[str, Sequence[T]]"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALISATION)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(("text", "expected"), NORMALISATION)
def test_normal_form_is_a_fixed_point(text: str, expected: str) -> None:
    assert normalise(expected) == expected
    assert parse_type(expected) == parse_type(text)


@pytest.mark.parametrize(
    ("text", "name", "module"),
    [
        ("re.Pattern", "Pattern", "re"),
        ("foo.bar.Baz", "Baz", "foo.bar"),
        ("typing.Pattern", "Pattern", "typing"),
        ("typing.Any", "Any", "typing"),
        ("collections.abc.Iterable", "Iterable", "collections.abc"),
        ("int", "int", ""),
        ("builtins.str", "str", ""),
        ("typing.List", "list", ""),
        ("Text", "str", ""),
        ("typing.DefaultDict", "defaultdict", "collections"),
        ("Deque", "deque", "collections"),
    ],
)
def test_module_is_kept_aside(text: str, name: str, module: str) -> None:
    parsed = parse_type(text)
    assert (parsed.name, parsed.module) == (name, module)


def test_module_is_not_part_of_equality() -> None:
    assert parse_type("re.Pattern[str]") == parse_type("typing.Pattern[str]")
    assert hash(parse_type("re.Pattern")) == hash(parse_type("typing.Pattern"))
    assert parse_type("a.Node") == parse_type("b.Node")
    assert parse_type("collections.abc.Iterable[int]") == parse_type("typing.Iterable[int]")


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "3.5",
        "True",
        "b'x'",
        "f(x)",
        "x + y",
        "a and b",
        "not a",
        "lambda: int",
        "[int, str]",  # only the parameter list of Callable
        "...",  # only a type argument
        "()",  # only tuple[()]
        "int | 3",
        "Optional[int, str]",
        "Optional[...]",
        "Union[int, ...]",
        "Literal[x + 1]",
        "Literal[3.5]",
        "list[1]",
        "f()[int]",
        "x[0][1]",
        "{'a': int}",
        "",
        "   ",
        "int str",
        "List[",
        "'not a type'",
        "'1'",
        "int\0",
        "x if y else z",
        "[i for i in x]",
    ],
)
def test_non_types_raise(text: str) -> None:
    with pytest.raises(TypeParseError):
        parse_type(text)


def test_type_parse_error_is_a_value_error() -> None:
    assert issubclass(TypeParseError, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "List[" * 300 + "int" + "]" * 300,
        " | ".join(["int"] * 5000),
        "'" + "List[" * 50 + "int" + "]" * 50 + "'",
    ],
)
def test_deep_or_long_types_do_not_crash(text: str) -> None:
    try:
        parsed = parse_type(text)
    except TypeParseError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(parsed, TypeExpr)


def test_long_union_collapses() -> None:
    assert normalise(" | ".join(["int"] * 300)) == "int"


@pytest.mark.parametrize(
    ("node_source", "expected"),
    [
        ("Optional[List[int]]", "list[int] | None"),
        ("'int'", "int"),
        ("None", "None"),
        ("typing.Dict[str, typing.Any]", "dict[str, Any]"),
    ],
)
def test_from_ast(node_source: str, expected: str) -> None:
    node = ast.parse(node_source, mode="eval").body
    assert str(from_ast(node)) == expected


@pytest.mark.parametrize("node_source", ["[int]", "...", "()", "1", "f(x)"])
def test_from_ast_rejects_non_types(node_source: str) -> None:
    with pytest.raises(TypeParseError):
        from_ast(ast.parse(node_source, mode="eval").body)


def test_annotation_from_a_real_function() -> None:
    tree = ast.parse("def f(x: 'Optional[Dict[str, List[int]]]') -> Union[int, None]: ...")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    annotation = function.args.args[0].annotation
    assert annotation is not None and function.returns is not None
    assert str(from_ast(annotation)) == "dict[str, list[int]] | None"
    assert str(from_ast(function.returns)) == "int | None"


# -- match up to parametric type --------------------------------------------------------------

@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("list[int]", "list[str]", True),
        ("List[int]", "list", True),
        ("dict[str, int] | None", "dict | None", True),
        ("Optional[Dict[str, int]]", "dict[int, int] | None", True),
        ("tuple[int, ...]", "tuple[()]", True),
        ("Callable[[int], str]", "Callable[..., Any]", True),
        ("Literal['a']", "Literal['b']", True),
        ("list[int] | dict[str, int]", "dict | list", True),
        ("list[int] | list[str]", "list", True),
        ("int", "int", True),
        ("re.Pattern[str]", "typing.Pattern", True),
        ("list[int]", "set[int]", False),
        ("list[int]", "list[int] | None", False),
        ("int", "str", False),
        ("dict[str, int]", "Mapping[str, int]", False),
        ("int | None", "int", False),
    ],
)
def test_same_up_to_parametric(a: str, b: str, same: bool) -> None:
    assert same_up_to_parametric(parse_type(a), parse_type(b)) is same
    assert same_up_to_parametric(parse_type(b), parse_type(a)) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("List[int]", "list[int]", True),
        ("Optional[int]", "None | int", True),
        ("typing.Text", "str", True),
        ("list[int]", "list[str]", False),
        ("int | str", "int", False),
    ],
)
def test_same_type(a: str, b: str, same: bool) -> None:
    assert same_type(parse_type(a), parse_type(b)) is same


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("list[int]", "list"),
        ("dict[str, int] | None", "dict | None"),
        ("dict[str, list[int]]", "dict"),
        ("int", "int"),
        ("None", "None"),
        ("list[int] | list[str] | None", "list | None"),
        ("Callable[[int], str]", "Callable"),
        ("tuple[()]", "tuple"),
        ("Literal['a', 'b'] | int", "Literal | int"),
    ],
)
def test_strip_parameters(text: str, expected: str) -> None:
    stripped = strip_parameters(parse_type(text))
    assert str(stripped) == expected
    assert strip_parameters(stripped) == stripped  # idempotent


def test_strip_parameters_keeps_module() -> None:
    assert strip_parameters(parse_type("re.Pattern[str]")).module == "re"


# -- make_union -------------------------------------------------------------------------------

INT, STR = TypeExpr("int"), TypeExpr("str")


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([INT], "int"),
        ([INT, INT], "int"),
        ([STR, INT], "int | str"),
        ([NONE, STR, INT], "int | str | None"),
        ([parse_type("int | None"), STR], "int | str | None"),
        ([parse_type("int | str"), parse_type("str | bytes")], "bytes | int | str"),
        ([NONE], "None"),
        ([NONE, NONE], "None"),
        ([INT, ANY], "Any"),
        ([parse_type("list[int]"), parse_type("list[str]")], "list[int] | list[str]"),
    ],
)
def test_make_union(members: list[TypeExpr], expected: str) -> None:
    union = make_union(members)
    assert str(union) == expected
    assert make_union(reversed(members)) == union  # order does not matter
    assert make_union(iter(members)) == union  # any iterable


def test_make_union_needs_members() -> None:
    with pytest.raises(ValueError):
        make_union([])


def test_union_structure() -> None:
    union = parse_type("Optional[Union[str, int]]")
    assert union.is_union
    assert outer_name(union) == "|"
    assert union.members == (INT, STR, NONE)
    assert INT.members == (INT,)
    assert not INT.is_union


def test_walk_visits_every_node() -> None:
    names = [t.name for t in parse_type("dict[str, list[int]]").walk()]
    assert names == ["dict", "str", "list", "int"]


def test_outer_name() -> None:
    assert outer_name(parse_type("List[int]")) == "list"
    assert outer_name(parse_type("Optional[int]")) == "|"
    assert outer_name(parse_type("int")) == "int"


def test_constants() -> None:
    assert str(ANY) == "Any" and ANY.module == "typing"
    assert str(NONE) == "None"
    assert parse_type("typing.Any") == ANY
    assert parse_type("None") == NONE


def test_type_expr_is_immutable_and_hashable() -> None:
    parsed = parse_type("dict[str, int]")
    with pytest.raises(AttributeError):
        parsed.name = "list"  # type: ignore[misc]
    assert len({parsed, parse_type("Dict[str, int]")}) == 1
