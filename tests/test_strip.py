"""strip_annotations and strip_tree: the stripped copy of the evaluation protocol."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from typeseer.strip import StripError, strip_annotations, strip_tree


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


CASES = [
    pytest.param(
        """
        def f(a: int, b: str = "x", *args: int, c: float=1.0, **kw: object) -> dict[str, int]:
            return {}
        """,
        """
        def f(a, b="x", *args, c=1.0, **kw):
            return {}
        """,
        id="params-and-return",
    ),
    pytest.param(
        """
        async def g(self, /, x: "Foo", *, y: list[int] | None = None) -> None: pass
        """,
        """
        async def g(self, /, x, *, y=None): pass
        """,
        id="async-markers-one-line",
    ),
    pytest.param(
        """
        def f(
            a: int,  # first
            b: str = (
                "x"
            ),
        ) -> (
            int
        ):
            return a
        """,
        """
        def f(
            a,  # first
            b=(
                "x"
            ),
        ):
            return a
        """,
        id="multi-line-signature",
    ),
    pytest.param(
        """
        x: int = 1
        y: list[int]  # declared
        z: "str"
        w: tuple[int, int] = 1, 2
        """,
        """
        x = 1
        # declared
        w = 1, 2
        """,
        id="module-assignments-and-declarations",
    ),
    pytest.param(
        """
        class C:
            def __init__(self, v: int) -> None:
                self.v: int = v
                self.w: str
                self.items[0]: int = 3
        """,
        """
        class C:
            def __init__(self, v):
                self.v = v
                self.items[0] = 3
        """,
        id="attributes",
    ),
    pytest.param(
        '''
        class Point:
            """A point."""
            # the x coordinate
            x: int
            y: int = 0  # why
        ''',
        '''
        class Point:
            """A point."""
            # the x coordinate
            y = 0  # why
        ''',
        id="class-with-docstring",
    ),
    pytest.param(
        """
        class Proto:
            # only declarations
            a: int
            b: str  # trailing

        after = 1
        """,
        """
        class Proto:
            # only declarations
            # trailing
            pass

        after = 1
        """,
        id="class-left-empty",
    ),
    pytest.param(
        """
        class One: a: int; b = 2
        class Two: a: int
        w: int; w2 = 3
        k = 1; k2: int
        """,
        """
        class One: b = 2
        class Two: pass
        w2 = 3
        k = 1
        """,
        id="semicolons-and-one-line-suites",
    ),
    pytest.param(
        """
        if TYPE_CHECKING:
            u: int
        else:
            u: str = "s"
        for i in range(3):
            n: int
        """,
        """
        if TYPE_CHECKING:
            pass
        else:
            u = "s"
        for i in range(3):
            pass
        """,
        id="blocks-left-empty",
    ),
    pytest.param(
        """
        def outer():
            def inner(x: int) -> int:
                total: int = 0
                return x
            return inner
        f = lambda a, b=1: a
        """,
        """
        def outer():
            def inner(x):
                total = 0
                return x
            return inner
        f = lambda a, b=1: a
        """,
        id="nested-and-lambda",
    ),
    pytest.param(
        """
        def gen():
            x: int = yield
            y: int = yield x
        """,
        """
        def gen():
            x = yield
            y = yield x
        """,
        id="yield-values",
    ),
]


@pytest.mark.parametrize(("before", "after"), CASES)
def test_strip(before: str, after: str) -> None:
    stripped = strip_annotations(dedent(before))
    assert stripped == dedent(after)
    compile(stripped, "<stripped>", "exec")
    assert strip_annotations(stripped) == stripped  # idempotent


def test_no_annotations_left() -> None:
    source = dedent("""
        from __future__ import annotations
        import dataclasses

        @dataclasses.dataclass
        class A:
            a: int
            b: list[str] = dataclasses.field(default_factory=list)

            def m(self, x: A | None = None, *a: int, **k: str) -> A:
                self.c: dict[str, int] = {}
                local: int
                return self
        """)
    stripped = strip_annotations(source)
    tree = ast.parse(stripped)
    for node in ast.walk(tree):
        assert not isinstance(node, ast.AnnAssign)
        if isinstance(node, ast.arg):
            assert node.annotation is None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.returns is None


def test_unannotated_source_is_unchanged() -> None:
    source = "# c\r\nx = 1\r\nif x:\r\n\ty = 2  # type: int\r\n"
    assert strip_annotations(source) == source


def test_crlf_and_tabs_kept() -> None:
    source = "def f(a: int) -> int:\r\n\tb: int = a\r\n\treturn b\r\n"
    assert strip_annotations(source) == "def f(a):\r\n\tb = a\r\n\treturn b\r\n"


def test_unparsable_source_raises() -> None:
    with pytest.raises(StripError):
        strip_annotations("def f(:\n")


def test_strip_tree(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pkg" / "sub").mkdir(parents=True)
    (src / "pkg" / "__init__.py").write_text("x: int = 1\n")
    (src / "pkg" / "sub" / "mod.py").write_bytes(
        b"# -*- coding: latin-1 -*-\ndef f(a: int) -> str:\n    return '\xe9'\n")
    (src / "pkg" / "bad.py").write_text("def f(:\n")
    (src / "pkg" / "data.txt").write_text("a: int = 1\n")
    (src / "pkg" / "stub.pyi").write_text("def f(a: int) -> str: ...\n")
    (src / "pkg" / "__pycache__").mkdir()
    (src / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    dst = tmp_path / "dst"

    stats = strip_tree(src, dst)

    assert (dst / "pkg" / "__init__.py").read_text() == "x = 1\n"
    assert (dst / "pkg" / "sub" / "mod.py").read_bytes() == (
        b"# -*- coding: latin-1 -*-\ndef f(a):\n    return '\xe9'\n")
    assert (dst / "pkg" / "bad.py").read_text() == "def f(:\n"
    assert (dst / "pkg" / "data.txt").read_text() == "a: int = 1\n"
    assert not (dst / "pkg" / "stub.pyi").exists()
    assert not (dst / "pkg" / "__pycache__").exists()
    assert stats.stripped == 2
    assert stats.copied == 1
    assert stats.skipped_stubs == 1
    assert [file for file, _ in stats.failed] == ["pkg/bad.py"]
