"""Generated programs and the properties every one of them must keep through typeseer.

Shared by the property tests (tests/test_properties.py, a bounded number of programs) and the
long run (bench/properties.py). The programs come from hypothesmith (``from_grammar``: odd
but valid token soup; ``from_node``: LibCST-built statements and functions) and from
``annotatable_programs``, a small grammar of the code typeseer has most to say about
(parameters with defaults, returns, attributes, loops, ``with``, imports, decorators), laid out
in awkward but valid ways (comments and continuations inside signatures, one-line bodies,
semicolons, CRLF, tabs, form feeds).

The properties, each a name in ``PROPERTIES``:

* ``infer``: ``typeseer.api.infer`` returns (diagnostics are fine, exceptions are not);
* ``apply``: ``apply(write=True)`` returns;
* ``parses`` / ``compiles``: the written file parses and compiles (when the original did);
* ``tokens``: the written file holds every token of the original, in order, and nothing but
  annotations (``: T``, ``-> T``, declarations ``x: T``) and imports (``if TYPE_CHECKING:``
  blocks included) besides; existing annotations and imported names are all still there;
* ``idempotent``: a second ``apply`` changes nothing;
* ``stub``: the stub of the written file (``typeseer stub``'s ``to_stub``) parses, or is
  refused with ``StubError``.
"""

from __future__ import annotations

import ast
import io
import tempfile
import token
import tokenize
import traceback
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hypothesmith
import libcst as cst
from hypothesis import strategies as st
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from typeseer.api import infer
from typeseer.apply.options import Level, PythonVersion
from typeseer.apply.run import apply
from typeseer.config import Config
from typeseer.pyi import StubError, to_stub

__all__ = [
    "PROPERTIES",
    "Failure",
    "Outcome",
    "annotatable_programs",
    "check_program",
    "configs",
    "programs",
]

PROPERTIES = ("infer", "apply", "parses", "compiles", "tokens", "idempotent", "stub")

#: Static inference only, writing every type it has (the fast path, most edits).
FAST = Config(use_model=False, cache=False, level=Level.AGGRESSIVE, min_confidence=0.0)
#: The model too, at the default level.
WITH_MODEL = Config(use_model=True, cache=False)
#: Old spelling: ``Optional[int]``, ``List[str]`` and their ``typing`` imports.
OLD_SPELLING = Config(use_model=False, cache=False, level=Level.AGGRESSIVE, min_confidence=0.0,
                      python_version=PythonVersion(3, 8))


@dataclass(frozen=True, slots=True)
class Failure:
    """One property a program broke, with what was seen."""

    property: str
    detail: str

    def __str__(self) -> str:
        return f"{self.property}: {self.detail}"


# -- programs ----------------------------------------------------------------------------------

_NAMES = ("x", "value", "items", "name", "self", "cls", "data", "n", "path", "List",
          "Optional", "TYPE_CHECKING", "typing", "int", "str", "ñame", "_", "__all__")
_LITERALS = ("1", "-2", "1.5", "'s'", '"a" "b"', "b'x'", "f'{1}'", "None", "True", "[]", "{}",
             "[1, 2]", "{'k': 1}", "(1, 'a')", "set()", "()", "1j", "...", "lambda: 0",
             "[i for i in range(3)]", "{1}", "print", "0xff")
_SEPARATORS = (", ", ",", ",  # note\n    ", ",\\\n    ", " ,\n\t")


@st.composite
def _parameters(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from((*_NAMES[:12], "ñame")), max_size=4, unique=True))
    parts: list[str] = []
    defaulted = False
    for name in names:
        if defaulted or draw(st.booleans()):
            equal = draw(st.sampled_from(("=", " = ", "= ", "=\\\n")))
            parts.append(f"{name}{equal}{draw(st.sampled_from(_LITERALS))}")
            defaulted = True
        else:
            parts.append(name)
    if len(parts) > 0 and draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(("*", "*args"))))
        if parts[-1] == "*":
            parts.append("k=1")
    if draw(st.booleans()):
        parts.append("**kwargs")
    separator = draw(st.sampled_from(_SEPARATORS))
    trailing = "," if parts and "**" not in parts[-1] and draw(st.booleans()) else ""
    return separator.join(parts) + trailing


def _expression(draw: st.DrawFn) -> str:
    return draw(st.one_of(st.sampled_from(_LITERALS), st.sampled_from(_NAMES[:7]),
                          st.sampled_from(("x + 1", "len(items)", "str(n)", "not x", "x or []",
                                           "open('p')", "object()", "C()", "f(1)"))))


