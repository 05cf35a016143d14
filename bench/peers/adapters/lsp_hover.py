"""Reading inferred types out of a language server: hover every site of a stripped project.

basedpyright and ty print no inferred types on the command line, but their language servers
show them on hover. This module is a small, dependency-free LSP client over stdio (JSON-RPC
with ``Content-Length`` framing) that starts a server at the project root, opens each file,
hovers each site (``typeseer.sites.extract_sites`` of the stripped file) with a bounded
number of requests in flight and a per-request time limit, and turns the hover texts into
DESIGN.md records. Where a site is hovered:

* ``param``: the parameter's name;
* ``return``: the function's name (the hover is its signature: the text after the last
  top-level ``->``);
* ``variable``: the first binding's target;
* ``attribute``: the attribute name of the first ``self.x`` binding.

Positions are converted from ``ast`` columns (UTF-8 bytes) to LSP ones (UTF-16 code units).
Each adapter supplies the parser of its server's hover text (``HoverParser``); the type it
returns is normalised with ``typeseer.typeexpr.parse_type`` (pyright's scoped type variables
``T@f`` and ``Self@C[A]`` read as ``T`` and ``Self``; ``*args``/``**kwargs`` as their element
type; literals at variable and attribute bindings widened to their class), and types that are
(or contain) ``Unknown``, or are ``Any`` -- the server inferred nothing -- read as no type.

Wall time is measured here; peak memory is ``RUSAGE_CHILDREN`` after the server has exited
(the runner runs each tool in a fresh process, so that is the server's own peak).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typeseer.parsing import ParseFailure, parse_source
from typeseer.scoring import module_name_of
from typeseer.sites import Site, SiteKind, extract_sites
from typeseer.sources import UnreadableSource, decode_source
from typeseer.typeexpr import ANY, NONE, TypeExpr, TypeParseError, make_union, parse_type

from .base import Project, ToolRun

__all__ = [
    "HoverParser",
    "HoverTarget",
    "LspClient",
    "LspError",
    "ProjectSites",
    "after_last_arrow",
    "children_peak_mib",
    "fenced_blocks",
    "hover_positions",
    "hover_project",
    "hover_text",
    "normalised_type",
    "read_sites",
    "record",
    "split_top_level",
    "unscoped_type_variables",
    "utf16_column",
    "widen_literals",
]

#: Parses one hover text (the markdown or plain text the server sent) at a site into a type
#: expression's source text, or None when it shows no type.
HoverParser = Callable[[str, Site], "str | None"]

#: A type that is, or contains, one of these says the server inferred nothing (or not all).
UNKNOWN_NAMES = frozenset({"Unknown"})


class LspError(Exception):
    """The server died, answered with an error, or the time ran out."""


# -- sites and positions --------------------------------------------------------------------

@dataclass(slots=True)
class ProjectSites:
    """The sites of a stripped project, with the text of each file."""

    #: Every site, file by file, in source order.
    sites: list[Site] = field(default_factory=list)
    #: Text of each readable file, by its relative POSIX path.
    texts: dict[str, str] = field(default_factory=dict)
    #: Files that could not be read or parsed, with the reason (they have no sites).
    failed: list[str] = field(default_factory=list)


def read_sites(root: Path, files: Iterable[str]) -> ProjectSites:
    """The sites of each stripped file (keys exactly as the shared scorer computes them)."""
    found = ProjectSites()
    for relpath in files:
        try:
            text = decode_source((root / relpath).read_bytes())
            tree = parse_source(text, relpath)
        except (OSError, UnreadableSource, ParseFailure) as error:
            found.failed.append(f"{relpath}: {error}")
            continue
        module_name, is_package = module_name_of(relpath)
        found.texts[relpath] = text
        found.sites.extend(extract_sites(relpath, text, tree, module_name, is_package).sites)
    return found


def record(site: Site, type_: str | None) -> dict[str, object]:
    """The DESIGN.md record of ``site`` (confidence 1.0 for a type: the tools give none)."""
    return {"file": site.file, "line": site.line, "col": site.col, "scope": site.scope,
            "kind": site.kind.value, "name": site.name, "type": type_,
            "confidence": 1.0 if type_ is not None else 0.0}


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _line_starts(text: str) -> list[int]:
    """Character offset of each line's start (``ast`` and LSP both break at CR, LF, CRLF)."""
    return [0, *(match.end() for match in _LINE_BREAK.finditer(text))]


