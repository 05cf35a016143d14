"""The command line: a thin layer over the API. ``main(argv, stdout, stderr) -> exit code``."""

from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .api import WorkerFailure, infer
from .config import ConfigError, add_analysis_options, coerce, config_overrides, load_config
from .executor import add_executor_options
from .fileio import atomic_write_text
from .report import Format, render
from .sources import Severity
from .static.rules import RULES

if TYPE_CHECKING:
    from .evaluate import EvaluationResult

__all__ = ["main", "main_entry"]

EXIT_OK = 0
#: The run could not finish (a worker process died).
EXIT_FAILURE = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() stays a pure function."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: error: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise _UsageError(message.rstrip())
        raise _ExitRequest(status)


class _ExitRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


#: Subcommands whose module loads only when they run (process start matters: `infer` runs once
#: per project in CI): name -> (module, parser function, run function, one-line help).
_LAZY_COMMANDS = {
    "apply": ("typeseer.apply.command", "add_apply_parser", "run_apply",
              "write the inferred types into the code (preview by default)"),
    "stub": ("typeseer.apply.command", "add_stub_parser", "run_stub",
             "write .pyi stubs with the inferred types"),
    "explain": ("typeseer.explain", "add_explain_parser", "run_explain",
                "the candidate types of a site and the evidence behind them"),
    "coverage": ("typeseer.coverage", "add_coverage_parser", "run_coverage",
                 "how much of the project is annotated now, and after apply"),
    "lsp": ("typeseer.lsp", "add_lsp_parser", "run_lsp",
            "a language server: inlay hints, hover and code actions"),
}


def _lazy(name: str, index: int) -> Any:
    module, *functions, _ = _LAZY_COMMANDS[name]
    return getattr(importlib.import_module(module), functions[index])


def _build_parser(with_corpus: bool = False, selected: str | None = None) -> _Parser:
    parser = _Parser(prog="typeseer", description="Infer Python type annotations.")
    parser.add_argument("--version", action="version", version=f"typeseer {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    infer_cmd = commands.add_parser("infer", help="infer the type of every site under PATHs")
    infer_cmd.add_argument("paths", nargs="*", metavar="PATH")
    infer_cmd.add_argument("--format", "-f", choices=[f.value for f in Format],
                           help="output format (default: table on a terminal, jsonl otherwise)")
    infer_cmd.add_argument("--output", "-o", metavar="FILE",
                           help="write to FILE (atomically) instead of standard output")
    infer_cmd.add_argument("--min-confidence", type=float, metavar="X",
                           help="report a type only when its confidence is at least X")
    infer_cmd.add_argument("--all", action="store_true", dest="report_all",
                           help="report the top-1 type of every site whatever its confidence")
    infer_cmd.add_argument("--kinds", metavar="K,K",
                           help="site kinds to report: param,return,variable,attribute")
    infer_cmd.add_argument("--jobs", "-j", type=int, metavar="N",
                           help="worker processes (default 1; 0 = one per CPU); batch mode: "
                                "workers, default one per CPU")
    infer_cmd.add_argument("--no-existing", action="store_false", dest="include_existing",
                           default=None, help="leave out sites that are already annotated")
    add_analysis_options(infer_cmd)
    infer_cmd.add_argument("--no-cache", action="store_false", dest="cache", default=None,
                           help="analyse every file, without reading or writing the incremental "
                                "cache (.typeseer_cache/)")
    verbosity = infer_cmd.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", "-q", action="store_true",
                           help="no progress bar and no diagnostics on stderr")
    verbosity.add_argument("--verbose", "-v", action="store_true",
                           help="also print informational diagnostics (empty files)")
    _add_batch_options(infer_cmd)

    for name, (_, _, _, help_text) in _LAZY_COMMANDS.items():
        if name == selected:
            _lazy(name, 0)(commands)
        else:  # listed in `typeseer --help`; its module loads only when it is the command
            commands.add_parser(name, help=help_text)
    commands.add_parser("rules", help="list the static inference rules")
    _add_evaluate_parser(commands)
    if with_corpus:
        from .corpus.build import add_corpus_parser

        add_corpus_parser(commands)
    else:  # the corpus code (and NumPy) loads only for `typeseer corpus ...`
        commands.add_parser("corpus", help="build the training corpus of labelled sites from "
                                           "typed PyPI packages (`typeseer corpus build -h`)")
    _add_train_parser(commands)
    return parser


def _add_batch_options(infer_cmd: argparse.ArgumentParser) -> None:
    batch = infer_cmd.add_argument_group(
        "batch mode", "with --out, each PATH is a project of its own, and the predictions go "
                      "to Parquet under --out; a run again after a crash does only what is "
                      "missing (see README, \"Batch runs and Ray\")")
    batch.add_argument("--out", metavar="DIR|URI",
                       help="batch mode: write Parquet under this folder or URI (s3://...)")
    batch.add_argument("--projects-from", metavar="FILE",
                       help="batch mode: more projects, one path a line")
    batch.add_argument("--batch-files", type=int, metavar="N", default=None,
                       help="batch mode: files per task (default 200)")
    add_executor_options(infer_cmd)