@st.composite
def _simple_statement(draw: st.DrawFn) -> str:
    target = draw(st.sampled_from((*_NAMES[:7], "self.a", "self.b", "cls.c", "a, b", "[y]",
                                   "*z, w")))
    value = _expression(draw)
    return draw(st.sampled_from((
        f"{target} = {value}", f"{target} = {target} = {value}", f"return {value}", "return",
        f"yield {value}", f"{target} += 1", f"n: int = {value}", "m: str", f"print({value})",
        "pass", "import os", "from typing import List", "from collections import OrderedDict",
        f"del {target}" if "*" not in target else "pass", "global g", "raise",
        f"(q := {value})", f"assert {value}, 'm'", f"{target} = {value}  # type: ignore",
        f"{target} = {value}  # type: List[int]", f"self.a += {value}", "x: 'C' = C()",
        f"[q for p in {value} if (q := p)]", "int = 3", "import typing as t",
        f"for {target} in {value}: pass", f"with open('p') as (a, *b): {target} = a")))


@st.composite
def _block(draw: st.DrawFn, depth: int) -> list[str]:
    """Lines of a block, not yet indented."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 9 if depth < 2 else 4))
        if kind <= 3:
            lines.append(draw(_simple_statement()))
        elif kind == 4:
            lines.append(f"{draw(_simple_statement())}; {draw(_simple_statement())}")
        elif kind == 5:
            header = draw(st.sampled_from((
                "for i in range(3):", "for k, v in {}.items():", "with open('p') as fh:",
                "while n:", "if x:", "try:", "async for i in g:", "with a as (b, c):",
                "with (open('a') as fa, open('b') as fb):", "match x:\n    case [a, *b]:",
                "if TYPE_CHECKING:", "for i, (j, *k) in x:  # loop")))
            headers = header.split("\n")  # match: the case line too
            lines.extend(headers)
            lines.extend("    " * len(headers) + line for line in draw(_block(depth + 1)))
            if header == "try:":
                lines.append("except ValueError as error:")
                lines.append("    pass")
        elif kind <= 8:
            lines.extend(draw(_function(depth + 1)))
        else:
            lines.extend(draw(_class(depth + 1)))
    return lines


@st.composite
def _function(draw: st.DrawFn, depth: int = 0) -> list[str]:
    decorators = draw(st.lists(st.sampled_from((
        "@property", "@staticmethod", "@classmethod", "@functools.cache", "@decorate(1)",
        "@overload", "@x.setter", "@dataclass")), max_size=2))
    name = draw(st.sampled_from(("f", "g", "__init__", "__len__", "__eq__", "get_name",
                                 "is_ready", "_private", "fñ")))
    keyword = draw(st.sampled_from(("def", "def", "async def")))
    params = draw(_parameters())
    returns = draw(st.sampled_from(("", "", "", " -> int", " -> 'C'", "->None")))
    header = f"{keyword} {name}({params}){returns}:"
    if draw(st.integers(0, 4)) == 0:
        return [*decorators, f"{header} {draw(_simple_statement())}"]
    body = draw(_block(depth))
    if draw(st.booleans()):
        body.insert(0, draw(st.sampled_from(('"""Doc."""', "# a comment", "'''Doc'''"))))
    return [*decorators, header, *("    " + line for line in body)]


@st.composite
def _class(draw: st.DrawFn, depth: int = 0) -> list[str]:
    bases = draw(st.sampled_from(("", "()", "(object)", "(Base)", "(Enum)", "(NamedTuple)",
                                  "(Protocol)", "(TypedDict)")))
    body = draw(_block(depth))
    name = draw(st.sampled_from(("C", "C", "Text", "List", "Optional", "Base", "Any")))
    decorators = draw(st.lists(st.sampled_from(("@dataclass", "@final", "@register(1)")),
                               max_size=1))
    return [*decorators, f"class {name}{bases}:", *("    " + line for line in body)]


_PREAMBLES = ("", '"""Module doc."""\n', "from __future__ import annotations\n",
              "# -*- coding: utf-8 -*-\n", "import typing\nfrom typing import TYPE_CHECKING\n",
              "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import os\n",
              "#!/usr/bin/env python\n", "from typing import *\n", "import functools\n")


@st.composite
def annotatable_programs(draw: st.DrawFn) -> str:
    """Modules of functions, classes and statements typeseer annotates, in awkward layouts."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 4))
        if kind <= 2:
            lines.extend(draw(_function()))
        elif kind == 3:
            lines.extend(draw(_class()))
        else:
            lines.extend(line for line in draw(_block(2))  # no return or yield out here
                         if not line.lstrip().startswith(("return", "yield")))
    newline = draw(st.sampled_from(("\n", "\n", "\r\n")))
    indent = draw(st.sampled_from(("    ", "    ", "\t", "  ")))
    text = newline.join(line.replace("    ", indent) for line in lines)
    text = draw(st.sampled_from(_PREAMBLES)).replace("\n", newline) + text
    return text + draw(st.sampled_from((newline, "", newline + "\x0c" + newline)))


