"""The real server under hostile input, spoken to in raw bytes over stdio.

Malformed frames and JSON-RPC, out-of-range positions, documents that are not (or no longer)
open and bursts of edits sent without waiting: each gets a defined answer (a result, or a
JSON-RPC error where a response is due), and the server keeps answering valid requests
correctly afterwards. ``test_server.py`` drives the same server with a well-behaved client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from typeseer.lsp.stream import MAX_BODY, FrameReader, Malformed
from typeseer.lsp.text import Encoding, Pos, Replacement, apply_replacements

from .conftest import Project, write_project

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
SERVER_NOT_INITIALIZED, REQUEST_CANCELLED = -32002, -32800
#: Seconds an answer may take (a first analysis included) before the server counts as hung.
ANSWER_WAIT = 20.0
EVERYWHERE = {"start": {"line": 0, "character": 0}, "end": {"line": 100_000, "character": 0}}

Json = dict[str, Any]


def frame(body: bytes, length: int | None = None) -> bytes:
    declared = len(body) if length is None else length
    return f"Content-Length: {declared}\r\n\r\n".encode() + body


def encode(message: object) -> bytes:
    return json.dumps(message).encode()


class RawServer:
    """``python -m typeseer.lsp`` as a subprocess: raw bytes in, parsed messages out."""

    def __init__(self, log: Path) -> None:
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "typeseer.lsp", "--debounce", "0.05"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin
        self._incoming: queue.Queue[Json | None] = queue.Queue()
        #: Answers read but not asked for yet, by id (errors without an id under None).
        self._answers: dict[object, list[Json]] = {}
        self._ids = itertools.count(1)
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    # -- the wire ------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self._stdin.write(data)
        self._stdin.flush()

    def send(self, message: object) -> None:
        self.send_raw(frame(encode(message)))

    def _read(self, stdout: IO[bytes]) -> None:
        while True:
            length = None
            while (line := stdout.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if not line or length is None:
                self._incoming.put(None)
                return
            self._incoming.put(json.loads(stdout.read(length)))

    def _receive(self, deadline: float) -> None:
        """File the next message from the server (answering its requests with null)."""
        try:
            message = self._incoming.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail("the server stopped answering")
        if message is None:
            pytest.fail(f"the server closed stdout (exit status {self.process.poll()})")
        if "method" in message:
            if "id" in message:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            return
        self._answers.setdefault(message.get("id"), []).append(message)

    # -- requests ------------------------------------------------------------------------------
    def request(self, method: str, params: object = None, *, msg_id: object = None) -> object:
        """Send a request without waiting; its id."""
        msg_id = next(self._ids) if msg_id is None else msg_id
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def notify(self, method: str, params: object = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def answer(self, msg_id: object, wait: float = ANSWER_WAIT) -> Json:
        deadline = time.monotonic() + wait
        while not self._answers.get(msg_id):
            self._receive(deadline)
        answer = self._answers[msg_id].pop(0)
        assert answer["jsonrpc"] == "2.0"
        return answer

    def result(self, method: str, params: object = None) -> Any:
        answer = self.answer(self.request(method, params))
        assert "error" not in answer, answer
        return answer["result"]

    def error(self, method: str, params: object = None) -> int:
        """The code of the error a request is answered with."""
        return error_code(self.answer(self.request(method, params)))

    def null_errors(self) -> list[int]:
        """The codes of the errors without an id received so far (parse errors, invalid
        requests), emptied."""
        while not self._incoming.empty():
            self._receive(time.monotonic())
        return [error_code(answer) for answer in self._answers.pop(None, [])]

    # -- documents -----------------------------------------------------------------------------
    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": version,
            "text": path.read_text() if text is None else text}})
        return uri

    def change(self, uri: str, version: int, *changes: Json) -> None:
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version}, "contentChanges": list(changes)})

    def close(self, uri: str) -> None:
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def hints(self, uri: str, visible: Json = EVERYWHERE) -> list[Json]:
        return list(self.result("textDocument/inlayHint", {
            "textDocument": {"uri": uri}, "range": visible}) or [])

    def hover(self, uri: str, line: int, character: int) -> str | None:
        shown = self.result("textDocument/hover", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        return None if shown is None else str(shown["contents"]["value"])

    def actions(self, uri: str, start: Json, end: Json | None = None) -> list[Json]:
        return list(self.result("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": {"start": start, "end": end or start},
            "context": {"diagnostics": []}}) or [])

    def same_hints(self, uri: str, path: Path, text: str) -> None:
        """Wait until ``uri`` shows the hints of ``text`` opened afresh as ``path`` (the
        server's text for ``uri`` is ``text``)."""
        reference = self.open(path, text)
        expected = {(h["position"]["line"], h["position"]["character"], h["label"])
                    for h in self.hints(reference)}
        self.close(reference)
        assert expected
        deadline = time.monotonic() + ANSWER_WAIT
        while (found := {(h["position"]["line"], h["position"]["character"], h["label"])
                         for h in self.hints(uri)}) != expected:
            if time.monotonic() > deadline:
                pytest.fail(f"hints are still {sorted(found)}, not {sorted(expected)}")
            time.sleep(0.05)

    def hints_until(self, uri: str, expected: set[tuple[int, str]]) -> None:
        """Ask for hints until they are ``expected`` (the analysis of the latest text)."""
        deadline = time.monotonic() + ANSWER_WAIT
        while (found := {(h["position"]["line"], h["label"]) for h in self.hints(uri)}) \
                != expected:
            if time.monotonic() > deadline:
                pytest.fail(f"hints are still {sorted(found)}, not {sorted(expected)}")
            time.sleep(0.05)

    # -- the end -------------------------------------------------------------------------------
    def initialize(self, root: Path) -> None:
        capabilities = {"textDocument": {"codeAction": {"resolveSupport": {
            "properties": ["edit"]}}}, "workspace": {"workspaceEdit": {"documentChanges": True}}}
        answer = self.result("initialize", {
            "processId": None, "rootUri": root.as_uri(), "capabilities": capabilities,
            "initializationOptions": {"typeseer": {"useModel": False, "minConfidence": 0.5}}})
        assert answer["serverInfo"]["name"] == "typeseer"
        self.notify("initialized", {})

    def exit_status(self, wait: float = 10.0) -> int:
        self.notify("exit")
        return self.end_input(wait)

    def end_input(self, wait: float = 10.0) -> int:
        """Close the server's stdin; its exit status."""
        self._stdin.close()
        return self.process.wait(wait)

    def log(self) -> str:
        """What the server wrote on stderr so far."""
        self._log.flush()
        return Path(self._log.name).read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


def error_code(answer: Json) -> int:
    assert "result" not in answer and isinstance(answer["error"]["message"], str), answer
    return int(answer["error"]["code"])


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return write_project(tmp_path_factory.mktemp("robust") / "proj")


@pytest.fixture(scope="module")
def server(served: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    """One server for the module: every test leaves it to the next one, still serving."""
    running = RawServer(tmp_path_factory.mktemp("logs") / "server.log")
    try:
        running.initialize(served.root)
        yield running
    finally:
        running.stop()


@pytest.fixture
def fresh(served: Project, tmp_path: Path) -> Iterator[RawServer]:
    """A server of its own, not initialized yet."""
    running = RawServer(tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()


def _line_of(path: Path, start: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines())
                if line.startswith(start))


def assert_serving(server: RawServer, served: Project) -> None:
    """A valid request gets its correct answer: the hover of ``flag`` in ``def tight``."""
    uri = server.open(served.shapes)
    line = _line_of(served.shapes, "def tight")
    column = served.shapes.read_text().splitlines()[line].index("flag") + 1
    shown = server.hover(uri, line, column)
    assert shown is not None and "parameter `flag`" in shown and "`bool`" in shown
    assert server.process.poll() is None


def _hover_request(uri: str, msg_id: int) -> bytes:
    return encode({"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/hover",
                   "params": {"textDocument": {"uri": uri},
                              "position": {"line": 0, "character": 0}}})


# -- malformed frames -------------------------------------------------------------------------

BODY = b'{"jsonrpc": "2.0", "id": 999, "method": "textDocument/hover"}'

MALFORMED_FRAMES = {
    "misspelt header": b"Content-Lenght: 5\r\n\r\nhello",
    "no header at all": b"\r\n\r\n" + BODY,
    "length not a number": b"Content-Length: abc\r\n\r\n" + BODY,
    "negative length": b"Content-Length: -5\r\n\r\n" + BODY,
    "length over the limit": f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode() + BODY,
    "absurd length": b"Content-Length: 99999999999999999999999\r\n\r\n" + BODY,
    "length longer than the body": frame(BODY, len(BODY) + 5000),
    "truncated message": frame(BODY[:20], len(BODY)),
    "length shorter than the body": frame(BODY, 10),
    "empty body": frame(b""),
    "body not JSON": frame(b"this is not json"),
    "body not UTF-8": frame(b'{"jsonrpc": "2.0", "id": 5, "method": "\xff\xfe"}'),
    "JSON nested past the recursion limit": frame(b"[" * 100_000 + b"]" * 100_000),
    "number with too many digits": frame(b'{"jsonrpc": "2.0", "id": ' + b"9" * 5000 + b"}"),
}


@pytest.mark.parametrize("data", MALFORMED_FRAMES.values(), ids=MALFORMED_FRAMES.keys())
def test_a_malformed_frame_gets_a_parse_error_and_the_next_message_is_served(
        server: RawServer, served: Project, data: bytes) -> None:
    uri = served.shapes.as_uri()
    server.send_raw(data + frame(_hover_request(uri, 1_000)))
    assert server.answer(1_000)["result"] is None  # (0, 0) is a docstring
    assert server.null_errors() == [PARSE_ERROR]
    assert_serving(server, served)


def test_split_and_lenient_headers_are_read_and_junk_between_messages_is_skipped(
        server: RawServer, served: Project) -> None:
    uri = served.shapes.as_uri()
    body = _hover_request(uri, 1_001)
    whole = b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" \
        + f"content-length:{len(body)}  \r\n\r\n".encode() + body
    for at in (5, 40, len(whole) - 3):
        server.send_raw(whole[:at])
        time.sleep(0.02)
        server.send_raw(whole[at:])
        assert server.answer(1_001)["result"] is None
    for junk in [b"\r\n", b"garbage", b"x" * 200_000 + b"\r\n", b"\x00\xff" * 1000]:
        server.send_raw(junk + frame(body))  # skipped: not a message, so no answer
        assert server.answer(1_001)["result"] is None
    big = encode({"jsonrpc": "2.0", "id": 1_002, "method": "typeseer/big",
                  "params": {"text": "\r\n" * 1_500_000}})  # JSON-escaped: no raw CR LF
    for start in range(0, len(big) + 1, 1 << 20):
        server.send_raw(frame(big)[start:start + (1 << 20)])
    assert error_code(server.answer(1_002)) == METHOD_NOT_FOUND
    assert server.null_errors() == []


def _frames(data: bytes, piece: int) -> list[bytes | Malformed]:
    """What ``FrameReader`` makes of ``data`` read ``piece`` bytes at a time."""
    chunks = iter([data[i:i + piece] for i in range(0, len(data), piece)])

    async def read() -> bytes:
        return next(chunks, b"")

    async def everything() -> list[bytes | Malformed]:
        reader, found = FrameReader(read), []
        while (frame := await reader.next()) is not None:
            found.append(frame)
        return found

    return asyncio.run(everything())


@pytest.mark.parametrize("piece", [1, 7, 1 << 20])
def test_frames_are_found_again_after_any_damage_whatever_the_reads(piece: int) -> None:
    good = [b'{"a": 1}', b'{"b": "\\r\\n"}', b"[]"]
    data = (b"junk" + frame(good[0]) + b"Content-Length: -1\r\n\r\n" + frame(good[1])
            + frame(b'{"cut', 500) + frame(good[2]) + frame(b"{}", 1) + frame(good[0])
            + frame(b'{"end', 50))
    found = _frames(data, piece)
    assert [f if isinstance(f, bytes) else type(f) for f in found] == [
        good[0], Malformed, good[1], Malformed, good[2], b"{", good[0], Malformed]


# -- JSON that is not JSON-RPC ----------------------------------------------------------------

NOT_JSON_RPC: dict[str, tuple[object, object]] = {
    "an array": ([1, 2], None),
    "a batch": ([{"jsonrpc": "2.0", "id": 9, "method": "shutdown"}], None),
    "a string": ("hello", None),
    "a number": (42, None),
    "null": (None, None),
    "no jsonrpc": ({"id": 5, "method": "textDocument/hover", "params": {}}, 5),
    "jsonrpc 1.0": ({"jsonrpc": "1.0", "id": 6, "method": "shutdown"}, 6),
    "method not a string": ({"jsonrpc": "2.0", "id": 7, "method": 42}, 7),
    "params a number": ({"jsonrpc": "2.0", "id": 8, "method": "shutdown", "params": 5}, 8),
    "id an object": ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}, None),
    "id a float": ({"jsonrpc": "2.0", "id": 1.5, "method": "shutdown"}, None),
    "id a boolean": ({"jsonrpc": "2.0", "id": True, "method": "shutdown"}, None),
    "id null": ({"jsonrpc": "2.0", "id": None, "method": "shutdown"}, None),
    "neither request nor response": ({"jsonrpc": "2.0"}, None),
}