def utf16_column(line_text: str, characters: int) -> int:
    """The UTF-16 column of the ``characters``-th character of ``line_text``."""
    return len(line_text[:characters].encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class HoverTarget:
    """Where to hover for one site: 0-based line, and the column in characters (jedi) and
    in UTF-16 code units (LSP)."""

    line: int
    character: int
    utf16: int


def _name_after(text: str, offset: int, prefix: str, name: str) -> int | None:
    """Offset of ``name`` where ``prefix`` (a regex) and then ``name`` follow ``offset``."""
    pattern = re.compile(prefix + r"(" + re.escape(name) + r")\b")
    match = pattern.match(text, offset)
    return match.start(1) if match else None


#: What stands between a site's ``ast`` position and the name to hover.
_DEF_PREFIX = r"(?:async[ \t\\\r\n]+)?def[ \t\\\r\n]+"
_SELF_PREFIX = r"[A-Za-z_]\w*[ \t\\\r\n]*\.[ \t\\\r\n]*"


def hover_positions(text: str, sites: Sequence[Site]) -> list[HoverTarget | None]:
    """The position of each site of one file's ``text`` (None where the name is not found)."""
    starts = _line_starts(text)
    lines = [text[start:end] for start, end in zip(starts, [*starts[1:], len(text)], strict=True)]
    targets: list[HoverTarget | None] = []
    for site in sites:
        if not 0 < site.line <= len(lines):
            targets.append(None)
            continue
        line_text = lines[site.line - 1]
        column = len(line_text.encode("utf-8")[:site.col].decode("utf-8", "replace"))
        start = starts[site.line - 1] + column
        offset: int | None = start
        if site.kind is SiteKind.RETURN:
            offset = _name_after(text, start, _DEF_PREFIX, _function_name(site))
        elif site.kind is SiteKind.ATTRIBUTE:
            offset = _name_after(text, start, _SELF_PREFIX, site.name)
        targets.append(None if offset is None else _target(text, starts, offset))
    return targets


def _function_name(site: Site) -> str:
    return site.scope.rpartition(".")[2]


def _target(text: str, starts: list[int], offset: int) -> HoverTarget:
    line = _line_index(starts, offset)
    line_text = text[starts[line]:offset]
    return HoverTarget(line, len(line_text), utf16_column(line_text, len(line_text)))


def _line_index(starts: list[int], offset: int) -> int:
    low, high = 0, len(starts) - 1
    while low < high:  # the last start <= offset
        middle = (low + high + 1) // 2
        if starts[middle] <= offset:
            low = middle
        else:
            high = middle - 1
    return low


# -- hover texts ----------------------------------------------------------------------------

_FENCE = re.compile(r"```[^\n]*\n(.*?)(?:\n```|$)", re.DOTALL)


def hover_text(contents: object) -> str:
    """The text of a hover's ``contents`` (MarkupContent, MarkedString or a list of them);
    a MarkedString with a language becomes a fenced block."""
    pieces: list[str] = []
    for item in contents if isinstance(contents, list) else [contents]:
        if isinstance(item, str):
            pieces.append(item)
        elif isinstance(item, dict) and isinstance(item.get("value"), str):
            language = item.get("language")
            pieces.append(f"```{language}\n{item['value']}\n```" if language
                          else item["value"])
    return "\n".join(pieces)


def fenced_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks of a markdown text."""
    return [block.strip() for block in _FENCE.findall(text)]


_OPENERS = {"[": "]", "(": ")", "{": "}"}


def split_top_level(text: str, separator: str) -> list[str]:
    """``text`` split at each ``separator`` outside brackets and string quotes."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    start = index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in _OPENERS:
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            index += len(separator)
            start = index
            continue
        index += 1
    parts.append(text[start:])
    return parts


def after_last_arrow(signature: str) -> str | None:
    """The return type of a signature: the text after its last top-level ``->``."""
    parts = split_top_level(signature, "->")
    return parts[-1].strip().rstrip(":").strip() if len(parts) > 1 else None


def _is_unknown(t: TypeExpr) -> bool:
    """Unknown anywhere, or ``Any`` as the type or one of its union members (an ``Any``
    argument, as in ``Generator[int, Any, None]``, is typeshed's, not a failure to infer)."""
    return (any(part.name in UNKNOWN_NAMES for part in t.walk())
            or any(member == ANY for member in t.members))


def _literal_class(value: TypeExpr) -> TypeExpr:
    """The class of one ``Literal`` value: ``'x'`` -> str, ``Color.RED`` -> Color."""
    text = value.name
    if text in ("True", "False"):
        return TypeExpr("bool")
    if text[:1] in "'\"":
        return TypeExpr("str")
    if text[:2] in ("b'", 'b"'):
        return TypeExpr("bytes")
    if text.lstrip("-").isdigit():
        return TypeExpr("int")
    if value == NONE:
        return NONE
    return TypeExpr(text.rpartition(".")[0].rpartition(".")[2] or text)


def widen_literals(t: TypeExpr) -> TypeExpr:
    """``Literal[1] | None`` -> ``int | None``, at any depth."""
    if t.name == "Literal" and t.args:
        return make_union(_literal_class(value) for value in t.args)
    if not t.args:
        return t
    if t.is_union:
        return make_union(widen_literals(member) for member in t.args)
    return TypeExpr(t.name, tuple(widen_literals(arg) for arg in t.args), t.module)


def _star_element(t: TypeExpr, site: Site) -> TypeExpr | None:
    """For ``*args``/``**kwargs``, the element type (what their annotation says) of the
    ``tuple[X, ...]``/``dict[str, X]`` a server shows; other parameters unchanged."""
    owner = site.owner
    if site.kind is not SiteKind.PARAM or owner is None or owner.kind != "function":
        return t
    arguments = owner.function.args
    if arguments.vararg is not None and arguments.vararg.arg == site.name:
        return t.args[0] if t.name == "tuple" and len(t.args) == 2 \
            and t.args[1].name == "..." else None
    if arguments.kwarg is not None and arguments.kwarg.arg == site.name:
        return t.args[1] if t.name == "dict" and len(t.args) == 2 else None
    return t


#: ``T@func``, ``Self@Cache[A]``: pyright's names of type variables, with their scope.
_SCOPED_TYPE_VARIABLE = re.compile(r"\b([A-Za-z_]\w*)@[\w.]+")


def unscoped_type_variables(text: str) -> str:
    """``T@func`` -> ``T``; ``Self@Cache[A]`` -> ``Self`` (the Self type of ``Cache[A]``)."""
    pieces: list[str] = []
    position = 0
    for match in _SCOPED_TYPE_VARIABLE.finditer(text):
        if match.start() < position:
            continue  # inside a subscript just skipped
        pieces.append(text[position:match.start()] + match[1])
        position = match.end()
        if text.startswith("[", position):
            depth = 0
            for index in range(position, len(text)):
                depth += {"[": 1, "]": -1}.get(text[index], 0)
                if depth == 0:
                    position = index + 1
                    break
    pieces.append(text[position:])
    return "".join(pieces)


def normalised_type(text: str | None, site: Site) -> str | None:
    """The normal form of the type a hover shows at ``site``; None when it does not parse or
    is (partly) unknown. Variables and attributes get the bound value's type (``x = 1``
    shows ``Literal[1]``): literals are widened to their class, the type the variable is
    given (parameters and returns are left as shown)."""
    if text is None or not text.strip():
        return None
    cleaned = unscoped_type_variables(" ".join(text.split()))
    try:
        parsed: TypeExpr | None = parse_type(cleaned)
    except (TypeParseError, RecursionError):
        return None
    assert parsed is not None
    if _is_unknown(parsed):
        return None
    if site.kind in (SiteKind.VARIABLE, SiteKind.ATTRIBUTE):
        parsed = widen_literals(parsed)
    parsed = _star_element(parsed, site)
    return None if parsed is None or _is_unknown(parsed) else str(parsed)


def children_peak_mib() -> float | None:
    """Peak RSS of the waited-for child processes so far, in MiB (Linux reports KiB)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# -- the client -----------------------------------------------------------------------------

class LspClient:
    """A language server over stdio: requests answered by id, the server's own requests
    answered with ``settings`` (``workspace/configuration``) or null."""

    def __init__(self, command: Sequence[str], cwd: Path, settings: Mapping[str, Any],
                 env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.process = subprocess.Popen(
            list(command), cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self._next_id = 0
        self._responses: dict[int, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self._write_lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._read_loop, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    # -- framing ----------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        stdin = self.process.stdin
        assert stdin is not None
        with self._write_lock:
            try:
                stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError) as error:
                raise LspError(f"the server is gone ({error}){self._stderr_hint()}") from None

    def _read_message(self) -> dict[str, Any] | None:
        stdout = self.process.stdout
        assert stdout is not None
        length: int | None = None
        while True:
            header = stdout.readline()
            if not header:
                return None
            header = header.strip()
            if not header:
                break
            name, _, value = header.decode("ascii", "replace").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            return {}
        body = stdout.read(length)
        if len(body) < length:
            return None
        decoded = json.loads(body.decode("utf-8"))
        return decoded if isinstance(decoded, dict) else {}

    def _read_loop(self) -> None:
        try:
            while (message := self._read_message()) is not None:
                if "method" in message and "id" in message:
                    self._answer_server_request(message)
                elif "id" in message and isinstance(message["id"], int):
                    with self._arrived:
                        self._responses[message["id"]] = message
                        self._arrived.notify_all()
        except (OSError, ValueError, LspError):
            pass
        finally:
            with self._arrived:
                self._closed = True
                self._arrived.notify_all()

    def _drain_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        for line in stderr:
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self.stderr_tail.append(text)

    def _stderr_hint(self) -> str:
        return f": {self.stderr_tail[-1][-300:]}" if self.stderr_tail else ""

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        result: object = None
        if message["method"] == "workspace/configuration":
            items = (message.get("params") or {}).get("items") or []
            result = [self._section(item.get("section")) for item in items]
        self._send({"id": message["id"], "result": result})

    def _section(self, section: object) -> object:
        """The settings below a dotted ``section`` (all of them for none)."""
        value: object = self.settings
        for part in str(section).split(".") if section else ():
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    # -- requests ---------------------------------------------------------------------------
    def notify(self, method: str, params: object) -> None:
        self._send({"method": method, "params": params})

    def send(self, method: str, params: object) -> int:
        """Send a request; its id, for ``responses``/``wait``."""
        self._next_id += 1
        self._send({"id": self._next_id, "method": method, "params": params})
        return self._next_id

    def cancel(self, request_id: int) -> None:
        self.notify("$/cancelRequest", {"id": request_id})

    def wait_any(self, ids: Iterable[int], until: float) -> dict[int, dict[str, Any]]:
        """Responses (removed once returned) to any of ``ids``, waiting until at least one
        arrives or ``until`` (a ``time.monotonic`` value) passes; raises LspError when the
        server has closed its output."""
        wanted = set(ids)
        with self._arrived:
            while True:
                ready = {i: self._responses.pop(i) for i in wanted & self._responses.keys()}
                if ready or time.monotonic() >= until:
                    return ready
                if self._closed:
                    raise LspError(f"the server closed its output{self._stderr_hint()}")
                self._arrived.wait(min(until - time.monotonic(), 1.0))

    def request(self, method: str, params: object, until: float) -> Any:
        """Send a request and wait for its result."""
        request_id = self.send(method, params)
        while time.monotonic() < until:
            answer = self.wait_any((request_id,), until).get(request_id)
            if answer is not None:
                if "error" in answer:
                    raise LspError(f"{method} failed: {answer['error']}")
                return answer.get("result")
        raise LspError(f"no answer to {method}")

    # -- ending -----------------------------------------------------------------------------
    def close(self, until: float) -> None:
        """``shutdown`` and ``exit`` politely while time is left, then make sure the process
        has ended and has been waited for."""
        try:
            if time.monotonic() < until:
                self.request("shutdown", None, min(until, time.monotonic() + 10))
                self.notify("exit", None)
        except LspError:
            pass
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(max(0.0, min(until - time.monotonic(), 10.0)))
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, 9)
        self.process.wait()


# -- one project ----------------------------------------------------------------------------

#: Requests in flight at once (the server answers them in turn; the time limit counts from
#: each request's sending, so a bounded window keeps it meaningful).
WINDOW = 32
#: Seconds a hover may take before it is cancelled and the site left untyped.
REQUEST_TIMEOUT = 60.0


def _initialize_params(root: Path, initialization_options: object) -> dict[str, Any]:
    uri = root.resolve().as_uri()
    return {
        "processId": os.getpid(),
        "rootUri": uri,
        "rootPath": str(root.resolve()),
        "workspaceFolders": [{"uri": uri, "name": root.name}],
        "initializationOptions": initialization_options,
        "capabilities": {
            "general": {"positionEncodings": ["utf-16"]},
            "textDocument": {
                "hover": {"dynamicRegistration": False,
                          "contentFormat": ["markdown", "plaintext"]},
                "synchronization": {"dynamicRegistration": False},
                "publishDiagnostics": {},
            },
            "workspace": {"configuration": True, "workspaceFolders": True},
            "window": {"workDoneProgress": False},
        },
    }


@dataclass(slots=True)
class _Pending:
    site: Site
    sent: float


class _HoverSession:
    """The hovers of one project through one running server."""

    def __init__(self, client: LspClient, parse: HoverParser, deadline: float) -> None:
        self.client = client
        self.parse = parse
        self.deadline = deadline
        self.types: dict[int, str | None] = {}  # by id(site)
        self.timed_out = 0
        self.unlocated = 0
        self.failed: list[str] = []

    def hover_file(self, root: Path, relpath: str, text: str, sites: Sequence[Site]) -> None:
        uri = (root / relpath).resolve().as_uri()
        self.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "python", "version": 1, "text": text}})
        queue = deque(zip(sites, hover_positions(text, sites), strict=True))
        pending: dict[int, _Pending] = {}
        while queue or pending:
            while queue and len(pending) < WINDOW:
                site, target = queue.popleft()
                if site.annotation is not None:
                    continue  # a type the stripped copy kept is not the tool's
                if target is None:
                    self.unlocated += 1
                    continue
                request_id = self.client.send("textDocument/hover", {
                    "textDocument": {"uri": uri},
                    "position": {"line": target.line, "character": target.utf16}})
                pending[request_id] = _Pending(site, time.monotonic())
            if not pending:
                continue
            now = time.monotonic()
            if now >= self.deadline:
                raise TimeoutError
            oldest = min(p.sent for p in pending.values())
            until = min(self.deadline, oldest + REQUEST_TIMEOUT)
            for request_id, answer in self.client.wait_any(pending, until).items():
                self._take(pending.pop(request_id).site, answer)
            for request_id in [i for i, p in pending.items()
                               if time.monotonic() - p.sent >= REQUEST_TIMEOUT]:
                self.client.cancel(request_id)
                pending.pop(request_id)
                self.timed_out += 1
        self.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def _take(self, site: Site, answer: dict[str, Any]) -> None:
        if "error" in answer:
            if len(self.failed) < 5:
                self.failed.append(f"{site.file}:{site.line}: {answer['error']}")
            return
        result = answer.get("result")
        if not isinstance(result, dict):
            return
        text = hover_text(result.get("contents"))
        self.types[id(site)] = normalised_type(self.parse(text, site), site)


def hover_project(command: Sequence[str], project: Project, timeout: float, *,
                  parse: HoverParser, tool: str, settings: Mapping[str, Any] | None = None,
                  initialization_options: object = None,
                  env: Mapping[str, str] | None = None) -> ToolRun:
    """Start ``command`` (a stdio language server) at the project root, hover every site,
    stop it; one record per site (type None where the hover showed none)."""
    found = read_sites(project.root, project.files)
    run = ToolRun(notes=[f"{len(found.failed)} files unreadable, no sites: "
                         + "; ".join(found.failed[:3])] if found.failed else [])
    started = time.monotonic()
    deadline = started + timeout
    try:
        client = LspClient(command, project.root, settings or {}, env)
    except OSError as error:
        run.error = f"cannot start {tool}: {error}"
        run.records = [record(site, None) for site in found.sites]
        return run
    session = _HoverSession(client, parse, deadline)
    try:
        client.request("initialize", _initialize_params(project.root, initialization_options),
                       deadline)
        client.notify("initialized", {})
        by_file: dict[str, list[Site]] = {}
        for site in found.sites:
            by_file.setdefault(site.file, []).append(site)
        for relpath, sites in by_file.items():
            session.hover_file(project.root, relpath, found.texts[relpath], sites)
        client.close(deadline)
    except (TimeoutError, LspError) as error:
        timed_out = isinstance(error, TimeoutError) or time.monotonic() >= deadline
        run.error = f"timeout after {timeout:.0f} s" if timed_out else f"{tool}: {error}"
        client.kill()
    run.seconds = time.monotonic() - started
    if client.process.returncode in (0, None) or run.error is None:
        run.peak_mib = children_peak_mib()
    else:  # killed: a server's own children (node under a launcher) may not have been waited
        run.notes.append("peak memory not measured: the server was stopped")
        if client.stderr_tail:
            run.notes.append("server stderr, last lines: " + " | ".join(
                line[-300:] for line in list(client.stderr_tail)[-5:]))
    run.records = [record(site, session.types.get(id(site))) for site in found.sites]
    if session.timed_out:
        run.notes.append(f"{session.timed_out} hovers got no answer within "
                         f"{REQUEST_TIMEOUT:.0f} s (left untyped)")
    if session.unlocated:
        run.notes.append(f"{session.unlocated} sites whose name was not found where the site "
                         "begins (left untyped)")
    if session.failed:
        run.notes.append("hover errors: " + "; ".join(session.failed))
    if client.process.returncode not in (0, None) and run.error is None:
        run.notes.append(f"{tool} exited with code {client.process.returncode}")
    return run
