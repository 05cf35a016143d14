"""Inlay hints, hover and code actions from an analysis, as the client receives them."""

from __future__ import annotations

import ast
import re

from lsprotocol import types as lsp

from typeseer.config import Config
from typeseer.lsp.edits import annotate
from typeseer.lsp.features import (
    ActionRequest,
    code_actions,
    hover,
    inlay_hints,
    resolve_code_action,
    resolve_inlay_hint,
)
from typeseer.lsp.session import Analysis, Document, Session
from typeseer.lsp.text import Encoding, Pos, Replacement, apply_replacements

from .conftest import Project, analysed

STATIC = Config(use_model=False)
LENIENT = Config(use_model=False, min_confidence=0.5)
EVERYWHERE = lsp.Range(lsp.Position(0, 0), lsp.Position(10_000, 0))


def _apply(text: str, edits: list[lsp.TextEdit] | tuple[lsp.TextEdit, ...]) -> str:
    return apply_replacements(text, [
        Replacement(Pos(e.range.start.line, e.range.start.character),
                    Pos(e.range.end.line, e.range.end.character), e.new_text) for e in edits])


def _hints(analysis: Analysis, config: Config = STATIC,
           document: Document | None = None) -> dict[tuple[int, str], lsp.InlayHint]:
    hints = inlay_hints(analysis, document or analysis.document, config, Encoding.UTF16,
                        EVERYWHERE)
    return {(h.position.line, str(h.label)): h for h in hints}


def _line(analysis: Analysis, start: str) -> int:
    return next(n for n, line in enumerate(analysis.text.splitlines())
                if line.startswith(start))


def test_hints_sit_after_names_and_signatures(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes)
    hints = _hints(analysis)
    tight = _line(analysis, "def tight")
    line = analysis.text.splitlines()[tight]
    assert hints[(tight, "-> int")].position.character == line.index(")") + 1
    assert hints[(tight, "-> int")].padding_left
    assert hints[(tight, ": bool")].position.character == line.index("flag") + 4
    multi_end = _line(analysis, "):")
    assert hints[(multi_end, "-> str")].position == lsp.Position(multi_end, 1)
    # Below the default threshold (0.9): not shown.
    assert (tight, ": int") not in hints


def test_double_clicking_a_hint_writes_what_apply_writes(session: Session,
                                                         project: Project) -> None:
    analysis = analysed(session, project.shapes)
    for hint in _hints(analysis, LENIENT).values():
        if hint.text_edits is None:
            assert hint.data is not None  # resolved on demand
            hint = resolve_inlay_hint(hint, analysis, analysis.document, LENIENT,
                                      Encoding.UTF16)
        assert hint.text_edits
        written = _apply(analysis.text, hint.text_edits)
        compile(written, "shapes.py", "exec")
        assert str(hint.label).lstrip(":-> ") in written


def test_hint_tooltips_give_the_confidence(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes)
    hint = next(iter(_hints(analysis).values()))
    assert isinstance(hint.tooltip, lsp.MarkupContent)
    assert "confidence" in hint.tooltip.value and "Double-click" in hint.tooltip.value


def test_hints_follow_the_client_settings(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes)
    labels = {label for _, label in _hints(analysis, Config(use_model=False,
                                                              min_confidence=0.5,
                                                              kinds=frozenset()))}
    assert labels == set()
    assert len(_hints(analysis, LENIENT)) > len(_hints(analysis))


def test_only_the_visible_range_gets_hints(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes)
    first = lsp.Range(lsp.Position(0, 0), lsp.Position(8, 0))
    hints = inlay_hints(analysis, analysis.document, STATIC, Encoding.UTF16, first)
    assert hints and all(h.position.line < 8 for h in hints)


def test_positions_count_utf16_code_units(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes, "s = '\U0001f600'; flag = True\n")
    [hint] = [h for (_, label), h in _hints(analysis, LENIENT).items() if label == ": bool"]
    assert hint.position == lsp.Position(0, 14)  # the emoji counts two
    assert hint.text_edits is not None
    assert _apply(analysis.text, hint.text_edits) == "s = '\U0001f600'; flag: bool = True\n"


def test_hints_of_unchanged_lines_follow_an_unanalysed_edit(session: Session,
                                                            project: Project) -> None:
    analysis = analysed(session, project.shapes)
    tight = _line(analysis, "def tight")
    edited = Document(analysis.document.uri, analysis.document.path,
                      "import sys\n" + analysis.text.replace("flag=True", "flag=False"), 2)
    hints = _hints(analysis, document=edited)
    assert (tight + 1, "-> int") not in hints  # its line changed: dropped until analysed
    where = _line(analysis, "    def where")
    assert (where + 1, "-> str") in hints
    assert all(h.data is None for h in hints.values())  # nothing to resolve on old text


def test_hover_shows_candidates_and_evidence(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes)
    tight = _line(analysis, "def tight")
    column = analysis.text.splitlines()[tight].index("count") + 2
    shown = hover(analysis, analysis.document, STATIC, Encoding.UTF16,
                  lsp.Position(tight, column))
    assert shown is not None and isinstance(shown.contents, lsp.MarkupContent)
    text = shown.contents.value
    assert "parameter `count`" in text and "| `int` |" in text
    # 0.897 is shown with four decimals: "0.90" would hide that it is below 0.90.
    assert re.search(r"confidence 0\.89\d\d, from the static fact; not reported: below "
                     r"the threshold 0\.90", text)
    assert "rule `param_default`" in text
    assert shown.range is not None and shown.range.start.character == column - 2


