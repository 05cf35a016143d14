"""SARIF 2.1.0 output of `infer` and `coverage`: schema validity, locations, and fixes that
write exactly what `apply` writes for one site."""

from __future__ import annotations

import io
import itertools
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from typeseer.api import infer
from typeseer.apply.insert import ModuleRenderer
from typeseer.apply.run import apply
from typeseer.cli import main
from typeseer.config import Config
from typeseer.coverage import CoverageFormat, coverage, render_coverage
from typeseer.project import module_name_for
from typeseer.report import SARIF_RULE_ID, Format, edit_replacements, render

SCHEMA = Path(__file__).parent / "fixtures" / "sarif" / "sarif-2.1.0.json"
#: Static inference only, at a low threshold: many edits of every form, deterministic.
CONFIG = Config(use_model=False, min_confidence=0.5)

FILES = {
    "app/__init__.py": "",
    "app/models.py": """\
        class User:
            pass


        def build() -> User:
            return User()
        """,
    "app/service.py": '''\
        """Service."""
        from .models import build


        def make_twice():
            first = build()
            return [first, build()]


        def reader(path):
            return open(path)
        ''',
    "app/tools.py": '''\
        """Helpers."""
        import os


        def home(user, *, base="/home"):
            return base + user


        def count(items, start=0):
            total = start
            for item in items:
                total += 1
            return total


        def pair(
            left,
            right=1.5,
        ):
            return (left, right)


        class Box:
            def __init__(self, size=3):
                self.size = size

            def describe(self):
                label = "box"
                return label


        wave = "\U0001f44b"; size = 10


        def traced(func):
            return func


        @traced
        def handler():
            print("handled")


        def environ_copy():
            return os.environ.copy()
        ''',
}


def write_project(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "app" / "crlf.py").write_bytes(b"def ratio(a, b=2.0):\r\n    return a / b\r\n")
    return root / "app"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("sarif"))


@pytest.fixture(scope="module")
def infer_log(project: Path) -> dict[str, Any]:
    out = io.StringIO()
    render(infer([project], CONFIG), Format.SARIF, out, paths=[project], config=CONFIG)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


@pytest.fixture(scope="module")
def coverage_log(project: Path) -> dict[str, Any]:
    out = io.StringIO()
    render_coverage(coverage([project], CONFIG), CoverageFormat.SARIF, out)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def results(log: dict[str, Any]) -> list[dict[str, Any]]:
    return list(log["runs"][0]["results"])


