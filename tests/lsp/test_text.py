"""LSP positions and edits: line breaks, code units, minimal diffs, moved lines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from typeseer.lsp.text import (
    Encoding,
    LineMap,
    Pos,
    Replacement,
    apply_replacements,
    byte_col_to_index,
    diff_replacements,
    split_lines,
)


def test_lines_split_only_at_lsp_line_breaks() -> None:
    assert split_lines("a\r\nb\rc\nd\x0ce\u2028f") == ["a\r\n", "b\r", "c\n", "d\x0ce\u2028f"]
    assert split_lines("x\n") == ["x\n", ""]
    assert split_lines("") == [""]


@pytest.mark.parametrize(("encoding", "expected"), [
    (Encoding.UTF16, 5), (Encoding.UTF8, 8), (Encoding.UTF32, 4)])
def test_code_units_per_encoding(encoding: Encoding, expected: int) -> None:
    assert encoding.units("a\u00e9\U0001f600b") == expected


def test_a_position_inside_a_character_is_its_start() -> None:
    line = "\U0001f600x"
    assert Encoding.UTF16.char_index(line, 1) == 0
    assert Encoding.UTF16.char_index(line, 2) == 1
    assert Encoding.UTF16.char_index(line, 99) == 2


def test_unknown_encodings_fall_back_to_utf16() -> None:
    assert Encoding.of("utf-8") is Encoding.UTF8
    assert Encoding.of("ebcdic") is Encoding.UTF16
    assert Encoding.of(None) is Encoding.UTF16


def test_ast_byte_columns_become_character_indexes() -> None:
    assert byte_col_to_index("s = '\u00e9'; t = 1", 12) == 11


def test_diffs_are_trimmed_to_the_characters_that_change() -> None:
    old = "def f(x):\n    return x\n"
    new = "def f(x: int) -> int:\n    return x\n"
    edits = diff_replacements(old, new)
    assert edits == [Replacement(Pos(0, 7), Pos(0, 8), ": int) -> int")]
    assert apply_replacements(old, edits) == new


def test_diffs_count_utf16_units() -> None:
    old = "s = '\U0001f600'; x = 1\n"
    new = "s = '\U0001f600'; x: int = 1\n"
    [edit] = diff_replacements(old, new)
    assert edit.start == Pos(0, 11) and edit.text == ": int"
    assert apply_replacements(old, [edit]) == new


texts = st.lists(st.sampled_from(["a", "b", "\u00e9", "\U0001f600", "\n", "\r\n", " "]),
                 max_size=30).map("".join)


@given(texts, texts, st.sampled_from(list(Encoding)))
def test_applying_the_diff_gives_the_new_text(old: str, new: str, encoding: Encoding) -> None:
    assert apply_replacements(old, diff_replacements(old, new, encoding), encoding) == new


def test_overlapping_edits_are_refused() -> None:
    edits = [Replacement(Pos(0, 0), Pos(0, 3), "x"), Replacement(Pos(0, 1), Pos(0, 2), "y")]
    with pytest.raises(ValueError, match="overlapping"):
        apply_replacements("abcdef", edits)


def test_unchanged_lines_are_followed_across_an_edit() -> None:
    old = "a = 1\nb = 2\nc = 3\n"
    new = "import os\na = 1\nb = 22\nc = 3\n"
    lines = LineMap(old, new)
    assert [lines.new_line(n) for n in range(3)] == [1, None, 3]
    assert lines.old_line(0) is None and lines.old_line(3) == 2
    assert LineMap(old, old).new_line(7) == 7