@pytest.mark.parametrize(("message", "answered_id"), NOT_JSON_RPC.values(),
                         ids=NOT_JSON_RPC.keys())
def test_json_that_is_not_json_rpc_gets_an_invalid_request_error(
        server: RawServer, served: Project, message: object, answered_id: object) -> None:
    server.send(message)
    assert error_code(server.answer(answered_id)) == INVALID_REQUEST
    assert_serving(server, served)  # none of them shut it down


def test_responses_nobody_asked_for_are_ignored(server: RawServer, served: Project) -> None:
    server.send({"jsonrpc": "2.0", "id": 424_242, "result": {"x": 1}})
    server.send({"jsonrpc": "2.0", "id": 424_243, "error": {"code": 1, "message": "no"}})
    server.send({"jsonrpc": "2.0", "id": 424_244})
    assert_serving(server, served)
    assert server.null_errors() == []


# -- requests the protocol does not allow -----------------------------------------------------

def test_unknown_methods_and_wrong_parameters_get_their_errors(
        server: RawServer, served: Project) -> None:
    uri = server.open(served.shapes)
    here = {"line": 0, "character": 0}
    assert server.error("typeseer/unknown", {}) == METHOD_NOT_FOUND
    server.send({"jsonrpc": "2.0", "id": 77, "method": "typeseer/noParams"})
    assert error_code(server.answer(77)) == METHOD_NOT_FOUND
    assert server.error("textDocument/completion", {
        "textDocument": {"uri": uri}, "position": here}) == METHOD_NOT_FOUND
    for params in [{"textDocument": 5, "position": here},
                   {"textDocument": {"uri": uri}},
                   {"textDocument": {"uri": uri}, "position": {"line": "x", "character": 0}},
                   {"textDocument": {"uri": uri}, "position": {"line": -1, "character": 0}},
                   {"textDocument": {"uri": uri}, "position": {"line": 0, "character": -1}},
                   {"textDocument": {"uri": uri}, "position": {"line": 2**40, "character": 0}},
                   [1, 2], None]:
        assert server.error("textDocument/hover", params) == INVALID_PARAMS, params
    assert server.error("textDocument/inlayHint", {
        "textDocument": {"uri": uri}, "range": [0, 0]}) == INVALID_PARAMS
    assert server.error("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": EVERYWHERE}) == INVALID_PARAMS  # no context
    assert server.error("workspace/executeCommand", {"command": "typeseer.none"}) \
        == INVALID_PARAMS
    assert server.error("workspace/executeCommand", {"arguments": 3}) == INVALID_PARAMS
    assert_serving(server, served)


