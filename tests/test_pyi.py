"""to_stub: the ``.pyi`` stubs of ``typeseer stub``, against golden files and type checkers."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import typeseer
from typeseer.pyi import StubError, to_stub

FIXTURES = Path(__file__).parent / "fixtures" / "pyi"
CASES = sorted(FIXTURES.glob("*.py"))
PACKAGE = Path(typeseer.__file__).parent
PACKAGE_SOURCES = sorted(PACKAGE.rglob("*.py"))


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def stub(text: str) -> str:
    return to_stub(dedent(text))


# -- golden before/after pairs -----------------------------------------------------------------

@pytest.mark.parametrize("source", CASES, ids=lambda path: path.stem)
def test_golden_fixture(source: Path) -> None:
    """Each rule's fixture (tests/fixtures/pyi/<rule>.py) gives its reviewed stub (.pyi)."""
    assert to_stub(source.read_text()) == source.with_suffix(".pyi").read_text()


SMALL_CASES = [
    pytest.param("", "", id="empty-module"),
    pytest.param('"""Only a docstring."""\n# and a comment\n', "", id="docstring-only"),
    pytest.param("x = 1", "x = 1\n", id="newline-added-at-end"),
    pytest.param(
        """
        import sys; import os
        def f(a, b=[], *, c: int=1): return a
        """,
        """
        import sys
        import os

        def f(a, b=..., *, c: int = ...): ...
        """,
        id="semicolons-and-one-line-def",
    ),
    pytest.param(
        """
        from .core import Engine
        __all__ = ["Engine"]
        """,
        """
        from .core import Engine

        __all__ = ["Engine"]
        """,
        id="all-decides-reexports",
    ),
    pytest.param(
        """
        from _typeshed import Incomplete
        x = f()
        """,
        """
        from _typeshed import Incomplete

        x: Incomplete
        """,
        id="own-incomplete-import-reused",
    ),
    pytest.param(
        """
        class Incomplete: ...
        x = f()
        """,
        """
        from _typeshed import Incomplete as _Incomplete

        class Incomplete: ...

        x: _Incomplete
        """,
        id="incomplete-name-taken",
    ),
    pytest.param(
        """
        from dataclasses import dataclass, field

        @dataclass
        class D:
            field: int = 0
            def __post_init__(self) -> None:
                self.cache = {}
        """,
        """
        from dataclasses import dataclass, field
        from _typeshed import Incomplete
        from dataclasses import field as _field

        @dataclass
        class D:
            field: int = ...
            cache: Incomplete = _field(init=False)
            def __post_init__(self) -> None: ...
        """,
        id="field-shadowed-in-dataclass",
    ),
    pytest.param(
        """
        @dataclass
        class D:
            registry = make()
        """,
        """
        from _typeshed import Incomplete
        from typing import ClassVar

        @dataclass
        class D:
            registry: ClassVar[Incomplete]
        """,
        id="classvar-import-added",
    ),
    pytest.param(
        """
        import untyped  # type: ignore[import-untyped]
        x: int = untyped.f()  # type: ignore[no-any-return]

        class C(untyped.Base):  # type: ignore[misc]
            y: str = 1  # type: ignore[assignment]
            z: str = g()  # type: ignore[no-untyped-call]
            def f(self) -> None:  # type: ignore[override]
                pass
        """,
        """
        import untyped  # type: ignore[import-untyped]

        x: int

        class C(untyped.Base):  # type: ignore[misc]
            y: str = ...  # type: ignore[assignment]
            z: str = ...
            def f(self) -> None: ...  # type: ignore[override]
        """,
        id="type-ignores-that-still-apply",
    ),
    pytest.param(
        "class A:\r\n\tdef f(self):\r\n\t\treturn 1\r\n",
        "class A:\n    def f(self): ...\n",
        id="crlf-and-tabs-normalised",
    ),
    pytest.param(
        """
        __all__ = [name for name in dir() if not name.startswith("_")]
        __all__ += ["extra"]
        from .core import Engine
        """,
        """
        from .core import Engine as Engine
        """,
        id="computed-all-dropped",
    ),
    pytest.param(
        """
        class Flavour:
            import ntpath
            module = ntpath
        """,
        """
        class Flavour:
            import ntpath
            module = ntpath
        """,
        id="class-level-import-kept",
    ),
    pytest.param(
        """
        class Axis(enum.Enum):
            X, Y = range(2)
        """,
        """
        class Axis(enum.Enum):
            X = ...
            Y = ...
        """,
        id="enum-members-by-unpacking",
    ),
    pytest.param(
        """
        class Model(BaseModel):
            a: int = Field(0, alias="A", description="kept: the default and the alias")
            b: int = Field(..., alias="B")
            c: list[int] = Field(default_factory=list)
            d: int = Field(...)
            e: int = attr.ib(3, init=False)
            f: Colon = Colon.field()  # a default made by some other call
        """,
        """
        class Model(BaseModel):
            a: int = Field(0, alias="A")
            b: int = Field(..., alias="B")
            c: list[int] = ...
            d: int
            e: int = attr.ib(3, init=False)
            f: Colon = ...
        """,
        id="field-specifiers",
    ),
    pytest.param(
        "TEXT = (" + ' "part"' * 3000 + ")\n",
        "TEXT: str\n",
        id="long-implicit-concatenation",
    ),
    pytest.param(
        """
        def f(): ...
        f = decorate(f)
        g = 1
        def g(): ...
        """,
        """
        def f(): ...
        def g(): ...
        """,
        id="def-beats-reassignment",
    ),
    pytest.param(
        """
        import os
        from typing import TypeVar
        T = TypeVar("T")
        FLAGS = os.O_RDONLY | os.O_CREAT
        Maybe = T | None
        """,
        """
        import os
        from typing import TypeVar
        from _typeshed import Incomplete

        T = TypeVar("T")
        FLAGS: Incomplete
        Maybe = T | None
        """,
        id="flags-are-not-a-union",
    ),
]


