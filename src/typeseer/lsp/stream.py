"""Framing of LSP messages on a byte stream, surviving malformed input.

A message is ``Content-Length: N\\r\\n`` (with other header fields, in any case) and a blank
line, then N bytes of JSON. pygls's reader matches the header exactly and believes the length:
a header it does not recognise makes it read every later message as part of that one's header
(the server goes deaf), a length longer than the body swallows the messages that follow, and a
huge one makes it allocate that many bytes. ``FrameReader`` instead:

* turns a header block without a usable length (missing, negative, not a number, over
  ``MAX_BODY``) into a ``Malformed`` frame, and skips its body as junk in front of the next
  header;
* cuts a body where the next message's header shows up inside it (a declared length that
  runs past the end of its message: the header line, with its raw CR LF, cannot be in valid
  JSON), so the following message is still read, without waiting for bytes that never come;
* gives back what follows a body too short for its message as junk before the next header.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["MAX_BODY", "FrameReader", "Malformed"]

logger = logging.getLogger("typeseer.lsp")

#: The largest message body accepted, in bytes (a larger ``Content-Length`` is an error).
MAX_BODY = 256 * 1024 * 1024
#: Bytes kept while looking for the end of a header block (the rest is junk).
MAX_HEADER = 64 * 1024

_HEADER_END = b"\r\n\r\n"
_LENGTH_FIELD = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
#: A complete header line of another message: never inside a valid JSON body.
_NEXT_HEADER = re.compile(rb"content-length[ \t]*:[ \t]*\d+[ \t]*\r\n", re.IGNORECASE)
#: Bytes of a body searched again when more arrive (a header split between two reads).
_OVERLAP = 64


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message that could not be framed or was cut short: answered with a parse error."""

    reason: str


class FrameReader:
    """Message bodies (or ``Malformed``) off a stream, ``read()`` giving its next bytes
    (``b""`` at its end)."""

    def __init__(self, read: Callable[[], Awaitable[bytes]]) -> None:
        self._read = read
        self._buffer = bytearray()
        self._ended = False

    async def _more(self) -> bool:
        """Append the stream's next bytes; False at its end."""
        if self._ended:
            return False
        data = await self._read()
        if not data:
            self._ended = True
            return False
        self._buffer += data
        return True

    async def next(self) -> bytes | Malformed | None:
        """The next message body, or ``Malformed``; None at the end of the stream."""
        end = await self._header_end()
        if end is None:
            return None
        block = bytes(self._buffer[:end])
        del self._buffer[:end + len(_HEADER_END)]
        length = _content_length(block)
        if isinstance(length, Malformed):
            return length
        return await self._body(length)

    async def _header_end(self) -> int | None:
        while (end := self._buffer.find(_HEADER_END)) < 0:
            if len(self._buffer) > MAX_HEADER:
                logger.warning("discarded %d bytes that are not an LSP message",
                               len(self._buffer) - _OVERLAP)
                del self._buffer[:-_OVERLAP]
            if not await self._more():
                if self._buffer.strip():
                    logger.warning("the input ended inside a message header")
                return None
        return end

    async def _body(self, length: int) -> bytes | Malformed:
        searched = 0
        while len(self._buffer) < length:
            cut = _NEXT_HEADER.search(self._buffer, max(0, searched - _OVERLAP))
            if cut is not None:
                return self._cut(cut.start(), length)
            searched = len(self._buffer)
            if not await self._more():
                del self._buffer[:]
                return Malformed(f"the input ended {length - searched} bytes into a "
                                 f"{length}-byte message")
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        cut = _NEXT_HEADER.search(body) if b"\r\n" in body else None
        if cut is not None:  # give back the messages the length ran into
            self._buffer[:0] = body[cut.start():]
            return self._cut_body(body[:cut.start()], length)
        return body

    def _cut(self, at: int, length: int) -> Malformed:
        body = bytes(self._buffer[:at])
        del self._buffer[:at]
        return self._cut_body(body, length)

    @staticmethod
    def _cut_body(body: bytes, length: int) -> Malformed:
        logger.warning("a message declared %d bytes but the next one starts after %d",
                       length, len(body))
        return Malformed(f"Content-Length {length} runs into the next message")


def _content_length(block: bytes) -> int | Malformed:
    """The length a header block declares (its last ``Content-Length``: junk left by a broken
    message may come before it)."""
    fields = list(_LENGTH_FIELD.finditer(block))
    if not fields:
        return Malformed("a message header without Content-Length")
    field = fields[-1]
    if block[:field.start()].strip():
        logger.warning("discarded %d bytes before a message header", field.start())
    value = field.group(1).strip()
    if not value.isdigit():
        return Malformed(f"a bad Content-Length: {value[:40]!r}")
    length = int(value)
    if length > MAX_BODY:
        return Malformed(f"Content-Length {length} is over the limit of {MAX_BODY} bytes")
    return length

