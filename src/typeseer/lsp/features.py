"""Inlay hints, hover and code actions, computed from one analysis of a document.

Positions in an analysis refer to the text it analysed. When the document has changed since
(the next analysis is debounced or running), hints and hovers are still given for the lines
the change did not touch, moved to where those lines are now; code actions only ever come
from an analysis of the current text, since their edits are computed on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types as lsp

from ..api import Prediction
from ..config import Config
from ..sites import Scope, Site, SiteKey, SiteKind
from ..static.rules import RULES
from .edits import anchor, annotate, insertion, plan_file, reported
from .session import Analysis, Document
from .text import Encoding, LineMap, Pos, byte_col_to_index, diff_replacements

__all__ = [
    "ANNOTATE_FILE",
    "ANNOTATE_FUNCTION",
    "ANNOTATE_SITE",
    "ActionRequest",
    "code_actions",
    "hover",
    "inlay_hints",
    "prepare",
    "resolve_code_action",
    "resolve_inlay_hint",
]

#: The code actions, by the name their ``data`` carries.
ANNOTATE_SITE = "site"
ANNOTATE_FUNCTION = "function"
ANNOTATE_FILE = "file"
_KINDS = {ANNOTATE_SITE: lsp.CodeActionKind.RefactorRewrite,
          ANNOTATE_FUNCTION: lsp.CodeActionKind.RefactorRewrite,
          ANNOTATE_FILE: lsp.CodeActionKind.Source}
_SOURCES = {"static": "the static fact", "model": "the model",
            "combined": "the model, agreeing with the static fact"}
#: Alternatives shown on hover.
SHOWN_ALTERNATIVES = 5


# -- positions --------------------------------------------------------------------------------

class _View:
    """An analysis seen from the document's current text."""

    def __init__(self, analysis: Analysis, document: Document, encoding: Encoding) -> None:
        self.analysis = analysis
        self.document = document
        self.encoding = encoding
        assert analysis.module is not None
        self.lines = analysis.module.lines
        self.map: LineMap = analysis.derived(
            ("lines", document.version, len(document.text), hash(document.text)),
            lambda: LineMap(analysis.text, document.text))

    def position(self, line: int, index: int) -> lsp.Position | None:
        """An analysed (0-based line, index) in the current text; None if the line changed."""
        new = self.map.new_line(line)
        if new is None or line >= len(self.lines):
            return None
        return lsp.Position(new, self.encoding.units(self.lines[line][:index]))

    def analysed(self, position: lsp.Position) -> tuple[int, int] | None:
        """A position of the current text as an analysed (0-based line, index)."""
        old = self.map.old_line(position.line)
        if old is None or old >= len(self.lines):
            return None
        return old, self.encoding.char_index(self.lines[old], position.character)

    def span(self, site: Site) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """Where the site is in the analysed text: its name, or a function's signature up to
        the ``)`` for its return."""
        end = anchor(self.analysis, site)
        if end is None:
            return None
        if site.kind is SiteKind.RETURN:
            assert site.owner is not None
            node = site.owner.function
            start_line = node.lineno - 1
            start = (start_line, byte_col_to_index(self.lines[start_line], node.col_offset))
        else:
            start = (site.line - 1, byte_col_to_index(self.lines[site.line - 1], site.col))
        return start, end


def _key_data(key: SiteKey) -> list[str]:
    return [key.file, key.scope, key.kind, key.name]


def _key_of(data: Any) -> SiteKey | None:
    if isinstance(data, list) and len(data) == 4 and all(isinstance(v, str) for v in data):
        return SiteKey(*data)
    return None


def _type_label(kind: str, annotation: str) -> str:
    return f"-> {annotation}" if kind == SiteKind.RETURN.value else f": {annotation}"


def _site_words(site: Site) -> str:
    if site.kind is SiteKind.RETURN:
        return f"return of `{site.scope}`"
    if site.kind is SiteKind.ATTRIBUTE:
        return f"attribute `self.{site.name}`"
    return f"{'parameter' if site.kind is SiteKind.PARAM else 'variable'} `{site.name}`"