def _compiles(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # generated code: ``assert (x, 'm')`` and such
            compile(source, "<generated>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def programs() -> st.SearchStrategy[str]:
    """Every source of programs, each valid Python (compiles on this interpreter)."""
    return st.one_of(
        hypothesmith.from_grammar(),
        hypothesmith.from_node(),
        hypothesmith.from_node(cst.FunctionDef),
        annotatable_programs().filter(_compiles),
    )


def configs() -> st.SearchStrategy[Config]:
    """The settings a program runs under: mostly static-only (fast), sometimes the model."""
    return st.sampled_from((FAST, FAST, FAST, OLD_SPELLING, WITH_MODEL))


# -- properties --------------------------------------------------------------------------------

def _trace(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)[-6:]).strip()


@dataclass(slots=True)
class Outcome:
    """What one program went through."""

    failures: list[Failure] = field(default_factory=list)
    #: ``apply`` wrote annotations into it.
    annotated: bool = False


def check_program(source: str, config: Config = FAST) -> Outcome:
    """Run ``infer``, ``apply --write`` (twice) and ``stub`` on ``source`` as one module, and
    check the properties (see the module docstring)."""
    outcome = Outcome()
    with tempfile.TemporaryDirectory(prefix="typeseer-prop-") as directory:
        root = Path(directory)
        path = root / "generated.py"
        try:
            path.write_bytes(source.encode("utf-8"))
        except UnicodeEncodeError:
            return outcome  # lone surrogates: not a file anyone can have
        outcome.failures.extend(_check_file(root, path, source, config, outcome))
    return outcome


def _check_file(root: Path, path: Path, source: str, config: Config,
                outcome: Outcome) -> Iterator[Failure]:
    try:
        infer([root], config)
    except Exception as error:
        yield Failure("infer", _trace(error))
    try:
        apply([root], config, write=True)
    except Exception as error:
        yield Failure("apply", _trace(error))
        return
    output = path.read_bytes().decode("utf-8")
    if output != source:
        outcome.annotated = True
        yield from _check_output(source, output)
    try:
        again = apply([root], config)
    except Exception as error:
        yield Failure("idempotent", f"second apply raised: {_trace(error)}")
    else:
        if again.changes:
            yield Failure("idempotent", again.changes[0].diff()[:2000])
    try:
        stub = to_stub(output)
    except StubError:
        pass  # a defined refusal (LibCST cannot parse it, or nesting too deep)
    except Exception as error:
        yield Failure("stub", _trace(error))
    else:
        try:
            ast.parse(stub)
        except SyntaxError as error:
            yield Failure("stub", f"stub does not parse: {error}\n{stub[:2000]}")


def _check_output(source: str, output: str) -> Iterator[Failure]:
    try:
        ast.parse(output)
    except SyntaxError as error:
        yield Failure("parses", f"{error}\n{output[:2000]}")
        return
    if _compiles(source) and not _compiles(output):
        yield Failure("compiles", output[:2000])
        return
    problem = token_difference(source, output)
    if problem is not None:
        yield Failure("tokens", problem)


# -- token comparison --------------------------------------------------------------------------

_LAYOUT = frozenset({token.NEWLINE, token.NL, token.INDENT, token.DEDENT, token.ENDMARKER,
                     token.ENCODING})


@dataclass(slots=True)
class _Stripped:
    """A module's tokens without its annotations and imports, and what was taken out."""

    tokens: list[tuple[int, str]]
    #: Each annotation's text (a declaration ``x: T`` whole), in source order.
    annotations: list[str] = field(default_factory=list)
    #: Each imported binding: (module, name, as-name).
    imports: set[tuple[str, str, str]] = field(default_factory=set)


class _Removals(cst.CSTVisitor):
    """Collects the ranges of annotations, declarations, imports and TYPE_CHECKING blocks."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, module: cst.Module) -> None:
        super().__init__()
        self.module = module
        #: (range, whether the token before it, ``:`` or ``->``, goes with it).
        self.ranges: list[tuple[CodeRange, bool]] = []
        self.annotations: list[str] = []
        self.imports: set[tuple[str, str, str]] = set()

    def _range(self, node: cst.CSTNode) -> CodeRange:
        return self.get_metadata(PositionProvider, node)

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self.ranges.append((self._range(node), True))
        self.annotations.append(self.module.code_for_node(node.annotation).strip())

    def visit_AnnAssign(self, node: cst.AnnAssign) -> bool:
        if node.value is not None:
            return True
        self.ranges.append((self._range(node), False))
        target = self.module.code_for_node(node.target).strip()
        annotation = self.module.code_for_node(node.annotation.annotation).strip()
        self.annotations.append(f"{target}: {annotation}")
        return False

    def visit_Import(self, node: cst.Import) -> bool:
        self.ranges.append((self._range(node), False))
        for alias in node.names:
            self.imports.add(("", _code(self.module, alias.name), _as_name(self.module, alias)))
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self.ranges.append((self._range(node), False))
        module = "." * len(node.relative) + (
            _code(self.module, node.module) if node.module is not None else "")
        if isinstance(node.names, cst.ImportStar):
            self.imports.add((module, "*", ""))
        else:
            for alias in node.names:
                self.imports.add((module, _code(self.module, alias.name),
                                  _as_name(self.module, alias)))
        return False

    def visit_If(self, node: cst.If) -> bool:
        test = node.test
        name = test.value if isinstance(test, cst.Name) else (
            test.attr.value if isinstance(test, cst.Attribute) else "")
        if name != "TYPE_CHECKING":
            return True
        self.ranges.append((self._range(node), False))
        return True  # its imports and annotations are still collected


def _code(module: cst.Module, node: cst.CSTNode) -> str:
    return "".join(module.code_for_node(node).split())


def _as_name(module: cst.Module, alias: cst.ImportAlias) -> str:
    return _code(module, alias.asname.name) if alias.asname is not None else ""


def _strip(text: str) -> _Stripped:
    wrapper = MetadataWrapper(cst.parse_module(text))
    removals = _Removals(wrapper.module)
    wrapper.visit(removals)
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    drop: set[int] = set()
    for code_range, with_indicator in removals.ranges:
        start = (code_range.start.line, code_range.start.column)
        end = (code_range.end.line, code_range.end.column)
        inside = [i for i, t in enumerate(tokens)
                  if start <= t.start < end and t.type not in _LAYOUT]
        drop.update(inside)
        if with_indicator and inside:
            before = inside[0] - 1
            while before >= 0 and tokens[before].type in (token.NL, token.COMMENT):
                before -= 1
            if before < 0 or tokens[before].string not in (":", "->"):
                raise AssertionError(f"annotation at {start} has no ':' or '->' before it")
            drop.add(before)
    kept = [(t.type, t.string) for i, t in enumerate(tokens)
            if i not in drop and t.type not in _LAYOUT]
    return _Stripped(kept, removals.annotations, removals.imports)


def _is_subsequence(short: Sequence[str], long: Sequence[str]) -> bool:
    remaining = iter(long)
    return all(any(item == other for other in remaining) for item in short)


def token_difference(source: str, output: str) -> str | None:
    """None when ``output`` is ``source`` plus annotations and imports only; otherwise the
    first difference, described."""
    try:
        before = _strip(source)
    except (cst.ParserSyntaxError, tokenize.TokenError, SyntaxError, RecursionError):
        return None  # LibCST or the tokenize module cannot read the original: nothing to hold
    try:
        after = _strip(output)
    except (cst.ParserSyntaxError, tokenize.TokenError, SyntaxError, AssertionError) as error:
        return f"output cannot be compared: {error}"
    if before.tokens != after.tokens:
        pairs = enumerate(zip(before.tokens, after.tokens, strict=False))
        index = next((i for i, (a, b) in pairs if a != b),
                     min(len(before.tokens), len(after.tokens)))
        return (f"token {index} differs: original {before.tokens[index:index + 6]}, "
                f"output {after.tokens[index:index + 6]}\n{output[:2000]}")
    if not _is_subsequence(before.annotations, after.annotations):
        return f"existing annotations lost: {before.annotations} -> {after.annotations}"
    if not before.imports <= after.imports:
        return f"imports lost: {sorted(before.imports - after.imports)}"
    return None