def _add_train_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    train_cmd = commands.add_parser(
        "train", help="train the type model on a featurised corpus (needs the [train] extra)",
        description="Featurise the corpus (resumable), train the model with PyTorch on the CPU "
                    "(checkpoint after each epoch, resumed on restart), calibrate it on the "
                    "validation split and write the model file.")
    train_cmd.add_argument("--corpus", default="data/corpus", metavar="DIR",
                           help="corpus built by `typeseer corpus build` (default: %(default)s)")
    train_cmd.add_argument("--data", default="data/dataset", metavar="DIR",
                           help="where featurised rows are kept (default: %(default)s)")
    train_cmd.add_argument("--out", default="src/typeseer/model/data/typeseer-model.npz",
                           metavar="FILE", help="model file to write (default: %(default)s)")
    train_cmd.add_argument("--checkpoints", default="data/checkpoints", metavar="DIR")
    train_cmd.add_argument("--epochs", type=int, default=None)
    train_cmd.add_argument("--jobs", type=int, default=2, help="featurising processes")
    train_cmd.add_argument("--skip-featurise", action="store_true",
                           help="train on the rows already in --data")


def _add_evaluate_parser(commands: argparse._SubParsersAction[_Parser]) -> None:
    evaluate_cmd = commands.add_parser(
        "evaluate", help="strip the annotations of annotated code, infer them back and score",
        description="Evaluate inference on annotated code (DESIGN.md protocol): its "
                    "annotations are the ground truth; they are stripped in a temporary copy, "
                    "inferred back (forced top-1) and scored. Exit status 2 on a usage error "
                    "or when there is no annotated site to score; 1 when a project of a batch "
                    "run (--out) failed every try.")
    evaluate_cmd.add_argument("paths", nargs="*", metavar="PATH")
    evaluate_cmd.add_argument("--min-confidence", type=float, metavar="X",
                              help="threshold for coverage and precision "
                                   "(default: the configured --min-confidence)")
    evaluate_cmd.add_argument("--format", "-f", choices=["table", "json"], default="table",
                              help="output format (default: table)")
    evaluate_cmd.add_argument("--output", "-o", metavar="FILE",
                              help="write to FILE (atomically) instead of standard output")
    evaluate_cmd.add_argument("--top-types", metavar="FILE",
                              help="types of the training distribution, most common first, "
                                   "one a line: adds the top-100 and top-500 categories")
    evaluate_cmd.add_argument("--no-model", action="store_false", dest="use_model",
                              default=None, help="static inference only, without the model")
    evaluate_cmd.add_argument("--jobs", "-j", type=int, metavar="N",
                              help="worker processes: with --out, projects evaluated at once "
                                   "(default: one per CPU); without, the processes of the one "
                                   "evaluation (default 1; 0 = one per CPU)")
    batch = evaluate_cmd.add_argument_group(
        "batch mode", "with --out, each PATH is a project evaluated on its own, as one task; "
                      "each project's ground truth and predictions go to Parquet under --out, "
                      "and the report is the micro-average over the projects; a run again "
                      "after a crash evaluates only what is missing")
    batch.add_argument("--out", metavar="DIR|URI",
                       help="batch mode: store each project's results under this folder or "
                            "URI (s3://...)")
    batch.add_argument("--projects-from", metavar="FILE",
                       help="batch mode: more projects, one path a line")
    add_executor_options(evaluate_cmd)