# -- inlay hints ------------------------------------------------------------------------------

def prepare(analysis: Analysis, config: Config) -> None:
    """Compute what the first hint request needs (the plan, where each hint goes), so that
    the analysis thread does it rather than the request."""
    if analysis.module is None:
        return
    plan_file(analysis, config)
    for prediction in reported(analysis, config):
        site = analysis.sites.get(prediction.key)
        if site is not None:
            anchor(analysis, site)


def inlay_hints(analysis: Analysis, document: Document, config: Config, encoding: Encoding,
                visible: lsp.Range) -> list[lsp.InlayHint]:
    """One hint per reported site in ``visible``: the type after the name (after the ``)``
    for a return), with the edit `apply` would make when it is a plain insertion."""
    if analysis.module is None:
        return []
    view = _View(analysis, document, encoding)
    plan = plan_file(analysis, config)
    current = analysis.text == document.text
    hints = []
    for prediction in reported(analysis, config):
        key = prediction.key
        site = analysis.sites[key]
        place = anchor(analysis, site)
        position = view.position(*place) if place is not None else None
        if position is None or not _within(position, visible):
            continue
        edit = plan.edits.get(key)
        annotation = edit.annotation if edit is not None else str(prediction.type)
        text_edits = None
        if edit is not None:
            inserted = insertion(analysis, edit)
            if inserted is not None and all(view.map.new_line(i.line) is not None
                                            for i in inserted):
                text_edits = [lsp.TextEdit(
                    lsp.Range(_must(view.position(i.line, i.start)),
                              _must(view.position(i.line, i.end))), i.text)
                    for i in inserted]
        hints.append(lsp.InlayHint(
            position=position, label=_type_label(prediction.kind, annotation),
            kind=lsp.InlayHintKind.Type, text_edits=text_edits,
            tooltip=lsp.MarkupContent(lsp.MarkupKind.Markdown,
                                      _hint_tooltip(prediction, plan.skipped.get(key), edit
                                                    is not None)),
            padding_left=prediction.kind == SiteKind.RETURN.value,
            data={"uri": document.uri, "version": document.version,
                  "key": _key_data(key)} if edit is not None and text_edits is None and current
            else None))
    return hints


def _must(position: lsp.Position | None) -> lsp.Position:
    assert position is not None
    return position


def _within(position: lsp.Position, visible: lsp.Range) -> bool:
    point = (position.line, position.character)
    return (visible.start.line, visible.start.character) <= point <= \
        (visible.end.line, visible.end.character)


def _hint_tooltip(prediction: Prediction, skipped: str | None, planned: bool) -> str:
    text = (f"**typeseer**: confidence {prediction.confidence:.2f}, from "
            f"{_SOURCES.get(prediction.source, prediction.source)}")
    if planned:
        return text + "\n\nDouble-click to insert it (with its imports, as `typeseer apply`)."
    return text + f"\n\nNot written by `typeseer apply`: {skipped or 'see the hover'}."


def _analyses(analysis: Analysis | None, document: Document | None) -> bool:
    """Whether ``analysis`` is of the document's current text."""
    return analysis is not None and document is not None and analysis.module is not None \
        and analysis.document.uri == document.uri and analysis.text == document.text


def resolve_inlay_hint(hint: lsp.InlayHint, analysis: Analysis | None,
                       document: Document | None, config: Config,
                       encoding: Encoding) -> lsp.InlayHint:
    """Fill in the edits of a hint whose annotation needs an import (or a declaration line):
    the minimal edits from the text `apply` writes for that one site. A hint given for an
    older version of the document is left as it is."""
    data = hint.data if isinstance(hint.data, dict) else {}
    key = _key_of(data.get("key"))
    if key is None or not _analyses(analysis, document) or document is None \
            or document.version != data.get("version"):
        return hint
    assert analysis is not None
    annotated = annotate(analysis, config, {key})
    if annotated is None:
        return hint
    hint.text_edits = _text_edits(analysis.text, annotated.text, encoding)
    return hint


