"""Rendering predictions: JSONL (the contract), JSON, a readable table, and SARIF 2.1.0.

SARIF (the Static Analysis Results Interchange Format that code-scanning UIs read) gets one
result per unannotated site typeseer can type, with the suggested type and, where `apply`
could write it, a fix: the exact text replacements `apply` would make for that one site,
imports included. Fixes come from the apply machinery itself (``plan_module`` and
``ModuleRenderer``), so a fix is never something `apply` would refuse to write.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote

from . import __version__
from .api import InferResult, Prediction
from .config import Config
from .parsing import ParseFailure, parse_source
from .sites import SiteKind
from .sources import Diagnostic, Severity, SourceFile, UnreadableSource, decode_source, discover

if TYPE_CHECKING:
    from .apply.insert import ModuleRenderer
    from .apply.names import Import
    from .apply.plan import Edit

__all__ = [
    "SARIF_RULE_ID",
    "SARIF_SCHEMA",
    "Finding",
    "Format",
    "Replacement",
    "edit_replacements",
    "findings_from_edits",
    "infer_findings",
    "render",
    "sarif_log",
]


class Format(str, Enum):
    """Output formats of ``typeseer infer``."""

    #: One JSON object per site per line: the DESIGN.md contract that benchmarks read.
    JSONL = "jsonl"
    #: One JSON document with predictions, diagnostics and a summary.
    JSON = "json"
    #: Aligned columns for people (the default on a terminal).
    TABLE = "table"
    #: A SARIF 2.1.0 log for code-scanning UIs: one result per site typeseer can type.
    SARIF = "sarif"


def summary(result: InferResult) -> dict[str, object]:
    typed = [p for p in result.predictions if p.type is not None and p.source != "existing"]
    return {
        "files": result.files,
        "lines": result.lines,
        "sites": len(result.predictions),
        "existing": sum(p.source == "existing" for p in result.predictions),
        "inferred": len(typed),
        "inferred_by_kind": dict(Counter(p.kind for p in typed)),
        "diagnostics": len([d for d in result.diagnostics if d.severity is not Severity.INFO]),
        "seconds": round(result.seconds, 3),
    }


def render(result: InferResult, fmt: Format, out: TextIO, *,
           paths: Sequence[str | Path] | None = None, config: Config | None = None) -> None:
    """Write ``result`` in ``fmt``. SARIF uses ``paths`` (the ones inferred) to read the files:
    with them, results get exact columns, paths relative to the working directory and fixes;
    without them, paths are the predictions' ``file`` and there are no fixes."""
    if fmt is Format.JSONL:
        for prediction in result.predictions:
            out.write(json.dumps(prediction.to_json()) + "\n")
    elif fmt is Format.JSON:
        document = {
            "predictions": [p.to_json() for p in result.predictions],
            "diagnostics": [{"file": d.file, "severity": d.severity.value, "message": d.message}
                            for d in result.diagnostics],
            "summary": summary(result),
        }
        json.dump(document, out, indent=2)
        out.write("\n")
    elif fmt is Format.SARIF:
        findings = infer_findings(result, paths, config or Config())
        json.dump(sarif_log(findings, result.diagnostics), out, indent=1)
        out.write("\n")
    else:
        _render_table(result, out)


def _render_table(result: InferResult, out: TextIO) -> None:
    rows = [_row(p) for p in result.predictions if p.type is not None and p.source != "existing"]
    headers = ("location", "kind", "scope", "name", "type", "conf", "source")
    if rows:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        widths[4] = min(widths[4], 48)
        for row in (headers, *rows):
            cells = (c.ljust(w) for c, w in zip(row, widths, strict=True))
            out.write("  ".join(cells).rstrip() + "\n")
    facts = summary(result)
    out.write(
        f"\n{facts['inferred']} of {facts['sites']} sites typed "
        f"({facts['existing']} already annotated) in {facts['files']} files, "
        f"{facts['lines']} lines, {facts['seconds']} s\n"
    )


