"""``typeseer lsp``: run the language server on stdin/stdout."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from typing import Any, TextIO

__all__ = ["add_lsp_parser", "run_lsp"]

EXIT_USAGE = 2
#: A third-generation threshold the interpreter never reaches in practice.
_NEVER = 1_000_000


def add_lsp_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """``typeseer lsp [--stdio] [--debounce SECONDS] [--log-level LEVEL]``."""
    command = commands.add_parser(
        "lsp", help="run the language server (inlay hints, hover, code actions) over stdio",
        description="A Language Server Protocol server over stdin/stdout: inferred types as "
                    "inlay hints, their alternatives and evidence on hover, and code actions "
                    "that annotate a site, a function or the file as `typeseer apply` does. "
                    "Settings come from [tool.typeseer] and from the editor "
                    "(docs/editors.md).")
    command.add_argument("--stdio", action="store_true",
                         help="talk over stdin/stdout (the default and only transport; "
                              "accepted because editors pass it)")
    command.add_argument("--debounce", type=float, default=None, metavar="SECONDS",
                         help="wait this long after the last edit before analysing again "
                              "(default: 0.3)")
    command.add_argument("--log-level", choices=["error", "warning", "info", "debug"],
                         default="warning", help="what is logged on stderr (default: warning)")


def run_lsp(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Handle ``typeseer lsp``: serve until the client says ``exit`` (0 after ``shutdown``,
    else 1, as LSP asks); 2 when pygls is missing or the options are bad."""
    try:
        import pygls  # noqa: F401  (optional dependency: typeseer[lsp])
    except ImportError:
        stderr.write("typeseer lsp: the language server needs pygls: "
                     "install typeseer[lsp]\n")
        return EXIT_USAGE
    from .server import create_server
    from .session import DEFAULT_DEBOUNCE

    debounce = DEFAULT_DEBOUNCE if args.debounce is None else args.debounce
    if not 0 <= debounce <= 60:
        stderr.write("typeseer lsp: --debounce must be between 0 and 60 seconds\n")
        return EXIT_USAGE
    handler = logging.StreamHandler(stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
    # Full collections walk every loaded tree (0.1-0.25 s on a 5,000-line file): the session
    # runs them between analyses, never in the middle of a request.
    gc.set_threshold(*gc.get_threshold()[:2], _NEVER)
    # The protocol owns stdout: nothing else may be written there.
    server = create_server(debounce, collects_garbage=True)
    server.start_io(sys.stdin.buffer, sys.stdout.buffer)
    return server.exit_code