def test_notifications_with_missing_or_wrong_params_are_dropped(
        server: RawServer, served: Project) -> None:
    for method in ["textDocument/didOpen", "textDocument/didChange", "textDocument/didClose",
                   "workspace/didChangeConfiguration", "$/cancelRequest", "$/setTrace",
                   "typeseer/unknownNotification"]:
        server.send({"jsonrpc": "2.0", "method": method})
        server.notify(method, {"textDocument": 5, "contentChanges": "x", "id": {}})
        server.notify(method, [1, 2])
    server.notify("$/cancelRequest", {"id": 123_456})  # nothing running with that id
    assert_serving(server, served)
    assert server.null_errors() == []


@pytest.mark.parametrize("msg_id", [10**40, -(10**40), 2**63, 0, "", "x" * 10_000, "é😀"],
                         ids=["huge", "huge negative", "2**63", "zero", "empty string",
                              "long string", "unicode string"])
def test_any_integer_or_string_id_is_answered_with_itself(
        server: RawServer, served: Project, msg_id: object) -> None:
    uri = server.open(served.shapes)
    line = _line_of(served.shapes, "def tight")
    column = served.shapes.read_text().splitlines()[line].index("flag") + 1
    server.request("textDocument/hover", {"textDocument": {"uri": uri},
                                          "position": {"line": line, "character": column}},
                   msg_id=msg_id)
    answer = server.answer(msg_id)
    assert answer["id"] == msg_id and "`bool`" in answer["result"]["contents"]["value"]