def _text_edits(old: str, new: str, encoding: Encoding) -> list[lsp.TextEdit]:
    return [lsp.TextEdit(lsp.Range(_lsp_position(r.start), _lsp_position(r.end)), r.text)
            for r in diff_replacements(old, new, encoding)]


def _lsp_position(position: Pos) -> lsp.Position:
    return lsp.Position(position.line, position.character)


# -- hover ------------------------------------------------------------------------------------

def _sites_at(view: _View, position: lsp.Position,
              predictions: Sequence[Prediction]) -> list[tuple[Site, Prediction]]:
    """The sites whose span holds ``position``, innermost first."""
    point = view.analysed(position)
    if point is None:
        return []
    found = []
    for prediction in predictions:
        key = prediction.key
        site = view.analysis.sites.get(key)
        if site is None or site.annotation is not None:
            continue
        span = view.span(site)
        if span is not None and span[0] <= point <= span[1]:
            found.append((span[0], site, prediction))
    found.sort(key=lambda item: item[0], reverse=True)
    return [(site, prediction) for _, site, prediction in found]


def hover(analysis: Analysis, document: Document, config: Config, encoding: Encoding,
          position: lsp.Position) -> lsp.Hover | None:
    """The site under the cursor: its candidate types with their confidence, and the
    evidence behind the best one."""
    if analysis.module is None:
        return None
    view = _View(analysis, document, encoding)
    kinds = {kind.value for kind in config.kinds}
    found = _sites_at(view, position,
                      [p for p in analysis.predictions if p.kind in kinds and p.alternatives])
    if not found:
        return None
    site, prediction = found[0]
    span = view.span(site)
    assert span is not None
    start, end = view.position(*span[0]), view.position(*span[1])
    where = lsp.Range(start, end) if start is not None and end is not None else None
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown,
                                       _hover_text(site, prediction, config)), where)


def _figure(value: float, threshold: float) -> str:
    """Two decimals; four when two would hide on which side of the threshold it is."""
    text = f"{value:.2f}"
    return f"{value:.4f}" if text == f"{threshold:.2f}" and value != threshold else text


def _hover_text(site: Site, prediction: Prediction, config: Config) -> str:
    best, confidence = prediction.alternatives[0]
    threshold = config.threshold
    verdict = (f"reported (threshold {threshold:.2f})" if confidence >= threshold else
               f"not reported: below the threshold {threshold:.2f}")
    lines = [f"**typeseer** · {_site_words(site)}", "",
             f"`{best}` — confidence {_figure(confidence, threshold)}, from "
             f"{_SOURCES.get(prediction.source, prediction.source)}; {verdict}", "",
             "| candidate | confidence |", "| --- | --- |"]
    lines.extend(f"| `{t}` | {_figure(c, threshold)} |"
                 for t, c in prediction.alternatives[:SHOWN_ALTERNATIVES])
    if prediction.evidence:
        lines.extend(["", "**Evidence**"])
        for name in prediction.evidence:
            rule = RULES.get(name)
            if rule is not None:
                lines.append(f"- rule `{name}` ({rule.confidence:.2f}): {rule.description}")
            elif name == "model":
                lines.append("- the learned model (names, usage, values, call sites)")
            else:
                lines.append(f"- `{name}`")
    name = "return" if site.kind is SiteKind.RETURN else site.name
    lines.extend(["", f"`typeseer explain {site.file}:{site.line}:{name}` shows how much each "
                  "signal weighed."])
    return "\n".join(lines)


# -- code actions -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What the client asked code actions for, and what it can take."""

    position: lsp.Position
    #: ``context.only``: the kinds the client wants (None: any).
    only: Sequence[str] | None
    #: The client resolves a code action's ``edit`` later (``codeAction/resolve``).
    resolves: bool
    #: The client takes ``documentChanges`` (versioned edits) in a workspace edit.
    versioned: bool


