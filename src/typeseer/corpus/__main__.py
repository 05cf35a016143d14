"""``python -m typeseer.corpus build --out DIR``: the corpus command without the main CLI."""

from __future__ import annotations

import argparse
import sys

from typeseer.corpus.build import add_corpus_parser, run_corpus_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m typeseer.corpus")
    commands = parser.add_subparsers(dest="command")
    add_corpus_parser(commands)
    return run_corpus_command(parser.parse_args(["corpus", *(sys.argv[1:] if argv is None
                                                             else argv)]))


if __name__ == "__main__":
    sys.exit(main())