def _row(p: Prediction) -> tuple[str, ...]:
    return (f"{p.file}:{p.line}:{p.col}", p.kind, p.scope, p.name or "-", p.type or "",
            f"{p.confidence:.2f}", p.source)


# -- SARIF -----------------------------------------------------------------------------------

#: The schema a SARIF log declares (OASIS SARIF 2.1.0, errata 01).
SARIF_SCHEMA = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                "sarif-schema-2.1.0.json")
#: The one rule typeseer reports.
SARIF_RULE_ID = "typeseer/missing-annotation"
#: Base of relative artifact URIs: the working directory typeseer ran in.
_SRCROOT = "%SRCROOT%"
#: Parameters and returns are what checkers flag as untyped definitions: ``warning``;
#: variables and attributes are usually inferred by checkers: ``note``.
_LEVELS = {SiteKind.PARAM.value: "warning", SiteKind.RETURN.value: "warning"}


@dataclass(frozen=True, slots=True)
class Replacement:
    """Text that replaces a region of a file's original text (an insertion when the region
    is empty). Lines and columns count from 1; columns in UTF-16 code units (SARIF's
    default ``columnKind``)."""

    start_line: int
    start_column: int
    end_line: int
    end_column: int
    text: str

    def to_sarif(self) -> dict[str, object]:
        return {"deletedRegion": {"startLine": self.start_line, "startColumn": self.start_column,
                                  "endLine": self.end_line, "endColumn": self.end_column},
                "insertedContent": {"text": self.text}}


@dataclass(frozen=True, slots=True)
class Finding:
    """One unannotated site typeseer can type: one SARIF result."""

    prediction: Prediction
    #: The file as a URI reference: relative to the working directory where it lies in it
    #: (``relative`` True), else an absolute ``file:`` URI or the prediction's own path.
    uri: str
    #: Column of the site from 1, in UTF-16 code units.
    column: int
    #: Columns the site's name spans (0: the location is a point).
    width: int = 0
    relative: bool = False
    #: The annotation as `apply` would write it (``None``: `apply` would not write this one).
    annotation: str | None = None
    #: The replacements that write the annotation and its imports (empty: no fix).
    fix: tuple[Replacement, ...] = ()