# -- positions out of range -------------------------------------------------------------------

UNICODE = '''\
def greet(mark="\U0001f600", count=0):
    return count
'''


def test_positions_past_the_end_or_inside_a_character_get_empty_answers(
        server: RawServer, served: Project) -> None:
    path = served.root / "pkg" / "unicode.py"
    uri = server.open(path, UNICODE)
    server.hints_until(uri, {(0, ": str"), (0, ": int"), (0, "-> int")})
    # The surrogate pair of the emoji counts two UTF-16 units: `count` is one further right.
    count = UNICODE.index("count") + 1
    shown = server.hover(uri, 0, count)
    assert shown is not None and "parameter `count`" in shown
    emoji = UNICODE.index("\U0001f600")
    # Inside the surrogate pair: as at the character's start (in the signature: the return).
    inside = server.hover(uri, 0, emoji + 1)
    assert inside == server.hover(uri, 0, emoji) and inside is not None
    assert "return of `greet`" in inside
    for line, character in [(1, 10_000), (2, 0), (3, 5), (10_000, 0),
                            (2**31 - 1, 2**31 - 1)]:
        assert server.hover(uri, line, character) is None, (line, character)
        titles = [a["title"] for a in server.actions(uri, {"line": line,
                                                           "character": character})]
        assert not any(t.startswith("Add type annotation") for t in titles), (line, character)

    def visible(start: tuple[int, int], end: tuple[int, int]) -> Json:
        return {"start": {"line": start[0], "character": start[1]},
                "end": {"line": end[0], "character": end[1]}}

    assert server.hints(uri, visible((1, 0), (0, 0))) == []  # reversed
    assert server.hints(uri, visible((5, 0), (2**31 - 1, 2**31 - 1))) == []
    assert len(server.hints(uri, visible((0, 0), (2**31 - 1, 0)))) == 3
    assert len(server.hints(uri, visible((0, 0), (0, 2**31 - 1)))) == 3
    reversed_actions = server.actions(uri, {"line": 0, "character": count},
                                      {"line": 0, "character": 0})
    assert reversed_actions[0]["title"].startswith("Add type annotation")
    assert server.error("textDocument/inlayHint", {"textDocument": {"uri": uri}, "range": {
        "start": {"line": -1, "character": 0}, "end": {"line": 1, "character": 0}}}) \
        == INVALID_PARAMS
    assert_serving(server, served)