def _wanted(kind: str, only: Sequence[str] | None) -> bool:
    return only is None or any(kind == o or kind.startswith(f"{o}.") for o in only)


def _enclosing_function(analysis: Analysis, line: int) -> Scope | None:
    """The innermost function whose definition (decorators included) holds the 1-based
    ``line``."""
    assert analysis.module is not None
    best: Scope | None = None
    for scope in analysis.module.scope.walk():
        if scope.kind != "function":
            continue
        node = scope.function
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        if first <= line <= (node.end_lineno or node.lineno):
            best = scope  # walk() goes outside in: the last match is the innermost
    return best


def code_actions(analysis: Analysis, document: Document, config: Config,
                 encoding: Encoding, request: ActionRequest) -> list[lsp.CodeAction]:
    """"Add type annotation" for the site under the cursor, "Annotate function" for the
    function around it, "Annotate file"; each only when `apply` would write something."""
    if analysis.module is None or analysis.text != document.text:
        return []
    view = _View(analysis, document, encoding)
    plan = plan_file(analysis, config)
    if not plan.edits:
        return []
    chosen: list[tuple[str, str, list[SiteKey] | None]] = []
    planned = [p for p in reported(analysis, config)
               if p.key in plan.edits]
    here = _sites_at(view, request.position, planned)
    if here:
        site, _ = here[0]
        edit = plan.edits[site.key]
        label = _type_label(site.kind.value, edit.annotation)
        chosen.append((ANNOTATE_SITE, f"Add type annotation `{label}` to {_site_words(site)}",
                       [site.key]))
    point = view.analysed(request.position)
    function = _enclosing_function(analysis, point[0] + 1) if point is not None else None
    if function is not None:
        inside = [key for key in plan.edits
                  if (s := analysis.sites.get(key)) is not None and s.owner is function]
        if inside:
            chosen.append((ANNOTATE_FUNCTION, f"Annotate function `{function.qualname}` "
                           f"({_count(len(inside))})", inside))
    chosen.append((ANNOTATE_FILE, f"Annotate file ({_count(len(plan.edits))})", None))
    actions = []
    for action, title, wanted in chosen:
        kind = _KINDS[action]
        if not _wanted(kind, request.only):
            continue
        code_action = lsp.CodeAction(
            title=title, kind=kind,
            data={"uri": document.uri, "version": document.version, "action": action,
                  "keys": [_key_data(k) for k in wanted] if wanted is not None else None,
                  "versioned": request.versioned})
        if not request.resolves:
            code_action = resolve_code_action(code_action, analysis, document, config, encoding)
            if code_action.edit is None:
                continue
        actions.append(code_action)
    return actions


def _count(number: int) -> str:
    return f"{number} annotation{'s' if number != 1 else ''}"


def resolve_code_action(action: lsp.CodeAction, analysis: Analysis | None,
                        document: Document | None, config: Config,
                        encoding: Encoding) -> lsp.CodeAction:
    """The action with its workspace edit: the minimal edits from the document's current text
    (which ``analysis`` must be of) to what `apply` writes for the action's sites (sites are
    named by key, so an action listed before an edit still applies after it); no edit when
    nothing is left to write."""
    data = action.data if isinstance(action.data, dict) else {}
    raw_keys = data.get("keys")
    keys = None if raw_keys is None else [
        k for k in map(_key_of, raw_keys if isinstance(raw_keys, list) else []) if k is not None]
    if not _analyses(analysis, document) or document is None or data.get("uri") != document.uri:
        return action
    assert analysis is not None
    annotated = annotate(analysis, config, keys)
    if annotated is None:
        return action
    edits = _text_edits(document.text, annotated.text, encoding)
    if data.get("versioned", True):
        action.edit = lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(
            lsp.OptionalVersionedTextDocumentIdentifier(document.uri, document.version),
            edits)])
    else:
        action.edit = lsp.WorkspaceEdit(changes={document.uri: edits})
    return action
