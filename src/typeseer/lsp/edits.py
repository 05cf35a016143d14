"""What the editor may write: the annotations `typeseer apply` would write, and where.

Every edit goes through `apply`'s own code path: the reported predictions are planned with
``apply.plan.plan_module`` (which decides what may be written and how it is spelled, with its
imports) and written with ``apply.insert.ModuleRenderer`` on the analysed text. The only
shortcut is ``insertion``: for a planned edit that needs no import, the few characters it
inserts, computed directly so that inlay hints can carry them without rendering the whole
module (tests check that they give the renderer's text).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ..api import Prediction
from ..apply.names import ModuleNames
from ..apply.plan import Edit, plan_module
from ..config import Config
from ..sites import Site, SiteKey, SiteKind
from .session import Analysis
from .text import byte_col_to_index

__all__ = [
    "Annotated",
    "FilePlan",
    "Insertion",
    "anchor",
    "annotate",
    "insertion",
    "plan_file",
    "reported",
]


@dataclass(frozen=True, slots=True)
class FilePlan:
    """The reported predictions of one analysis, planned as `apply` plans them."""

    #: The edit of every reported site `apply` would write.
    edits: dict[SiteKey, Edit]
    #: Why each other reported site would not be written.
    skipped: dict[SiteKey, str]


@dataclass(frozen=True, slots=True)
class Annotated:
    """The analysed text with some sites annotated, as `apply` writes it."""

    text: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True, slots=True)
class Insertion:
    """Text to put at one place of the analysed text: 0-based line, character indexes."""

    line: int
    start: int
    end: int
    text: str


def reported(analysis: Analysis, config: Config) -> list[Prediction]:
    """The predictions `infer` would report with a type under ``config``: the site's kind is
    selected, it has no annotation, and the confidence reaches the threshold."""
    kinds = {kind.value for kind in config.kinds}
    threshold = config.threshold
    found = []
    for prediction in analysis.predictions:
        site = analysis.sites.get(prediction.key)
        if (prediction.type is not None and prediction.kind in kinds and site is not None
                and site.annotation is None and prediction.confidence >= threshold):
            found.append(prediction)
    return found


def _names(analysis: Analysis, config: Config) -> ModuleNames:
    assert analysis.module is not None and analysis.classes is not None
    return ModuleNames(analysis.module, analysis.module_name, analysis.classes,
                       config.python_version)


def plan_file(analysis: Analysis, config: Config) -> FilePlan:
    """`apply`'s plan for every reported site (computed once per analysis and config)."""
    return analysis.derived(("plan", config), lambda: _plan_file(analysis, config))  # type: ignore[no-any-return]


def _plan_file(analysis: Analysis, config: Config) -> FilePlan:
    if analysis.module is None:
        return FilePlan({}, {})
    names = _names(analysis, config)
    predictions = reported(analysis, config)
    plan = plan_module(analysis.module, names, predictions, config, 0)
    edits = {edit.key: edit for edit in plan.edits}
    skipped: dict[SiteKey, str] = {}
    for prediction in predictions:
        key = prediction.key
        if key not in edits:
            alone = plan_module(analysis.module, names, [prediction], config, 0)
            skipped[key] = next(iter(alone.skipped), "not written by apply")
    return FilePlan(edits, skipped)


def annotate(analysis: Analysis, config: Config,
             keys: Collection[SiteKey] | None = None) -> Annotated | None:
    """The analysed text with the reported sites among ``keys`` (all when None) annotated
    exactly as `apply` writes them; None when there is nothing to write, or when the result
    would not compile (as `apply`, which then leaves the file alone)."""
    if analysis.module is None:
        return None
    wanted = [p for p in reported(analysis, config) if keys is None or p.key in keys]
    plan = plan_module(analysis.module, _names(analysis, config), wanted, config, 0)
    if not plan.edits:
        return None
    with analysis.render_lock:  # one LibCST tree per analysis, used by one thread at a time
        text = analysis.renderer().render(plan.edits)
    compiled = analysis.derived("compiles", lambda: _compiles(analysis.text))
    if text == analysis.text or (compiled and not _compiles(text)):
        return None
    return Annotated(text, tuple(plan.edits))


