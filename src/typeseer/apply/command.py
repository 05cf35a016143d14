"""The `apply` and `stub` subcommands: argument parsing and output over the Python API."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from ..config import CHECKERS, ConfigError, add_analysis_options, config_overrides, load_config
from ..fileio import atomic_write_text
from ..sources import Severity
from .options import ExistingPolicy, Level
from .run import ApplyResult, apply

__all__ = ["add_apply_parser", "add_stub_parser", "run_apply", "run_stub"]

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_USAGE = 2

def _add_selection_options(command: argparse.ArgumentParser) -> None:
    """What gets annotated and how it is spelled: shared by `apply` and `stub`."""
    command.add_argument("paths", nargs="*", metavar="PATH",
                         help="files or directories (none: nothing to do, exit 0)")
    command.add_argument("--level", choices=[level.value for level in Level],
                         help="safety level (default: balanced): sets the default threshold "
                              "and which decorated code may be annotated")
    command.add_argument("--min-confidence", type=float, metavar="X",
                         help="write a type only when its confidence is at least X "
                              "(overrides the level's threshold)")
    command.add_argument("--kinds", metavar="K,K",
                         help="site kinds to annotate: param,return,variable,attribute")
    command.add_argument("--types", metavar="T,T",
                         help="write only these types (e.g. --kinds return --types None)")
    command.add_argument("--python-version", metavar="3.X",
                         help="oldest Python the code runs on (default 3.10: X | None, "
                              "list[int]; older targets get Optional[X], List[int])")
    command.add_argument("--max-union", type=int, metavar="N",
                         help="do not write unions of more than N members (default 3)")
    command.add_argument("--max-depth", type=int, metavar="N",
                         help="do not write types nested deeper than N (default 3)")
    command.add_argument("--existing", choices=[p.value for p in ExistingPolicy],
                         help="existing annotations: keep (default) or replace when a "
                              "different type is inferred")
    add_analysis_options(command)
    command.add_argument("--quiet", "-q", action="store_true",
                         help="no summary and no diagnostics on stderr")


def add_apply_parser(commands: argparse._SubParsersAction[Any]) -> None:
    command = commands.add_parser(
        "apply", help="write the inferred types into the code (preview by default)",
        description="Insert the inferred annotations that pass the threshold, keeping every "
                    "other byte. Without --write, print a unified diff and change nothing. "
                    "Exit status: 0 done (or nothing to change), 1 with --check when "
                    "something would change or when a file could not be written, 2 on a "
                    "usage error.")
    mode = command.add_mutually_exclusive_group()
    mode.add_argument("--write", "-w", action="store_true", help="write the changes")
    mode.add_argument("--check", action="store_true",
                      help="change nothing; exit 1 when something would be annotated")
    mode.add_argument("--diff", action="store_true",
                      help="print a unified diff of the changes (the default)")
    _add_selection_options(command)
    command.add_argument("--verify", choices=list(CHECKERS),
                         help="type-check before and after; drop annotations that add errors")
    command.add_argument("--report", metavar="FILE",
                         help="write a JSON report: annotations written, dropped, skipped")


def add_stub_parser(commands: argparse._SubParsersAction[Any]) -> None:
    command = commands.add_parser(
        "stub", help="write .pyi stubs with the inferred types",
        description="Write a .pyi stub for every module under PATHs into DIR, with the "
                    "inferred annotations that pass the threshold.")
    command.add_argument("--output", "-o", required=True, metavar="DIR",
                         help="directory for the stubs (created; one per module, in the "
                              "package layout)")
    _add_selection_options(command)


def _summary(result: ApplyResult, verb: str) -> str:
    edits = result.edits
    parts = [f"{verb} {len(edits)} annotation{'s' * (len(edits) != 1)} in "
             f"{len(result.changes)} file{'s' * (len(result.changes) != 1)}"]
    if result.verify is not None:
        parts.append(f"{len(result.dropped)} dropped by {result.verify['checker']}")
    skipped = sum(result.skipped.values())
    if skipped:
        top = ", ".join(f"{reason} ({count})"
                        for reason, count in Counter(result.skipped).most_common(3))
        parts.append(f"{skipped} not written: {top}")
    return "typeseer: " + "; ".join(parts) + "\n"


#: Dropped annotations listed on stderr; the report (``--report``) has all of them.
_SHOWN_DROPS = 20


def _report_diagnostics(result: ApplyResult, stderr: TextIO, quiet: bool) -> None:
    if quiet:
        return
    for diagnostic in result.diagnostics:
        if diagnostic.severity is not Severity.INFO:
            stderr.write(f"typeseer: {diagnostic}\n")
    for edit, reason in result.dropped[:_SHOWN_DROPS]:
        name = edit.key.name or "return"
        stderr.write(f"typeseer: dropped {edit.key.file}:{edit.line} {edit.key.scope} {name}: "
                     f"{edit.annotation} ({reason})\n")
    if len(result.dropped) > _SHOWN_DROPS:
        stderr.write(f"typeseer: ... and {len(result.dropped) - _SHOWN_DROPS} more dropped "
                     "(--report FILE lists them all)\n")


def _start(args: argparse.Namespace) -> Path:
    return Path(args.paths[0]) if args.paths else Path.cwd()


def run_apply(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    config = load_config(_start(args), config_overrides(args))
    if not args.paths:
        if not args.quiet:
            stderr.write("typeseer: no files given, nothing to do\n")
        return EXIT_OK
    progress = None
    if stderr.isatty() and not args.quiet:
        def progress(message: str) -> None:
            stderr.write(f"typeseer: {message}...\n")
    from ..verify import VerifyError

    try:
        result = apply(args.paths, config, write=args.write, progress=progress)
    except VerifyError as error:
        stderr.write(f"typeseer apply: verification failed: {error}\n")
        return EXIT_USAGE
    if not args.write and not args.check:
        for change in result.changes:
            stdout.write(change.diff())
    if args.report:
        atomic_write_text(Path(args.report), json.dumps(result.to_json(), indent=1) + "\n")
    _report_diagnostics(result, stderr, args.quiet)
    if not args.quiet:
        stderr.write(_summary(result, "wrote" if args.write else "would write"))
    missing = any(d.message == "no such file or directory" for d in result.diagnostics)
    if missing:
        return EXIT_USAGE
    if (args.check and result.changes) or result.failed:
        return EXIT_CHANGES
    return EXIT_OK


def run_stub(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .stubs import write_stubs

    config = load_config(_start(args), config_overrides(args))
    if not args.paths:
        return EXIT_OK
    try:
        result = write_stubs(args.paths, Path(args.output), config)
    except (ConfigError, OSError) as error:
        stderr.write(f"typeseer stub: {error}\n")
        return EXIT_USAGE
    for diagnostic in result.diagnostics:
        if not args.quiet and diagnostic.severity is not Severity.INFO:
            stderr.write(f"typeseer: {diagnostic}\n")
    if not args.quiet:
        stderr.write(f"typeseer: wrote {len(result.written)} stubs to {args.output}\n")
    missing = any(d.message == "no such file or directory" for d in result.diagnostics)
    return EXIT_USAGE if missing else EXIT_OK
