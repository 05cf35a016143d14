"""The nasty-input corpus: every odd corner of Python gets a defined outcome, never a crash.

One table of cases, each a file (a fixture under fixtures/nasty, or bytes generated here when
they cannot sensibly be committed: 10,000-character lines, deep nesting, null bytes, very large
files, exotic encodings and line endings) with its expected outcome:

* inferred: these sites get these types (static inference only, so the outcome is exact);
* skipped: one diagnostic with this reason, and nothing is predicted, written or stubbed.

Each case goes through every entry point: ``typeseer.api.infer``; ``typeseer apply --write``,
whose output must parse, keep every byte of the original (annotations are insertions only, so
the original is a subsequence of the output), use the file's own line breaks, and change
nothing when run again; and ``typeseer stub``, whose output must parse.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_runner import run

from typeseer.api import infer
from typeseer.config import Config
from typeseer.parsing import parse_source
from typeseer.sources import Diagnostic, Severity, decode_source

FIXTURES = Path(__file__).parent / "fixtures" / "nasty"
STATIC_FLAGS = ("--no-model", "--min-confidence", "0.3")
STATIC = Config(use_model=False, min_confidence=0.3)
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Case:
    """One nasty input and its defined outcome."""

    #: File name in the project (the id of the case).
    name: str
    #: The file's bytes: a fixture's name under fixtures/nasty, or a generator.
    source: str | Callable[[], bytes]
    #: Sites inferred, as ``"KIND SCOPE[.NAME]"`` (returns: ``"return SCOPE"``) -> type.
    inferred: dict[str, str] = field(default_factory=dict)
    #: Names that must not be sites at all (bound only at run time, say).
    no_site: tuple[str, ...] = ()
    #: When the file is skipped: the reason its one diagnostic gives, and its severity.
    skipped: str | None = None
    severity: Severity = Severity.ERROR
    #: Byte strings `apply --write` must produce (in the file's own encoding).
    written: tuple[bytes, ...] = ()
    #: The exact bytes `apply --write` must produce, when that is worth pinning down.
    exact: bytes | None = None
    #: Byte strings `apply --write` must leave out (annotations it must not write).
    not_written: tuple[bytes, ...] = ()
    #: When the file is analysed but cannot be rewritten: the reason `apply` gives.
    unwritable: str | None = None
    #: Lines the stub must hold; None: no stub, for the reason in ``no_stub``.
    stub: tuple[str, ...] | None = ()
    no_stub: str | None = None

    def data(self) -> bytes:
        if isinstance(self.source, str):
            return (FIXTURES / self.source).read_bytes()
        return self.source()


def _site(spec: str) -> tuple[str, str, str]:
    """``"return f"`` -> ``("f", "return", "")``; ``"param f.x"`` -> ``("f", "param", "x")``."""
    kind, where = spec.split(" ", 1)
    if kind == "return":
        return where, kind, ""
    scope, name = where.rsplit(".", 1)
    return scope, kind, name


# -- generated inputs ---------------------------------------------------------------------

def _long_lines() -> bytes:
    values = "VALUES = [" + ", ".join(str(i) for i in range(2200)) + "]\n"
    text = "TEXT = '" + "x" * 10_000 + "'\n"
    params = "def wide(" + ", ".join(f"p{i}=0" for i in range(1300)) + "):\n    return p0\n"
    assert min(len(values), len(text), len(params)) > 10_000
    return (values + text + params).encode()


def _chain(operator: str, count: int) -> str:
    return f" {operator} ".join(["a"] * count)


def _functions(count: int) -> str:
    return "".join(f"def f{i}(x):\n    total = x + {i}\n    return str(total)\n\n\n"
                   f"class C{i}:\n    def __init__(self):\n        self.n = {i}\n\n\n"
                   for i in range(count))


def _very_large() -> bytes:
    """Just above the default 2 MiB limit."""
    text = _functions(300)
    return (text + "X = 1\n" * ((2 * 1024 * 1024 - len(text)) // 6 + 100)).encode()


def _nested_defs(depth: int) -> bytes:
    lines = ["    " * i + f"def f{i}():\n" for i in range(depth)]
    return ("".join(lines) + "    " * depth + "return 1\n").encode()


def _nested_ifs(depth: int) -> bytes:
    lines = ["    " * i + f"if x{i}:\n" for i in range(depth)]
    return ("".join(lines) + "    " * depth + "pass\n").encode()


_NESTED_LIST_TYPE = "list[" * 150 + "int" + "]" * 150

CASES = [
    # -- byte order marks, encodings, line endings, whitespace --
    Case("bom.py", "bom.py",
         {"return is_ready": "bool", "variable <module>.GREETING": "str"},
         written=(BOM + b'"""A module', b"def is_ready() -> bool:",
                  'GREETING: str = "h\u00e9llo"'.encode()),
         stub=("def is_ready() -> bool: ...", "GREETING: str")),
    Case("latin1_cookie.py", "latin1_cookie.py",
         {"variable <module>.CITY": "str", "return caf\u00e9": "str"},
         written=(b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\n",
                  b'CITY: str = "Z\xfcrich"', b"def caf\xe9() -> str:"),
         stub=("CITY: str", "def caf\u00e9() -> str: ...")),
    Case("cp1252_cookie.py", "cp1252_cookie.py",
         {"variable <module>.QUOTE": "str", "return price": "float"},
         written=(b'QUOTE: str = "\x93curly\x94"', b"def price() -> float:")),
    Case("unknown_cookie.py", "unknown_cookie.py",
         skipped="bad encoding declaration: unknown encoding: klingon"),
    Case("bom_cookie_conflict.py", "bom_cookie_conflict.py",
         skipped="the UTF-8 byte order mark contradicts the encoding declaration"),
    Case("undeclared_latin1.py", "undeclared_latin1.py",
         skipped="not valid utf-8 text (UnicodeDecodeError)", severity=Severity.SKIPPED),
    Case("utf16.py", lambda: "\ufeffdef f():\n    return 1\n".encode("utf-16"),
         skipped="UTF-16 or UTF-32 text (byte order mark)", severity=Severity.SKIPPED),
    Case("null_bytes.py", lambda: b'X = "a\x00b"\n\ndef f():\n    return 1\n',
         skipped="binary file (contains null bytes)", severity=Severity.SKIPPED),
    Case("crlf.py", lambda: b'"""CRLF."""\r\n\r\ndef f():\r\n    return 1\r\n\r\nX = "a"\r\n',
         {"return f": "int", "variable <module>.X": "str"},
         exact=b'"""CRLF."""\r\n\r\ndef f() -> int:\r\n    return 1\r\n\r\nX: str = "a"\r\n'),
    Case("mixed_endings.py",
         lambda: b'"""Mixed."""\n\r\ndef f():\r\n    return 1\n\r\ndef g():\r    return "s"\r'
                 b"Y = 1.5\n",
         {"return f": "int", "return g": "str", "variable <module>.Y": "float"},
         exact=b'"""Mixed."""\n\r\ndef f() -> int:\r\n    return 1\n\r\ndef g() -> str:\r'
               b'    return "s"\rY: float = 1.5\n'),
    Case("cr_only.py", lambda: b"for x in [1]:\r    pass\r",
         {"variable <module>.x": "int"},
         # LibCST drops a final lone CR when it generates the whole module: it is put back.
         exact=b"x: int\rfor x in [1]:\r    pass\r"),
    Case("cr_only_import.py", lambda: b"def f(p):\r    return open(p)\r",
         {"return f": "TextIOWrapper"},
         exact=b"from io import TextIOWrapper\r\rdef f(p) -> TextIOWrapper:\r"
               b"    return open(p)\r"),
    Case("no_final_newline.py", lambda: b'def f():\n    return 1\nX = "a"',
         {"return f": "int", "variable <module>.X": "str"},
         exact=b'def f() -> int:\n    return 1\nX: str = "a"'),
    Case("form_feeds.py", "form_feeds.py",
         {"return count": "int", "return label": "str", "return Page.size": "float"},
         # CPython resets the indentation at a form feed; LibCST's tokenizer does not.
         unwritable="LibCST cannot parse it: tokenizer error: no matching outer block for dedent",
         stub=None, no_stub="no stub: cannot parse: Syntax Error"),
    Case("form_feed_dropped.py", lambda: b"def f():\n    x = 1\n\x0c    return 1\n",
         {"return f": "int", "variable f.x": "int"},
         # LibCST parses this but leaves the form feed out of its code.
         unwritable="LibCST would not keep every byte of it (form feeds at the start of lines?)",
         stub=("def f(): ...",)),
    Case("tabs_and_spaces.py", "tabs_and_spaces.py",
         {"return tabbed": "int", "variable tabbed.value": "int", "return spaced": "str"},
         written=(b"def tabbed() -> int:\n\tvalue: int = 1\n", b"def spaced() -> str:")),
    Case("tabs_inconsistent.py", "tabs_inconsistent.py",
         skipped="syntax error at line 6: inconsistent use of tabs and spaces in indentation"),
    # -- size: long lines, deep nesting, very large files --
    Case("long_lines.py", _long_lines,
         {"variable <module>.VALUES": "list[int]", "variable <module>.TEXT": "str",
          "return wide": "int", "param wide.p0": "int", "param wide.p1299": "int"},
         written=(b"VALUES: list[int] = [0, 1, 2,", b"TEXT: str = 'xxx",
                  b"def wide(p0: int = 0, p1: int = 0,", b"p1299: int = 0) -> int:"),
         stub=("VALUES: list[int]", "TEXT: str")),
    Case("nested_list_150.py",
         lambda: ("X = " + "[" * 150 + "1" + "]" * 150 + "\n\ndef f():\n    return 1\n").encode(),
         {"variable <module>.X": _NESTED_LIST_TYPE, "return f": "int"},
         # LibCST's code generation recurses past the interpreter's limit on X.
         unwritable="nested too deeply to rewrite",
         stub=("X: Incomplete", "def f(): ...")),
    Case("parens_250.py",
         lambda: ("X = " + "(" * 250 + "1" + ")" * 250 + "\n").encode(),
         skipped="syntax error at line 1: too many nested parentheses"),
    Case("plus_chain.py", lambda: f"X = {_chain('+', 20_000)}\n".encode(),
         skipped="expressions nested too deeply to parse"),
    Case("and_chain.py",
         lambda: f"def f(a):\n    return {_chain('and', 12_000)}\n\n\nX = 1\n".encode(),
         # CPython parses it (a flat BoolOp); LibCST's parser would crash the process.
         {"variable <module>.X": "int"},
         unwritable="expressions nested too deeply for LibCST",
         stub=None, no_stub="no stub: cannot parse: expressions nested too deeply for LibCST"),
    Case("not_chain.py", lambda: ("X = " + "not " * 12_000 + "a\n").encode(),
         skipped="expressions nested too deeply to parse"),
    Case("and_chain_newer.py",
         lambda: f"type Alias = int\nX = {_chain('and', 12_000)}\n".encode(),
         # Before 3.12 the `type` statement sends it to LibCST, which must not see the chain.
         {"variable <module>.X": "bool"} if sys.version_info >= (3, 12) else {},
         skipped=None if sys.version_info >= (3, 12)
         else "syntax error at line 1: invalid syntax",
         unwritable="expressions nested too deeply for LibCST"
         if sys.version_info >= (3, 12) else None,
         stub=None, no_stub="no stub: cannot parse: expressions nested too deeply for LibCST"
         if sys.version_info >= (3, 12) else None),
    Case("nested_defs_99.py", lambda: _nested_defs(99),
         {"return f0": "None", "return f0.<locals>.f1": "None",
          "return " + ".<locals>.".join(f"f{i}" for i in range(99)): "int"},
         written=(b"def f0() -> None:\n", b"return 1\n"),
         stub=("def f0() -> None: ...",)),
    Case("indent_101.py", lambda: _nested_ifs(101),
         skipped="syntax error at line 101: too many levels of indentation"),
    Case("large.py", lambda: _functions(400).encode(),
         {"return f0": "str", "return f399": "str",
          "attribute C399.n": "int", "return C0.__init__": "None"},
         written=(b"def f399(x) -> str:\n    total = x + 399\n",
                  b"class C399:\n    def __init__(self) -> None:\n        self.n: int = 399\n"),
         stub=("def f399(x) -> str: ...",)),
    Case("very_large.py", _very_large,
         skipped="file is 2.098 MB, above the 2.097 MB limit", severity=Severity.SKIPPED),
    # -- syntax: old, new and unusual --
    Case("python2.py", "python2.py",
         skipped="syntax error at line 5: Missing parentheses in call to 'print'. "
                 "Did you mean print(...)?"),
    Case("match_statements.py", "match_statements.py",
         {"variable <module>.match": "str", "variable <module>.case": "int",
          "return count_words": "int", "variable count_words.total": "int"},
         # Capture patterns bind names, but they are not annotation sites.
         no_site=("action", "rest", "kind", "others", "y"),
         written=(b'match: str = "soft keyword', b"def count_words(text) -> int:",
                  b"            total: int = len(text.split())"),
         stub=("match: str", "def count_words(text) -> int: ...")),
    Case("pep695_generics.py", "pep695_generics.py",
         {"return first": "T", "param first.items": "list[T]", "return size": "int",
          "return Stack.__init__": "None", "attribute Stack.depth": "int",
          "return Stack.is_empty": "bool", "return Stack.push": "str",
          "param Stack.push.item": "S", "param Stack.push.note": "str",
          "variable Pair.label": "str"},
         written=(b"def size[K, V](mapping: dict[K, V]) -> int:",
                  b'def push[S: (int, str)](self, item: S, note: str = "pushed") -> str:',
                  b"class Pair[A, B = int, *Ts, **P]:\n    label: str = \"pair\""),
         stub=("def first[T](items: list[T]) -> T: ...",
               "def size[K, V](mapping: dict[K, V]) -> int: ...", "class Stack[T]:")),
    Case("type_statements.py", "type_statements.py",
         {"variable <module>.LIMIT": "int", "variable <module>.type": "str",
          "return scale": "float", "variable scale.factor": "float"},
         no_site=("Vector", "Table", "Nested"),
         written=(b"type Vector = list[float]\n",
                  b"type Table[K] = dict[K, Vector]; LIMIT: int = 10\n",
                  b'type: str = "shadowing the builtin"'),
         stub=("type Vector = list[float]", "LIMIT: int")),
    Case("walrus.py", "walrus.py",
         {"variable <module>.limit": "int", "return longest": "int", "variable longest.n": "int",
          "return flag_state": "bool", "variable flag_state.found": "bool"},
         written=(b"limit: int\nif (limit := 10) > 5:",
                  b"    n: int\n    if (n := len(words)) > 3:")),
    Case("star_expressions.py", "star_expressions.py",
         {"variable <module>.head": "int", "variable <module>.tail": "list[int]",
          "variable <module>.init": "list[str]", "variable <module>.last": "str",
          "variable <module>.middle": "list[int]", "variable <module>.final": "int",
          "variable <module>.b": "list[int]", "variable <module>.merged": "list[int | str]",
          "variable <module>.unique": "set[int]", "variable <module>.ys": "list[int]",
          "param star_annotation.args": "*tuple[int, str]", "return star_with": "str",
          "variable star_with.fa": "TextIOWrapper"},
         written=(b"head: int\ntail: list[int]\nhead, *tail = [1, 2, 3]\n",
                  b"merged: list[int | str] = [*tail, *init]",
                  b"def star_with(a, b) -> str:\n    fa: TextIOWrapper\n",
                  b"from io import TextIOWrapper")),
    # -- dynamic and decorated code --
    Case("decorators.py", "decorators.py",
         {"return fib": "int", "return indexed": "str", "return lambda_decorated": "float",
          "return Service.name": "str", "return Service.version": "int"},
         written=(b"@functools.lru_cache(maxsize=128)\ndef fib(n) -> int:",
                  b"    def name(self) -> str:", b"    def version() -> int:"),
         # Unknown decorators may read annotations at run time: left alone by default.
         not_written=(b"def indexed() ->", b"def lambda_decorated() ->", b"def users() ->"),
         stub=("@functools.lru_cache(maxsize=128)", "def fib(n) -> int: ...")),
    Case("conditional_defs.py", "conditional_defs.py",
         # One site per name and scope, at the first definition.
         {"return parse_flag": "bool", "variable Paths.separator": "str"},
         written=(b"    def parse_flag(text) -> bool:\n        return text ==",
                  b"    def parse_flag(text):\n        return bool(text)",
                  b'        separator: str = "\\\\"', b'        separator = "/"'),
         stub=("    def parse_flag(text) -> bool: ...", "    def parse_flag(text): ...")),
    Case("dynamic_code.py", "dynamic_code.py",
         {"variable <module>.SOURCE": "str", "attribute Dynamic.count": "int"},
         no_site=("GENERATED", "made", "DYNAMIC", "ATTACHED", "hidden", "raw"),
         written=(b'exec("GENERATED = 1")\n', b"        self.count: int = 0")),
    Case("all_manipulation.py", "all_manipulation.py",
         {"variable <module>.__all__": "list[str]", "return public": "int",
          "variable <module>.spread": "str"},
         written=(b'__all__: list[str] = ["public", "Public"]\n__all__ += ["extra"]\n',),
         stub=('__all__: list[str] = ["public", "Public"]', '__all__ += ["extra"]',
               '__all__.extend(["more"])', '__all__.append("last")')),
    Case("all_tuple.py", "all_tuple.py",
         {"variable <module>.__all__": "tuple[str, ...]", "return alpha": "str",
          "return beta": "bytes"},
         stub=('__all__: tuple[str, ...] = ("alpha",)', "def beta() -> bytes: ...")),
]