class _Progress:
    """A one-line progress bar on a terminal's stderr, shown only for runs longer than 1 s."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.started < 1.0 and not self.shown:
            return
        self.shown = True
        width = 30
        filled = width * done // max(total, 1)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _run_infer(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if args.out is not None:
        return _run_batch_infer(args, stdout, stderr)
    _check_single_run(args, "infer")
    config = load_config(Path(args.paths[0]), config_overrides(args))
    interactive = stderr.isatty() and not args.quiet
    progress = _Progress(stderr) if interactive else None
    try:
        result = infer(args.paths, config, progress, cache=True if config.cache else None)
    finally:
        if progress is not None:
            progress.close()
    fmt = Format(args.format) if args.format else (
        Format.TABLE if stdout.isatty() and args.output is None else Format.JSONL)
    if args.output:
        buffer = io.StringIO()
        render(result, fmt, buffer, paths=args.paths, config=config)
        atomic_write_text(Path(args.output), buffer.getvalue())
    else:
        render(result, fmt, stdout, paths=args.paths, config=config)
    missing = False
    for diagnostic in result.diagnostics:
        if diagnostic.message == "no such file or directory":
            missing = True
        if args.quiet or (diagnostic.severity is Severity.INFO and not args.verbose):
            continue
        stderr.write(f"typeseer: {diagnostic}\n")
    return EXIT_USAGE if missing else EXIT_OK


def _check_single_run(args: argparse.Namespace, command: str) -> None:
    """Without --out: the batch-mode options are refused, and a PATH is required."""
    for option in ("projects_from", "batch_files", "executor", "ray_address", "worker_memory"):
        if getattr(args, option, None) is not None:
            raise _UsageError(f"typeseer {command}: error: --{option.replace('_', '-')} needs "
                              "--out (batch mode)")
    if not args.paths:
        raise _UsageError(f"typeseer {command}: error: the following arguments are required: "
                          "PATH")


def _project_list(args: argparse.Namespace) -> list[str]:
    """The PATHs, then the lines of --projects-from (blank lines and # comments skipped)."""
    paths = [str(p) for p in args.paths]
    if args.projects_from:
        try:
            text = Path(args.projects_from).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise _UsageError(f"typeseer: cannot read --projects-from {args.projects_from}: "
                              f"{getattr(error, 'strerror', None) or error}") from None
        paths += [line.strip() for line in text.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")]
    if not paths:
        raise _UsageError("typeseer: error: no project given (PATH or --projects-from)")
    return paths


def _run_batch_infer(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .batch import DEFAULT_BATCH_FILES, BatchError, infer_batch
    from .executor import ExecutorError, create_executor, executor_settings

    for option in ("output", "format"):
        if getattr(args, option) is not None:
            raise _UsageError(f"typeseer infer: error: --{option} does not apply to batch "
                              "mode (--out)")
    paths = _project_list(args)
    # One configuration for every project: the current folder's pyproject.toml and the flags.
    config = load_config(Path.cwd(), config_overrides(args))
    log = (lambda message: None) if args.quiet else (
        lambda message: print(f"typeseer: {message}", file=stderr, flush=True))
    try:
        settings = executor_settings(args, args.jobs or None)
    except ExecutorError as error:
        raise _UsageError(f"typeseer infer: error: {error}") from None
    try:
        with create_executor(settings) as executor:
            summary = infer_batch(paths, args.out, executor, config,
                                  batch_files=args.batch_files or DEFAULT_BATCH_FILES, log=log)
    except BatchError as error:
        stderr.write(f"typeseer infer: {error}\n")
        return EXIT_USAGE
    except ExecutorError as error:
        stderr.write(f"typeseer infer: {error}\n")
        return EXIT_FAILURE
    except OSError as error:
        stderr.write(f"typeseer infer: cannot write under {args.out}: "
                     f"{error.strerror or error}\n")
        return EXIT_FAILURE
    stdout.write(json.dumps(summary.to_json(), indent=1) + "\n")
    for failure in summary.failures:
        stderr.write(f"typeseer: batch {failure['batch']} of {failure['project']} failed after "
                     f"{failure['attempts']} tries ({len(failure['files'])} files): "
                     f"{failure['error']}\n")
    return EXIT_FAILURE if summary.failures else EXIT_OK


def _run_evaluate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .evaluate import (
        EvaluationError,
        evaluate,
        read_top_types,
        render_result,
        result_to_dict,
        top_type_sets,
    )

    if args.out is None:
        _check_single_run(args, "evaluate")
    if args.jobs is not None and args.jobs < 0:
        raise _UsageError("typeseer evaluate: error: --jobs must not be negative")
    overrides: dict[str, object] = {} if args.min_confidence is None else {
        "min_confidence": coerce("min_confidence", args.min_confidence)}
    if args.use_model is not None:
        overrides["use_model"] = args.use_model
    type_sets = None
    if args.top_types:
        try:
            type_sets = top_type_sets(read_top_types(args.top_types))
        except (OSError, UnicodeDecodeError) as error:
            stderr.write(f"typeseer evaluate: cannot read --top-types {args.top_types}: "
                         f"{getattr(error, 'strerror', None) or error}\n")
            return EXIT_USAGE
    result: EvaluationResult | None
    if args.out is not None:
        code, result = _run_batch_evaluate(args, overrides, type_sets, stderr)
    else:
        if args.jobs is not None:
            overrides["jobs"] = args.jobs
        config = load_config(Path(args.paths[0]), overrides)
        progress = _Progress(stderr) if stderr.isatty() else None
        try:
            result = evaluate(args.paths, config, type_sets=type_sets, progress=progress)
        except EvaluationError as error:
            stderr.write(f"typeseer evaluate: {error}\n")
            return EXIT_USAGE
        finally:
            if progress is not None:
                progress.close()
        code = EXIT_OK
    if result is None:
        return code
    if args.format == "json":
        text = json.dumps(result_to_dict(result), indent=1) + "\n"
    else:
        text = render_result(result) + "\n"
    if args.output:
        atomic_write_text(Path(args.output), text)
    else:
        stdout.write(text)
    return code


def _run_batch_evaluate(args: argparse.Namespace, overrides: dict[str, object],
                        type_sets: dict[str, frozenset[str]] | None,
                        stderr: TextIO) -> tuple[int, EvaluationResult | None]:
    """``evaluate --out``: the exit code, and the merged report to print (None: none)."""
    from .evaluate import EvaluationError
    from .evaluate_batch import evaluate_batch
    from .executor import ExecutorError, create_executor, executor_settings

    paths = _project_list(args)
    # One configuration for every project: the current folder's pyproject.toml and the flags.
    config = load_config(Path.cwd(), overrides)
    try:
        settings = executor_settings(args, args.jobs or None)
    except ExecutorError as error:
        stderr.write(f"typeseer evaluate: error: {error}\n")
        return EXIT_USAGE, None
    try:
        with create_executor(settings) as executor:
            result, summary = evaluate_batch(
                paths, args.out, executor, config, type_sets=type_sets,
                log=lambda message: print(f"typeseer: {message}", file=stderr, flush=True))
    except EvaluationError as error:
        stderr.write(f"typeseer evaluate: {error}\n")
        return EXIT_USAGE, None
    except ExecutorError as error:
        stderr.write(f"typeseer evaluate: {error}\n")
        return EXIT_FAILURE, None
    except OSError as error:
        stderr.write(f"typeseer evaluate: cannot write under {args.out}: "
                     f"{error.strerror or error}\n")
        return EXIT_FAILURE, None
    for failure in summary.failures:
        tries = f" after {failure['attempts']} tries" if failure["attempts"] else ""
        stderr.write(f"typeseer: project {failure['project']} ({failure['root']}) "
                     f"failed{tries}: {failure['error']}\n")
    if result is None and not summary.failures:
        stderr.write("typeseer evaluate: no annotated site to score in any project: evaluate "
                     "needs annotated code, whose annotations are the ground truth\n")
        return EXIT_USAGE, None
    return (EXIT_FAILURE if summary.failures else EXIT_OK), result


def _run_train(args: argparse.Namespace, stderr: TextIO) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        stderr.write("typeseer train: PyTorch is not installed; "
                     "install the extra: pip install 'typeseer[train]'\n")
        return EXIT_USAGE
    from dataclasses import replace

    from .model.dataset import build_dataset, read_splits
    from .model.train import TrainConfig, train

    def log(message: str) -> None:
        stderr.write(message + "\n")

    corpus, data = Path(args.corpus), Path(args.data)
    if not args.skip_featurise:
        if not (corpus / "splits").is_dir():
            stderr.write(f"typeseer train: no corpus at {corpus} (run `typeseer corpus build`)\n")
            return EXIT_USAGE
        summary = build_dataset(corpus, data, read_splits(corpus / "splits"), jobs=args.jobs,
                                progress=log)
        if summary.failed:
            stderr.write(f"typeseer train: {len(summary.failed)} packages failed to featurise\n")
    config = TrainConfig() if args.epochs is None else replace(TrainConfig(), epochs=args.epochs)
    train(data, Path(args.out), Path(args.checkpoints), config, log=log)
    return EXIT_OK


def _run_rules(stdout: TextIO) -> int:
    width = max(len(name) for name in RULES)
    for rule in RULES.values():
        stdout.write(f"{rule.name.ljust(width)}  {rule.confidence:.2f}  {rule.description}\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser(with_corpus=arguments[:1] == ["corpus"],
                           selected=arguments[0] if arguments else None)
    try:
        args = parser.parse_args(arguments)
        if args.command == "infer":
            return _run_infer(args, stdout, stderr)
        if args.command in _LAZY_COMMANDS:
            code: int = _lazy(args.command, 1)(args, stdout, stderr)
            return code
        if args.command == "rules":
            return _run_rules(stdout)
        if args.command == "evaluate":
            return _run_evaluate(args, stdout, stderr)
        if args.command == "train":
            return _run_train(args, stderr)
        if args.command == "corpus":
            from .corpus.build import run_corpus_command

            return run_corpus_command(args)
        parser.print_help(stdout)
        return EXIT_USAGE
    except _UsageError as error:
        stderr.write(f"{error}\n")
        return EXIT_USAGE
    except _ExitRequest as request:
        return request.status
    except ConfigError as error:
        stderr.write(f"typeseer: configuration error: {error}\n")
        return EXIT_USAGE
    except WorkerFailure as error:
        stderr.write(f"typeseer: {error}\n")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        stderr.write("typeseer: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK


def main_entry() -> None:
    """Console-script entry point."""
    raise SystemExit(main())
