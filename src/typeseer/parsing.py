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
