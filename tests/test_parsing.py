"""Tests for typeseer.parsing: CPython's parser first, LibCST for newer syntax, clear failures."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from typeseer.parsing import ParseFailure, parse_source

FIXTURES = Path(__file__).parent / "fixtures"


def args_at(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Every parameter's (line, col), by name."""
    return {n.arg: (n.lineno, n.col_offset) for n in ast.walk(tree) if isinstance(n, ast.arg)}


def names_at(tree: ast.Module) -> dict[str, list[tuple[int, int]]]:
    found: dict[str, list[tuple[int, int]]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.setdefault(node.id, []).append((node.lineno, node.col_offset))
    return found


def position(source: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    """(line, UTF-8 byte column) of ``needle`` in ``source``, as ``ast`` reports them."""
    index = -1
    for _ in range(occurrence + 1):
        index = source.index(needle, index + 1)
    before = source[:index]
    line = before.count("\n") + 1
    column = len(before.rpartition("\n")[2].encode("utf-8"))
    return line, column


def test_normal_code() -> None:
    source = textwrap.dedent('''\
        import os

        class Cache:
            def get(self, key: str, default=None) -> int | None:
                return self.data.get(key, default)

        async def main(*args, **kwargs):
            async with lock as held:
                yield [x async for x in stream()]
        ''')
    tree = parse_source(source, "pkg/cache.py")
    assert isinstance(tree, ast.Module)
    assert ast.dump(tree) == ast.dump(ast.parse(source))
    assert args_at(tree)["key"] == position(source, "key")


@pytest.mark.parametrize("source", ["", "\n", "# only a comment\n", '"""Docstring."""\n'])
def test_trivial_files(source: str) -> None:
    assert isinstance(parse_source(source), ast.Module)


def test_match_statement() -> None:
    parse_source("match command:\n    case [x, *rest]:\n        pass\n")


@pytest.mark.skipif(sys.version_info < (3, 11), reason="except* is Python 3.11 syntax")
def test_except_star() -> None:
    parse_source("try:\n    pass\nexcept* ValueError as group:\n    pass\n")


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("x = (1,\n", 1),
        ("def f(:\n    pass\n", 1),
        ("x = 1\ny = = 2\n", 2),
        ("a = 1\nb = 2\nclass\n", 3),
        ("def f():\n    return 1\n  x = 2\n", 3),
        ("if x:\npass\n", 2),
        ("x = 'unterminated\n", 1),
        ("f(**)\n", 1),
        ("x = 1\n\n\nfor in range(3): pass\n", 4),
    ],
)
def test_syntax_error_is_a_one_line_parse_failure(source: str, line: int) -> None:
    with pytest.raises(ParseFailure) as error:
        parse_source(source, "bad.py")
    message = str(error.value)
    assert "\n" not in message
    assert f"line {line}" in message
    assert message.startswith("syntax error")


@pytest.mark.parametrize(
    "source",
    [
        'print "x"\n',
        "exec 'code'\n",
        "try:\n    pass\nexcept Exception, e:\n    pass\n",
        "x = 0777\n",
        "x = `y`\n",
        "raise E, 'message'\n",
        "def f((a, b)):\n    pass\n",
        "x = ur'text'\n",
    ],
)
def test_python2_is_a_parse_failure(source: str) -> None:
    with pytest.raises(ParseFailure) as error:
        parse_source(source)
    assert "line 1" in str(error.value) or "line 3" in str(error.value)
    assert "\n" not in str(error.value)


def test_null_bytes_are_a_parse_failure() -> None:
    with pytest.raises(ParseFailure) as error:
        parse_source("x = 1\0\n")
    assert "null bytes" in str(error.value)


# -- syntax newer than the interpreter (PEP 695/696) ------------------------------------------

PEP695 = [
    # (source, the parameters whose positions must be kept)
    ("def f[T](x: T) -> T:\n    return x\n", ["x"]),
    ("def first[T, U](a: T, b: U, /, *rest: T, key: U, **kw: T) -> T:\n    return a\n",
     ["a", "b", "rest", "key", "kw"]),
    ("async def g[T](x: T) -> T:\n    return x\n", ["x"]),
    ("class C[T]:\n    def m(self, item: T) -> T:\n        return item\n", ["self", "item"]),
    ("class C[T](Base, metaclass=M):\n    def m[S](self, s: S) -> S:\n        return s\n",
     ["self", "s"]),
    ("class D[K, V: (str, bytes), *Ts, **P]:\n    pass\n", []),
    ("def h[T: int](x: T): ...\n", ["x"]),
    # PEP 696 defaults.
    ("class Box[T = int]:\n    def get(self, default: T) -> T: ...\n", ["self", "default"]),
    ("def f[T = str, *Ts = *tuple[int], **P = [int]](x: T) -> T: ...\n", ["x"]),
    # Multi-line type parameter lists, with comments and a trailing comma.
    ("def f[\n    T,  # the item\n    U: str = str,\n](x: T, y: U) -> T:\n    return x\n",
     ["x", "y"]),
    ("class C[\n    T,\n](Base):\n    def m[\n        S\n    ](self, s: S, t: T) -> S:\n"
     "        return s\n", ["self", "s", "t"]),
    ("def f[\n    T\n](\n    x: T,\n    y: int = 1,\n) -> T:\n    return x\n", ["x", "y"]),
    # Type aliases, alone, generic, multi-line and sharing a line with other statements.
    ("type X = list[int]\n\ndef f(x: X): pass\n", ["x"]),
    ("type Pair[T] = tuple[T, T]\ndef f(p: Pair[int]): pass\n", ["p"]),
    ("type X = int; y = 1\ndef f(a): pass\n", ["a"]),
    ("type Json = (\n    dict[str, 'Json']\n    | list['Json']\n); z = 2\ndef f(a): pass\n",
     ["a"]),
    ("if True:\n    type X = int\ndef f(a): pass\n", ["a"]),
    # Non-ASCII text before and inside the rewritten spans: ast columns are UTF-8 bytes.
    ('s = "\u00e9\u00e9"; type X = int; y = 2\ndef f\u00e9[T](a: T): pass\n', ["a"]),
    ("def f[T\u00e9](a: T\u00e9, b: int): pass\n", ["a", "b"]),
    ("def f[\n  T\u00e9,\n](a, b): pass\n", ["a", "b"]),
    # Windows line ends, and a form feed (not a line break for Python).
    ("def f[T](x: T) -> T:\r\n    return x\r\n", ["x"]),
    ("def f[\r\n    T\r\n](x: T) -> T:\r\n    return x\r\n", ["x"]),
    ("x = 1\n\x0c\ndef f[T](a: T): pass\n", ["a"]),
    ("'''doc\u2028string'''\ndef f[T](a: T): pass\n", ["a"]),
]


