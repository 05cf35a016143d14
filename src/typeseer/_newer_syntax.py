"""The LibCST side of parsing.py: rewriting syntax newer than the running interpreter.

Imported only when ``ast.parse`` rejects a file that may use PEP 695 syntax, so that ordinary
runs do not pay for loading LibCST.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from .parsing import parse_libcst

__all__ = ["downgrade"]


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


def downgrade(text: str, lines: list[str]) -> str | None:
    """Position-preserving rewrite of PEP 695 syntax in ``text`` (split into ``lines`` with
    their line breaks), or None when LibCST rejects the text too."""
    try:
        module = parse_libcst(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return None
    collector = _NewerSyntax()
    MetadataWrapper(module, unsafe_skip_copy=True).visit(collector)
    if not collector.edits:
        return None
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