def test_edits_at_positions_out_of_range_are_clamped(server: RawServer,
                                                     served: Project) -> None:
    path = served.root / "pkg" / "clamped.py"
    text = "def first(a=1):\n    return a\n"
    uri = server.open(path, text)
    server.hints_until(uri, {(0, ": int"), (0, "-> int")})

    def at(line: int, character: int) -> Json:
        return {"line": line, "character": character}

    # Past the end of the text: appended. Past the end of a line: at its end. Reversed: the
    # same span. Inside a surrogate pair: before the character.
    server.change(uri, 2, {"range": {"start": at(99, 0), "end": at(120, 4)},
                           "text": "def second(b=2.5):\n    return b\n"})
    server.change(uri, 3, {"range": {"start": at(0, 500), "end": at(0, 900)}, "text": "  # end"})
    server.change(uri, 4, {"range": {"start": at(0, 11), "end": at(0, 10)}, "text": "z"})
    server.change(uri, 5, {"range": {"start": at(1, 0), "end": at(1, 0)},
                           "text": "    note = '\U0001f600'\n"})
    server.change(uri, 6, {"range": {"start": at(1, 13), "end": at(1, 13)}, "text": "!"})
    expected = ("def first(z=1):  # end\n    note = '!\U0001f600'\n    return a\n"
                "def second(b=2.5):\n    return b\n")
    server.same_hints(uri, served.root / "pkg" / "clamped_expected.py", expected)
    shown = server.hover(uri, 0, expected.index("z"))
    assert shown is not None and "parameter `z`" in shown


