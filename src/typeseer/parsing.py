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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst

__all__ = ["LIBCST_MAX_DEPTH", "ParseFailure", "check_libcst_depth", "parse_libcst",
           "parse_source"]


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
    from ._newer_syntax import downgrade  # LibCST loads only when needed (~0.2 s)

    return downgrade(text, _LINE.findall(text))


#: The deepest expression nesting handed to LibCST. Its native parser overflows the stack (the
#: process dies) on chains of about 10,000 ``and`` or unary operators, and takes minutes over
#: long operator, call or subscript chains; its Python side fails near 500 levels anyway (the
#: recursion limit), so nothing LibCST could have handled is refused.
LIBCST_MAX_DEPTH = 1000

#: Tokens that nest one level deeper in LibCST's tree when chained: operators, ``and``/``or``/
#: ``not``, attribute dots (not decimal points), calls, subscripts, ``if``-expressions, lambdas.
_CHAIN_TOKEN = re.compile(r"\b(?:and|or|not|if|lambda)\b|[-+*/%@&|^~<>]|(?<![\d.])\.(?!\d)|[(\[]")


def check_libcst_depth(text: str) -> None:
    """Raise RecursionError when ``text`` nests expressions deeper than LIBCST_MAX_DEPTH, so
    that LibCST never sees it (see LIBCST_MAX_DEPTH: it can crash the process)."""
    try:
        tree = _parse_ast(text, "<depth check>")
    except (RecursionError, MemoryError):
        raise RecursionError("expressions nested too deeply for LibCST") from None
    except (SyntaxError, ValueError):
        # No tree (newer or invalid syntax): bound the chain tokens of each physical line,
        # a generous over-estimate of the nesting a line can open.
        if any(len(_CHAIN_TOKEN.findall(line)) > LIBCST_MAX_DEPTH
               for line in _LINE.findall(text)):
            raise RecursionError("expressions nested too deeply for LibCST") from None
        return
    if _libcst_depth(tree) > LIBCST_MAX_DEPTH:
        raise RecursionError("expressions nested too deeply for LibCST")


def parse_libcst(text: str) -> cst.Module:
    """``libcst.parse_module``, behind ``check_libcst_depth``: the one way typeseer hands text
    to LibCST. Raises RecursionError (too deep) or LibCST's own errors."""
    import libcst  # loaded only when needed (~0.2 s)

    check_libcst_depth(text)
    return libcst.parse_module(text)


def _libcst_depth(tree: ast.AST) -> int:
    """The nesting depth of LibCST's tree for ``tree``: as ``ast``'s, except that a boolean
    chain of n operands (one ``ast.BoolOp``) nests n - 1 deep there."""
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        depth += len(node.values) - 1 if isinstance(node, ast.BoolOp) else 1
        if depth > deepest:
            deepest = depth
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))
    return deepest
