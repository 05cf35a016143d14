"""The server with the learned model (the default), over stdio."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import Project, write_project

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "typeseer.lsp"])


@pytest.fixture
def served(tmp_path: Path) -> Project:
    return write_project(tmp_path / "proj")


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, served: Project) -> AsyncIterator[None]:
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(), root_uri=served.root.as_uri()))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_the_model_lifts_sites_above_the_threshold(client: LanguageClient,
                                                         served: Project) -> None:
    uri = served.shapes.as_uri()
    text = served.shapes.read_text()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(
        uri, "python", 1, text)))
    hints = await client.text_document_inlay_hint_async(lsp.InlayHintParams(
        lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(99, 0))))
    line = next(n for n, s in enumerate(text.splitlines()) if s.startswith("def tight"))
    column = text.splitlines()[line].index("count")
    labels = {(h.position.line, h.position.character, str(h.label)) for h in hints or []}
    # ``count=0`` alone (the static fact, 0.90) stays below the threshold; with the model
    # agreeing, the combined confidence passes it.
    assert (line, column + len("count"), ": int") in labels
    shown = await client.text_document_hover_async(lsp.HoverParams(
        lsp.TextDocumentIdentifier(uri), lsp.Position(line, column)))
    assert shown is not None and isinstance(shown.contents, lsp.MarkupContent)
    assert "the learned model" in shown.contents.value
    assert "from the model, agreeing with the static fact" in shown.contents.value
