"""Inputs the fuzzers (bench/fuzz.py) found to break the type-expression parser or the site
extractor, each kept as a regression test, and the crash definitions the fuzzers use."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import run

from typeseer.typeexpr import TypeParseError, parse_type

# -- typeexpr: parse_type raises only TypeParseError, and its printed form reads back ----------

ROUND_TRIPS = [
    # A Union of another module printed as ``Union[...]``, which reads back as typing's union.
    "ping.Union[int, str, None]",
    "mylib.Optional[int]",
    "mylib.Text",
    "mylib.Literal[int]",
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_printed_form_reads_back_as_the_same_type(text: str) -> None:
    parsed = parse_type(text)
    assert parse_type(str(parsed)) == parsed


def test_project_class_named_like_a_typing_alias_is_written_as_itself(tmp_path: Path) -> None:
    """A project class ``Text`` was written as ``str`` (its printed type, ``Text``, was read
    back as ``typing.Text``)."""
    module = tmp_path / "m.py"
    module.write_text("class Text:\n    pass\n\n\ndef make():\n    return Text()\n")
    code, _, _ = run("apply", str(tmp_path), "--write", "--no-model", "--level", "aggressive",
                     "--min-confidence", "0.5", "--quiet")
    assert code == 0
    assert "def make() -> Text:" in module.read_text()


REJECTED: list[str] = []


@pytest.mark.parametrize("text", REJECTED)
def test_rejected_with_the_documented_error(text: str) -> None:
    with pytest.raises(TypeParseError):
        parse_type(text)
