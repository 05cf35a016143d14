"""``python -m typeseer.lsp``: the same server as ``typeseer lsp``."""

from __future__ import annotations

import argparse
import sys

from .command import add_lsp_parser, run_lsp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m typeseer.lsp")
    add_lsp_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["lsp", *(sys.argv[1:] if argv is None else argv)])
    return run_lsp(args, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
