"""The language server: LSP messages over stdio (pygls) wired to an analysis ``Session``.

Handlers run on pygls's event loop and only read finished analyses, so they answer at once.
The one exception is a code action on a document whose latest edit is not analysed yet: its
edit must be computed on the current text, so it waits (without blocking the loop) for that
analysis, at most ``ACTION_WAIT`` seconds. Rendering an edit (LibCST) runs in a thread.
Every handler turns a failure into an empty answer and a log line: a bad request, a position
outside the document or a closed document never stops the server. Below the handlers,
``stream.FrameReader`` and ``_Protocol`` answer malformed input with JSON-RPC errors (parse
error, invalid request, invalid params) and go on reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from cattrs import transform_error
from cattrs.errors import ClassValidationError
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    MsgId,
)
from pygls.protocol.language_server import lsp_method

from .. import __version__
from .features import (
    ActionRequest,
    code_actions,
    hover,
    inlay_hints,
    prepare,
    resolve_code_action,
    resolve_inlay_hint,
)
from .session import DEFAULT_DEBOUNCE, Analysis, Session
from .settings import SECTION, read_settings
from .stream import FrameReader, Malformed
from .text import Encoding, Pos, Replacement, apply_replacements

__all__ = ["ACTION_WAIT", "FIRST_WAIT", "TypeseerServer", "changed_text", "create_server"]

logger = logging.getLogger("typeseer.lsp")

#: Seconds a request waits for a document's first analysis (later ones are served at once).
FIRST_WAIT = 30.0
#: Seconds a code action waits for the analysis of the document's current text.
ACTION_WAIT = 10.0

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


@dataclass(frozen=True, slots=True)
class ClientFlags:
    """The optional protocol features the client announced."""

    resolves_actions: bool = False
    resolves_hint_edits: bool = False
    refreshes_hints: bool = False
    versioned_edits: bool = False
    pulls_configuration: bool = False


def _capability(root: object, *path: str) -> Any:
    for name in path:
        root = getattr(root, name, None)
        if root is None:
            return None
    return root


def client_flags(capabilities: lsp.ClientCapabilities) -> ClientFlags:
    action_properties = _capability(capabilities, "text_document", "code_action",
                                    "resolve_support", "properties") or []
    hint_properties = _capability(capabilities, "text_document", "inlay_hint",
                                  "resolve_support", "properties") or []
    return ClientFlags(
        resolves_actions="edit" in action_properties,
        resolves_hint_edits="textEdits" in hint_properties,
        refreshes_hints=bool(_capability(capabilities, "workspace", "inlay_hint",
                                         "refresh_support")),
        versioned_edits=bool(_capability(capabilities, "workspace", "workspace_edit",
                                         "document_changes")),
        pulls_configuration=bool(_capability(capabilities, "workspace", "configuration")))


#: Bytes read from stdin at a time (``FrameReader`` frames them).
_CHUNK = 65536


def _valid_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _request_id(data: object) -> MsgId | None:
    """The id to answer an invalid message with: its own when usable, else null."""
    value = data.get("id") if isinstance(data, dict) else None
    return value if _valid_id(value) else None


def _invalid(data: object) -> str | None:
    """Why ``data`` is not a JSON-RPC 2.0 message of LSP (None when it is one)."""
    if not isinstance(data, dict):
        return f"a message must be a JSON object, not {type(data).__name__}"
    if data.get("jsonrpc") != "2.0":
        return "a message must have \"jsonrpc\": \"2.0\""
    if "method" in data:
        if not isinstance(data["method"], str):
            return "the method must be a string"
        if "id" in data and not _valid_id(data["id"]):
            return "a request id must be an integer or a string"
        if not isinstance(data.get("params"), dict | list | None):
            return "params must be an object or an array"
    elif "id" not in data:
        return "a message must have a method (or be a response, with an id)"
    return None


def _check_params(message: object, commands: Mapping[str, object]) -> None:
    """Raise an invalid-params error for what the protocol's types let through but pygls
    fails on: a cancellation of an id no request can have (its lookup raises), a command
    the server does not have (pygls answers it, logging a traceback)."""
    if isinstance(message, lsp.CancelNotification) and not _valid_id(message.params.id):
        raise JsonRpcInvalidParams.of(f"no request has the id {message.params.id!r}")
    if isinstance(message, lsp.ExecuteCommandRequest) and \
            message.params.command not in commands:
        raise JsonRpcInvalidParams.of(f"no command {message.params.command!r}")


class _Protocol(LanguageServerProtocol):
    """pygls's protocol, made to answer every request and to survive any input: a body that
    is not JSON gets a parse error, a message that is not JSON-RPC an invalid-request error,
    parameters that do not fit the protocol an invalid-params error (pygls leaves both
    unanswered), and requests before ``initialize`` or after ``shutdown`` errors (pygls
    serves the first and drops the second, leaving the client waiting)."""

    def receive(self, frame: bytes | Malformed) -> None:
        """Handle one message off the stream. Raises only ``SystemExit`` (``exit``)."""
        if isinstance(frame, Malformed):
            self._refuse(None, lsp.ErrorCodes.ParseError, frame.reason)
            return
        try:
            data = json.loads(frame)
        except (ValueError, RecursionError) as error:
            self._refuse(None, lsp.ErrorCodes.ParseError, f"the message is not JSON: {error}")
            return
        problem = _invalid(data)
        if problem is not None:
            self._refuse(_request_id(data), lsp.ErrorCodes.InvalidRequest, problem)
            return
        if self._refused_now(data):
            return
        method = data.get("method")
        try:
            message = self._structure(data)
        except JsonRpcException as error:
            logger.warning("invalid %s message: %s", method or "response", error.message)
            if method is not None and "id" in data:
                self._send_response(data["id"], None, error.to_response_error())
            return
        try:
            self.handle_message(message)
        except Exception:
            logger.exception("handling a %s message failed", method or "response")

    def _structure(self, data: dict[str, Any]) -> Any:
        """The typed message (pygls's ``structure_message`` for a checked message, raising an
        invalid-params error that says what is wrong, without logging a traceback)."""
        method = data.get("method")
        kind: Any
        if isinstance(method, str):
            kind = self.get_message_type(method)
            if kind is None:
                kind = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
                data = {"params": None, **data}  # pygls's generic messages require params
        elif "error" in data:
            kind = lsp.ResponseErrorMessage
        else:
            kind = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
        try:
            message = self._converter.structure(data, kind)
        except ClassValidationError as error:
            raise JsonRpcInvalidParams.of("; ".join(transform_error(error))) from error
        except Exception as error:
            raise JsonRpcInvalidParams.of(error) from error
        _check_params(message, self.fm.commands)
        return message

    def _refused_now(self, data: dict[str, Any]) -> bool:
        """Refuse what the server's state does not allow: requests before ``initialize``
        (notifications then are dropped), a second ``initialize``, anything but ``exit``
        after ``shutdown``."""
        method = data.get("method")
        if method is None or method == lsp.EXIT:
            return False
        request = "id" in data
        reason: tuple[int, str] | None = None
        if self._shutdown:
            reason = (lsp.ErrorCodes.InvalidRequest, "the server is shut down")
        elif self._workspace is None and method != lsp.INITIALIZE:
            reason = (lsp.ErrorCodes.ServerNotInitialized, "the server is not initialized")
        elif self._workspace is not None and method == lsp.INITIALIZE:
            reason = (lsp.ErrorCodes.InvalidRequest, "the server is already initialized")
        if reason is None:
            return False
        if request:
            self._refuse(data["id"], *reason)
        else:
            logger.warning("%s notification dropped: %s", method, reason[1])
        return True

    def _refuse(self, msg_id: MsgId | None, code: int, message: str) -> None:
        logger.warning("answering %s with error %d: %s", msg_id, code, message)
        self._send_response(msg_id, None, lsp.ResponseError(code, message))  # type: ignore[arg-type]

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
            self, params: lsp.DidChangeTextDocumentParams) -> Generator[Any, Any, None]:
        """The session keeps the open documents' texts (``did_change`` applies the changes):
        pygls's copy, which splits lines where LSP does not and fails on a document that is
        not open, is not kept."""
        if (handler := self.fm.features.get(lsp.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None


class TypeseerServer(LanguageServer):
    """pygls's server with typeseer's session and what it knows of the client."""

    def __init__(self, debounce: float = DEFAULT_DEBOUNCE,
                 collects_garbage: bool = False) -> None:
        super().__init__("typeseer", __version__,
                         text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
                         protocol_cls=_Protocol)
        self.debounce = debounce
        #: Full garbage collections are left to the session's thread (``run_lsp``).
        self.collects_garbage = collects_garbage
        self.session: Session | None = None
        self.flags = ClientFlags()
        #: The settings of ``initializationOptions``; later settings from the client are
        #: applied over them.
        self.initial_settings: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        #: The process's exit status once ``start_io`` returns: 1 after an ``exit`` without
        #: ``shutdown``, as LSP asks.
        self.exit_code = 0

    # -- the transport -----------------------------------------------------------------------
    def start_io(self, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """Serve over stdio until ``exit`` or the end of stdin; unlike pygls's reader,
        ``FrameReader`` survives malformed headers and lengths (see ``stream``)."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(self._serve(stdin or sys.stdin.buffer))
        except BrokenPipeError:
            logger.error("the connection to the client is lost: stopping")
        except KeyboardInterrupt:
            pass
        except SystemExit as stop:  # pygls's ``exit`` handler
            self.exit_code = stop.code if isinstance(stop.code, int) else 1
        finally:
            self.shutdown()  # type: ignore[no-untyped-call]

    async def _serve(self, stdin: BinaryIO) -> None:
        loop = asyncio.get_running_loop()
        read = getattr(stdin, "read1", stdin.read)
        reader = FrameReader(lambda: loop.run_in_executor(self.thread_pool, read, _CHUNK))
        protocol = cast(_Protocol, self.protocol)
        while self._stop_event is not None and not self._stop_event.is_set():
            frame = await reader.next()
            if frame is None:
                return
            protocol.receive(frame)

    # -- from the analysis thread ------------------------------------------------------------
    def analysed(self, uri: str) -> None:
        """Called by the session's thread when a document's analysis is done."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, uri)

    def _wake(self, uri: str) -> None:
        self.release(uri)
        if self.flags.refreshes_hints:
            try:
                self.workspace_inlay_hint_refresh(None)
            except Exception:  # the client may be gone; hints are refreshed on next request
                logger.debug("inlay hint refresh failed", exc_info=True)

    def prepare(self, analysis: Analysis) -> None:
        """In the analysis thread: what the first requests on the analysis will need."""
        if self.session is not None:
            prepare(analysis, self.session.config_for(analysis.document.uri))

    def message(self, text: str) -> None:
        """A warning for the user (a bad setting), from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.window_show_message, lsp.ShowMessageParams(
                lsp.MessageType.Warning, text))
        else:
            logger.warning("%s", text)

    # -- for handlers ------------------------------------------------------------------------
    def release(self, uri: str) -> None:
        """Wake the requests waiting for an analysis of ``uri`` (done, or closed)."""
        for future in self._waiters.pop(uri, []):
            if not future.done():
                future.set_result(None)

    @property
    def encoding(self) -> Encoding:
        return Encoding.of(self.workspace.position_encoding)

    async def analysis(self, uri: str, *, fresh: bool) -> Analysis | None:
        """The latest analysis of an open document; with ``fresh``, the analysis of its
        current text, waited for up to ``ACTION_WAIT``. A document not analysed yet is waited
        for up to ``FIRST_WAIT``; None when the time is up, the document is closed or it is
        never analysed."""
        session = self.session
        if session is None:
            return None
        document = session.document(uri)
        if document is None or document.path is None:
            return None  # not open, or never analysed (not a file)
        loop = asyncio.get_running_loop()
        first = session.latest(uri) is None
        deadline = loop.time() + (FIRST_WAIT if first else ACTION_WAIT)
        while session.document(uri) is not None:
            done = session.current(uri) if fresh else session.latest(uri)
            remaining = deadline - loop.time()
            if done is not None or remaining <= 0:
                return done
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(uri, []).append(future)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(future, remaining)
        return None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()


