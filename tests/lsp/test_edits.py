"""Edits come from `apply`'s planner and renderer; the direct insertions agree with them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from typeseer.apply.run import apply
from typeseer.config import Config
from typeseer.lsp.edits import annotate, apply_insertions, insertion, plan_file
from typeseer.lsp.session import Session
from typeseer.sites import SiteKey

from .conftest import Project, analysed

EVERYTHING = Config(use_model=False, min_confidence=0.0)
#: Low enough for the return of ``service.admin`` (a project class, 0.86).
LENIENT = Config(use_model=False, min_confidence=0.8)


@pytest.mark.parametrize("name", ["shapes", "models"])
def test_each_direct_insertion_gives_what_the_renderer_writes(
        session: Session, project: Project, name: str) -> None:
    analysis = analysed(session, getattr(project, name))
    assert analysis.module is not None
    plan = plan_file(analysis, EVERYTHING)
    assert plan.edits
    direct = 0
    for edit in plan.edits.values():
        inserted = insertion(analysis, edit)
        if inserted is None:
            assert edit.imports or not edit.inline or edit.kind.value == "attribute"
            continue
        direct += 1
        lines = apply_insertions(analysis.module.lines, inserted)
        assert "\n".join(lines) + "\n" == analysis.renderer().render([edit]), edit.key
    assert direct >= len(plan.edits) // 2


def test_edits_needing_an_import_are_left_to_the_renderer(session: Session,
                                                         project: Project) -> None:
    analysis = analysed(session, project.shapes)
    edit = plan_file(analysis, EVERYTHING).edits[SiteKey("pkg/shapes.py", "multi", "variable",
                                                           "handle")]
    assert edit.imports and insertion(analysis, edit) is None
    annotated = annotate(analysis, EVERYTHING, {edit.key})
    assert annotated is not None
    assert "from io import TextIOWrapper" in annotated.text
    assert "    handle: TextIOWrapper\n    with open(first) as handle:" in annotated.text


@pytest.mark.parametrize("name", ["shapes", "service"])
def test_annotating_the_file_writes_what_apply_writes(session: Session, project: Project,
                                                      name: str) -> None:
    path: Path = getattr(project, name)
    analysis = analysed(session, path)
    annotated = annotate(analysis, LENIENT)
    assert annotated is not None
    change = next(c for c in apply([project.root], LENIENT).changes if c.source.path == path)
    assert annotated.text == change.new.decode()
    ast.parse(annotated.text)


def test_project_classes_are_imported_for_type_checkers(session: Session,
                                                       project: Project) -> None:
    annotated = annotate(analysed(session, project.service), LENIENT)
    assert annotated is not None
    assert "if TYPE_CHECKING:\n    from .models import User" in annotated.text
    assert 'def admin() -> "User":' in annotated.text  # deferred: quoted


def test_nothing_to_write_gives_none(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes, "def f(x: int) -> int:\n    return x\n")
    assert annotate(analysis, EVERYTHING) is None
    assert plan_file(analysis, EVERYTHING).edits == {}


def test_a_document_that_does_not_parse_has_no_edits(session: Session,
                                                    project: Project) -> None:
    analysis = analysed(session, project.shapes, "def f(:\n")
    assert annotate(analysis, EVERYTHING) is None
    assert plan_file(analysis, EVERYTHING).edits == {}