def _compiles(text: str) -> bool:
    try:
        compile(text, "<document>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
        compile(text, "<document>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# -- where a site's annotation goes -------------------------------------------------------------

def anchor(analysis: Analysis, site: Site) -> tuple[int, int] | None:
    """Where a site's annotation starts, as (0-based line, character index): after the
    parameter's name, after the ``)`` of the signature, after the assignment target."""
    return analysis.derived(("anchor", site.key), lambda: _anchor(analysis, site))  # type: ignore[no-any-return]


def _anchor(analysis: Analysis, site: Site) -> tuple[int, int] | None:
    module = analysis.module
    if module is None or not 0 < site.line <= len(module.lines):
        return None
    if site.kind is SiteKind.RETURN:
        return _signature_end(analysis, site)
    line = module.lines[site.line - 1]
    start = byte_col_to_index(line, site.col)
    if site.kind is SiteKind.ATTRIBUTE:
        end = _attribute_ends(analysis).get((site.line, site.col))
        if end is None:
            return None
        end_line, end_col = end
        return end_line - 1, byte_col_to_index(module.lines[end_line - 1], end_col)
    return site.line - 1, start + len(site.name)


def _attribute_ends(analysis: Analysis) -> dict[tuple[int, int], tuple[int, int]]:
    """End of every ``x.name`` assignment target, by its start (``ast`` positions)."""
    def compute() -> dict[tuple[int, int], tuple[int, int]]:
        assert analysis.module is not None
        return {(node.lineno, node.col_offset): (node.end_lineno or node.lineno,
                                                 node.end_col_offset or node.col_offset)
                for node in ast.walk(analysis.module.tree)
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)}
    return analysis.derived("attribute ends", compute)  # type: ignore[no-any-return]


def _signature_end(analysis: Analysis, site: Site) -> tuple[int, int] | None:
    """The position just after the ``)`` that closes a function's parameters."""
    assert analysis.module is not None and site.owner is not None
    node = site.owner.function
    lines = analysis.module.lines
    first = node.lineno - 1
    body = node.body[0].lineno - 1 if node.body else len(lines) - 1
    text = "".join(line + "\n" for line in lines[first:body + 1])
    depth = 0
    seen_name = False
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NAME and token.string == node.name and not seen_name:
                seen_name = True
            elif seen_name and token.type == tokenize.OP:
                if token.string in "([{":
                    depth += 1
                elif token.string in ")]}":
                    depth -= 1
                    if depth == 0 and token.string == ")":
                        return first + token.end[0] - 1, token.end[1]
    except (tokenize.TokenError, SyntaxError):
        return None
    return None


def insertion(analysis: Analysis, edit: Edit) -> list[Insertion] | None:
    """The characters a planned edit inserts, without rendering the module; None when it
    needs an import or is not a plain insertion (the renderer is the only way then)."""
    if edit.imports or edit.replaces:
        return None
    module = analysis.module
    site = analysis.sites.get(edit.key)
    if module is None or site is None:
        return None
    if not edit.inline and edit.kind in (SiteKind.VARIABLE, SiteKind.ATTRIBUTE):
        return _declaration(analysis, edit)
    place = anchor(analysis, site)
    if place is None:
        return None
    line_number, at = place
    line = module.lines[line_number]
    if edit.kind is SiteKind.RETURN:
        return [Insertion(line_number, at, at, f" -> {edit.annotation}")]
    if edit.kind is SiteKind.PARAM:
        return [_param_insertion(line_number, line, at, edit.annotation)]
    if not _EQUALS.match(line, at):
        return None  # a parenthesised target or the like: leave it to the renderer
    return [Insertion(line_number, at, at, f": {edit.annotation}")]


_EQUALS = re.compile(r"[ \t]*=(?!=)")
_TIGHT_DEFAULT = re.compile(r"=(?=[^ \t=])")


def _param_insertion(line_number: int, line: str, at: int, annotation: str) -> Insertion:
    # ``x=1`` becomes ``x: int = 1`` (PEP 8, as the renderer writes it); other spacing stays.
    if _TIGHT_DEFAULT.match(line, at):
        return Insertion(line_number, at, at + 1, f": {annotation} = ")
    return Insertion(line_number, at, at, f": {annotation}")


def _declaration(analysis: Analysis, edit: Edit) -> list[Insertion] | None:
    """``name: T`` on a line of its own before the statement, indented like it."""
    module = analysis.module
    assert module is not None
    if not 0 < edit.statement_line <= len(module.lines):
        return None
    line = module.lines[edit.statement_line - 1]
    indent = line[:len(line) - len(line.lstrip(" \t"))]
    newline = _first_newline(analysis.text)
    return [Insertion(edit.statement_line - 1, 0, 0,
                      f"{indent}{edit.target}: {edit.annotation}{newline}")]


def _first_newline(text: str) -> str:
    match = re.search(r"\r\n|\r|\n", text)
    return match.group() if match is not None else "\n"


def apply_insertions(lines: Sequence[str], insertions: Sequence[Insertion]) -> list[str]:
    """``lines`` (without their breaks) with the insertions made (for tests and checks)."""
    result = list(lines)
    for item in sorted(insertions, key=lambda i: (i.line, i.start), reverse=True):
        text = result[item.line]
        result[item.line] = text[:item.start] + item.text + text[item.end:]
    return result
