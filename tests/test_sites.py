"""Tests for typeseer.sites: the DESIGN.md site key contract and the context sites carry."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from typeseer.parsing import parse_source
from typeseer.sites import (
    BindingKind,
    ImportRef,
    ModuleSites,
    Site,
    SiteKey,
    SiteKind,
    build_scopes,
    extract_sites,
    usage_slice,
)

FIXTURES = Path(__file__).parent / "fixtures"

Key = tuple[str, str, str]  # (scope, kind, name): the key without the file


def extract(source: str, file: str = "m.py", module_name: str = "m",
            is_package: bool = False) -> ModuleSites:
    source = textwrap.dedent(source)
    return extract_sites(file, source, parse_source(source, file), module_name, is_package)


def keys(source: str) -> list[Key]:
    return [(s.scope, s.kind.value, s.name) for s in extract(source).sites]


def key_set(source: str, kind: str | None = None) -> set[Key]:
    return {k for k in keys(source) if kind is None or k[1] == kind}


def names(source: str, kind: str, scope: str | None = None) -> set[str]:
    return {n for s, k, n in keys(source) if k == kind and (scope is None or s == scope)}


def the_site(module: ModuleSites, scope: str, kind: str, name: str) -> Site:
    (found,) = [s for s in module.sites if s.key[1:] == (scope, kind, name)]
    return found


def at(source: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    """(line, column) of the ``occurrence``-th ``needle`` in the dedented ``source``."""
    source = textwrap.dedent(source)
    index = -1
    for _ in range(occurrence + 1):
        index = source.index(needle, index + 1)
    before = source[:index]
    return before.count("\n") + 1, len(before.rpartition("\n")[2].encode("utf-8"))


# -- params -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(a, b): pass", {"a", "b"}),
        ("def f(): pass", set()),
        ("def f(a, /, b, *, c): pass", {"a", "b", "c"}),  # no sites for the / and * markers
        ("def f(*args, **kwargs): pass", {"args", "kwargs"}),
        ("def f(a, *args, key=None, **kw): pass", {"a", "args", "key", "kw"}),
        ("def f(*, only): pass", {"only"}),
        ("def f(a, b=1, /, c=2, *d, e, f=3, **g): pass", set("abcdefg")),
        ("async def f(x): pass", {"x"}),
        ("f = lambda x, y: x + y", set()),  # lambdas have no sites
    ],
)
def test_function_params(source: str, expected: set[str]) -> None:
    assert names(source, "param") == expected


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("def m(self, x): pass", {"x"}),
        ("def m(this, x): pass", {"x"}),  # the first parameter, whatever its name
        ("def m(self, /, x): pass", {"x"}),
        ("def m(self, *args, **kwargs): pass", {"args", "kwargs"}),
        ("def m(*args): pass", {"args"}),  # no instance parameter to skip
        ("def m(**kwargs): pass", {"kwargs"}),
        ("def m(self): pass", set()),
        ("@classmethod\ndef m(cls, x): pass", {"x"}),
        ("@staticmethod\ndef m(x, y): pass", {"x", "y"}),  # staticmethod keeps its first param
        ("@builtins.staticmethod\ndef m(x): pass", {"x"}),
        ("@property\ndef m(self): pass", set()),
        ("@m.setter\ndef m(self, value): pass", {"value"}),
        ("@functools.cached_property\ndef m(self): pass", set()),
        ("@other\n@staticmethod\ndef m(x): pass", {"x"}),
        ("async def m(self, x): pass", {"x"}),
    ],
)
def test_method_params(method: str, expected: set[str]) -> None:
    source = "class C:\n" + textwrap.indent(method, "    ") + "\n"
    assert names(source, "param", "C.m") == expected


def test_function_nested_in_method_keeps_its_first_param() -> None:
    source = """\
        class C:
            def m(self):
                def helper(self, x):
                    return x
                return helper
        """
    assert names(source, "param", "C.m.<locals>.helper") == {"self", "x"}


def test_params_of_nested_class_methods() -> None:
    source = """\
        def factory():
            class Local:
                def m(self, x): pass
            return Local
        """
    assert names(source, "param", "factory.<locals>.Local.m") == {"x"}


def test_param_positions_defaults_annotations() -> None:
    source = """\
        def f(a, b: int, c: 'List[str]' = [], *args: int, d=None, e: dict[str, int] = {},
              **kw: object) -> None:
            pass
        """
    module = extract(source)
    expected = {
        "a": (None, None),
        "b": ("int", None),
        "c": ("'List[str]'", "[]"),
        "args": ("int", None),
        "d": (None, "None"),
        "e": ("dict[str, int]", "{}"),
        "kw": ("object", None),
    }
    needles = {"a": "a,", "b": "b:", "c": "c:", "args": "args:", "d": "d=", "e": "e:",
               "kw": "kw:"}
    for name, (annotation, default) in expected.items():
        site = the_site(module, "f", "param", name)
        assert (site.annotation, site.default) == (annotation, default), name
        assert (site.line, site.col) == at(source, needles[name]), name
        assert site.kind is SiteKind.PARAM
    assert the_site(module, "f", "return", "").annotation == "None"


def test_positional_only_defaults_line_up() -> None:
    module = extract("def f(a, b=1, /, c=2, *, d, e=3): pass\n")
    defaults = {s.name: s.default for s in module.sites if s.kind is SiteKind.PARAM}
    assert defaults == {"a": None, "b": "1", "c": "2", "d": None, "e": "3"}


def test_annotation_and_default_text_is_unparsed_source() -> None:
    module = extract("def f(x: Optional[\n    int\n] = some.call(1,  2)) -> 'Foo': pass\n")
    site = the_site(module, "f", "param", "x")
    assert site.annotation == "Optional[int]"
    assert site.default == "some.call(1, 2)"
    assert the_site(module, "f", "return", "").annotation == "'Foo'"


# -- returns ----------------------------------------------------------------------------------

def test_returns() -> None:
    source = """\
        def f(): pass
        async def g() -> int: return 1
        class C:
            @property
            def p(self) -> str: return ""
            def __init__(self): pass
        h = lambda: 1
        """
    module = extract(source)
    returns = [(s.scope, s.name, s.annotation, s.line, s.col)
               for s in module.sites if s.kind is SiteKind.RETURN]
    assert returns == [
        ("f", "", None, 1, 0),
        ("g", "", "int", 2, 0),
        ("C.p", "", "str", 5, 4),  # the def line, not the decorator's
        ("C.__init__", "", None, 6, 4),
    ]


# -- qualnames --------------------------------------------------------------------------------

def test_qualnames() -> None:
    source = """\
        x = 1
        class Cache:
            def get(self): pass
            class Entry:
                def touch(self): pass
        def outer():
            def inner():
                def innermost(): pass
            class Local:
                def method(self): pass
        async def main(): pass
        """
    scopes = {s for s, _, _ in keys(source)}
    assert scopes == {"<module>", "Cache.get", "Cache.Entry.touch", "outer",
                      "outer.<locals>.inner", "outer.<locals>.inner.<locals>.innermost",
                      "outer.<locals>.Local.method", "main"}


def test_scope_tree() -> None:
    source = "class A:\n    def m(self):\n        def f(): pass\n"
    root = build_scopes(ast.parse(source))
    assert [(s.kind, s.qualname) for s in root.walk()] == [
        ("module", "<module>"), ("class", "A"), ("function", "A.m"),
        ("function", "A.m.<locals>.f")]
    method = root.defs["A"].defs["m"]
    assert method.self_name == "self"
    assert method.enclosing_class is root.defs["A"]
    assert method.defs["f"].enclosing_class is None


# -- variables --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("x = 1", {"x"}),
        ("x = y = 1", {"x", "y"}),
        ("x: int = 1", {"x"}),
        ("x: int", {"x"}),  # a declaration is an annotated assignment without a value
        ("x += 1", {"x"}),
        ("for i in range(3): pass", {"i"}),
        ("for i, (j, k) in pairs: pass", {"i", "j", "k"}),
        ("async def g():\n    async for i in it: pass", set()),  # in g's scope
        ("with open(p) as f: pass", {"f"}),
        ("with a as (b, c), d as e: pass", {"b", "c", "e"}),
        ("with lock: pass", set()),
        ("if (n := len(x)) > 1: pass", {"n"}),
        ("a, b = 1, 2", {"a", "b"}),
        ("(a, b), c = t", {"a", "b", "c"}),
        ("[a, b] = t", {"a", "b"}),
        ("first, *rest = t", {"first", "rest"}),
        ("obj.attr = 1", set()),  # not a name
        ("d[k] = 1", set()),
        ("d[k], x = 1, 2", {"x"}),
        ("ys = [y for y in xs]", {"ys"}),  # comprehension variables are not sites
        ("s = {k: v for k, v in items if k}", {"s"}),
        ("g = (z for z in zs)", {"g"}),
        ("total = [last := v for v in xs]", {"total", "last"}),  # walrus binds outside
        ("import os", set()),
        ("from os import path as p", set()),
        ("def f(): pass", set()),
        ("class C: pass", set()),
        ("try:\n    pass\nexcept E as error:\n    pass", set()),
        ("del x", set()),
    ],
)
def test_module_variables(statement: str, expected: set[str]) -> None:
    assert names(statement + "\n", "variable", "<module>") == expected


def test_variable_site_at_first_binding_once_per_scope() -> None:
    source = """\
        total = 0
        for total in range(3):
            total += 1
        total: int = 5
        """
    module = extract(source)
    sites = [s for s in module.sites if s.name == "total"]
    assert len(sites) == 1
    (site,) = sites
    assert site.key == SiteKey("m.py", "<module>", "variable", "total")
    assert (site.line, site.col) == (1, 0)
    assert site.annotation == "int"  # the annotation found on any binding


def test_variable_position_is_the_target() -> None:
    source = "if True:\n    a, (b, c) = f()\n    with x as y: pass\n    z = (w := 1)\n"
    module = extract(source)
    positions = {s.name: (s.line, s.col) for s in module.sites}
    for name, needle in {"a": "a,", "b": "b,", "c": "c)", "y": "y:", "w": "w :="}.items():
        assert positions[name] == at(source, needle), name
    assert positions["z"] == (4, 4)


def test_variables_are_per_scope() -> None:
    source = """\
        x = 1
        class C:
            x = 2
            def m(self):
                x = 3
                def inner():
                    x = 4
        def f():
            x = 5
        """
    assert key_set(source, "variable") == {
        ("<module>", "variable", "x"), ("C", "variable", "x"), ("C.m", "variable", "x"),
        ("C.m.<locals>.inner", "variable", "x"), ("f", "variable", "x")}


def test_class_variables() -> None:
    source = """\
        class Config:
            debug: bool = False
            level = 3
            names: list[str]
            for _i in range(2): pass
        """
    module = extract(source)
    variables = {s.name: s.annotation for s in module.sites if s.kind is SiteKind.VARIABLE}
    assert variables == {"debug": "bool", "level": None, "names": "list[str]", "_i": None}
    assert {s.scope for s in module.sites} == {"Config"}


def test_global_declared_in_a_function_belongs_to_the_module() -> None:
    source = """\
        counter = 0
        def bump():
            global counter, created
            counter += 1
            created = True
            local = 1
        """
    module = extract(source)
    assert key_set(source, "variable") == {
        ("<module>", "variable", "counter"), ("<module>", "variable", "created"),
        ("bump", "variable", "local")}
    assert (the_site(module, "<module>", "variable", "counter").line) == 1
    created = the_site(module, "<module>", "variable", "created")
    assert (created.line, created.col) == at(source, "created =")


def test_global_only_affects_its_own_function() -> None:
    source = """\
        def f():
            global g
            g = 1
            def inner():
                g = 2
        """
    assert key_set(source, "variable") == {
        ("<module>", "variable", "g"), ("f.<locals>.inner", "variable", "g")}


def test_nonlocal_is_not_a_site() -> None:
    source = """\
        def outer():
            count = 0
            def inner():
                nonlocal count
                count += 1
                count = 5
                other = 1
            return inner
        """
    assert key_set(source, "variable") == {
        ("outer", "variable", "count"), ("outer.<locals>.inner", "variable", "other")}


@pytest.mark.parametrize(
    "body",
    [
        "x = x + 1",
        "x: int = 2",
        "x += 1",
        "for x in range(3): pass",
        "with open(x) as x: pass",
        "if (x := 3): pass",
        "x, y = 1, 2",
    ],
)
def test_reassigned_params_are_not_variable_sites(body: str) -> None:
    source = f"def f(x, *args):\n    {body}\n    args = ()\n"
    assert key_set(source, "variable") - {("f", "variable", "y")} == set()
    assert names(source, "param", "f") == {"x", "args"}


def test_bindings_record_how_a_name_is_bound() -> None:
    source = """\
        a, (b, *c) = value
        d: int = 1
        e: str
        for f in items: pass
        with ctx as g: pass
        h = 0
        h += 1
        if (i := 2): pass
        """
    root = build_scopes(ast.parse(textwrap.dedent(source)))
    bindings = root.bindings
    assert [b.kind for b in bindings["h"]] == [BindingKind.ASSIGN, BindingKind.AUGMENTED]
    assert bindings["a"][0].path == (0,)
    assert bindings["b"][0].path == (1, 0)
    assert bindings["c"][0].path == (1, 1) and bindings["c"][0].starred
    assert not bindings["b"][0].starred
    assert bindings["d"][0].kind is BindingKind.ANNOTATED
    assert bindings["e"][0].kind is BindingKind.DECLARATION and bindings["e"][0].value is None
    assert bindings["f"][0].kind is BindingKind.FOR
    assert bindings["g"][0].kind is BindingKind.WITH
    assert bindings["i"][0].kind is BindingKind.WALRUS
    value = bindings["a"][0].value
    assert isinstance(value, ast.Name) and value.id == "value"
    annotation = bindings["d"][0].annotation
    assert isinstance(annotation, ast.Name) and annotation.id == "int"


def test_function_scope_records_returns_and_yields() -> None:
    source = "def g():\n    yield 1\n    return\ndef f():\n    return [x for x in (yield)]\n"
    root = build_scopes(ast.parse(source))
    g, f = root.defs["g"], root.defs["f"]
    assert len(g.yields) == 1 and len(g.returns) == 1
    assert len(f.returns) == 1


# -- attributes -------------------------------------------------------------------------------

def test_attributes_one_site_per_class_and_name() -> None:
    source = """\
        class Cache:
            def __init__(self, size):
                self.size = size
                self.items = {}
            def clear(self):
                self.items = {}
                self.cleared = True
            def get(self, key):
                return self.items[key]
        """
    module = extract(source)
    attributes = [s for s in module.sites if s.kind is SiteKind.ATTRIBUTE]
    assert [(s.scope, s.name) for s in attributes] == [
        ("Cache", "size"), ("Cache", "items"), ("Cache", "cleared")]
    items = the_site(module, "Cache", "attribute", "items")
    assert (items.line, items.col) == at(source, "self.items")  # first binding
    assert items.uses == (at(source, "self.items[key]"),)


def test_attribute_annotations() -> None:
    source = """\
        class Node:
            parent: Optional[Node]
            label: str = ""
            def __init__(self, value):
                self.parent = None
                self.value: int = value
                self.label = "x"
                self.children = []
        """
    module = extract(source)
    annotations = {s.name: s.annotation for s in module.sites if s.kind is SiteKind.ATTRIBUTE}
    assert annotations == {
        "parent": "Optional[Node]",  # from the class-level declaration
        "value": "int",
        "label": "str",  # from the class-level annotated assignment
        "children": None,
    }


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("def m(self):\n    self.x = 1", {"x"}),
        ("def m(this):\n    this.x = 1", {"x"}),
        ("def m(self):\n    self.x: int = 1", {"x"}),
        ("def m(self):\n    self.x, self.y = 1, 2", {"x", "y"}),
        ("def m(self):\n    for self.i in range(3): pass", {"i"}),
        ("def m(self):\n    with ctx as self.handle: pass", {"handle"}),
        ("def m(self):\n    self.x.y = 1", set()),  # an attribute of an attribute
        ("def m(self):\n    self.items[0] = 1", set()),
        ("def m(self):\n    other.x = 1", set()),
        ("def m(self, other):\n    other.x = 1", set()),
        ("@classmethod\ndef m(cls):\n    cls.x = 1", set()),
        ("@staticmethod\ndef m(self):\n    self.x = 1", set()),
        ("def m(self):\n    def inner():\n        self.x = 1", set()),
        ("def m(self):\n    return self.x", set()),  # a use, not a binding
    ],
)
def test_attribute_bindings(method: str, expected: set[str]) -> None:
    source = "class C:\n" + textwrap.indent(method, "    ") + "\n"
    assert names(source, "attribute", "C") == expected
    assert {s for s, k, _ in keys(source) if k == "attribute"} <= {"C"}


def test_attributes_of_nested_classes() -> None:
    source = """\
        class Outer:
            def __init__(self):
                self.a = 1
            class Inner:
                def __init__(self):
                    self.b = 2
        def make():
            class Local:
                def __init__(self):
                    self.c = 3
        """
    assert key_set(source, "attribute") == {
        ("Outer", "attribute", "a"), ("Outer.Inner", "attribute", "b"),
        ("make.<locals>.Local", "attribute", "c")}


def test_attribute_scopes_point_to_the_method() -> None:
    source = "class C:\n    def m(self):\n        self.x = 1\n"
    root = build_scopes(ast.parse(source))
    cls = root.defs["C"]
    (binding,) = cls.attr_bindings["x"]
    assert cls.attr_scopes[(binding.line, binding.col)] is cls.defs["m"]


# -- decorators -------------------------------------------------------------------------------

def test_decorators() -> None:
    source = """\
        class C:
            @functools.lru_cache(maxsize=None)
            @staticmethod
            def f(x): pass
            def g(self): pass
        """
    module = extract(source)
    expected = ("functools.lru_cache(maxsize=None)", "staticmethod")
    assert the_site(module, "C.f", "param", "x").decorators == expected
    assert the_site(module, "C.f", "return", "").decorators == expected
    assert the_site(module, "C.g", "return", "").decorators == ()


# -- key uniqueness ---------------------------------------------------------------------------

def test_keys_are_unique_for_property_getters_and_setters() -> None:
    source = """\
        class C:
            @property
            def value(self) -> int:
                result = self._value
                return result
            @value.setter
            def value(self, new: int) -> None:
                result = new
                self._value = result
        """
    module = extract(source)
    site_keys = [s.key for s in module.sites]
    assert len(site_keys) == len(set(site_keys))
    returns = [s for s in module.sites if s.key == ("m.py", "C.value", "return", "")]
    assert [(s.line, s.annotation) for s in returns] == [(3, "int")]  # the getter's
    assert the_site(module, "C.value", "param", "new").annotation == "int"


def test_overloads_are_not_sites() -> None:
    source = """\
        from typing import overload
        @overload
        def parse(x: int) -> int: ...
        @typing.overload
        def parse(x: str) -> str: ...
        def parse(x):
            return x
        """
    module = extract(source)
    parse_sites = [s for s in module.sites if s.scope == "parse"]
    assert [(s.kind.value, s.name, s.line, s.annotation) for s in parse_sites] == [
        ("return", "", 6, None), ("param", "x", 6, None)]


def test_keys_unique_for_conditional_definitions() -> None:
    source = """\
        import sys
        if sys.version_info >= (3, 12):
            def f(x: int) -> int:
                return x
        else:
            def f(x):
                return x
        """
    module = extract(source)
    assert len({s.key for s in module.sites}) == len(module.sites)
    assert the_site(module, "f", "param", "x").annotation == "int"


# -- uses and the usage slice -----------------------------------------------------------------

def test_param_uses_include_nested_functions_that_do_not_rebind() -> None:
    source = """\
        def f(key):
            print(key)
            def reads():
                return key
            def shadows(key):
                return key
            def rebinds():
                key = 1
                return key
            return [key for _ in range(2)]
        """
    module = extract(source)
    site = the_site(module, "f", "param", "key")
    assert sorted(site.uses) == [(2, 10), (4, 15), (10, 12)]


def test_module_variable_used_in_methods() -> None:
    source = """\
        LIMIT = 3
        class C:
            size = LIMIT
            def m(self):
                return LIMIT
        """
    module = extract(source)
    uses = the_site(module, "<module>", "variable", "LIMIT").uses
    assert sorted(uses) == [(3, 11), (5, 15)]


def test_class_variable_uses_exclude_methods() -> None:
    # Methods do not see class-body names: ``size`` in ``m`` is the module's.
    source = """\
        size = 0
        class C:
            size = 3
            double = size * 2
            def m(self):
                return size
        """
    module = extract(source)
    assert the_site(module, "C", "variable", "size").uses == (at(source, "size * 2"),)
    assert the_site(module, "<module>", "variable", "size").uses == (at(source, "size\n"),)


def test_comprehension_variables_are_not_uses() -> None:
    source = """\
        row = 0
        cells = [cell for row in table for cell in row if row]
        total = sum(row for row in rows)
        """
    module = extract(source)
    assert the_site(module, "<module>", "variable", "row").uses == ()


def test_comprehension_first_iterable_is_a_use() -> None:
    source = "rows = []\ncells = [c for row in rows for c in row]\n"
    module = extract(source)
    assert the_site(module, "<module>", "variable", "rows").uses == (at(source, "rows for"),)


def test_usage_slice_windows() -> None:
    source = """\
        def f(items):
            total = len(items) + 1
            for item in items:
                print(item)
        """
    module = extract(source)
    site = the_site(module, "f", "param", "items")
    windows = usage_slice(module.lines, site, width=2)
    assert windows == [["len", "(", "items", ")", "+"], ["item", "in", "items", ":"]]
    assert usage_slice(module.lines, site, width=2, limit=1) == windows[:1]
    assert usage_slice(module.lines, site) == [
        ["total", "=", "len", "(", "items", ")", "+", "1"], ["for", "item", "in", "items", ":"]]


def test_usage_slice_after_non_ascii_text() -> None:
    source = "def f(x):\n    s = 'h\u00e9\u00e9\u00e9llo' + x.upper()\n"
    module = extract(source)
    site = the_site(module, "f", "param", "x")
    (window,) = usage_slice(module.lines, site, width=2)
    assert window == ["'h\u00e9\u00e9\u00e9llo'", "+", "x", ".", "upper"]


def test_usage_slice_after_a_form_feed() -> None:
    # A form feed is whitespace for Python, not a line break.
    source = "x = 1\n\x0c\ndef f(p):\n    return p + 1\n"
    module = extract(source)
    assert len(module.lines) == 4
    site = the_site(module, "f", "param", "p")
    assert usage_slice(module.lines, site, width=1) == [["return", "p", "+"]]


def test_usage_slice_ignores_out_of_range_uses() -> None:
    module = extract("def f(p):\n    return p\n")
    site = the_site(module, "f", "param", "p")
    assert usage_slice([], site) == []


def test_usage_slice_of_a_site_without_uses() -> None:
    module = extract("def f(p):\n    pass\n")
    assert usage_slice(module.lines, the_site(module, "f", "param", "p")) == []


# -- imports ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("module_name", "is_package", "statement", "alias", "expected"),
    [
        ("pkg.mod", False, "from . import sibling", "sibling", ("pkg", "sibling")),
        ("pkg.mod", False, "from .sibling import thing", "thing", ("pkg.sibling", "thing")),
        ("pkg.sub.mod", False, "from .. import x", "x", ("pkg", "x")),
        ("pkg.sub.mod", False, "from ..other import y as z", "z", ("pkg.other", "y")),
        ("pkg.sub.mod", False, "from ...top import t", "t", ("top", "t")),
        ("pkg", True, "from . import mod", "mod", ("pkg", "mod")),
        ("pkg", True, "from .mod import f", "f", ("pkg.mod", "f")),
        ("pkg.sub", True, "from .. import x", "x", ("pkg", "x")),
        ("mod", False, "from . import x", "x", ("", "x")),
        ("pkg.mod", False, "from os import path", "path", ("os", "path")),
        ("pkg.mod", False, "from os.path import join as j", "j", ("os.path", "join")),
        ("pkg.mod", False, "import os.path", "os", ("os", None)),
        ("pkg.mod", False, "import os.path as osp", "osp", ("os.path", None)),
        ("pkg.mod", False, "import json", "json", ("json", None)),
    ],
)
def test_imports_resolved(module_name: str, is_package: bool, statement: str, alias: str,
                          expected: tuple[str, str | None]) -> None:
    source = statement + "\n"
    root = build_scopes(ast.parse(source), module_name, is_package)
    ref = root.imports[alias]
    assert (ref.module, ref.attr) == expected
    assert ref == ImportRef(expected[0], expected[1], 1)


def test_star_imports_and_function_imports() -> None:
    source = "from os import *\ndef f():\n    from .util import helper\n"
    root = build_scopes(ast.parse(source), "pkg.mod")
    assert root.imports == {}
    assert root.defs["f"].imports == {"helper": ImportRef("pkg.util", "helper", 3)}


# -- whole modules ----------------------------------------------------------------------------

def test_sites_are_in_source_order_with_file_keys() -> None:
    source = (FIXTURES / "sites" / "cache.py").read_text(encoding="utf-8")
    module = extract_sites("pkg/cache.py", source, parse_source(source), "pkg.cache")
    positions = [(s.line, s.col) for s in module.sites]
    assert positions == sorted(positions)
    assert {s.file for s in module.sites} == {"pkg/cache.py"}
    assert all(isinstance(s.key, SiteKey) and s.key.file == "pkg/cache.py"
               for s in module.sites)
    assert len({s.key for s in module.sites}) == len(module.sites)
    assert module.file == "pkg/cache.py"
    assert module.lines == source.split("\n")[:-1]


CACHE_FIXTURE_SITES: list[tuple[str, str, str, str | None]] = [
    ("<module>", "variable", "DEFAULT_CAPACITY", None),
    ("<module>", "variable", "hits", "int"),
    ("Cache", "variable", "capacity", "int"),
    ("Cache", "variable", "name", None),
    ("Cache.__init__", "return", "", "None"),
    ("Cache.__init__", "param", "capacity", None),
    ("Cache.__init__", "param", "name", "str"),
    ("Cache", "attribute", "capacity", "int"),
    ("Cache", "attribute", "_items", "OrderedDict[str, object]"),
    ("Cache", "attribute", "name", None),
    ("Cache.get", "return", "", "Optional[object]"),
    ("Cache.get", "param", "key", "str"),
    ("Cache.get", "param", "default", None),
    ("Cache.get", "variable", "item", None),
    ("Cache.put", "return", "", None),
    ("Cache.put", "param", "key", None),
    ("Cache.put", "param", "value", None),
    ("Cache.put", "variable", "oldest", None),
    ("Cache.put", "variable", "_", None),
    ("Cache.size", "return", "", None),
    ("Cache.merge", "return", "", None),
    ("Cache.merge", "param", "first", None),
    ("Cache.merge", "param", "second", None),
    ("Cache.merge", "param", "rest", None),
    ("Cache.merge", "param", "options", None),
    ("Cache.merge", "variable", "merged", None),
    ("Cache.merge", "variable", "cache", None),
    ("Cache.merge", "variable", "key", None),
    ("Cache.merge", "variable", "value", None),
    ("Cache.default", "return", "", None),
    ("memoize", "return", "", None),
    ("memoize", "param", "function", None),
    ("memoize", "variable", "cache", None),
    ("memoize.<locals>.wrapper", "return", "", None),
    ("memoize.<locals>.wrapper", "param", "args", None),
    ("memoize.<locals>.wrapper", "variable", "key", None),
    ("memoize.<locals>.wrapper", "variable", "sink", None),
    ("memoize.<locals>.wrapper", "variable", "result", None),
]


def test_cache_fixture_sites() -> None:
    source = (FIXTURES / "sites" / "cache.py").read_text(encoding="utf-8")
    module = extract_sites("pkg/cache.py", source, parse_source(source), "pkg.cache")
    assert [(s.scope, s.kind.value, s.name, s.annotation) for s in module.sites] == \
        CACHE_FIXTURE_SITES
    assert module.scope.imports["events"] == ImportRef("pkg", "events", 9)
    assert module.scope.imports["norm"] == ImportRef("pkg.util.text", "normalise_key", 10)
    init = the_site(module, "Cache.__init__", "param", "capacity")
    assert init.default == "DEFAULT_CAPACITY"
    assert the_site(module, "Cache.__init__", "param", "name").default == "'cache'"
    default = the_site(module, "Cache.default", "return", "")
    assert default.decorators == ("classmethod", "functools.lru_cache(maxsize=None)")
    # ``global hits`` in Cache.get: the module's ``hits`` is used there.
    hits = the_site(module, "<module>", "variable", "hits")
    assert hits.uses == (at(source, "hits += 1"),)


def test_sites_of_pep695_code_keep_positions() -> None:
    source = (FIXTURES / "newer" / "generics.py").read_text(encoding="utf-8")
    module = extract_sites("generics.py", source, parse_source(source), "generics")
    register = {s.name: (s.line, s.col) for s in module.sites if s.scope == "Registry.register"}
    assert register["key"] == at(source, "key: K")
    assert register["handler"] == at(source, "handler: H")
    assert register[""] == at(source, "def register")
    entries = the_site(module, "Registry", "attribute", "entries")
    assert (entries.line, entries.col) == at(source, "self.entries:")
    assert entries.annotation == "dict[K, V]"


def test_empty_module() -> None:
    module = extract("")
    assert module.sites == [] and module.lines == []


def test_deeply_nested_expressions_do_not_crash() -> None:
    source = "def f(a):\n    return " + " + ".join(["a"] * 2500) + "\n" + \
        "x = y" + ".attr" * 2000 + "\n" + "z = g" + "().m" * 1000 + "\n"
    module = extract(source)
    assert len(the_site(module, "f", "param", "a").uses) == 2500
    assert {s.name for s in module.sites} == {"", "a", "x", "z"}


def test_deeply_nested_defaults_and_annotations_do_not_crash() -> None:
    deep = " + ".join(["1"] * 1000)
    module = extract(f"def f(a={deep}, b: {' | '.join(['int'] * 1000)} = 1): pass\n")
    assert {s.name for s in module.sites} == {"", "a", "b"}
    site = the_site(module, "f", "param", "a")
    assert site.default is not None