@pytest.mark.parametrize(("before", "after"), SMALL_CASES)
def test_small_case(before: str, after: str) -> None:
    assert stub(before) == dedent(after)


def test_module_name_makes_own_package_imports_reexports() -> None:
    source = "from pkg.core import Engine\nfrom other import Thing\n"
    assert to_stub(source, module_name="pkg.api") == (
        "from pkg.core import Engine as Engine\nfrom other import Thing\n")
    assert to_stub(source) == source


def test_unparsable_source_raises_stub_error() -> None:
    with pytest.raises(StubError, match=r"^cannot parse"):
        to_stub("def f(:\n")


def test_stub_error_is_a_value_error() -> None:
    assert issubclass(StubError, ValueError)


# -- properties over every fixture and typeseer's own modules ----------------------------------

ALL_SOURCES = [*CASES, *PACKAGE_SOURCES]


def _id(path: Path) -> str:
    return path.relative_to(FIXTURES.parent if path.is_relative_to(FIXTURES) else PACKAGE.parent
                            ).as_posix()


def _module_name(path: Path) -> str:
    """The dotted name the module has in the checked tree (fixtures: package pyi_cases)."""
    package, root = ("pyi_cases", FIXTURES) if path.is_relative_to(FIXTURES) else (
        "typeseer", PACKAGE)
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.fixture(scope="module")
def stubs() -> dict[Path, str]:
    return {path: to_stub(path.read_text(encoding="utf-8"), module_name=_module_name(path))
            for path in ALL_SOURCES}


def test_every_stub_parses_and_is_idempotent(stubs: dict[Path, str]) -> None:
    """A stub is Python; stubbing it again changes nothing."""
    for path, text in stubs.items():
        ast.parse(text, filename=_id(path))
        assert not text or text.endswith("\n"), _id(path)
        assert to_stub(text) == text, _id(path)


def _runtime_blocks(statement: ast.stmt) -> list[list[ast.stmt]]:
    """The blocks of a compound statement whose definitions checkers see (not those of
    ``if not TYPE_CHECKING``, the ``else`` of ``if TYPE_CHECKING`` or a script's
    ``if __name__ == "__main__"``)."""
    if isinstance(statement, ast.If):
        test = ast.unparse(statement.test)
        if ((test.startswith("not ") and test.endswith("TYPE_CHECKING"))
                or test == "__name__ == '__main__'"):
            return [statement.orelse]
        if test.endswith("TYPE_CHECKING"):
            return [statement.body]
        return [statement.body, statement.orelse]
    if isinstance(statement, ast.Try):
        return [statement.body, *(h.body for h in statement.handlers), statement.orelse,
                statement.finalbody]
    if isinstance(statement, (ast.For, ast.While)):
        return [statement.body, statement.orelse]
    if isinstance(statement, ast.With):
        return [statement.body]
    if isinstance(statement, ast.Match):
        return [case.body for case in statement.cases]
    return []