@pytest.fixture(params=CASES, ids=[case.name for case in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def project(tmp_path: Path, case: Case) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / case.name).write_bytes(case.data())
    return root


def _own(diagnostics: list[Diagnostic], name: str) -> list[Diagnostic]:
    return [d for d in diagnostics if d.file == name and d.severity is not Severity.INFO]


def test_infer(case: Case, project: Path) -> None:
    result = infer([project], STATIC)
    diagnostics = _own(result.diagnostics, case.name)
    typed = {p.key[1:]: p.type for p in result.predictions if p.type is not None}
    if case.skipped is not None:
        assert len(diagnostics) == 1 and case.skipped in diagnostics[0].message, diagnostics
        assert diagnostics[0].severity is case.severity
        assert not result.predictions
        return
    assert not diagnostics
    expected = {_site(spec): type_ for spec, type_ in case.inferred.items()}
    assert {key: typed.get(key) for key in expected} == expected
    names = {p.name for p in result.predictions}
    assert not names & set(case.no_site)


def _is_subsequence(short: bytes, long: bytes) -> bool:
    """Whether every byte of ``short`` appears in ``long``, in order (insertions only)."""
    position = 0
    for byte in short:
        position = long.find(byte, position) + 1
        if position == 0:
            return False
    return True


def _line_breaks(data: bytes) -> set[bytes]:
    breaks = set()
    if b"\r\n" in data:
        breaks.add(b"\r\n")
    if b"\n" in data.replace(b"\r\n", b""):
        breaks.add(b"\n")
    if b"\r" in data.replace(b"\r\n", b""):
        breaks.add(b"\r")
    return breaks


def test_apply_write(case: Case, project: Path) -> None:
    path = project / case.name
    original = path.read_bytes()
    code, _, err = run("apply", str(project), "--write", *STATIC_FLAGS)
    assert code == 0, err
    new = path.read_bytes()
    if case.skipped is not None or case.unwritable is not None:
        assert new == original
        reason = case.skipped or case.unwritable
        assert err.count(f"{case.name}: ") == 1 and f"{reason}" in err, err
        return
    assert "Traceback" not in err and f"{case.name}:" not in err, err
    assert new != original
    if case.exact is not None:
        assert new == case.exact
    for expected in case.written:
        assert expected in new
    for unexpected in case.not_written:
        assert unexpected not in new
    # Only insertions, in the file's own encoding, byte order mark and line breaks.
    assert _is_subsequence(original, new)
    assert new.startswith(BOM) == original.startswith(BOM)
    assert _line_breaks(new) == _line_breaks(original)
    parse_source(decode_source(new), case.name)
    code, _, err = run("apply", str(project), "--write", *STATIC_FLAGS)
    assert code == 0 and path.read_bytes() == new, err
    assert "wrote 0 annotations in 0 files" in err


def test_stub(case: Case, project: Path, tmp_path: Path) -> None:
    out = tmp_path / "stubs"
    code, _, err = run("stub", str(project), "-o", str(out), *STATIC_FLAGS)
    assert code == 0, err
    stub = out / Path(case.name).with_suffix(".pyi")
    assert (project / case.name).read_bytes() == case.data()  # stubs never touch the source
    if case.skipped is not None or case.stub is None:
        assert not stub.exists()
        reason = case.skipped or case.no_stub
        assert err.count(f"{case.name}: ") == 1 + (case.unwritable is not None), err
        assert f"{reason}" in err, err
        return
    text = stub.read_text(encoding="utf-8")
    parse_source(text, stub.name)
    lines = text.splitlines()
    for line in case.stub:
        assert line in lines, text


def test_the_whole_corpus_at_once_with_the_model(tmp_path: Path) -> None:
    """Every case in one project, with the default configuration (model included): each
    skipped file has its one diagnostic, and the rest is inferred."""
    for case in CASES:
        if case.name != "very_large.py":  # the size limit is case very_large's business
            (tmp_path / case.name).write_bytes(case.data())
    result = infer([tmp_path], Config())
    skipped = {d.file for d in result.diagnostics if d.severity is not Severity.INFO}
    assert skipped == {c.name for c in CASES if c.skipped is not None} - {"very_large.py"}
    predicted = {p.file for p in result.predictions}
    assert predicted == {c.name for c in CASES if c.skipped is None}


def test_the_analysed_code_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    (tmp_path / "m.py").write_text(
        f"import pathlib\nexec(\"pathlib.Path({str(marker)!r}).write_text('x')\")\n"
        f"pathlib.Path({str(marker)!r}).write_text('y')\n\n\ndef f():\n    return 1\n")
    infer([tmp_path], STATIC)
    run("apply", str(tmp_path), "--write", *STATIC_FLAGS)
    run("stub", str(tmp_path), "-o", str(tmp_path / "out"), *STATIC_FLAGS)
    assert not marker.exists()
    assert "def f() -> int:" in (tmp_path / "m.py").read_text()
