"""Name resolution for written types: builtins, bound names, module imports, new imports."""

from __future__ import annotations

import ast

import pytest

from typeseer.apply.names import Import, ModuleNames, ProjectClasses, Unresolved
from typeseer.apply.options import PythonVersion
from typeseer.apply.spelling import depth, spell, widest_union
from typeseer.sites import Scope, extract_sites
from typeseer.typeexpr import parse_type


def names_for(source: str, module: str = "pkg.mod", others: str = "") -> ModuleNames:
    sites = extract_sites("pkg/mod.py", source, ast.parse(source), module)
    other = extract_sites("pkg/other.py", others, ast.parse(others), "pkg.other")
    return ModuleNames(sites, module, ProjectClasses([(module, sites), ("pkg.other", other)]))


def resolve(names: ModuleNames, name: str, origin: str = "", line: int = 1000,
            scopes: list[Scope] | None = None, allow: bool = True) -> tuple[str, set[Import],
                                                                            bool]:
    r = names.resolve(name, origin, scopes or [], line, allow)
    return r.spelling, set(r.imports), r.deferred


def test_builtins_need_nothing() -> None:
    assert resolve(names_for("x = 1\n"), "int") == ("int", set(), False)


def test_a_rebound_builtin_is_not_written() -> None:
    with pytest.raises(Unresolved, match="bound to a value"):
        resolve(names_for("list = [1]\n"), "list")


def test_a_name_shadowed_in_an_enclosing_scope_is_not_written() -> None:
    source = "class C:\n    def str(self):\n        pass\n"
    names = names_for(source)
    cls = names.module.scope.defs["C"]
    with pytest.raises(Unresolved, match="shadowed"):
        resolve(names, "str", scopes=[cls])


def test_typing_and_abc_names_are_imported() -> None:
    names = names_for("x = 1\n")
    assert resolve(names, "Any") == ("Any", {Import("typing", "Any")}, False)
    assert resolve(names, "Iterator") == ("Iterator", {Import("collections.abc", "Iterator")},
                                          False)


def test_an_imported_module_qualifies_the_name() -> None:
    names = names_for("import typing as t\nimport numpy as np\nimport os.path\n")
    assert resolve(names, "Any")[0] == "t.Any"
    assert resolve(names, "ndarray")[0] == "np.ndarray"
    assert resolve(names, "Path", origin="pathlib")[1] == {Import("pathlib", "Path")}


def test_standard_library_classes_are_found_in_typeshed() -> None:
    names = names_for("x = 1\n")
    assert resolve(names, "Decimal") == ("Decimal", {Import("decimal", "Decimal")}, False)
    assert resolve(names, "Namespace")[1] == {Import("argparse", "Namespace")}


def test_third_party_names_need_the_package_imported() -> None:
    with pytest.raises(Unresolved, match="does not import"):
        resolve(names_for("x = 1\n"), "DataFrame")
    names = names_for("from pandas import read_csv\n")
    assert resolve(names, "DataFrame") == (
        "DataFrame", {Import("pandas", "DataFrame", type_checking=True)}, True)


def test_project_classes_are_imported_for_type_checkers_only() -> None:
    names = names_for("x = 1\n", others="class Order:\n    pass\n")
    assert resolve(names, "Order") == (
        "Order", {Import(".other", "Order", type_checking=True)}, True)
    with pytest.raises(Unresolved, match="not at this level"):
        resolve(names, "Order", allow=False)


def test_forward_references_are_deferred() -> None:
    names = names_for("def f():\n    pass\n\n\nclass Late:\n    pass\n")
    assert resolve(names, "Late", line=1) == ("Late", set(), True)
    assert resolve(names, "Late", line=7) == ("Late", set(), False)
    assert resolve(names, "Late", line=6)[2]  # inside its own body


def test_type_checking_imports_are_deferred() -> None:
    names = names_for("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from decimal import Decimal\n")
    assert resolve(names, "Decimal") == ("Decimal", set(), True)


def test_unknown_names_are_not_written() -> None:
    with pytest.raises(Unresolved, match="which module"):
        resolve(names_for("x = 1\n"), "Frobnicator")


def test_spelling_for_each_target_python() -> None:
    names = names_for("x = 1\n")

    def text(t: str, version: PythonVersion) -> str:
        return spell(parse_type(t), lambda n, m: names.resolve(n, m, [], 1000, True),
                     version).text

    modern, old = PythonVersion(3, 10), PythonVersion(3, 8)
    assert text("dict[str, list[int]] | None", modern) == "dict[str, list[int]] | None"
    assert text("dict[str, list[int]] | None", old) == "Optional[Dict[str, List[int]]]"
    assert text("int | str", PythonVersion(3, 9)) == "Union[int, str]"
    assert text("Callable[[int], str]", old) == "Callable[[int], str]"
    assert text("Literal['a', 'b']", modern) == "Literal['a', 'b']"
    assert text("tuple[int, ...]", modern) == "tuple[int, ...]"


def test_readability_measures() -> None:
    assert widest_union(parse_type("int | str | None")) == 3
    assert widest_union(parse_type("list[int | str]")) == 2
    assert depth(parse_type("int")) == 1
    assert depth(parse_type("dict[str, list[int]] | None")) == 3


def test_typing_names_newer_than_the_target_are_not_written() -> None:
    sites = extract_sites("m.py", "x = 1\n", ast.parse("x = 1\n"), "m")

    def names(version: PythonVersion) -> ModuleNames:
        return ModuleNames(sites, "m", ProjectClasses([("m", sites)]), version)

    assert names(PythonVersion(3, 11)).resolve("Self", "", [], 9, True).spelling == "Self"
    with pytest.raises(Unresolved, match=r"needs Python 3\.11"):
        names(PythonVersion(3, 10)).resolve("Self", "", [], 9, True)
    with pytest.raises(Unresolved, match=r"needs Python 3\.13"):
        names(PythonVersion(3, 12)).resolve("TypeIs", "typing", [], 9, True)
    with pytest.raises(Unresolved, match="not known"):
        names(PythonVersion(3, 12)).resolve("NoSuchForm", "typing", [], 9, True)