def _defined_names(body: list[ast.stmt]) -> set[str]:
    """Names a module body defines (not imports), at its level or in its blocks."""
    names: set[str] = set()
    for statement in body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
            continue
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, (ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = [statement.target]
        elif isinstance(statement, ast.With):
            targets = [item.optional_vars for item in statement.items if item.optional_vars]
        for target in targets:
            names.update(node.id for node in ast.walk(target)
                         if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
        for block in _runtime_blocks(statement):
            names |= _defined_names(block)
    return names


def _bound_names(body: list[ast.stmt]) -> set[str]:
    names = _defined_names(body)
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).partition(".")[0] for alias in node.names)
    return names


def test_public_names_all_appear_in_the_stub(stubs: dict[Path, str]) -> None:
    for path, text in stubs.items():
        public = {name for name in _defined_names(ast.parse(path.read_text()).body)
                  if not name.startswith("_")}
        missing = public - _bound_names(ast.parse(text).body)
        assert not missing, (_id(path), sorted(missing))


# -- the type checkers ---------------------------------------------------------------------------

#: Uses the fixtures' stubs as client code would use the fixtures themselves: the lines
#: marked ``# error`` are the ones a checker must reject, as it would with the sources.
CLIENT = """
from pyi_cases import Engine, make_helper, parse
from pyi_cases.attributes import Leaf, Node
from pyi_cases.classes import Box
from pyi_cases.conditions import native_path
from pyi_cases.dataclass_like import Coordinates, Options, Record
from pyi_cases.enums import Colour, Fruit

engine: Engine = Engine()
number: int = make_helper() + parse(1)
text: str = parse("x") + native_path("a/b")
options = Options("path", 1, verbose=True, limit=3, extra=[2])
record = Record("key", 1)
point = Coordinates(1.0)
size: float = Leaf().value + Node(1).value + Box(2.0, "item").side
member: Colour = Colour.CRIMSON
fruit: Fruit = Fruit.APPLE
Options("path", 1, cache={})  # error: cache is init=False
Options("path", 1, True, [], 3)  # error: limit is keyword-only
Record()  # error: key has no default
number = parse(b"bytes")  # error: no overload takes bytes
label: int = Box(1.0, 1).label  # error: a str property
""".lstrip()
EXPECTED_CLIENT_ERRORS = {number for number, line in enumerate(CLIENT.splitlines(), start=1)
                          if "# error" in line}


def _error_lines(output: str, pattern: str) -> tuple[set[int], list[str]]:
    """The client's lines with errors, and the error lines about other files."""
    client, others = set(), []
    for line in output.splitlines():
        match = re.search(pattern, line)
        if match is None:
            continue
        if match.group("file").endswith("client.py"):
            client.add(int(match.group("line")))
        else:
            others.append(line)
    return client, others


@pytest.fixture(scope="module")
def stub_tree(tmp_path_factory: pytest.TempPathFactory, stubs: dict[Path, str]) -> Path:
    """The stubs of the fixtures (package ``pyi_cases``) and of typeseer, and a client."""
    root = tmp_path_factory.mktemp("stubs")
    for path, text in stubs.items():
        if path.is_relative_to(FIXTURES):
            target = root / "pyi_cases" / path.relative_to(FIXTURES)
        else:
            target = root / "typeseer" / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.with_suffix(".pyi").write_text(text)
    (root / "client.py").write_text(CLIENT)
    return root


def _checker_output(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": ""}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=environment, check=False)


def test_stubs_pass_mypy(stub_tree: Path) -> None:
    result = _checker_output(
        [sys.executable, "-m", "mypy", "--config-file=", "--python-executable", sys.executable,
         "--cache-dir", str(stub_tree / ".mypy_cache"),
         "pyi_cases", "typeseer", "client.py"], stub_tree)
    client, others = _error_lines(result.stdout, r"^(?P<file>\S+?):(?P<line>\d+): error:")
    assert not others, result.stdout
    assert client == EXPECTED_CLIENT_ERRORS, result.stdout


def _pyright() -> str | None:
    beside_python = Path(sys.executable).with_name("pyright")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("pyright")


def test_stubs_pass_pyright(stub_tree: Path) -> None:
    pyright = _pyright()
    if pyright is None or shutil.which("node") is None:
        pytest.skip("pyright (pip install pyright) or node is not installed")
    result = _checker_output([pyright, "--pythonpath", sys.executable, "pyi_cases", "typeseer",
                              "client.py"], stub_tree)
    client, others = _error_lines(result.stdout,
                                  r"^\s*(?P<file>\S+?):(?P<line>\d+):\d+ - error:")
    assert not others, result.stdout
    assert client == EXPECTED_CLIENT_ERRORS, result.stdout