def test_hover_elsewhere_or_outside_the_document_is_empty(session: Session,
                                                          project: Project) -> None:
    analysis = analysed(session, project.shapes)
    for position in [lsp.Position(0, 0), lsp.Position(10_000, 3), lsp.Position(5, 10_000)]:
        assert hover(analysis, analysis.document, STATIC, Encoding.UTF16, position) is None


def _actions(analysis: Analysis, line: int, column: int, *, resolves: bool = False,
             only: list[str] | None = None, config: Config = STATIC) -> list[lsp.CodeAction]:
    return code_actions(analysis, analysis.document, config, Encoding.UTF16,
                        ActionRequest(lsp.Position(line, column), only, resolves, True))


def test_code_actions_at_a_parameter(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes)
    tight = _line(analysis, "def tight")
    actions = _actions(analysis, tight, analysis.text.splitlines()[tight].index("flag") + 1)
    assert [a.title for a in actions] == [
        "Add type annotation `: bool` to parameter `flag`",
        "Annotate function `tight` (2 annotations)",
        "Annotate file (8 annotations)"]
    site = actions[0]
    assert site.edit is not None and site.edit.document_changes is not None
    [change] = site.edit.document_changes
    assert isinstance(change, lsp.TextDocumentEdit)
    assert change.text_document.version == analysis.document.version
    written = _apply(analysis.text, list(change.edits))
    assert "def tight(count=0, name: str = \"x\", flag: bool = True):" not in written
    assert "flag: bool = True):" in written
    ast.parse(written)


def test_each_action_writes_what_apply_writes(session: Session, project: Project) -> None:
    analysis = analysed(session, project.service)
    [function, whole] = _actions(analysis, 5, 4, config=LENIENT)
    for action in (function, whole):
        assert action.edit is not None and action.edit.document_changes is not None
        [change] = action.edit.document_changes
        assert isinstance(change, lsp.TextDocumentEdit)
        expected = annotate(analysis, LENIENT)
        assert expected is not None
        assert _apply(analysis.text, list(change.edits)) == expected.text


def test_actions_are_resolved_later_when_the_client_can(session: Session,
                                                        project: Project) -> None:
    analysis = analysed(session, project.shapes)
    actions = _actions(analysis, 0, 0, resolves=True)
    assert [a.title for a in actions] == ["Annotate file (8 annotations)"]
    assert actions[0].edit is None
    resolved = resolve_code_action(actions[0], analysis, analysis.document, STATIC,
                                   Encoding.UTF16)
    assert resolved.edit is not None and resolved.edit.document_changes


def test_actions_can_be_asked_by_kind(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes)
    tight = _line(analysis, "def tight")
    assert [a.kind for a in _actions(analysis, tight, 5, only=["source"])] == ["source"]
    assert {a.kind for a in _actions(analysis, tight, 5, only=["refactor"])} == \
        {"refactor.rewrite"}
    assert _actions(analysis, tight, 5, only=["quickfix"]) == []


def test_no_actions_on_a_stale_analysis_or_outside_the_text(session: Session,
                                                            project: Project) -> None:
    analysis = analysed(session, project.shapes)
    stale = Document(analysis.document.uri, analysis.document.path, "x = 1\n", 9)
    request = ActionRequest(lsp.Position(0, 0), None, False, True)
    assert code_actions(analysis, stale, STATIC, Encoding.UTF16, request) == []
    assert [a.title for a in _actions(analysis, 10_000, 10_000)] == \
        ["Annotate file (8 annotations)"]


def test_a_document_with_a_syntax_error_gets_nothing(session: Session,
                                                     project: Project) -> None:
    analysis = analysed(session, project.shapes, "def f(:\n")
    assert _hints(analysis) == {}
    assert hover(analysis, analysis.document, STATIC, Encoding.UTF16,
                 lsp.Position(0, 4)) is None
    assert _actions(analysis, 0, 0) == []


def test_an_edit_is_versioned_for_the_document_as_it_is_now(session: Session,
                                                            project: Project) -> None:
    analysis = analysed(session, project.shapes)
    [whole] = _actions(analysis, 0, 0, resolves=True)
    # Typed, then undone: the same text under a later version is still what was analysed.
    undone = Document(analysis.document.uri, analysis.document.path, analysis.text, 7)
    resolved = resolve_code_action(whole, analysis, undone, STATIC, Encoding.UTF16)
    assert resolved.edit is not None and resolved.edit.document_changes is not None
    [change] = resolved.edit.document_changes
    assert isinstance(change, lsp.TextDocumentEdit) and change.text_document.version == 7
    edited = Document(analysis.document.uri, analysis.document.path, "x = 1\n", 8)
    [again] = _actions(analysis, 0, 0, resolves=True)
    assert resolve_code_action(again, analysis, edited, STATIC, Encoding.UTF16).edit is None
