"""Each static rule on a small real program, and the same program with the rule switched off."""

from __future__ import annotations

import pytest

from typeseer.static.rules import RULES, RuleSet

from .conftest import Infer

# (rule, source, (scope, kind, name), expected type)
CASES = [
    ("literal", "x = 1\n", ("<module>", "variable", "x"), "int"),
    ("literal", "x = b'a'\n", ("<module>", "variable", "x"), "bytes"),
    ("container_literal", "x = [1, 2]\n", ("<module>", "variable", "x"), "list[int]"),
    ("container_literal", "x = {'a': [1]}\n", ("<module>", "variable", "x"),
     "dict[str, list[int]]"),
    ("container_literal", "x = (1, 'a')\n", ("<module>", "variable", "x"), "tuple[int, str]"),
    ("comprehension", "x = [str(i) for i in range(3)]\n", ("<module>", "variable", "x"),
     "list[str]"),
    ("comprehension", "x = {k: len(k) for k in ['a']}\n", ("<module>", "variable", "x"),
     "dict[str, int]"),
    ("fstring", "n = 1\nx = f'{n}'\n", ("<module>", "variable", "x"), "str"),
    ("comparison", "def f(a, b):\n    return a < b\n", ("f", "return", ""), "bool"),
    ("boolean_op", "def f(a):\n    return not a\n", ("f", "return", ""), "bool"),
    ("arithmetic", "x = 1 / 2\n", ("<module>", "variable", "x"), "float"),
    ("arithmetic", "x = 'ab' * 2\n", ("<module>", "variable", "x"), "str"),
    ("typeshed_call", "import os.path\nx = os.path.join('a', 'b')\n",
     ("<module>", "variable", "x"), "str"),
    ("typeshed_call", "import re\nx = re.compile('a+')\n", ("<module>", "variable", "x"),
     "Pattern[str]"),
    ("typeshed_call", "x = 'a,b'.split(',')\n", ("<module>", "variable", "x"), "list[str]"),
    ("typeshed_constructor", "from pathlib import Path\nx = Path('a')\n",
     ("<module>", "variable", "x"), "Path"),
    ("typeshed_constructor", "x = list(range(3))\n", ("<module>", "variable", "x"), "list[int]"),
    ("typeshed_attribute", "import sys\nx = sys.argv\n", ("<module>", "variable", "x"),
     "list[str]"),
    ("project_constructor", "class User:\n    pass\nu = User()\n",
     ("<module>", "variable", "u"), "User"),
    ("project_call", "def f():\n    return 1\nx = f()\n", ("<module>", "variable", "x"), "int"),
    ("subscript", "t = (1, 'a')\nx = t[1]\n", ("<module>", "variable", "x"), "str"),
    ("iteration", "for x in ['a']:\n    pass\n", ("<module>", "variable", "x"), "str"),
    ("context_manager", "with open('f') as fh:\n    pass\n", ("<module>", "variable", "fh"),
     "TextIOWrapper"),
    ("await", "async def g():\n    return 1\nasync def f():\n    return await g()\n",
     ("f", "return", ""), "int"),
    ("existing_annotation", "def f(a: int):\n    return a\n", ("f", "return", ""), "int"),
    ("return_none", "def f():\n    print(1)\n", ("f", "return", ""), "None"),
    ("return_join", "def f(a):\n    if a:\n        return 1\n    return 'x'\n",
     ("f", "return", ""), "int | str"),
    ("generator", "def f():\n    yield 1\n", ("f", "return", ""), "Iterator[int]"),
    ("self_attribute", "class C:\n    def __init__(self):\n        self.n = 0\n",
     ("C", "attribute", "n"), "int"),
    ("optional_join", "x = None\nx = 'a'\n", ("<module>", "variable", "x"), "str | None"),
    ("variable_join", "x = 1\nx = 'a'\n", ("<module>", "variable", "x"), "int | str"),
    ("param_default", "def f(n=0):\n    pass\n", ("f", "param", "n"), "int"),
    ("param_default_none", "def f(n=None):\n    if n is None:\n        n = 'default'\n"
     "    return n\n", ("f", "param", "n"), "str | None"),
]


@pytest.mark.parametrize(("rule", "source", "key", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_derives_type(infer_types: Infer, rule: str, source: str,
                           key: tuple[str, str, str], expected: str) -> None:
    predictions = infer_types(source)
    assert predictions[key].type == expected
    assert predictions[key].source == "static"
    assert rule in predictions[key].evidence


@pytest.mark.parametrize(("rule", "source", "key", "expected"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_switched_off(infer_types: Infer, rule: str, source: str,
                           key: tuple[str, str, str], expected: str) -> None:
    predictions = infer_types(source, disabled=(rule,))
    assert predictions[key].type != expected


def test_every_rule_is_covered() -> None:
    assert {case[0] for case in CASES} | {"camelcase_call"} == set(RULES)


def test_camelcase_call_only_for_libraries_without_stubs(infer_types: Infer) -> None:
    predictions = infer_types("from nostubs_lib import Widget\nw = Widget()\n"
                              "from nostubs_lib import make\nm = make()\n")
    assert predictions[("<module>", "variable", "w")].type == "Widget"
    assert predictions[("<module>", "variable", "m")].type is None
    off = infer_types("from nostubs_lib import Widget\nw = Widget()\n",
                      disabled=("camelcase_call",))
    assert off[("<module>", "variable", "w")].type is None


def test_unknown_rule_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        RuleSet.without(["no_such_rule"])


def test_narrowing_functions_return_plain_bool(infer_types: Infer) -> None:
    # inspect.isclass is typed ``-> TypeIs[type[Any]]``: as a value it is a bool.
    types = infer_types("""\
        import inspect

        def check(obj):
            return inspect.isclass(obj)

        def both(obj, flag):
            return inspect.isclass(obj) and flag > 1
        """)
    assert types[("check", "return", "")].type == "bool"
    assert types[("both", "return", "")].type == "bool"