def test_edits_count_lines_and_characters_as_lsp_does(server: RawServer,
                                                      served: Project) -> None:
    """Only CR LF, CR and LF break lines (not form feeds, U+2028 or U+0085, which
    ``str.splitlines`` breaks at), and characters are UTF-16 code units."""
    text = ("import os\r\n\x0c\rdef f(a=1):\n    s = '\u2028\x85\U0001f600'\n"
            "    return a\n")
    uri = server.open(served.root / "pkg" / "breaks.py", text)
    edits = [Replacement(Pos(2, 6), Pos(2, 7), "width"),  # def f(width=1.5):
             Replacement(Pos(2, 12), Pos(2, 13), "1.5"),
             Replacement(Pos(3, 13), Pos(3, 13), "!"),  # after the emoji's surrogate pair
             Replacement(Pos(4, 11), Pos(4, 12), "width")]
    for version, edit in enumerate(edits, start=2):
        text = apply_replacements(text, [edit], Encoding.UTF16)
        server.change(uri, version, {"range": {
            "start": {"line": edit.start.line, "character": edit.start.character},
            "end": {"line": edit.end.line, "character": edit.end.character}},
            "text": edit.text})
    assert "def f(width=1.5):" in text and "\U0001f600!'" in text and "return width" in text
    server.same_hints(uri, served.root / "pkg" / "breaks_expected.py", text)
    server.close(uri)


def test_documents_that_are_not_files_get_empty_answers_at_once(
        server: RawServer, served: Project) -> None:
    text = "def f(a=1.5):\n    return a\n"
    for uri in ["untitled:Untitled-1", "file:///", served.root.as_uri(), "not a uri", ""]:
        server.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}})
        started = time.monotonic()
        assert server.hints(uri) == [] and server.hover(uri, 0, 6) is None
        assert server.actions(uri, {"line": 0, "character": 6}) == []
        assert time.monotonic() - started < 5, uri  # not waiting for an analysis
        server.close(uri)
    elsewhere = "file:///no/such/dir/lone.py"  # a file not on disk is analysed all the same
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": elsewhere, "languageId": "python", "version": 1, "text": text}})
    server.hints_until(elsewhere, {(0, ": float"), (0, "-> float")})
    server.close(elsewhere)


# -- documents that are not open --------------------------------------------------------------

def test_requests_for_documents_never_opened_get_empty_answers(
        server: RawServer, served: Project) -> None:
    never = (served.root / "pkg" / "never.py").as_uri()
    for uri in [never, "untitled:Untitled-1", "file:///no/such/dir/x.py", "not a uri", ""]:
        assert server.hints(uri) == []
        assert server.hover(uri, 0, 0) is None
        assert server.actions(uri, {"line": 0, "character": 0}) == []
        forged = {"title": "forged", "data": {"uri": uri, "keys": None, "action": "file"}}
        assert server.result("codeAction/resolve", forged) == forged
        hint = {"position": {"line": 0, "character": 0}, "label": ": int",
                "data": {"uri": uri, "version": 1, "key": ["a", "b", "c", "d"]}}
        assert server.result("inlayHint/resolve", hint)["label"] == ": int"
    server.close(never)
    assert_serving(server, served)


