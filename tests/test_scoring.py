"""Scoring predictions against ground truth, on small hand-made inputs with exact numbers."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest

from typeseer.config import DEFAULT_MIN_CONFIDENCE
from typeseer.scoring import (
    Counts,
    GroundTruth,
    PredictionRecord,
    TruthSite,
    category_of,
    collect_ground_truth,
    expected_calibration_error,
    ground_truth_of_module,
    load_predictions,
    module_name_of,
    render_table,
    report_to_dict,
    resolve_aliases,
    score,
    unqualified,
)
from typeseer.sites import SiteKey, extract_sites
from typeseer.typeexpr import parse_type

ORIGINAL = textwrap.dedent('''
    from typing import Any, List, Optional

    class Node:
        label: str

        def __init__(self, value: int, parent: Optional["Node"] = None) -> None:
            self.value = value
            self.parent: Node | None = parent
            self.children: List[Node] = []

        def find(self, key, default: Any = None) -> "Node":
            found: bool = False
            return self

    def helper(x: "not a type(") -> dict[str, int]:
        count = 0
        return {}

    LIMIT: int = 10
''').lstrip()


def test_ground_truth_of_module() -> None:
    module = extract_sites("m.py", ORIGINAL, ast.parse(ORIGINAL), "m")
    truth = GroundTruth()
    ground_truth_of_module(module, truth)
    found = {(s.key.scope, s.key.kind, s.key.name): str(s.type) for s in truth.sites}
    assert found == {
        ("Node.__init__", "param", "value"): "int",
        ("Node.__init__", "param", "parent"): "Node | None",
        ("Node.__init__", "return", ""): "None",
        ("Node", "attribute", "parent"): "Node | None",
        ("Node", "attribute", "children"): "list[Node]",
        ("Node.find", "return", ""): "Node",
        ("Node.find", "variable", "found"): "bool",
        ("helper", "return", ""): "dict[str, int]",
        ("<module>", "variable", "LIMIT"): "int",
    }
    assert truth.class_names == {"Node"}
    assert truth.files == 1
    assert truth.unannotated == 3  # self.value, key, count
    assert truth.any == 1  # default: Any
    assert truth.unparsable == 1  # x: "not a type("
    assert truth.declarations == 1  # label: str, gone once stripped

    with_declarations = GroundTruth()
    ground_truth_of_module(module, with_declarations, include_declarations=True)
    assert len(with_declarations.sites) == 10


def test_typing_module_aliases_are_spelled_out() -> None:
    source = textwrap.dedent("""
        import typing as t
        import collections.abc as cabc
        from typing import Optional as Opt

        def f(a: t.Optional[t.List[int]], b: t.Literal[1, -1], c: Opt["cabc.Sequence[str]"],
              d: cabc.Callable[[int], t.Any]) -> t.Any:
            def g(e: t.Dict[str, t.Union[int, None]]) -> None: ...
    """)
    module = extract_sites("m.py", source, ast.parse(source), "m")
    truth = GroundTruth()
    ground_truth_of_module(module, truth)
    assert {s.key.name: str(s.type) for s in truth.sites} == {
        "a": "list[int] | None", "b": "Literal[-1, 1]", "c": "Sequence[str] | None",
        "d": "Callable[[int], Any]", "e": "dict[str, int | None]", "": "None"}
    assert truth.any == 1


def test_qualifiers_are_unwrapped() -> None:
    source = textwrap.dedent("""
        from typing import ClassVar, Final, TypeAlias

        class C:
            limit: ClassVar[int] = 3
            name: Final = "c"
            both: ClassVar[Final[str]] = "x"
            Alias: TypeAlias = "list[int]"

            def __init__(self) -> None:
                self.size: Final[int] = 1
    """)
    module = extract_sites("m.py", source, ast.parse(source), "m")
    truth = GroundTruth()
    ground_truth_of_module(module, truth)
    assert {(s.key.kind, s.key.name): str(s.type) for s in truth.sites} == {
        ("variable", "limit"): "int", ("variable", "both"): "str",
        ("attribute", "size"): "int", ("return", ""): "None"}
    assert truth.qualifier_only == 2
    assert unqualified(parse_type("list[Final[int]]")) == parse_type("list[Final[int]]")


def test_resolve_aliases() -> None:
    assert resolve_aliases("t.List[int]", {"t": "typing"}) == "typing.List[int]"
    assert resolve_aliases("List[int]", {"t": "typing"}) == "List[int]"
    assert resolve_aliases("Opt[x.t]", {"Opt": "typing.Optional", "t": "typing"}) == \
        "typing.Optional[x.t]"
    assert resolve_aliases("not (valid", {"t": "typing"}) == "not (valid"


def test_collect_ground_truth(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("X: int = 1\n")
    (tmp_path / "pkg" / "mod.py").write_text(ORIGINAL)
    (tmp_path / "pkg" / "broken.py").write_text("def f(:\n")
    truth = collect_ground_truth([tmp_path])
    assert truth.files == 2
    assert [file for file, _ in truth.failed] == ["pkg/broken.py"]
    assert {s.key.file for s in truth.sites} == {"pkg/__init__.py", "pkg/mod.py"}
    assert len(truth.sites) == 10


def test_module_name_of() -> None:
    assert module_name_of("pkg/sub/__init__.py") == ("pkg.sub", True)
    assert module_name_of("pkg/mod.py") == ("pkg.mod", False)


def site(scope: str, kind: str, name: str, annotation: str) -> TruthSite:
    return TruthSite(SiteKey("f.py", scope, kind, name), parse_type(annotation), annotation)


def record(scope: str, kind: str, name: str, type_: str | None, confidence: float,
           source: str = "static", alternatives: tuple[tuple[str, float], ...] = ()
           ) -> PredictionRecord:
    return PredictionRecord(SiteKey("f.py", scope, kind, name), type_, confidence, source,
                            alternatives)


TRUTH = [
    site("f", "param", "a", "int"),
    site("f", "return", "", "None"),
    site("f", "variable", "xs", "List[int]"),
    site("C", "attribute", "n", "Node"),
    site("g", "return", "", "Optional[Dict[str, int]]"),
    site("<module>", "variable", "LIMIT", "int"),
]

PREDICTIONS = [
    record("f", "param", "a", "int", 0.9),  # exact, given
    record("f", "param", "a", "str", 0.99),  # duplicate: ignored
    record("f", "return", "", "None", 0.95),  # exact, given
    record("f", "variable", "xs", "list[str]", 0.6, "model"),  # parametric only, given
    record("C", "attribute", "n", "Node", 0.3, "combined"),  # exact, below the threshold
    record("g", "return", "", None, 0.2, "model",
           (("dict[str, str] | None", 0.2),)),  # forced top-1 from alternatives: parametric
    record("h", "param", "unknown", "int", 0.9),  # no ground truth
    # LIMIT: no prediction, a miss
]


def counts(sites: int, predicted: int, top1_exact: int, top1_parametric: int, given: int,
           given_exact: int, given_parametric: int) -> Counts:
    return Counts(sites, predicted, top1_exact, top1_parametric, given, given_exact,
                  given_parametric)


def test_score_totals_and_kinds() -> None:
    report = score(TRUTH, PREDICTIONS, threshold=0.5, class_names={"Node"})
    assert report.total == counts(6, 5, 3, 5, 3, 2, 3)
    assert report.total.top1_exact_rate == 0.5
    assert report.total.top1_parametric_rate == pytest.approx(5 / 6)
    assert report.total.coverage == 0.5
    assert report.total.precision == pytest.approx(2 / 3)
    assert report.total.precision_parametric == 1.0
    assert report.by_kind == {
        "param": counts(1, 1, 1, 1, 1, 1, 1),
        "return": counts(2, 2, 1, 2, 1, 1, 1),
        "variable": counts(2, 1, 0, 1, 1, 0, 1),
        "attribute": counts(1, 1, 1, 1, 0, 0, 0),
    }
    assert report.total_without_none_returns == counts(5, 4, 2, 4, 2, 1, 2)
    assert report.by_kind_without_none_returns["return"] == counts(1, 1, 0, 1, 0, 0, 0)
    assert report.unmatched_predictions == 1
    assert report.duplicate_predictions == 1
    assert report.unparsable_predictions == 0


def test_score_categories_sources_calibration() -> None:
    report = score(TRUTH, PREDICTIONS, threshold=0.5, class_names={"Node"},
                   type_sets={"top-1": {"int"}})
    assert report.by_category == {
        "basic": counts(4, 3, 2, 3, 3, 2, 3),
        "user-defined": counts(1, 1, 1, 1, 0, 0, 0),
        "other": counts(1, 1, 0, 1, 0, 0, 0),
        "top-1": counts(2, 1, 1, 1, 1, 1, 1),
    }
    assert report.by_source == {
        "static": counts(2, 2, 2, 2, 2, 2, 2),
        "model": counts(2, 2, 0, 2, 1, 0, 1),
        "combined": counts(1, 1, 1, 1, 0, 0, 0),
        "missing": counts(1, 0, 0, 0, 0, 0, 0),
    }
    # given: (0.9, right), (0.95, right) in bin 9; (0.6, wrong) in bin 6
    assert report.calibration.count == 3
    assert report.calibration.ece == pytest.approx(2 / 3 * 0.075 + 1 / 3 * 0.6)
    assert report.calibration.bins[9].count == 2
    assert report.calibration.bins[9].mean_confidence == pytest.approx(0.925)
    assert report.calibration.bins[6].accuracy == 0.0


def test_without_class_names_user_types_are_other() -> None:
    report = score(TRUTH, PREDICTIONS)
    assert report.by_category["user-defined"].sites == 0
    assert report.by_category["other"].sites == 2


def test_threshold_is_inclusive_and_changes_coverage() -> None:
    assert score(TRUTH, PREDICTIONS, threshold=0.6).total.given == 3
    assert score(TRUTH, PREDICTIONS, threshold=0.61).total.given == 2
    low = score(TRUTH, PREDICTIONS, threshold=0.0).total
    # the null-typed prediction is never given, whatever its confidence
    assert (low.given, low.given_exact) == (4, 3)


def test_predictions_are_normalised_and_unparsable_ones_are_wrong() -> None:
    truth = [site("f", "param", "a", "int | None"), site("f", "param", "b", "int")]
    predictions = [record("f", "param", "a", "Optional[int]", 0.9),
                   record("f", "param", "b", "list[", 0.9)]
    report = score(truth, predictions)
    assert report.total == counts(2, 2, 1, 1, 2, 1, 1)
    assert report.unparsable_predictions == 1


def test_duplicate_truth_keys_are_scored_once() -> None:
    truth = [site("f", "param", "a", "int"), site("f", "param", "a", "str")]
    assert score(truth, []).total.sites == 1


def test_default_threshold_is_the_cli_default() -> None:
    assert score([], []).threshold == DEFAULT_MIN_CONFIDENCE
    assert score(TRUTH, PREDICTIONS).total == score(
        TRUTH, PREDICTIONS, threshold=DEFAULT_MIN_CONFIDENCE).total


def test_empty_inputs() -> None:
    report = score([], [])
    assert report.total == Counts()
    assert report.total.coverage is None
    assert report.total.precision is None
    assert report.calibration.ece is None


def test_expected_calibration_error() -> None:
    calibration = expected_calibration_error(
        [(1.0, True), (0.95, False), (0.05, False), (0.0, False)])
    assert calibration.bins[9].count == 2  # 1.0 falls in the last bin
    assert calibration.bins[0].count == 2
    # bin 9: mean 0.975, accuracy 0.5; bin 0: mean 0.025, accuracy 0
    assert calibration.ece == pytest.approx(0.5 * 0.475 + 0.5 * 0.025)
    perfect = expected_calibration_error([(0.75, True)] * 3 + [(0.75, False)])
    assert perfect.ece == pytest.approx(0.0)


def test_category_of() -> None:
    assert category_of(parse_type("List[int]"), set()) == "basic"
    assert category_of(parse_type("None"), set()) == "basic"
    assert category_of(parse_type("typing.Any"), set()) == "basic"
    assert category_of(parse_type("pkg.Node"), {"Node"}) == "user-defined"
    assert category_of(parse_type("Node | None"), {"Node"}) == "other"
    assert category_of(parse_type("Path"), {"Node"}) == "other"


def test_load_predictions() -> None:
    lines = [
        json.dumps({"file": "f.py", "line": 1, "col": 0, "scope": "f", "kind": "param",
                    "name": "a", "type": "int", "confidence": 0.93, "source": "model",
                    "alternatives": [["int", 0.93], ["str", 0.04]]}),
        "",
        json.dumps({"file": "f.py", "scope": "f", "kind": "return", "name": "",
                    "type": None, "confidence": None, "source": "static", "alternatives": []}),
        json.dumps({"diagnostic": "bad.py: error: syntax error"}),
    ]
    records = load_predictions(lines)
    assert records == [
        PredictionRecord(SiteKey("f.py", "f", "param", "a"), "int", 0.93, "model",
                         (("int", 0.93), ("str", 0.04))),
        PredictionRecord(SiteKey("f.py", "f", "return", ""), None, 0.0, "static", ()),
    ]
    assert records[0].top1 == "int"
    assert records[1].top1 is None


def test_outputs() -> None:
    report = score(TRUTH, PREDICTIONS, threshold=0.5, class_names={"Node"})
    data = report_to_dict(report)
    assert json.loads(json.dumps(data)) == data
    assert data["total"] == {
        "sites": 6, "predicted": 5, "top1_exact": 3, "top1_parametric": 5, "given": 3,
        "given_exact": 2, "given_parametric": 3, "top1_exact_rate": 0.5,
        "top1_parametric_rate": 5 / 6, "coverage": 0.5, "precision": 2 / 3,
        "precision_parametric": 1.0,
    }
    table = render_table(report, title="demo")
    lines = table.splitlines()
    assert lines[0] == "demo"
    assert lines[1].split() == ["sites", "top1", "top1~", "given", "coverage", "precision",
                                "precision~"]
    assert lines[2].split() == ["total", "6", "50.0%", "83.3%", "3", "50.0%", "66.7%",
                                "100.0%"]
    assert "ECE 0.250 over 3 given" in lines[-1]