def _safe(default: Callable[[Any], object]) -> Callable[[Handler], Handler]:
    """Log any failure of a request handler and answer ``default(params)`` instead."""
    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(ls: TypeseerServer, params: Any) -> Any:
            try:
                return await handler(ls, params)
            except Exception:
                logger.exception("%s failed", handler.__name__)
                return default(params)
        return cast(Handler, guarded)
    return decorate


def _roots(params: lsp.InitializeParams) -> list[Path]:
    from .session import _path_of

    uris = [folder.uri for folder in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    roots = [path for path in map(_path_of, uris) if path is not None]
    if not roots and params.root_path:
        roots = [Path(params.root_path)]
    return roots


def create_server(debounce: float = DEFAULT_DEBOUNCE,
                  collects_garbage: bool = False) -> TypeseerServer:
    """A server with every feature registered (``server.start_io()`` runs it).
    ``collects_garbage``: the process's automatic full collections are off (``run_lsp``)."""
    server = TypeseerServer(debounce, collects_garbage)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: TypeseerServer, params: lsp.InitializeParams) -> None:
        ls.start()
        ls.flags = client_flags(params.capabilities)
        overrides, problems = read_settings(params.initialization_options)
        for problem in problems:
            ls.message(problem)
        ls.initial_settings = overrides
        ls.session = Session(_roots(params), overrides, debounce=ls.debounce,
                             on_analysed=ls.analysed, on_message=ls.message,
                             prepare=ls.prepare, collect=ls.collects_garbage)

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: TypeseerServer, params: lsp.InitializedParams) -> None:
        if ls.flags.pulls_configuration:
            await _pull_configuration(ls)

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: TypeseerServer, params: None) -> None:
        if ls.session is not None:
            ls.session.shutdown()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TypeseerServer, params: lsp.DidOpenTextDocumentParams) -> None:
        document = params.text_document
        if ls.session is not None:
            ls.session.open(document.uri, document.text, document.version)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TypeseerServer, params: lsp.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = ls.session.document(uri) if ls.session is not None else None
        if document is None or ls.session is None:
            logger.warning("change to %s, which is not open: ignored", uri)
            return
        text = changed_text(document.text, params.content_changes, ls.encoding)
        ls.session.change(uri, text, params.text_document.version)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TypeseerServer, params: lsp.DidCloseTextDocumentParams) -> None:
        if ls.session is not None:
            ls.session.close(params.text_document.uri)
        ls.release(params.text_document.uri)  # its analysis will never come

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: TypeseerServer,
                                 params: lsp.DidChangeWatchedFilesParams) -> None:
        if ls.session is not None:
            ls.session.files_changed()

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: TypeseerServer,
                                       params: lsp.DidChangeConfigurationParams) -> None:
        overrides, problems = read_settings(params.settings)
        if not overrides and not problems and ls.flags.pulls_configuration:
            await _pull_configuration(ls)  # the notification only says "something changed"
            return
        for problem in problems:
            ls.message(problem)
        if ls.session is not None:
            ls.session.configure({**ls.initial_settings, **overrides})

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT,
                    lsp.InlayHintOptions(resolve_provider=True))
    @_safe(lambda params: [])
    async def inlay_hint(ls: TypeseerServer,
                         params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        uri = params.text_document.uri
        analysis = await ls.analysis(uri, fresh=False)
        document = ls.session.document(uri) if ls.session is not None else None
        if analysis is None or document is None or ls.session is None:
            return []
        return inlay_hints(analysis, document, ls.session.config_for(uri), ls.encoding,
                           params.range)

    @server.feature(lsp.INLAY_HINT_RESOLVE)
    @_safe(lambda hint: hint)  # unresolved, as it came
    async def inlay_hint_resolve(ls: TypeseerServer, hint: lsp.InlayHint) -> lsp.InlayHint:
        data = hint.data if isinstance(hint.data, dict) else {}
        uri = data.get("uri")
        if not isinstance(uri, str) or ls.session is None:
            return hint
        session = ls.session
        return await asyncio.to_thread(resolve_inlay_hint, hint, session.current(uri),
                                       session.document(uri), session.config_for(uri),
                                       ls.encoding)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @_safe(lambda params: None)
    async def on_hover(ls: TypeseerServer, params: lsp.HoverParams) -> lsp.Hover | None:
        uri = params.text_document.uri
        analysis = await ls.analysis(uri, fresh=False)
        document = ls.session.document(uri) if ls.session is not None else None
        if analysis is None or document is None or ls.session is None:
            return None
        return hover(analysis, document, ls.session.config_for(uri), ls.encoding,
                     params.position)

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.RefactorRewrite, lsp.CodeActionKind.Source],
        resolve_provider=True))
    @_safe(lambda params: [])
    async def code_action(ls: TypeseerServer,
                          params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        analysis = await ls.analysis(uri, fresh=True)
        session = ls.session
        document = session.document(uri) if session is not None else None
        if analysis is None or document is None or session is None:
            return []
        request = ActionRequest(params.range.start, params.context.only,
                                ls.flags.resolves_actions, ls.flags.versioned_edits)
        compute = functools.partial(code_actions, analysis, document, session.config_for(uri),
                                    ls.encoding, request)
        if request.resolves:
            return compute()  # no rendering: cheap
        return await asyncio.to_thread(compute)

    @server.feature(lsp.CODE_ACTION_RESOLVE)
    @_safe(lambda action: action)  # without an edit, as it came
    async def code_action_resolve(ls: TypeseerServer, action: lsp.CodeAction) -> lsp.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        uri = data.get("uri")
        if not isinstance(uri, str) or ls.session is None:
            return action
        analysis = await ls.analysis(uri, fresh=True)
        session = ls.session
        return await asyncio.to_thread(resolve_code_action, action, analysis,
                                       session.document(uri), session.config_for(uri),
                                       ls.encoding)

    return server


def changed_text(text: str, changes: Sequence[lsp.TextDocumentContentChangeEvent],
                 encoding: Encoding) -> str:
    """``text`` after a ``didChange``'s changes, one after the other, with LSP's line breaks
    and code units. A range is clamped to the text and read in order (a reversed one
    replaces the same span)."""
    for change in changes:
        if isinstance(change, lsp.TextDocumentContentChangePartial):
            start, end = sorted((Pos(change.range.start.line, change.range.start.character),
                                 Pos(change.range.end.line, change.range.end.character)))
            text = apply_replacements(text, [Replacement(start, end, change.text)], encoding)
        else:
            text = change.text
    return text


async def _pull_configuration(ls: TypeseerServer) -> None:
    try:
        values = await ls.workspace_configuration_async(lsp.ConfigurationParams(
            items=[lsp.ConfigurationItem(section=SECTION)]))
    except Exception:
        logger.debug("workspace/configuration failed", exc_info=True)
        return
    raw = values[0] if values else None
    overrides, problems = read_settings(raw)
    for problem in problems:
        ls.message(problem)
    if ls.session is not None and (overrides or raw is not None):
        ls.session.configure({**ls.initial_settings, **overrides})