def test_forged_resolve_data_on_an_open_document_gets_the_item_back(
        server: RawServer, served: Project) -> None:
    uri = server.open(served.shapes)
    assert server.hints(uri)
    for data in [{"uri": uri, "keys": [["x", "y", "z", "w"]], "action": "site"},
                 {"uri": uri, "keys": "bad", "action": 5, "versioned": "yes"},
                 {"uri": uri, "keys": [[1, 2, 3, 4]], "action": "file"},
                 {"uri": 5}, [1, 2], "data"]:
        forged = {"title": "forged", "data": data}
        assert server.result("codeAction/resolve", forged) == forged
    for data in [{"uri": uri, "version": 1, "key": ["x", "y", "z", "w"]},
                 {"uri": uri, "version": "1", "key": 5}, {"uri": uri, "version": 99}, 7]:
        hint = {"position": {"line": 0, "character": 0}, "label": ": int", "data": data}
        assert server.result("inlayHint/resolve", hint) == hint


def test_a_closed_document_gets_empty_answers_and_its_changes_are_ignored(
        server: RawServer, served: Project) -> None:
    path = served.root / "pkg" / "closing.py"
    text = "def area(width=2.0):\n    return width\n"
    uri = server.open(path, text)
    server.hints_until(uri, {(0, ": float"), (0, "-> float")})
    [*_, whole_file] = server.actions(uri, {"line": 0, "character": 10})
    server.close(uri)
    assert server.hints(uri) == []
    assert server.hover(uri, 0, 10) is None
    assert server.actions(uri, {"line": 0, "character": 10}) == []
    assert "edit" not in server.result("codeAction/resolve", whole_file)
    server.change(uri, 2, {"text": "def area(width=2):\n    return width\n"})
    server.change(uri, 3, {"range": EVERYWHERE, "text": "x = 1\n"})
    server.close(uri)
    assert server.hints(uri) == []  # not opened again by the change
    server.open(path, "def area(width=2):\n    return width\n", 7)
    server.hints_until(uri, {(0, ": int"), (0, "-> int")})
    server.close(uri)


def test_open_twice_and_a_version_going_back_follow_the_latest_text(
        server: RawServer, served: Project) -> None:
    path = served.root / "pkg" / "versions.py"
    uri = server.open(path, "def f(a=1):\n    return a\n", 10)
    server.open(path, "def f(a='s'):\n    return a\n", 20)
    server.hints_until(uri, {(0, ": str"), (0, "-> str")})
    server.change(uri, 3, {"text": "def f(a=1.5):\n    return a\n"})
    server.hints_until(uri, {(0, ": float"), (0, "-> float")})
    [*_, whole_file] = server.actions(uri, {"line": 0, "character": 6})
    resolved = server.result("codeAction/resolve", whole_file)
    [change] = resolved["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": uri, "version": 3}  # the client's latest
    server.close(uri)


def test_a_request_waiting_for_a_first_analysis_is_answered_when_the_document_closes(
        server: RawServer, served: Project) -> None:
    path = served.root / "pkg" / "slow.py"
    body = "".join(f"def f{n}(a=1, b='x'):\n    c = a + {n}\n    return c\n"
                   for n in range(3000))
    uri = server.open(path, body)
    msg_id = server.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": 0, "character": 7}})
    server.close(uri)
    started = time.monotonic()
    assert server.answer(msg_id)["result"] is None
    assert time.monotonic() - started < 5  # not the 30 s a first analysis may take


# -- bursts of edits --------------------------------------------------------------------------

def _functions(count: int, suffix: str = "") -> str:
    return "".join(f"def f{n}(a={n}):\n    return a{suffix}\n" for n in range(count))


