"""Running the command line in-process, as the tests of every subcommand do."""

from __future__ import annotations

import io

from typeseer.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    """``typeseer ARGV...``: the exit code, standard output and standard error."""
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()
