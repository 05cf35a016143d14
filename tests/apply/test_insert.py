"""Insertion forms, independent of inference: given types for given sites, the exact text.

Like LibCST's ``assert_codemod``: dedented before/after pairs. Types are handed to the planner
as if inference had predicted them with full confidence.
"""

from __future__ import annotations

import ast
import textwrap

from typeseer.api import Prediction
from typeseer.apply.insert import ModuleRenderer
from typeseer.apply.names import ModuleNames, ProjectClasses
from typeseer.apply.options import PythonVersion
from typeseer.apply.plan import plan_module
from typeseer.config import Config
from typeseer.sites import extract_sites


def annotate(before: str, types: dict[tuple[str, str, str], str],
             config: Config | None = None) -> str:
    source = textwrap.dedent(before)
    sites = extract_sites("mod.py", source, ast.parse(source), "mod")
    names = ModuleNames(sites, "mod", ProjectClasses([("mod", sites)]))
    predictions = [Prediction("mod.py", 0, 0, scope, kind, name, t, 1.0, "model")
                   for (scope, kind, name), t in types.items()]
    plan = plan_module(sites, names, predictions, config or Config(), 0)
    assert not plan.skipped, plan.skipped
    return ModuleRenderer(source, "mod").render(plan.edits)


def check(before: str, after: str, types: dict[tuple[str, str, str], str]) -> None:
    assert annotate(before, types) == textwrap.dedent(after)


def test_star_args_and_kwargs() -> None:
    check("""\
        def f(a, *args, b=1, **kwargs):
            pass
        """, """\
        def f(a: str, *args: int, b: int = 1, **kwargs: object) -> None:
            pass
        """, {("f", "param", "a"): "str", ("f", "param", "args"): "int",
              ("f", "param", "b"): "int", ("f", "param", "kwargs"): "object",
              ("f", "return", ""): "None"})


def test_positional_only_and_keyword_only() -> None:
    check("""\
        def f(a, /, b, *, c=None):
            pass
        """, """\
        def f(a: int, /, b: str, *, c: bytes | None = None):
            pass
        """, {("f", "param", "a"): "int", ("f", "param", "b"): "str",
              ("f", "param", "c"): "bytes"})  # a None default admits None


def test_multiline_signature_keeps_its_layout() -> None:
    check("""\
        def f(
            first,  # the first
            second=2,
        ):
            return first
        """, """\
        def f(
            first: str,  # the first
            second: int = 2,
        ) -> str:
            return first
        """, {("f", "param", "first"): "str", ("f", "param", "second"): "int",
              ("f", "return", ""): "str"})


def test_async_nested_and_decorated_functions() -> None:
    check("""\
        import functools


        async def outer():
            def inner(x):
                return x

            return inner(1)


        class C:
            @property
            def size(self):
                return 1

            @functools.cache
            async def load(self, key):
                return key
        """, """\
        import functools


        async def outer() -> int:
            def inner(x: int) -> int:
                return x

            return inner(1)


        class C:
            @property
            def size(self) -> int:
                return 1

            @functools.cache
            async def load(self, key: str) -> str:
                return key
        """, {("outer", "return", ""): "int", ("outer.<locals>.inner", "param", "x"): "int",
              ("outer.<locals>.inner", "return", ""): "int", ("C.size", "return", ""): "int",
              ("C.load", "param", "key"): "str", ("C.load", "return", ""): "str"})


def test_attributes_inline_and_declared() -> None:
    check("""\
        class Account:
            def __init__(self, owner):
                self.owner = owner
                self.history, self.flags = [], {}
                for self.cursor in range(3):
                    pass
        """, """\
        class Account:
            def __init__(self, owner):
                self.owner: str = owner
                self.history: list[int]
                self.flags: dict[str, int]
                self.history, self.flags = [], {}
                self.cursor: int
                for self.cursor in range(3):
                    pass
        """, {("Account", "attribute", "owner"): "str",
              ("Account", "attribute", "history"): "list[int]",
              ("Account", "attribute", "flags"): "dict[str, int]",
              ("Account", "attribute", "cursor"): "int"})


def test_variables_in_every_binding_form() -> None:
    check("""\
        import re

        TOTAL = 0  # running total
        a = b = 1


        def f(path, text):
            for i, line in enumerate(text):
                pass
            with open(path) as handle:
                pass
            if (m := re.match("x", text)) is not None:
                pass
            elif (n := len(text)) > 2:
                pass
            if text: count = 1
            if text: (k := 2)
            value = yield
            return m
        """, """\
        import re
        from io import TextIOWrapper

        TOTAL: int = 0  # running total
        a: int
        a = b = 1


        def f(path, text):
            i: int
            line: str
            for i, line in enumerate(text):
                pass
            handle: TextIOWrapper
            with open(path) as handle:
                pass
            m: re.Match[str] | None
            n: int
            if (m := re.match("x", text)) is not None:
                pass
            elif (n := len(text)) > 2:
                pass
            if text: count: int = 1
            k: int
            if text: (k := 2)
            value: str = yield
            return m
        """, {("<module>", "variable", "TOTAL"): "int", ("<module>", "variable", "a"): "int",
              ("f", "variable", "i"): "int", ("f", "variable", "line"): "str",
              ("f", "variable", "handle"): "TextIOWrapper",
              ("f", "variable", "m"): "Match[str] | None", ("f", "variable", "n"): "int",
              ("f", "variable", "count"): "int", ("f", "variable", "k"): "int",
              ("f", "variable", "value"): "str"})


def test_semicolons_and_crlf() -> None:
    before = "x = 1; y = 'a'\r\nz = 2\r\n"
    result = annotate(before, {("<module>", "variable", "x"): "int",
                               ("<module>", "variable", "y"): "str",
                               ("<module>", "variable", "z"): "int"})
    assert result == "x: int = 1; y: str = 'a'\r\nz: int = 2\r\n"


def test_imports_merge_into_existing_ones() -> None:
    check("""\
        \"\"\"Doc.\"\"\"
        from typing import Any


        def f(x):
            return x
        """, """\
        \"\"\"Doc.\"\"\"
        from typing import Literal, Any
        from collections.abc import Iterator


        def f(x: Iterator[int]) -> Literal['a']:
            return x
        """, {("f", "param", "x"): "Iterator[int]", ("f", "return", ""): "Literal['a']"})


def test_nothing_to_write_keeps_the_text() -> None:
    source = "def f(x):\n    return x\n"
    assert annotate(source, {}) == source


def test_self_is_only_written_in_methods() -> None:
    source = "def f(x):\n    return x\n\n\nclass C:\n    def g(self):\n        return self\n"
    types = {("f", "return", ""): "Self", ("C.g", "return", ""): "Self"}
    sites = extract_sites("mod.py", source, ast.parse(source), "mod")
    names = ModuleNames(sites, "mod", ProjectClasses([("mod", sites)]), PythonVersion(3, 11))
    predictions = [Prediction("mod.py", 0, 0, scope, kind, name, t, 1.0, "model")
                   for (scope, kind, name), t in types.items()]
    plan = plan_module(sites, names, predictions, Config(), 0)
    assert [e.key.scope for e in plan.edits] == ["C.g"]
    assert plan.skipped == {"Self outside a method": 1}
