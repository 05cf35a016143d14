"""`typeseer coverage`: counts now and after `apply`, the formats, exit codes, and the HTML
page rendered by headless Chromium."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import struct
import subprocess
import textwrap
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from typeseer.apply.options import Level
from typeseer.apply.run import apply
from typeseer.config import Config
from typeseer.coverage import (
    AFTER_COLOUR,
    JSON_SCHEMA,
    NOW_COLOUR,
    Counts,
    add_coverage_parser,
    coverage,
    render_html,
    run_coverage,
)
from typeseer.sites import SiteKind

CONFIG = Config(use_model=False)
CHROMIUM = "/usr/bin/chromium"

CORE = """\
    import enum
    from dataclasses import dataclass


    class Colour(enum.Enum):
        RED = 1
        GREEN = 2


    @dataclass
    class Point:
        x: int
        y: int = 0
        label = "origin"


    def greet(name: str) -> str:
        return "hello " + name


    def shout(text):
        print(text)


    def version():
        return "1.0"


    def traced(func):
        return func


    @traced
    def handler():
        print("handled")
    """

UTIL = """\
    def ratio(a: float, b: float) -> float:
        return a / b


    def log(message):
        print(message)
    """


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """core.py: 11 sites (the two Enum members are not sites), 4 annotated; `apply` writes
    the returns of shout and version, not handler's (unknown decorator).
    sub/util.py: 5 sites, 3 annotated; `apply` writes log's return."""
    root = tmp_path / "pkg"
    write(root / "__init__.py", "")
    write(root / "core.py", CORE)
    write(root / "sub" / "__init__.py", "")
    write(root / "sub" / "util.py", UTIL)
    return root