def by_site(log: dict[str, Any]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    found = {}
    for result in results(log):
        p = result["properties"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        found[(uri.rsplit("/", 1)[-1], p["scope"], p["kind"], p["name"])] = result
    return found


def offset(lines: list[str], line: int, column: int) -> int:
    """Character offset of a SARIF position (1-based line, 1-based UTF-16 column)."""
    base = sum(len(text) for text in lines[:line - 1])
    text = lines[line - 1] if line <= len(lines) else ""
    units = index = 0
    while units < column - 1:
        units += 2 if ord(text[index]) > 0xFFFF else 1
        index += 1
    return base + index


def apply_replacements(text: str, replacements: list[dict[str, Any]]) -> str:
    lines = text.splitlines(keepends=True)
    spans = []
    for r in replacements:
        region = r["deletedRegion"]
        start = offset(lines, region["startLine"], region["startColumn"])
        end = offset(lines, region["endLine"], region["endColumn"])
        spans.append((start, end, r["insertedContent"]["text"]))
    spans.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        assert end <= start, "replacements overlap"
    for start, end, inserted in reversed(spans):
        text = text[:start] + inserted + text[end:]
    return text


# -- validity --------------------------------------------------------------------------------

def test_infer_and_coverage_logs_are_valid_sarif_2_1_0(
        infer_log: dict[str, Any], coverage_log: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    for log in (infer_log, coverage_log):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]
        assert errors == []
        assert results(log)


def test_required_fields_and_rule(infer_log: dict[str, Any]) -> None:
    assert infer_log["version"] == "2.1.0"
    assert "sarif-schema-2.1.0" in infer_log["$schema"]
    run = infer_log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "typeseer"
    assert [rule["id"] for rule in driver["rules"]] == [SARIF_RULE_ID]
    assert run["columnKind"] == "utf16CodeUnits"
    for result in results(infer_log):
        assert result["ruleId"] == SARIF_RULE_ID and result["ruleIndex"] == 0
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert result["message"]["text"].startswith("Missing annotation: suggested type `")


def test_message_level_and_properties(infer_log: dict[str, Any]) -> None:
    sites = by_site(infer_log)
    count_return = sites[("tools.py", "count", "return", "")]
    assert count_return["level"] == "warning"
    assert count_return["message"]["text"] == (
        f"Missing annotation: suggested type `int` (confidence "
        f"{count_return['properties']['confidence']:.2f})")
    assert count_return["properties"]["suggestedType"] == "int"
    assert count_return["locations"][0]["logicalLocations"] == [
        {"fullyQualifiedName": "count", "kind": "function"}]
    total = sites[("tools.py", "count", "variable", "total")]
    assert total["level"] == "note"
    assert total["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "count.total"
    # Existing annotations are not results.
    assert ("models.py", "build", "return", "") not in sites


def line_of(file: str, start: str) -> int:
    lines = textwrap.dedent(FILES[file]).splitlines()
    return next(n for n, text in enumerate(lines, 1) if text.startswith(start))


def test_locations_use_one_based_utf16_columns(infer_log: dict[str, Any]) -> None:
    sites = by_site(infer_log)
    size = sites[("tools.py", "<module>", "variable", "size")]
    region = size["locations"][0]["physicalLocation"]["region"]
    # 'wave = "<U+1F44B>"; ' is 12 code points and 13 UTF-16 code units.
    line = line_of("app/tools.py", "wave = ")
    assert region == {"startLine": line, "startColumn": 14, "endLine": line, "endColumn": 18}
    start = sites[("tools.py", "count", "param", "start")]
    assert start["locations"][0]["physicalLocation"]["region"]["startColumn"] == 18


def test_fingerprints_are_stable_site_keys(project: Path, infer_log: dict[str, Any]) -> None:
    fingerprints = [r["partialFingerprints"]["typeseerSite/v1"] for r in results(infer_log)]
    assert len(set(fingerprints)) == len(fingerprints)
    out = io.StringIO()
    render(infer([project], CONFIG), Format.SARIF, out, paths=[project], config=CONFIG)
    again = [r["partialFingerprints"]["typeseerSite/v1"]
             for r in json.loads(out.getvalue())["runs"][0]["results"]]
    assert again == fingerprints


# -- fixes -----------------------------------------------------------------------------------

def test_each_fix_writes_what_apply_writes_for_that_site(project: Path) -> None:
    preview = apply([project], CONFIG)
    assert len(preview.edits) >= 15
    checked = 0
    for change in preview.changes:
        text = change.original.decode(change.encoding)
        module_name = module_name_for(change.source.path)[0]
        fixes = edit_replacements(text, module_name, change.edits)
        renderer = ModuleRenderer(text, module_name)
        for edit in change.edits:
            replacements = [r.to_sarif() for r in fixes[edit.id]]
            assert apply_replacements(text, replacements) == renderer.render([edit]), edit
            checked += 1
    assert checked == len(preview.edits)


def test_fixes_are_small_and_carry_imports(infer_log: dict[str, Any], project: Path) -> None:
    sites = by_site(infer_log)

    def replacements(key: tuple[str, str, str, str]) -> list[dict[str, Any]]:
        (fix,) = sites[key]["fixes"]
        (change,) = fix["artifactChanges"]
        return list(change["replacements"])

    line = line_of("app/tools.py", "def count(")
    assert replacements(("tools.py", "count", "return", "")) == [{
        "deletedRegion": {"startLine": line, "startColumn": 26, "endLine": line,
                          "endColumn": 26},
        "insertedContent": {"text": " -> int"}}]
    # A runtime import for a standard-library class, merged into the fix.
    reader = replacements(("service.py", "reader", "return", ""))
    assert [r["insertedContent"]["text"] for r in reader] == [
        "from io import TextIOWrapper\n", " -> TextIOWrapper"]
    # A project class: imported for type checkers only.
    first = replacements(("service.py", "make_twice", "variable", "first"))
    text = (project / "service.py").read_text(encoding="utf-8")
    fixed = apply_replacements(text, first)
    assert "if TYPE_CHECKING:\n    from .models import User\n" in fixed
    assert "    first: User = build()\n" in fixed
    compile(fixed, "service.py", "exec")


def test_fix_keeps_crlf_line_ends(infer_log: dict[str, Any], project: Path) -> None:
    result = by_site(infer_log)[("crlf.py", "ratio", "param", "b")]
    (change,) = result["fixes"][0]["artifactChanges"]
    data = (project / "crlf.py").read_bytes().decode("utf-8")
    fixed = apply_replacements(data, change["replacements"])
    assert fixed == "def ratio(a, b: float = 2.0):\r\n    return a / b\r\n"


def test_sites_apply_would_not_write_have_no_fix(infer_log: dict[str, Any]) -> None:
    handler = by_site(infer_log)[("tools.py", "handler", "return", "")]
    assert handler["properties"]["suggestedType"] == "None"
    assert handler["properties"]["annotation"] is None
    assert "fixes" not in handler


def test_coverage_log_has_one_fixed_result_per_edit_apply_would_write(
        project: Path, coverage_log: dict[str, Any]) -> None:
    preview = apply([project], CONFIG)
    expected = {(e.key.file.rsplit("/", 1)[-1], e.key.scope, e.key.kind, e.key.name)
                for e in preview.edits}
    assert set(by_site(coverage_log)) == expected
    assert all(len(r["fixes"]) == 1 for r in results(coverage_log))


# -- paths, diagnostics, the command line ----------------------------------------------------

def test_uris_relative_to_the_working_directory(project: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.parent)
    out = io.StringIO()
    render(infer(["app/tools.py"], CONFIG), Format.SARIF, out, paths=["app/tools.py"],
           config=CONFIG)
    run = json.loads(out.getvalue())["runs"][0]
    locations = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                 for r in run["results"]}
    assert locations == {"app/tools.py"}
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"][
        "uriBaseId"] == "%SRCROOT%"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.parent.as_uri() + "/"


def test_without_paths_results_have_no_fixes(project: Path) -> None:
    out = io.StringIO()
    render(infer([project], CONFIG), Format.SARIF, out)
    found = json.loads(out.getvalue())["runs"][0]["results"]
    assert found and all("fixes" not in r for r in found)
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in found} >= {"tools.py", "service.py"}


def test_unparsable_files_become_notifications(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("def f():\n    return 1\n")
    (tmp_path / "broken.py").write_text("def f(:\n")
    out = io.StringIO()
    result = infer([tmp_path], CONFIG)
    render(result, Format.SARIF, out, paths=[tmp_path], config=CONFIG)
    invocation = json.loads(out.getvalue())["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error" and "broken.py" in notification["message"]["text"]


def test_cli_infer_format_sarif(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.sarif"
    err = io.StringIO()
    code = main(["infer", str(project), "--no-model", "--min-confidence", "0.5",
                 "--format", "sarif", "-o", str(target)], io.StringIO(), err)
    assert code == 0, err.getvalue()
    log = json.loads(target.read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0" and len(results(log)) >= 15