@pytest.mark.parametrize(("source", "params"), PEP695)
def test_pep695_parses_with_exact_positions(source: str, params: list[str]) -> None:
    tree = parse_source(source, "new.py")
    found = args_at(tree)
    for name in params:
        assert found[name] == position(source, f"{name}", _param_occurrence(source, name)), name
    try:  # where the interpreter knows the syntax itself, its positions are the same
        native = ast.parse(source)
    except SyntaxError:
        return
    assert args_at(native) == found


def _param_occurrence(source: str, name: str) -> int:
    """Which occurrence of ``name`` is the parameter: the first one after an opening ``(`` or a
    separator of a parameter list (the type parameters use the same names)."""
    index = -1
    occurrence = -1
    while True:
        index = source.index(name, index + 1)
        occurrence += 1
        before = source[:index].rstrip(" \n*")
        inside_params = before.endswith(("(", ",")) and source.rfind("(", 0, index) > source.rfind(
            "[", 0, index)
        after = source[index + len(name):index + len(name) + 1]
        if inside_params and after in (":", ",", ")", " ", "\n", "="):
            return occurrence


def test_pep695_keeps_the_rest_of_the_module() -> None:
    source = "type X = int; y = 1\nclass C[T]:\n    attr: int = 0\n"
    tree = parse_source(source)
    assert names_at(tree)["y"] == [position(source, "y =")]
    type_alias = getattr(ast, "TypeAlias", ast.Pass)  # Python 3.12 represents it
    (assign, cls) = [n for n in tree.body if not isinstance(n, (ast.Pass, type_alias))]
    assert isinstance(assign, ast.Assign) and isinstance(cls, ast.ClassDef)
    assert cls.name == "C" and (cls.lineno, cls.col_offset) == (2, 0)


def test_pep695_statement_after_multiline_alias_keeps_its_column() -> None:
    source = "type X = list[\n    int\n]; y = 1\n"
    tree = parse_source(source)
    assert names_at(tree)["y"] == [position(source, "y =")]


def test_pep695_with_a_genuine_syntax_error_elsewhere() -> None:
    source = "def f[T](x: T) -> T:\n    return x\n\nx = = 1\n"
    with pytest.raises(ParseFailure) as error:
        parse_source(source)
    assert "\n" not in str(error.value)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 knows the syntax itself")
def test_newer_syntax_that_cannot_be_rewritten() -> None:
    source = 'def f[T](x: T) -> T:\n    return f"{x["key"]}"\n'  # PEP 701 f-string
    with pytest.raises(ParseFailure) as error:
        parse_source(source)
    assert "\n" not in str(error.value)


def test_pep695_fixture() -> None:
    source = (FIXTURES / "newer" / "generics.py").read_text(encoding="utf-8")
    tree = parse_source(source, "generics.py")
    positions = args_at(tree)
    assert positions["items"] == position(source, "items: ")
    assert positions["key"] == position(source, "key: ")
    assert positions["value"] == position(source, "value: ")
    defs = {n.name: n.lineno for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert defs["Registry"] == position(source, "class Registry")[0]
    assert defs["first"] == position(source, "def first")[0]


# -- deep nesting -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "source",
    [
        "x = " + "(" * 300 + "1" + ")" * 300 + "\n",
        "x = " + "[" * 150 + "]" * 150 + "\n",
        "x = " + "-" * 100_000 + "1\n",
        "x = " + " + ".join(["a"] * 100_000) + "\n",
        "x = a" + ".b" * 100_000 + "\n",
        "x = f" + "()" * 100_000 + "\n",
        "x = " + "not " * 50_000 + "y\n",
        "x = " + "f(" * 1_000 + ")" * 1_000 + "\n",
        "x = " + "{'a': " * 300 + "1" + "}" * 300 + "\n",
        "x = " + "lambda: " * 5_000 + "1\n",
        "".join("    " * i + "if a:\n" for i in range(99)) + "    " * 99 + "pass\n",
        "".join("    " * i + "if a:\n" for i in range(120)) + "    " * 120 + "pass\n",
    ],
    ids=["parens", "lists", "unary", "chain", "attributes", "calls", "not", "nested-calls",
         "dicts", "lambdas", "blocks", "too-many-blocks"],
)
def test_deep_nesting_does_not_crash(source: str) -> None:
    try:
        tree = parse_source(source)
    except ParseFailure as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(tree, ast.Module)


def test_deep_nesting_with_pep695_does_not_crash() -> None:
    source = "def f[T](x: T): pass\nx = " + "f(" * 300 + ")" * 300 + "\n"
    with pytest.raises(ParseFailure):
        parse_source(source)
