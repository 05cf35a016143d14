"""`apply`: infer, plan, render, optionally verify with a type checker, and write.

Each file is read once, as bytes; inference runs on exactly that text (an overlay), and the
file is only replaced if it still holds those bytes. Inference repeats on the annotated text
(at most ``MAX_PASSES`` times) until it finds nothing more to write, so that running `apply`
again changes nothing.
"""

from __future__ import annotations

import ast
import difflib
import io
import os
import time
import tokenize
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..api import Prediction, infer
from ..config import Config, find_pyproject
from ..fileio import FileChangedError, ReadOnlyFileError, write_if_unchanged
from ..parsing import ParseFailure, parse_source
from ..project import Project, import_root
from ..sites import ModuleSites, extract_sites
from ..sources import Diagnostic, Severity, SourceFile, UnreadableSource, decode_source, discover
from .names import Import, ModuleNames, ProjectClasses
from .plan import Edit, plan_module

if TYPE_CHECKING:
    from .insert import ModuleRenderer

__all__ = ["MAX_PASSES", "ApplyResult", "FileChange", "apply"]

#: Inference passes over the annotated text; each one can only add annotations.
MAX_PASSES = 3
#: Checker runs the verification may spend after the baseline (the search bisects, so this
#: covers dozens of culprits that cannot be blamed by position).
VERIFY_ROUNDS = 40


@dataclass(slots=True)
class FileChange:
    """One file `apply` changes (or would change)."""

    source: SourceFile
    original: bytes
    new: bytes
    encoding: str
    edits: list[Edit]

    @property
    def relpath(self) -> str:
        return self.source.relpath

    def diff(self) -> str:
        old = self.original.decode(self.encoding).splitlines(keepends=True)
        new = self.new.decode(self.encoding).splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a/{self.relpath}", f"b/{self.relpath}")
        return "".join(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at "
                       "end of file\n" for line in lines)


@dataclass(slots=True)
class ApplyResult:
    """What `apply` changed or would change, and why the rest was not written."""

    changes: list[FileChange] = field(default_factory=list)
    #: Edits removed by verification, with the checker's reason.
    dropped: list[tuple[Edit, str]] = field(default_factory=list)
    #: Predictions above the threshold not written, by reason.
    skipped: Counter[str] = field(default_factory=Counter)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: Verification figures (None without ``--verify``).
    verify: dict[str, object] | None = None
    written: bool = False
    #: Files that were to change but could not be written (changed on disk, read-only...).
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def edits(self) -> list[Edit]:
        return [edit for change in self.changes for edit in change.edits]

    def to_json(self) -> dict[str, object]:
        return {
            "changed_files": [c.relpath for c in self.changes],
            "annotations": [e.to_json() for e in self.edits],
            "dropped": [{**e.to_json(), "reason": reason} for e, reason in self.dropped],
            "skipped": dict(sorted(self.skipped.items())),
            "verify": self.verify,
            "written": self.written,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "diagnostics": [str(d) for d in self.diagnostics],
        }


@dataclass(slots=True)
class _File:
    """One input file: its bytes, text, parsed sites and edits so far."""

    source: SourceFile
    original: bytes
    encoding: str
    text: str
    module_name: str
    sites: ModuleSites
    names: ModuleNames
    renderer: ModuleRenderer | None = None
    edits: list[Edit] = field(default_factory=list)
    claimed: dict[str, Import] = field(default_factory=dict)
    #: Set when the text cannot be rewritten: nothing more is planned for it.
    unrenderable: bool = False

    def render(self, edits: Sequence[Edit]) -> str:
        if not edits:
            return self.text
        if self.renderer is None:
            from .insert import ModuleRenderer  # LibCST loads only when something is written

            self.renderer = ModuleRenderer(self.text, self.module_name)
        return self.renderer.render(edits)