def test_a_burst_of_edits_interleaved_with_requests_ends_on_the_final_text(
        server: RawServer, served: Project) -> None:
    """Full and incremental edits to two documents, some leaving them unparsable, with
    requests sent in between without waiting for their answers."""
    paths = [served.root / "pkg" / f"burst{n}.py" for n in range(2)]
    texts = {path.as_uri(): _functions(3) for path in paths}
    for path in paths:
        server.open(path, texts[path.as_uri()])
    pending: list[object] = []
    for version in range(2, 62):
        for uri in texts:
            if version % 3 == 0:  # a full text, unparsable every other time
                text = _functions(version % 7 + 1, "(" if version % 2 else "")
                server.change(uri, version, {"text": text})
            else:  # an incremental edit: a function inserted at the top, a comment appended
                lines = texts[uri].count("\n")
                edits = [Replacement(Pos(0, 0), Pos(0, 0), f"def g{version}(b=''):\n    pass\n"),
                         Replacement(Pos(lines, 0), Pos(lines, 0), "# \U0001f600\n")]
                text = texts[uri]
                for edit in edits:
                    text = apply_replacements(text, [edit], Encoding.UTF16)
                    server.change(uri, version, {"range": {
                        "start": {"line": edit.start.line, "character": edit.start.character},
                        "end": {"line": edit.end.line, "character": edit.end.character}},
                        "text": edit.text})
            texts[uri] = text
            pending.append(server.request("textDocument/inlayHint", {
                "textDocument": {"uri": uri}, "range": EVERYWHERE}))
            pending.append(server.request("textDocument/hover", {
                "textDocument": {"uri": uri}, "position": {"line": 0, "character": 7}}))
            if version % 4 == 0:
                server.notify("$/cancelRequest", {"id": pending[-1]})
            if version % 5 == 0:
                pending.append(server.request("textDocument/codeAction", {
                    "textDocument": {"uri": uri}, "range": EVERYWHERE,
                    "context": {"diagnostics": []}}))
    for msg_id in pending:
        answer = server.answer(msg_id)
        assert "error" not in answer or answer["error"]["code"] == REQUEST_CANCELLED
    final = "def last(x=1.5):\n    return x\n"
    for uri in texts:
        server.change(uri, 100, {"range": EVERYWHERE, "text": final})
    for uri in texts:
        server.hints_until(uri, {(0, ": float"), (0, "-> float")})
        shown = server.hover(uri, 0, final.index("x="))
        assert shown is not None and "parameter `x`" in shown
        server.close(uri)


# -- it keeps answering, and stops when asked -------------------------------------------------

def test_after_everything_it_still_answers_then_shuts_down_and_exits_with_0(
        server: RawServer, served: Project) -> None:
    assert_serving(server, served)
    assert "Traceback" not in server.log()  # no handler failed, nothing was left unhandled
    assert server.result("shutdown") is None
    assert error_code(server.answer(server.request("textDocument/hover", {
        "textDocument": {"uri": served.shapes.as_uri()},
        "position": {"line": 0, "character": 0}}))) == INVALID_REQUEST
    assert server.exit_status() == 0


def test_requests_before_initialize_are_refused(fresh: RawServer, served: Project) -> None:
    assert fresh.error("textDocument/hover", {"textDocument": {"uri": served.shapes.as_uri()},
                                              "position": {"line": 0, "character": 0}}) \
        == SERVER_NOT_INITIALIZED
    fresh.open(served.shapes)  # dropped
    fresh.initialize(served.root)
    assert fresh.error("initialize", {"processId": None, "rootUri": None,
                                      "capabilities": {}}) == INVALID_REQUEST
    assert_serving(fresh, served)
    assert fresh.exit_status() == 1  # exit without shutdown
    assert "Traceback" not in fresh.log()


def test_the_end_of_stdin_stops_the_server(fresh: RawServer, served: Project) -> None:
    fresh.initialize(served.root)
    fresh.send_raw(b"Content-Length: 40\r\n\r\n{\"jsonrpc\"")  # cut off by the end
    assert fresh.end_input() == 0
