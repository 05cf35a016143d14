"""The real server over stdio, driven by a real LSP client (pytest-lsp)."""

from __future__ import annotations

import ast
import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient

from typeseer.lsp.text import Pos, Replacement, apply_replacements

from .conftest import Project, write_project

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "typeseer.lsp",
                                            "--debounce", "0.05"])
CAPABILITIES = lsp.ClientCapabilities(
    text_document=lsp.TextDocumentClientCapabilities(
        code_action=lsp.CodeActionClientCapabilities(
            resolve_support=lsp.ClientCodeActionResolveOptions(properties=["edit"])),
        inlay_hint=lsp.InlayHintClientCapabilities(
            resolve_support=lsp.ClientInlayHintResolveOptions(properties=["textEdits"]))),
    workspace=lsp.WorkspaceClientCapabilities(
        workspace_edit=lsp.WorkspaceEditClientCapabilities(document_changes=True)))
EVERYWHERE = lsp.Range(lsp.Position(0, 0), lsp.Position(10_000, 0))

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return write_project(tmp_path_factory.mktemp("served") / "proj")


@pytest_lsp.fixture(config=SERVER, scope="module")
async def client(lsp_client: LanguageClient, served: Project) -> AsyncIterator[None]:
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=CAPABILITIES, root_uri=served.root.as_uri(),
        initialization_options={"typeseer": {"useModel": False}}))
    yield
    await lsp_client.shutdown_session()


def _open(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
        uri, "python", 1, path.read_text() if text is None else text)))
    return uri


async def _hints(client: LanguageClient, uri: str) -> list[lsp.InlayHint]:
    return list(await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        lsp.TextDocumentIdentifier(uri), EVERYWHERE)) or [])


async def _raw_request(client: LanguageClient, method: str, params: dict[str, object]) -> object:
    """Send ``params`` as they are, without the client checking them against the protocol."""
    typed = client.protocol.get_message_type
    client.protocol.get_message_type = lambda method: None  # type: ignore[method-assign]
    try:
        return await client.protocol.send_request_async(method, params)
    finally:
        client.protocol.get_message_type = typed  # type: ignore[method-assign]


def _apply(text: str, edits: list[lsp.TextEdit]) -> str:
    return apply_replacements(text, [
        Replacement(Pos(e.range.start.line, e.range.start.character),
                    Pos(e.range.end.line, e.range.end.character), e.new_text) for e in edits])


async def test_hints_hover_and_an_action_end_to_end(client: LanguageClient,
                                                    served: Project) -> None:
    text = served.shapes.read_text()
    uri = _open(client, served.shapes)
    hints = await _hints(client, uri)
    line = next(n for n, s in enumerate(text.splitlines()) if s.startswith("def tight"))
    column = text.splitlines()[line].index("flag") + 1
    assert {str(h.label) for h in hints if h.position.line == line} == {"-> int", ": bool"}

    shown = await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(uri), lsp.Position(line, column)))
    assert shown is not None and isinstance(shown.contents, lsp.MarkupContent)
    assert "`bool`" in shown.contents.value and "confidence" in shown.contents.value

    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(line, column),
                                                   lsp.Position(line, column)),
        lsp.CodeActionContext(diagnostics=[])))
    assert actions is not None
    titles = [a.title for a in actions if isinstance(a, lsp.CodeAction)]
    assert titles[0] == "Add type annotation `: bool` to parameter `flag`"
    action = await client.code_action_resolve_async(actions[0])  # type: ignore[arg-type]
    assert action.edit is not None and action.edit.document_changes is not None
    [change] = action.edit.document_changes
    assert isinstance(change, lsp.TextDocumentEdit)
    assert change.text_document.uri == uri and change.text_document.version == 1
    written = _apply(text, list(change.edits))
    compile(written, "shapes.py", "exec")
    assert "def tight(count=0, name=\"x\", flag: bool = True):" in written

    # The client applies the edit to its buffer: the hint it replaced goes away.
    client.text_document_did_change(lsp.DidChangeTextDocumentParams(
        lsp.VersionedTextDocumentIdentifier(version=2, uri=uri),
        [lsp.TextDocumentContentChangePartial(range=e.range, text=e.new_text)
         for e in change.edits]))
    for _ in range(200):
        hints = await _hints(client, uri)
        if {str(h.label) for h in hints if h.position.line == line} == {"-> int"}:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the hint of the annotated parameter is still shown")


async def test_annotate_file_action_adds_the_imports(client: LanguageClient,
                                                     served: Project) -> None:
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        {"typeseer": {"minConfidence": 0.8}}))
    uri = _open(client, served.service)  # thresholds apply per request: no new analysis
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
        lsp.CodeActionContext(diagnostics=[], only=[lsp.CodeActionKind.Source])))
    assert actions is not None and len(actions) == 1
    action = await client.code_action_resolve_async(actions[0])  # type: ignore[arg-type]
    assert action.title.startswith("Annotate file")
    assert action.edit is not None and action.edit.document_changes is not None
    [change] = action.edit.document_changes
    assert isinstance(change, lsp.TextDocumentEdit)
    written = _apply(served.service.read_text(), list(change.edits))
    ast.parse(written)
    assert "if TYPE_CHECKING:\n    from .models import User" in written
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(
        {"typeseer": {}}))


async def test_bad_requests_get_empty_answers_or_errors(client: LanguageClient,
                                                        served: Project) -> None:
    never = (served.root / "pkg" / "never_opened.py").as_uri()
    assert await _hints(client, never) == []
    assert await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(never), lsp.Position(0, 0))) is None
    uri = _open(client, served.models)
    far = lsp.Position(99_999, 99_999)
    assert await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(uri), far)) is None
    actions = await client.text_document_code_action_async(lsp.CodeActionParams(
        lsp.TextDocumentIdentifier(uri), lsp.Range(far, far),
        lsp.CodeActionContext(diagnostics=[])))
    assert all(isinstance(a, lsp.CodeAction) and a.title.startswith("Annotate file")
               for a in actions or [])
    resolved = await client.code_action_resolve_async(lsp.CodeAction(
        "forged", data={"uri": never, "keys": "nonsense"}))
    assert resolved.edit is None
    with pytest.raises(JsonRpcException):
        await _raw_request(client, "textDocument/hover", {"bogus": True})
    with pytest.raises(JsonRpcException):
        await _raw_request(client, "typeseer/unknown", {})
    client.text_document_did_close(lsp.DidCloseTextDocumentParams(
        lsp.TextDocumentIdentifier(uri)))
    assert await _hints(client, uri) == []
    # Still serving.
    assert await _hints(client, _open(client, served.models)) is not None


async def test_a_burst_of_edits_is_served_throughout(client: LanguageClient,
                                                     served: Project) -> None:
    path = served.root / "pkg" / "burst.py"
    uri = _open(client, path, "")
    for version in range(2, 42):
        body = "".join(f"def f{n}():\n    return {n}\n" for n in range(version))
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [lsp.TextDocumentContentChangeWholeDocument(body)]))
        if version % 10 == 0:
            await _hints(client, uri)  # answered from whatever is analysed by now
    for _ in range(200):
        hints = await _hints(client, uri)
        if len(hints) == 41:
            break
        await asyncio.sleep(0.05)
    assert len(hints) == 41 and hints[-1].label == "-> int"


async def test_a_failing_handler_answers_its_default() -> None:
    from typeseer.lsp.server import _safe

    @_safe(lambda params: params)
    async def broken(ls: object, params: object) -> object:
        raise RuntimeError("a bug")

    hint = lsp.InlayHint(lsp.Position(0, 0), ": int")
    assert await broken(None, hint) is hint