def apply(paths: Sequence[str | Path], config: Config | None = None, *, write: bool = False,
          progress: Callable[[str], None] | None = None) -> ApplyResult:
    """Annotate the files under ``paths`` with what typeseer infers (see the module doc).

    With ``write``, changed files are replaced atomically; otherwise nothing is written and
    the result holds the would-be changes. ``progress`` receives one line per stage.
    """
    started = time.perf_counter()
    config = config or Config()
    say = progress or (lambda message: None)
    result = ApplyResult()
    sources, result.diagnostics = discover(paths, config.exclude)
    files = _read_files(sources, config, result.diagnostics)
    overlay = {f.source.path: f.text for f in files.values()}
    next_id = 0
    for number in range(1, MAX_PASSES + 1):
        say(f"inference pass {number}")
        inferred = infer(paths, config, overlay=overlay)
        if number == 1:
            result.diagnostics.extend(d for d in inferred.diagnostics
                                      if d.severity is not Severity.INFO)
        added = 0
        for relpath, predictions in _by_file(inferred.predictions).items():
            file = files.get(relpath)
            if file is None or file.unrenderable:
                continue
            known = {e.key for e in file.edits}
            fresh = [p for p in predictions if p.key not in known]
            plan = plan_module(file.sites, file.names, fresh, config, next_id, file.claimed)
            if number == 1:
                result.skipped.update(plan.skipped)
            next_id += len(plan.edits)
            added += len(plan.edits)
            file.edits.extend(plan.edits)
        if not added:
            break
        overlay = {**overlay, **{f.source.path: _render_or_keep(f, f.edits, result)
                                 for f in files.values() if f.edits}}
    kept = {e.id for f in files.values() for e in f.edits}
    if config.verify is not None and kept:
        say(f"verifying with {config.verify}")
        kept = _verify(files, config.verify, result)
    for file in files.values():
        edits = [e for e in file.edits if e.id in kept]
        if not edits:
            continue
        text = _render_or_keep(file, edits, result)
        if text == file.text:
            continue
        # Only what compiled before must still compile (code newer than this interpreter
        # does not compile here either way); the original is compiled only for files that
        # change.
        if not _compiles(text, file.source.relpath) and _compiles(file.text,
                                                                   file.source.relpath):
            result.diagnostics.append(Diagnostic(
                file.source.relpath, "annotated text would not compile; left unchanged"))
            continue
        result.changes.append(FileChange(file.source, file.original,
                                         text.encode(file.encoding), file.encoding, edits))
    if write:
        _write(result)
    result.seconds = time.perf_counter() - started
    return result


def _by_file(predictions: Sequence[Prediction]) -> dict[str, list[Prediction]]:
    grouped: dict[str, list[Prediction]] = {}
    for prediction in predictions:
        grouped.setdefault(prediction.file, []).append(prediction)
    return grouped


def _read_files(sources: Sequence[SourceFile], config: Config,
                diagnostics: list[Diagnostic]) -> dict[str, _File]:
    """Every readable, parsable input file, by relative path (the first of a clash)."""
    texts: dict[Path, str] = {}
    raw: dict[Path, tuple[bytes, str]] = {}
    for source in sources:
        try:
            if source.path.stat().st_size > config.max_file_bytes:
                continue  # inference reports the skip
            data = source.path.read_bytes()
            text = decode_source(data)
        except (OSError, UnreadableSource):
            continue  # inference reports the unreadable file
        texts[source.path] = text
        raw[source.path] = (data, _encoding(data))
    project = Project(sources, config.max_file_bytes, texts)
    modules = [(project.module_name(s), loaded.sites) for s in sources
               if s.path in texts and (loaded := project.load(s)).sites is not None]
    classes = ProjectClasses((name, sites) for name, sites in modules if sites is not None)
    files: dict[str, _File] = {}
    # Predictions are keyed by relative path: files sharing one under different roots could
    # get each other's types, so none of them is annotated.
    shared = {relpath for relpath, count in Counter(s.relpath for s in sources).items()
              if count > 1}
    for source in sources:
        if source.path not in texts:
            continue
        if source.relpath in shared:
            diagnostics.append(Diagnostic(
                str(source.path), f"same relative path {source.relpath!r} as a file under "
                "another root; not annotated (run apply on each root separately)",
                Severity.SKIPPED))
            continue
        sites = project.load(source).sites
        if sites is None:
            continue
        module_name = project.module_name(source)
        data, encoding = raw[source.path]
        text = texts[source.path]
        files[source.relpath] = _File(source, data, encoding, text, module_name, sites,
                                      ModuleNames(sites, module_name, classes,
                                                  config.python_version))
    return files


def _encoding(data: bytes) -> str:
    """The encoding to write the file back in (``utf-8-sig`` keeps a BOM)."""
    try:
        return tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError:
        return "utf-8"


