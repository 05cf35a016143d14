"""Positions and text edits as the Language Server Protocol counts them.

LSP positions are (line, character) with lines split at ``\\n``, ``\\r\\n`` and ``\\r`` only,
and characters counted in the code units of the negotiated encoding (UTF-16 unless the client
offers another). ``ast`` counts lines from 1 and columns in UTF-8 bytes. Everything that
converts between the two, or turns a rewritten text into edits, lives here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Encoding",
    "LineMap",
    "Pos",
    "Replacement",
    "apply_replacements",
    "byte_col_to_index",
    "diff_replacements",
    "line_opcodes",
    "split_lines",
]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Encoding(str, Enum):
    """What one unit of an LSP ``character`` is (``PositionEncodingKind``)."""

    UTF8 = "utf-8"
    UTF16 = "utf-16"
    UTF32 = "utf-32"

    @classmethod
    def of(cls, name: object) -> Encoding:
        """The encoding a client negotiated; UTF-16 (the protocol's default) when unknown."""
        try:
            return cls(str(getattr(name, "value", name)))
        except ValueError:
            return cls.UTF16

    def units(self, text: str) -> int:
        """The length of ``text`` in this encoding's code units."""
        if self is Encoding.UTF32:
            return len(text)
        if self is Encoding.UTF8:
            return len(text.encode("utf-8", "surrogatepass"))
        return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)

    def char_index(self, line: str, units: int) -> int:
        """The index into ``line`` of the character at ``units`` code units (clamped to the
        line; a position inside a character counts as that character's start)."""
        if units <= 0:
            return 0
        if self is Encoding.UTF32:
            return min(units, len(line))
        counted = 0
        for index, char in enumerate(line):
            counted += self.units(char)
            if counted > units:
                return index
        return len(line)


@dataclass(frozen=True, slots=True, order=True)
class Pos:
    """An LSP position: 0-based line and character in code units."""

    line: int
    character: int


@dataclass(frozen=True, slots=True)
class Replacement:
    """Replace the text between two positions (an LSP ``TextEdit``)."""

    start: Pos
    end: Pos
    text: str


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as LSP numbers them, each with its line break; the last line is
    ``""`` when the text ends with a break (it is still a line a position can be on)."""
    lines: list[str] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start:match.end()])
        start = match.end()
    lines.append(text[start:])
    return lines


def _strip_break(line: str) -> str:
    return line.rstrip("\r\n")


def byte_col_to_index(line: str, byte_col: int) -> int:
    """``ast``'s UTF-8 byte column as an index into ``line``."""
    return len(line.encode("utf-8", "surrogatepass")[:max(byte_col, 0)]
               .decode("utf-8", "replace"))


class _Offsets:
    """Offsets into one text, converted to and from positions."""

    def __init__(self, text: str, encoding: Encoding) -> None:
        self.text = text
        self.encoding = encoding
        self.lines = split_lines(text)
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line)

    def position(self, offset: int) -> Pos:
        offset = max(0, min(offset, len(self.text)))
        low, high = 0, len(self.starts) - 1
        while low < high:  # the last line starting at or before the offset
            middle = (low + high + 1) // 2
            if self.starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        line = self.lines[low]
        within = min(offset - self.starts[low], len(_strip_break(line)))
        return Pos(low, self.encoding.units(line[:within]))

    def offset(self, position: Pos) -> int:
        if position.line < 0:
            return 0
        if position.line >= len(self.lines):
            return len(self.text)
        line = _strip_break(self.lines[position.line])
        return self.starts[position.line] + self.encoding.char_index(line, position.character)


