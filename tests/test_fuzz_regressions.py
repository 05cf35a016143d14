"""Inputs the fuzzers (bench/fuzz.py) found to break the type-expression parser or the site
extractor, each kept as a regression test, and the crash definitions the fuzzers use."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import run

from typeseer.parsing import ParseFailure, parse_source
from typeseer.sites import extract_sites, usage_slice
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


REJECTED = [
    # Read as ``None[int]``, whose printed form does not parse.
    "NoneType[sot,]", "typing.NoneType[int]",
    "", "1", "list[", "a\x00b", "Optional[int, str]", "Literal[f()]", "...", "()",
            "[" * 200 + "]" * 200, "list[" * 400 + "int" + "]" * 400, "x if y else z"]


@pytest.mark.parametrize("text", REJECTED)
def test_rejected_with_the_documented_error(text: str) -> None:
    with pytest.raises(TypeParseError):
        parse_type(text)


# -- sites: no exception for text the parser accepts, ParseFailure for text it rejects --------

def _extract(text: str) -> list[str]:
    module = extract_sites("m.py", text, parse_source(text, "m.py"), "pkg.sub.m")
    for site in module.sites:
        usage_slice(module.lines, site)
    return [f"{site.kind.value} {site.name}" for site in module.sites]


@pytest.mark.parametrize("text", [
    # Lambdas nest without brackets (no parser limit): the extractor recursed once per level.
    "x = " + "lambda: " * 900 + "1\n",
    "x = " + "lambda: 1 if a else " * 600 + "2\n",
])
def test_deep_nesting_the_parser_accepts_is_extracted(text: str) -> None:
    assert _extract(text) == ["variable x"]


def test_lambda_parameters_stay_inside_the_lambda() -> None:
    text = "f = lambda a, b=lambda: c: a + b + d\n"
    module = extract_sites("m.py", text, parse_source(text, "m.py"))
    assert sorted(module.scope.uses) == ["c", "d"]


@pytest.mark.parametrize("text", ["def f(:\n", "x = " + "(" * 300 + ")" * 300, "a\x00b"])
def test_rejected_source_gives_parse_failure(text: str) -> None:
    with pytest.raises(ParseFailure):
        parse_source(text, "m.py")