def sarif_log(findings: Iterable[Finding], diagnostics: Sequence[Diagnostic] = (),
              ) -> dict[str, object]:
    """A SARIF 2.1.0 log with one run of typeseer; ``diagnostics`` become notifications."""
    findings = list(findings)
    run: dict[str, object] = {
        "tool": {"driver": {
            "name": "typeseer", "version": __version__, "semanticVersion": __version__,
            "rules": [_RULE]}},
        "columnKind": "utf16CodeUnits",
        "results": [_result(f) for f in findings],
        "invocations": [{
            "executionSuccessful": True,
            "toolExecutionNotifications": [_notification(d) for d in diagnostics
                                           if d.severity is not Severity.INFO]}],
    }
    if any(f.relative for f in findings):
        run["originalUriBaseIds"] = {_SRCROOT: {"uri": Path.cwd().as_uri().rstrip("/") + "/"}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


_RULE: dict[str, object] = {
    "id": SARIF_RULE_ID,
    "name": "MissingAnnotation",
    "shortDescription": {"text": "Missing type annotation"},
    "fullDescription": {"text": "A parameter, return, variable or attribute has no type "
                                "annotation, and typeseer infers its type with a confidence "
                                "at or above the threshold."},
    "help": {"text": "Add the suggested annotation (the fix, where there is one, is exactly "
                     "what `typeseer apply` writes, imports included), or run "
                     "`typeseer apply --write` on the file.",
             "markdown": "Add the suggested annotation, or run `typeseer apply --write`. "
                         "The fix, where there is one, is exactly what `typeseer apply` writes, "
                         "imports included."},
    "defaultConfiguration": {"level": "note"},
    "properties": {"tags": ["typing", "maintainability"]},
}


def _message(p: Prediction) -> str:
    return f"Missing annotation: suggested type `{p.type}` (confidence {p.confidence:.2f})"


def _site_label(p: Prediction) -> str:
    return "the return" if p.kind == SiteKind.RETURN.value else f"`{p.name}`"


def _result(finding: Finding) -> dict[str, object]:
    p = finding.prediction
    region: dict[str, int] = {"startLine": p.line, "startColumn": finding.column}
    if finding.width:
        region["endLine"] = p.line
        region["endColumn"] = finding.column + finding.width
    result: dict[str, object] = {
        "ruleId": SARIF_RULE_ID,
        "ruleIndex": 0,
        "level": _LEVELS.get(p.kind, "note"),
        "message": {"text": _message(p)},
        "locations": [{
            "physicalLocation": {"artifactLocation": _artifact(finding), "region": region},
            "logicalLocations": [{"fullyQualifiedName": _qualified(p), "kind": _logical_kind(p)}],
        }],
        "partialFingerprints": {"typeseerSite/v1": _fingerprint(p)},
        "properties": {
            "kind": p.kind, "scope": p.scope, "name": p.name, "suggestedType": p.type,
            "confidence": round(p.confidence, 4), "source": p.source,
            "alternatives": [[t, round(c, 4)] for t, c in p.alternatives],
            "annotation": finding.annotation,
        },
    }
    if finding.fix:
        result["fixes"] = [{
            "description": {"text": f"Annotate {_site_label(p)} with `{finding.annotation}`"},
            "artifactChanges": [{"artifactLocation": _artifact(finding),
                                 "replacements": [r.to_sarif() for r in finding.fix]}],
        }]
    return result


def _artifact(finding: Finding) -> dict[str, str]:
    if finding.relative:
        return {"uri": finding.uri, "uriBaseId": _SRCROOT}
    return {"uri": finding.uri}


def _qualified(p: Prediction) -> str:
    scope = "" if p.scope == "<module>" else p.scope
    if p.kind == SiteKind.RETURN.value:
        return scope or "<module>"
    return ".".join(part for part in (scope, p.name) if part)


def _logical_kind(p: Prediction) -> str:
    if p.kind == SiteKind.PARAM.value:
        return "parameter"
    if p.kind == SiteKind.RETURN.value:
        return "function"
    return "member" if p.kind == SiteKind.ATTRIBUTE.value else "variable"


def _fingerprint(p: Prediction) -> str:
    """Stable across edits that move the site: the DESIGN.md site key, hashed."""
    key = "\0".join((p.file, p.scope, p.kind, p.name))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _notification(diagnostic: Diagnostic) -> dict[str, object]:
    return {"level": "error" if diagnostic.severity is Severity.ERROR else "warning",
            "message": {"text": str(diagnostic)}}


# -- where a finding points ------------------------------------------------------------------

def _uri(source: SourceFile) -> tuple[str, bool]:
    """The file as SARIF names it, and whether it is relative to the working directory."""
    try:
        relative = os.path.relpath(source.path, Path.cwd())
    except ValueError:  # another drive (Windows)
        relative = os.pardir
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return source.path.as_uri(), False
    return quote(Path(relative).as_posix()), True


def _utf16_column(line: str, byte_offset: int) -> int:
    """The 1-based UTF-16 column of an ``ast`` column offset (a UTF-8 byte offset)."""
    prefix = line.encode("utf-8")[:byte_offset].decode("utf-8", "replace")
    return 1 + _utf16_length(prefix)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _width(p: Prediction) -> int:
    """Parameters and variables point at their name; returns and attributes at a position."""
    if p.kind in (SiteKind.PARAM.value, SiteKind.VARIABLE.value):
        return _utf16_length(p.name)
    return 0


def _finding(p: Prediction, lines: Sequence[str] | None, uri: str, relative: bool,
             edit: Edit | None, fix: tuple[Replacement, ...]) -> Finding:
    line = lines[p.line - 1] if lines is not None and 0 < p.line <= len(lines) else None
    column = _utf16_column(line, p.col) if line is not None else p.col + 1
    return Finding(p, uri, column, _width(p), relative,
                   edit.annotation if edit is not None else None, fix)


def _typed(predictions: Iterable[Prediction]) -> list[Prediction]:
    return [p for p in predictions if p.type is not None and p.source != "existing"]


def infer_findings(result: InferResult, paths: Sequence[str | Path] | None,
                   config: Config) -> list[Finding]:
    """A finding per typed, unannotated prediction of ``result``. With the ``paths`` that were
    inferred, each gets the fix that `apply` would write for it (planned from these very
    predictions: `apply`'s first pass), when `apply` would write it."""
    typed = _typed(result.predictions)
    if not paths:
        return [Finding(p, quote(p.file), p.col + 1, _width(p)) for p in typed]
    from .apply.names import ModuleNames, ProjectClasses
    from .apply.plan import plan_module
    from .project import Project

    sources, _ = discover(paths, config.exclude)
    relpaths = Counter(s.relpath for s in sources)
    texts: dict[Path, str] = {}
    for source in sources:
        try:
            if source.path.stat().st_size <= config.max_file_bytes:
                texts[source.path] = decode_source(source.path.read_bytes())
        except (OSError, UnreadableSource):
            continue
    project = Project(sources, config.max_file_bytes, texts)
    modules = [(project.module_name(s), loaded.sites) for s in sources
               if s.path in texts and (loaded := project.load(s)).sites is not None]
    classes = ProjectClasses((name, sites) for name, sites in modules if sites is not None)
    by_file: dict[str, list[Prediction]] = {}
    for prediction in typed:
        by_file.setdefault(prediction.file, []).append(prediction)
    findings: list[Finding] = []
    next_id = 0
    for source in sources:
        predictions = by_file.pop(source.relpath, None)
        if predictions is None:
            continue
        uri, relative = _uri(source)
        text = texts.get(source.path)
        sites = project.load(source).sites if text is not None else None
        if text is None or sites is None or relpaths[source.relpath] > 1:
            # Unreadable now, or sharing its relative path with a file of another root (whose
            # predictions these may be): located by the predictions alone, without fixes.
            findings.extend(_finding(p, None, uri, relative, None, ()) for p in predictions)
            continue
        module_name = project.module_name(source)
        names = ModuleNames(sites, module_name, classes, config.python_version)
        plan = plan_module(sites, names, predictions, config, next_id)
        next_id += len(plan.edits)
        fixes = edit_replacements(text, module_name, plan.edits)
        edits = {e.key: e for e in plan.edits}
        lines = [line.rstrip("\r\n") for line in _lines(text)]
        for p in predictions:
            edit = edits.get(p.key)
            fix = fixes.get(edit.id, ()) if edit is not None else ()
            findings.append(_finding(p, lines, uri, relative, edit, fix))
    for predictions in by_file.values():  # files not found again under ``paths``
        findings.extend(Finding(p, quote(p.file), p.col + 1, _width(p)) for p in predictions)
    return findings


def findings_from_edits(source: SourceFile, text: str, module_name: str,
                        edits: Sequence[Edit]) -> list[Finding]:
    """A finding with its fix for each edit `apply` would make to one file (whose original
    text is ``text``)."""
    uri, relative = _uri(source)
    fixes = edit_replacements(text, module_name, edits)
    lines = [line.rstrip("\r\n") for line in _lines(text)]
    return [_finding(e.prediction, lines, uri, relative, e, fixes.get(e.id, ()))
            for e in sorted(edits, key=lambda e: (e.prediction.line, e.prediction.col))]


# -- per-site fixes from the apply machinery -------------------------------------------------

def edit_replacements(text: str, module_name: str, edits: Sequence[Edit],
                      ) -> dict[int, tuple[Replacement, ...]]:
    """For each edit (by id), the replacements of ``text`` that write that edit alone,
    imports included: applied to ``text``, they give what `apply` writes with only that edit.

    Rendering the module once per edit would cost a LibCST pass per site; instead, edits
    whose lines are at least one line apart are rendered together (a few passes per module:
    as many as the most edits one function signature gets), every change is attributed to
    the one edit of its pass whose lines it touches, and each distinct set of imports is
    rendered once. An edit whose changes cannot all be attributed to it alone gets none.
    """
    if not edits:
        return {}
    from .apply.insert import ModuleRenderer

    try:
        renderer = ModuleRenderer(text, module_name)
    except ValueError:  # LibCST cannot parse it: apply cannot write it either
        return {}
    spans = _line_spans(text, edits)
    old_lines = _lines(text)
    found: dict[int, list[Replacement]] = {}
    doubtful: set[int] = set()
    try:
        for group in _passes(edits, spans):
            bare = [replace(e, imports=frozenset()) for e in group]
            new_lines = _lines(renderer.render(bare))
            for change in _changes(old_lines, new_lines):
                owners = [e.id for e in group if _touches(change, spans[e.id])]
                if len(owners) == 1:
                    found.setdefault(owners[0], []).append(change.replacement)
                else:  # no fix rather than a partial one
                    doubtful.update(owners or (e.id for e in group))
        imports = _import_replacements(renderer, old_lines, edits)
    except (ValueError, RecursionError):  # RenderError is a ValueError
        return {}
    fixes: dict[int, tuple[Replacement, ...]] = {}
    for edit in edits:
        own = found.get(edit.id)
        if not own or edit.id in doubtful:
            continue
        needed = imports.get(edit.imports, ()) if edit.imports else ()
        fixes[edit.id] = _merged([*needed, *own])
    return fixes


@dataclass(frozen=True, slots=True)
class _Change:
    """One changed block of lines (original lines ``first..last``, 1-based; an insertion
    between two lines has ``last == first - 1``) and its minimal replacement."""

    first: int
    last: int
    replacement: Replacement


def _touches(change: _Change, span: tuple[int, int]) -> bool:
    # An insertion before line n touches lines n - 1 and n.
    first, last = (change.last, change.first) if change.last < change.first else (
        change.first, change.last)
    return first <= span[1] and span[0] <= last


def _changes(old: Sequence[str], new: Sequence[str]) -> list[_Change]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    changes = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        changes.append(_Change(i1 + 1, i2, _minimal(old, i1, i2, "".join(new[j1:j2]))))
    return changes


def _minimal(old: Sequence[str], i1: int, i2: int, inserted: str) -> Replacement:
    """The replacement of lines ``i1..i2`` (0-based, end excluded) by ``inserted``, trimmed
    to the characters that differ."""
    deleted = "".join(old[i1:i2])
    prefix = 0
    limit = min(len(deleted), len(inserted))
    while prefix < limit and deleted[prefix] == inserted[prefix]:
        prefix += 1
    suffix = 0
    while (suffix < limit - prefix
           and deleted[len(deleted) - 1 - suffix] == inserted[len(inserted) - 1 - suffix]):
        suffix += 1
    start = _position(old, i1, prefix)
    end = _position(old, i1, len(deleted) - suffix)
    return Replacement(*start, *end, inserted[prefix:len(inserted) - suffix])


def _position(lines: Sequence[str], first: int, offset: int) -> tuple[int, int]:
    """1-based line and UTF-16 column of character ``offset`` counted from the start of line
    ``first`` (0-based); just past a line break is the start of the next line."""
    index = first
    while index < len(lines) and offset >= len(lines[index]):
        offset -= len(lines[index])
        index += 1
    if index == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        return index, 1 + _utf16_length(lines[-1])  # the end of a last line without a break
    line = lines[index] if index < len(lines) else ""
    return index + 1, 1 + _utf16_length(line[:offset])


#: A line with its break (``\n``, ``\r\n`` or ``\r``: the breaks Python and SARIF count).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _lines(text: str) -> list[str]:
    """``text`` split into lines with their breaks, as the tokenizer and SARIF count them
    (``str.splitlines`` also breaks at form feeds and other separators)."""
    return _LINE.findall(text)


def _line_spans(text: str, edits: Sequence[Edit]) -> dict[int, tuple[int, int]]:
    """The original lines each edit may change: a function's header for parameters and
    returns, the statement's first line for variables and attributes."""
    headers: dict[int, int] = {}
    lines = [line.rstrip("\r\n") for line in _lines(text)]
    try:
        tree: ast.Module | None = parse_source(text)
    except (ParseFailure, RecursionError):
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
                headers[node.lineno] = _header_end(node, lines)
    spans = {}
    for edit in edits:
        if edit.kind in (SiteKind.PARAM, SiteKind.RETURN):
            spans[edit.id] = (edit.def_line, headers.get(edit.def_line, edit.def_line))
        else:
            spans[edit.id] = (edit.statement_line, edit.statement_line)
    return spans


def _header_end(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: Sequence[str]) -> int:
    """The last line of a ``def``'s signature: before its body, or the body's first line when
    the body starts on the signature's last line."""
    body = node.body[0]
    line = lines[body.lineno - 1] if body.lineno <= len(lines) else ""
    starts_line = not line.encode("utf-8")[:body.col_offset].strip()
    return max(node.lineno, body.lineno - 1 if starts_line else body.lineno)


def _passes(edits: Sequence[Edit], spans: Mapping[int, tuple[int, int]]) -> list[list[Edit]]:
    """Edits grouped so that within a group, line spans are at least one line apart."""
    groups: list[list[Edit]] = []
    ends: list[int] = []
    for edit in sorted(edits, key=lambda e: spans[e.id]):
        first, last = spans[edit.id]
        for index, end in enumerate(ends):
            if end + 1 < first:
                groups[index].append(edit)
                ends[index] = last
                break
        else:
            groups.append([edit])
            ends.append(last)
    return groups


def _import_replacements(renderer: ModuleRenderer, old_lines: Sequence[str],
                         edits: Sequence[Edit],
                         ) -> dict[frozenset[Import], tuple[Replacement, ...]]:
    """The replacements that add each distinct set of imports the edits need."""
    found: dict[frozenset[Import], tuple[Replacement, ...]] = {}
    for edit in edits:
        if not edit.imports or edit.imports in found:
            continue
        # Def line 0 names no function: rendering this edit writes its imports only.
        only_imports = replace(edit, kind=SiteKind.RETURN, def_line=0)
        new_lines = _lines(renderer.render([only_imports]))
        found[edit.imports] = tuple(c.replacement for c in _changes(old_lines, new_lines))
    return found


def _merged(replacements: Sequence[Replacement]) -> tuple[Replacement, ...]:
    """Replacements in text order; insertions at one point become one (imports first).
    Empty when two of them overlap: no fix is better than a wrong one."""
    ordered = sorted(enumerate(replacements),
                     key=lambda item: (item[1].start_line, item[1].start_column, item[0]))
    merged: list[Replacement] = []
    for _, current in ordered:
        previous = merged[-1] if merged else None
        if (previous is not None and _is_insertion(previous) and _is_insertion(current)
                and (previous.start_line, previous.start_column)
                == (current.start_line, current.start_column)):
            merged[-1] = replace(previous, text=previous.text + current.text)
        elif previous is not None and (previous.end_line, previous.end_column) > (
                current.start_line, current.start_column):
            return ()
        else:
            merged.append(current)
    return tuple(merged)


def _is_insertion(r: Replacement) -> bool:
    return (r.start_line, r.start_column) == (r.end_line, r.end_column)