def diff_replacements(old: str, new: str, encoding: Encoding = Encoding.UTF16,
                      ) -> list[Replacement]:
    """Small edits that turn ``old`` into ``new``: the changed runs of lines, each trimmed to
    the characters that differ (so the editor keeps cursors and marks elsewhere)."""
    if old == new:
        return []
    offsets = _Offsets(old, encoding)
    old_lines, new_lines = offsets.lines, split_lines(new)
    replacements: list[Replacement] = []
    for tag, i1, i2, j1, j2 in line_opcodes(old_lines, new_lines):
        if tag == "equal":
            continue
        before, after = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        prefix = _common_prefix(before, after)
        if prefix and before[prefix - 1] == "\r" and before[prefix:prefix + 1] == "\n":
            prefix -= 1  # no position lies between the two characters of a CRLF
        suffix = _common_suffix(before[prefix:], after[prefix:])
        if suffix and before[len(before) - suffix] == "\n" and \
                before[len(before) - suffix - 1:len(before) - suffix] == "\r":
            suffix -= 1
        start = offsets.starts[i1] + prefix if i1 < len(old_lines) else len(old)
        end = start + len(before) - prefix - suffix
        replacements.append(Replacement(offsets.position(start), offsets.position(end),
                                        after[prefix:len(after) - suffix]))
    return replacements


#: Changed runs of up to this many lines on both sides are diffed again line by line.
_REFINED = 400


def line_opcodes(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, int, int, int, int]]:
    """``difflib`` opcodes turning lines ``a`` into ``b``, fast on long files.

    A plain ``SequenceMatcher`` without its junk heuristic is quadratic on code whose lines
    repeat (``return x``, blank lines): seconds on 5,000 lines. With the heuristic it is fast
    but leaves coarse changed runs, because repeated lines cannot anchor a match; each run is
    then diffed again without it, which is cheap on a short run.
    """
    coarse = difflib.SequenceMatcher(None, a, b).get_opcodes()
    refined: list[tuple[str, int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in coarse:
        if tag != "replace" or i2 - i1 > _REFINED or j2 - j1 > _REFINED:
            refined.append((tag, i1, i2, j1, j2))
            continue
        inner = difflib.SequenceMatcher(None, a[i1:i2], b[j1:j2], autojunk=False)
        refined.extend((t, i1 + x1, i1 + x2, j1 + y1, j1 + y2)
                       for t, x1, x2, y1, y2 in inner.get_opcodes())
    return refined


def _common_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


def _common_suffix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        size += 1
    return size


def apply_replacements(text: str, replacements: Iterable[Replacement],
                       encoding: Encoding = Encoding.UTF16) -> str:
    """``text`` with the edits applied, as an editor applies one ``TextEdit[]`` (positions
    refer to the original text; edits must not overlap)."""
    offsets = _Offsets(text, encoding)
    spans = sorted(((offsets.offset(r.start), offsets.offset(r.end), r.text)
                    for r in replacements), key=lambda span: (span[0], span[1]))
    parts: list[str] = []
    cursor = 0
    for start, end, new_text in spans:
        if start < cursor:
            raise ValueError("overlapping edits")
        parts.append(text[cursor:start])
        parts.append(new_text)
        cursor = max(end, start)
    parts.append(text[cursor:])
    return "".join(parts)


class LineMap:
    """Where the lines of an older text are in a newer one: lines in unchanged runs map,
    changed lines do not (requests on a document that changed since its last analysis are
    answered for the lines the change did not touch)."""

    def __init__(self, old: str, new: str) -> None:
        self.identity = old == new
        self._forward: dict[int, int] = {}
        self._backward: dict[int, int] = {}
        if self.identity:
            return
        for tag, i1, i2, j1, _ in line_opcodes(split_lines(old), split_lines(new)):
            if tag == "equal":
                for k in range(i2 - i1):
                    self._forward[i1 + k] = j1 + k
                    self._backward[j1 + k] = i1 + k

    def new_line(self, old_line: int) -> int | None:
        """The 0-based line in the new text of an old text's line (None: it changed)."""
        return old_line if self.identity else self._forward.get(old_line)

    def old_line(self, new_line: int) -> int | None:
        return new_line if self.identity else self._backward.get(new_line)

    def unchanged(self, old_lines: Sequence[int]) -> bool:
        return all(self.new_line(line) is not None for line in old_lines)
