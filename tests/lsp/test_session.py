"""The analysis session: overlays, debouncing, dependents, closed documents, settings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from typeseer.lsp.session import Analysis, Session

from .conftest import Project, analysed, write_project


def _types(analysis: Analysis) -> dict[tuple[str, str, str], str | None]:
    return {(p.scope, p.kind, p.name): p.type for p in analysis.predictions}


def test_an_opened_document_is_analysed(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes)
    assert analysis.error is None
    assert analysis.module_name == "pkg.shapes"
    types = _types(analysis)
    assert types[("tight", "return", "")] == "int"
    assert types[("Point.__init__", "param", "y")] == "float"
    # Every site is predicted whatever its confidence: thresholds apply per request.
    assert ("tight", "param", "count") in types


def test_the_buffer_overrides_the_file_on_disk(session: Session, project: Project) -> None:
    analysis = analysed(session, project.shapes, "def greet():\n    return 'hi'\n")
    assert _types(analysis) == {("greet", "return", ""): "str"}
    assert project.shapes.read_text().startswith('"""Shapes')


def test_other_modules_see_open_buffers_and_are_analysed_again(session: Session,
                                                                project: Project) -> None:
    service = analysed(session, project.service)
    assert _types(service)[("admin", "return", "")] == "User"
    models_uri = project.models.as_uri()
    session.open(models_uri, project.models.read_text(), 1)
    assert session.wait(models_uri, 60) is not None
    # The unsaved edit of models.py reaches service.py, which imports it.
    session.change(models_uri, "def make_user(name):\n    return 'x'\n", 2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        latest = session.latest(project.service.as_uri())
        if latest is not None and _types(latest)[("admin", "return", "")] == "str":
            break
        time.sleep(0.02)
    else:
        pytest.fail("service.py was not analysed again after models.py changed")


def test_a_burst_of_edits_is_analysed_once_it_stops(project: Project) -> None:
    session = Session([project.root], {"use_model": False}, debounce=0.3)
    try:
        uri = project.shapes.as_uri()
        session.open(uri, "x = 1\n", 0)
        assert session.wait(uri, 60) is not None
        before = session.analyses_run
        for version in range(1, 21):
            session.change(uri, "x = 1\n" + "y = 'a'\n" * version, version)
            time.sleep(0.005)
        assert session.pending(uri)
        analysis = session.wait(uri, 60)
        assert analysis is not None
        assert analysis.document.version == 20
        assert session.analyses_run - before <= 4  # not one per keystroke (20 edits)
    finally:
        session.shutdown()


def test_requests_read_the_latest_finished_analysis_while_the_next_is_due(
        project: Project) -> None:
    session = Session([project.root], {"use_model": False}, debounce=30)
    try:
        first = analysed(session, project.shapes)
        session.change(project.shapes.as_uri(), "x = 1\n", 2)
        assert session.current(project.shapes.as_uri()) is None
        assert session.latest(project.shapes.as_uri()) is first
    finally:
        session.shutdown()


def test_a_closed_document_has_no_analysis(session: Session, project: Project) -> None:
    uri = project.shapes.as_uri()
    analysed(session, project.shapes)
    session.close(uri)
    assert session.latest(uri) is None
    assert session.document(uri) is None
    assert not session.pending(uri)
    started = time.monotonic()
    assert session.wait(uri, 10) is None
    assert time.monotonic() - started < 1
    session.close("file:///never/opened.py")  # closing twice, or never opened: harmless


def test_a_syntax_error_gives_an_analysis_without_predictions(session: Session,
                                                              project: Project) -> None:
    analysis = analysed(session, project.shapes, "def broken(:\n")
    assert analysis.module is None and analysis.predictions == ()
    assert analysis.error


def test_documents_that_are_not_files_are_never_analysed(session: Session) -> None:
    session.open("untitled:Untitled-1", "x = 1\n", 1)
    assert session.wait("untitled:Untitled-1", 0.3) is None
    assert session.document("untitled:Untitled-1") is not None


def test_a_failing_analysis_is_reported_and_the_next_one_runs(
        session: Session, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Session._analyse
    calls = []

    def flaky(self: Session, *args: object) -> Analysis:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Session, "_analyse", flaky)
    failed = analysed(session, project.shapes)
    assert failed.error == "analysis failed: boom"
    session.change(project.shapes.as_uri(), "x = 1\n", 2)
    recovered = session.wait(project.shapes.as_uri(), 60)
    assert recovered is not None and recovered.error is None


def test_settings_come_from_the_project_then_the_client(tmp_path: Path) -> None:
    files = write_project(tmp_path / "proj",
                          "[tool.typeseer]\nmin-confidence = 0.5\nkinds = ['param']\n")
    session = Session([files.root], {"use_model": False}, debounce=0.05)
    try:
        uri = files.shapes.as_uri()
        config = session.config_for(uri)
        assert config.threshold == 0.5 and not config.use_model
        assert {k.value for k in config.kinds} == {"param"}
        analysed(session, files.shapes)
        runs = session.analyses_run
        session.configure({"use_model": False, "min_confidence": 0.95})
        assert session.config_for(uri).threshold == 0.95
        assert session.wait(uri, 60) is not None
        deadline = time.monotonic() + 60
        while session.analyses_run == runs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert session.analyses_run > runs  # new settings: analysed again
    finally:
        session.shutdown()


def test_a_broken_pyproject_is_reported_and_the_defaults_used(tmp_path: Path) -> None:
    files = write_project(tmp_path / "proj", "[tool.typeseer]\nmin-confidence = 'high'\n")
    messages: list[str] = []
    session = Session([files.root], {"use_model": False}, on_message=messages.append)
    try:
        assert session.config_for(files.shapes.as_uri()).threshold == 0.9
        assert messages and "pyproject.toml" in messages[0] and "high" in messages[0]
    finally:
        session.shutdown()


def test_a_file_outside_the_workspace_gets_its_own_project(session: Session,
                                                           tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "script.py"
    outside.parent.mkdir()
    outside.write_text("def main():\n    return 0\n")
    analysis = analysed(session, outside)
    assert _types(analysis) == {("main", "return", ""): "int"}


def test_full_collections_run_between_analyses(project: Project,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from typeseer.lsp import session as session_module

    collections: list[float] = []
    monkeypatch.setattr(session_module, "COLLECT_INTERVAL", 0.0)
    monkeypatch.setattr(session_module.gc, "collect",
                        lambda *args: collections.append(time.monotonic()) or 0)
    running = Session([project.root], {"use_model": False}, debounce=0.05, collect=True)
    try:
        analysed(running, project.shapes)
        deadline = time.monotonic() + 10
        while not collections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert collections
    finally:
        running.shutdown()