def _compiles(text: str, name: str) -> bool:
    try:
        with warnings.catch_warnings():
            # The user's code, not ours (``x[0]`` on a literal...); under ``-W error`` a
            # warning would otherwise count as a file that does not compile.
            warnings.simplefilter("ignore")
            compile(text, name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _render_or_keep(file: _File, edits: Sequence[Edit], result: ApplyResult) -> str:
    try:
        return file.render(edits)
    except (ValueError, RecursionError) as error:  # RenderError is a ValueError
        reason = "nested too deeply to rewrite" if isinstance(error, RecursionError) else error
        result.diagnostics.append(Diagnostic(file.source.relpath, f"not annotated: {reason}",
                                             Severity.SKIPPED))
        file.edits.clear()
        file.unrenderable = True
        return file.text


def _verify(files: dict[str, _File], checker_name: str, result: ApplyResult) -> set[int]:
    """Check before and after with the type checker; the ids of the edits that add no error."""
    from ..verify import Candidate, Checker, Rendering, verify

    any_file = next(iter(files.values()))
    root = _verify_root([f.source for f in files.values()]) or any_file.source.root
    by_relpath = {os.path.relpath(f.source.path, root).replace(os.sep, "/"): f
                  for f in files.values()}
    edits = {e.id: (relpath, e) for relpath, f in by_relpath.items() for e in f.edits}

    def render(kept: frozenset[int]) -> Rendering:
        texts: dict[str, str] = {}
        lines: dict[int, int] = {}
        scopes: dict[int, tuple[int, int]] = {}
        for relpath, file in by_relpath.items():
            chosen = [e for e in file.edits if e.id in kept]
            if not chosen:
                continue
            text = _render_or_keep(file, chosen, result)
            texts[relpath] = text
            _locate(text, file, chosen, lines, scopes)
        return Rendering(texts, lines, scopes)

    candidates = [Candidate(edit_id, relpath) for edit_id, (relpath, _) in edits.items()]
    outcome = verify(root, Checker(checker_name), sorted(by_relpath), candidates, render,
                     max_rounds=VERIFY_ROUNDS)
    for edit_id, reason in sorted(outcome.dropped.items()):
        result.dropped.append((edits[edit_id][1], reason))
    result.verify = {"checker": checker_name, "baseline_errors": outcome.baseline_errors,
                     "rounds": outcome.rounds, "seconds": round(outcome.seconds, 3),
                     "kept": len(outcome.kept), "dropped": len(outcome.dropped)}
    return set(outcome.kept)


def _verify_root(sources: Sequence[SourceFile]) -> Path | None:
    """The project directory holding every file: where its checker configuration is, else
    the directory its imports resolve from (a checker run inside a package names its
    modules twice)."""
    common = import_root(Path(os.path.commonpath([str(s.path.parent) for s in sources])))
    pyproject = find_pyproject(common)
    return pyproject.parent if pyproject is not None else common


def _locate(text: str, file: _File, edits: Sequence[Edit], lines: dict[int, int],
            scopes: dict[int, tuple[int, int]]) -> None:
    """Where each edit ended up in the rendered text: its site's line and enclosing scope."""
    try:
        tree = parse_source(text, file.source.relpath)
    except (ParseFailure, RecursionError):
        return
    sites = {s.key: s for s in extract_sites(file.source.relpath, text, tree).sites}
    last = len(text.splitlines()) or 1
    for edit in edits:
        site = sites.get(edit.key)
        if site is None:
            continue
        lines[edit.id] = site.line
        owner = site.owner
        node = owner.node if owner is not None else None
        if node is None or isinstance(node, ast.Module):
            scopes[edit.id] = (1, last)
        else:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            scopes[edit.id] = (first, node.end_lineno or node.lineno)


def _write(result: ApplyResult) -> None:
    """Replace each changed file atomically, unless it changed on disk since it was read."""
    written: list[FileChange] = []
    for change in result.changes:
        try:
            write_if_unchanged(change.source.path, change.new, change.original)
        except (FileChangedError, ReadOnlyFileError) as error:
            result.failed.append(change.relpath)
            result.diagnostics.append(Diagnostic(change.relpath, str(error).split(": ", 1)[-1]))
        except OSError as error:
            result.failed.append(change.relpath)
            result.diagnostics.append(Diagnostic(
                change.relpath, f"cannot write: {error.strerror or error}; left unchanged"))
        else:
            written.append(change)
    result.changes = written
    result.written = True