def run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="typeseer", exit_on_error=False)
    add_coverage_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["coverage", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run_coverage(args, out, err)
    return code, out.getvalue(), err.getvalue()


# -- counting --------------------------------------------------------------------------------

def test_counts_now_and_after_apply(project: Path) -> None:
    report = coverage([project], CONFIG)
    modules = {m.file: m for m in report.modules}
    assert list(modules) == ["__init__.py", "core.py", "sub/__init__.py", "sub/util.py"]
    assert modules["core.py"].counts == Counts(11, 4, 6)
    assert modules["sub/util.py"].counts == Counts(5, 3, 4)
    assert modules["__init__.py"].counts == Counts(0, 0, 0)
    assert modules["__init__.py"].counts.annotated_percent == 100.0
    assert report.total == Counts(16, 7, 10)
    assert report.total.annotated_percent == pytest.approx(43.75)
    assert report.total.after_apply_percent == pytest.approx(62.5)
    assert report.by_kind == {"param": Counts(6, 3, 3), "return": Counts(7, 2, 5),
                              "variable": Counts(3, 2, 2), "attribute": Counts(0, 0, 0)}
    assert modules["core.py"].by_kind["variable"] == Counts(3, 2, 2)  # not Colour.RED/GREEN
    assert [(p.package, p.modules, p.counts) for p in report.packages] == [
        (".", 2, Counts(11, 4, 6)), ("sub", 2, Counts(5, 3, 4))]


def test_after_apply_counts_only_what_apply_writes(project: Path) -> None:
    report = coverage([project], CONFIG)
    # handler's return is inferred (None) but `apply` leaves decorated functions alone.
    assert report.not_written == {
        "decorator @traced may read annotations (use --level aggressive)": 1}
    aggressive = coverage([project], replace(CONFIG, level=Level.AGGRESSIVE,
                                             min_confidence=0.9))
    assert not aggressive.not_written
    assert aggressive.total.after_apply == report.total.after_apply + 1


def test_after_apply_is_the_coverage_once_applied(project: Path) -> None:
    before = coverage([project], CONFIG)
    written = apply([project], CONFIG, write=True)
    assert written.written and len(written.edits) == 3
    after = coverage([project], CONFIG)
    assert after.total.annotated == before.total.after_apply
    assert [m.counts.annotated for m in after.modules] == [
        m.counts.after_apply for m in before.modules]
    assert after.total.after_apply == after.total.annotated  # nothing more to write


def test_kinds_and_exclude_select_the_sites(project: Path) -> None:
    code, out, _ = run(str(project), "--no-model", "--kinds", "param,return", "--exclude",
                       "sub", "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["kinds"] == ["param", "return"]
    assert [m["file"] for m in document["modules"]] == ["__init__.py", "core.py"]
    assert document["total"]["sites"] == 8  # name, text, func; 5 returns
    assert set(document["total"]["by_kind"]) == {"param", "return"}


def test_several_roots_name_modules_by_path(project: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "other" / "extra.py", "def one():\n    return 1\n")
    monkeypatch.chdir(tmp_path)
    report = coverage(["pkg", "other"], CONFIG)
    assert [m.file for m in report.modules] == [
        "other/extra.py", "pkg/__init__.py", "pkg/core.py", "pkg/sub/__init__.py",
        "pkg/sub/util.py"]
    assert report.total.after_apply == 10 + 1


# -- formats ---------------------------------------------------------------------------------

def test_json_document(project: Path) -> None:
    code, out, err = run(str(project), "--no-model", "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["schema"] == JSON_SCHEMA
    assert document["threshold"] == 0.9
    assert "after apply" in document["after_apply"]
    assert document["total"] == {
        "sites": 16, "annotated": 7, "after_apply": 10, "annotated_percent": 43.8,
        "after_apply_percent": 62.5, "by_kind": document["total"]["by_kind"]}
    assert document["total"]["by_kind"]["return"] == {
        "sites": 7, "annotated": 2, "after_apply": 5, "annotated_percent": 28.6,
        "after_apply_percent": 71.4}
    assert [(p["package"], p["modules"], p["sites"]) for p in document["packages"]] == [
        (".", 2, 11), ("sub", 2, 5)]
    util = document["modules"][-1]
    assert (util["file"], util["package"], util["annotated"], util["after_apply"]) == (
        "sub/util.py", "sub", 3, 4)
    assert document["not_written"] == {
        "decorator @traced may read annotations (use --level aggressive)": 1}


def test_table(project: Path) -> None:
    code, out, _ = run(str(project), "--no-model")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "typeseer coverage at threshold 0.90"
    row = next(line for line in lines if line.startswith("  core.py"))
    assert row.split()[:5] == ["core.py", "11", "4", "36.4%", "54.5%"]
    assert row.endswith("[#######++++.........]")
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert total.split()[1:5] == ["16", "7", "43.8%", "62.5%"]
    assert any(line.startswith("sub/ (2 modules)") for line in lines)
    assert any(line.split()[:5] == ["return", "7", "2", "28.6%", "71.4%"] for line in lines)
    assert "1 inferred types apply would not write: decorator @traced" in out


def test_output_file_format_follows_its_extension(project: Path, tmp_path: Path) -> None:
    for name, start in (("cov.html", "<!DOCTYPE html>"), ("cov.json", "{"),
                        ("cov.txt", "typeseer coverage")):
        code, out, err = run(str(project), "--no-model", "-o", str(tmp_path / name))
        assert code == 0 and out == ""
        assert (tmp_path / name).read_text(encoding="utf-8").startswith(start)
        assert f"annotated now, 62.5% after apply; report in {tmp_path / name}" in err


def test_html_page_is_self_contained(project: Path) -> None:
    page = render_html(coverage([project], CONFIG))
    assert not re.search(r"""(src|href)\s*=|@import|url\(|https?://""", page)
    assert "<link" not in page and "<img" not in page
    # One bar per module, package, kind and the total; widths are the percentages.
    assert page.count('class="bar"') == 4 + 2 + 4 + 1
    assert ('<span class="after" style="width:54.5%"></span>'
            '<span class="now" style="width:36.4%"></span>') in page
    assert "<td class=\"path\" data-v=\"sub/util.py\">sub/util.py</td>" in page


def test_html_escapes_paths(tmp_path: Path) -> None:
    write(tmp_path / "a&b" / "<m>.py", "x = 1\n")
    page = render_html(coverage([tmp_path], CONFIG))
    assert "a&amp;b/&lt;m&gt;.py" in page and "<m>" not in page


# -- exit codes ------------------------------------------------------------------------------

def test_fail_under_gates_on_annotated_now(project: Path) -> None:
    code, _, err = run(str(project), "--no-model", "--fail-under", "50")
    assert code == 1
    assert "43.8% annotated, below --fail-under 50" in err
    # 62.5% after apply would pass 50: the gate is on the code as it is.
    assert run(str(project), "--no-model", "--fail-under", "43")[0] == 0


def test_nothing_to_annotate_is_fully_annotated(tmp_path: Path) -> None:
    write(tmp_path / "empty" / "__init__.py", "")
    code, out, _ = run(str(tmp_path / "empty"), "--no-model", "--fail-under", "100",
                       "--format", "json")
    assert code == 0
    assert json.loads(out)["total"]["annotated_percent"] == 100.0


@pytest.mark.parametrize("argv, message", [
    (["--fail-under", "120"], "--fail-under must be between 0 and 100"),
    (["--min-confidence", "2"], "min-confidence must be between 0 and 1"),
    (["--kinds", "params"], "unknown site kind"),
])
def test_usage_errors(project: Path, argv: list[str], message: str) -> None:
    code, out, err = run(str(project), "--no-model", *argv)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "nowhere"), "--no-model", "-q")
    assert code == 2
    assert err == ""  # -q: no diagnostics


# -- the HTML page in a browser --------------------------------------------------------------

def read_png(data: bytes) -> tuple[int, int, int, bytes]:
    """Width, height, bytes per pixel and unfiltered pixel rows of an 8-bit RGB(A) PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    pixels = bytearray()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + best) & 0xFF
        pixels += line
        previous = line
    return width, height, channels, bytes(pixels)


def count_colour(png: tuple[int, int, int, bytes], colour: str) -> int:
    _, _, channels, pixels = png
    target = bytes.fromhex(colour.lstrip("#"))
    return sum(1 for i in range(0, len(pixels), channels)
               if all(abs(pixels[i + c] - target[c]) <= 2 for c in range(3)))


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="Debian's chromium is missing")
def test_headless_chromium_shows_the_bars(tmp_path: Path) -> None:
    # One module, 1 of 4 sites annotated now, 3 of 4 after apply.
    write(tmp_path / "proj" / "mod.py", """\
        def first(flag: bool):
            print(flag)


        def second(value):
            return "text"
        """)
    kinds = frozenset({SiteKind.PARAM, SiteKind.RETURN})
    report = coverage([tmp_path / "proj"], replace(CONFIG, kinds=kinds))
    assert report.total == Counts(4, 1, 3)
    assert report.by_kind == {"param": Counts(2, 1, 1), "return": Counts(2, 0, 2)}
    page = tmp_path / "coverage.html"
    page.write_text(render_html(report), encoding="utf-8")
    shot = tmp_path / "shot.png"
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
               f"--screenshot={shot}", "--window-size=1000,900", page.as_uri()]
    subprocess.run(command, capture_output=True, timeout=120, check=False,
                   env={**os.environ, "HOME": str(tmp_path)})
    assert shot.is_file(), "chromium wrote no screenshot"
    png = read_png(shot.read_bytes())
    now, after = count_colour(png, NOW_COLOUR), count_colour(png, AFTER_COLOUR)
    # Bars of 240 x 14 pixels, "now" over "after apply": the total, the package and the
    # module (25%, 75%), param (50%, 50%), return (0%, 100%); "now" covers 60 + 60 + 60 + 120
    # columns, "after apply" shows on 120 + 120 + 120 + 240 more. Legend swatches: 12 x 12.
    assert 300 * 14 <= now <= 300 * 14 + 400
    assert 1.8 < after / now < 2.2
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
