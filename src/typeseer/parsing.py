"""Parsing source into an ``ast`` tree, including syntax newer than the running interpreter.

The fast path is CPython's own parser (``ast.parse``), several times faster than any other
parser available from Python. When it rejects a file, LibCST's native parser (which knows the
grammar of Python 3.0 through 3.14) decides: if the file is valid newer Python, the constructs
the running interpreter does not know are rewritten, position-preserving, into ones it does
(PEP 695/696 type parameters are blanked out, ``type X = ...`` statements become ``pass``) and
the result is parsed again. Sites keep their exact lines and columns either way.
"""

from __future__ import annotations

import ast
import re
import warnings

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

__all__ = ["ParseFailure", "parse_source"]


class ParseFailure(Exception):
    """The source cannot be parsed; the message is one line with the reason."""


def parse_source(text: str, filename: str = "<unknown>") -> ast.Module:
    """Parse ``text``; raises ParseFailure with a one-line reason."""
    try:
        return _parse_ast(text, filename)
    except SyntaxError as error:
        first_error = error
    except ValueError as error:  # Python 3.10: "source code string cannot contain null bytes"
        raise ParseFailure(f"cannot parse: {error}") from None
    except (RecursionError, MemoryError):  # MemoryError: "parser stack overflowed"
        raise ParseFailure("expressions nested too deeply to parse") from None
    try:
        downgraded = _downgrade_newer_syntax(text)
    except (RecursionError, MemoryError):  # LibCST's visitors recurse in Python
        downgraded = None
    if downgraded is None:
        raise ParseFailure(_describe(first_error)) from None
    try:
        return _parse_ast(downgraded, filename)
    except (SyntaxError, RecursionError, MemoryError):
        raise ParseFailure(
            f"valid newer Python, but it uses syntax this interpreter cannot represent "
            f"({_describe(first_error)})"
        ) from None


def _parse_ast(text: str, filename: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like
        return ast.parse(text, filename=filename, type_comments=False)


def _describe(error: SyntaxError) -> str:
    where = f"line {error.lineno}" if error.lineno else "unknown line"
    return f"syntax error at {where}: {error.msg}"


class _NewerSyntax(cst.CSTVisitor):
    """Collects the spans of constructs to rewrite, and what to write in their place."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.edits: list[tuple[CodeRange, str]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.type_parameters is not None:
            self.edits.append((self.get_metadata(PositionProvider, node.type_parameters), " "))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if node.type_parameters is not None:
            self.edits.append((self.get_metadata(PositionProvider, node.type_parameters), " "))

    def visit_TypeAlias(self, node: cst.TypeAlias) -> None:
        # The node's span takes in a trailing ``;``, which must stay (``type X = 1; y = 2``).
        filler = "pass;" if isinstance(node.semicolon, cst.Semicolon) else "pass"
        self.edits.append((self.get_metadata(PositionProvider, node), filler))


#: A superset of the text of the constructs _NewerSyntax rewrites (``def f[``, ``class C[``,
#: ``type X``); the backslash allows for line continuations.
_MAYBE_NEWER = re.compile(r"\b(?:def|class)[\s\\]+\w+[\s\\]*\[|\btype[\s\\]+\w")

#: Python's line breaks; ``str.splitlines`` also splits on form feeds and other characters that
#: LibCST and the tokenizer do not count as line breaks.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _downgrade_newer_syntax(text: str) -> str | None:
    """Position-preserving rewrite of PEP 695 syntax, or None when LibCST rejects the text too."""
    if _MAYBE_NEWER.search(text) is None:
        return None  # nothing to rewrite: spare LibCST, slow on deeply nested code (minutes)
    try:
        module = cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    collector = _NewerSyntax()
    MetadataWrapper(module, unsafe_skip_copy=True).visit(collector)
    if not collector.edits:
        return None
    lines = _LINE.findall(text)
    # Apply from the end so earlier positions stay valid.
    for span, filler in sorted(collector.edits, key=lambda e: (e[0].start.line, e[0].start.column),
                               reverse=True):
        lines = _replace_span(lines, span, filler)
    return "".join(lines)


def _replace_span(lines: list[str], span: CodeRange, filler: str) -> list[str]:
    """Overwrite ``span`` with ``filler``, keeping every line break and the line and ``ast``
    column (a UTF-8 byte offset) of everything after the span."""
    first, last = span.start.line - 1, span.end.line - 1
    start_col, end_col = span.start.column, span.end.column
    if first == last:
        line = lines[first]
        width = len(line[start_col:end_col].encode("utf-8"))
        lines[first] = line[:start_col] + filler.ljust(width) + line[end_col:]
        return lines
    # Multi-line: a bare line break inside a ``def`` header or a statement would end it, so each
    # line of the span ends in a backslash continuation instead, and what follows the span on its
    # last line is preceded by as many bytes of spaces as the span took there.
    head = lines[first]
    lines[first] = head[:start_col] + filler + " \\" + _line_break(head)
    for index in range(first + 1, last):
        lines[index] = "\\" + _line_break(lines[index])
    tail = lines[last]
    lines[last] = " " * len(tail[:end_col].encode("utf-8")) + tail[end_col:]
    return lines


def _line_break(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]
