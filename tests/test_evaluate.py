"""``typeseer evaluate``: the DESIGN.md protocol (strip, infer, score) on a small project."""

from __future__ import annotations

import json
import tempfile
import textwrap
from pathlib import Path

import pytest
from cli_runner import run

from typeseer.config import Config
from typeseer.evaluate import (
    EvaluationError,
    EvaluationResult,
    NothingToEvaluate,
    evaluate,
    merge_reports,
    merge_results,
    read_top_types,
    render_result,
    result_to_dict,
    top_type_sets,
)
from typeseer.scoring import PredictionRecord, expected_calibration_error
from typeseer.sites import SiteKey, SiteKind

MODULE = """\
from typing import Any, Optional


class Box:
    def __init__(self, size: int) -> None:
        self.size: int = size


def f() -> None:
    print(1)


def g(x: int) -> int:
    return x


def h() -> str:
    return "a"


def make() -> Box:
    return Box(1)


def maybe(flag: bool = False) -> Optional[str]:
    return None


count: int = 0
anything: Any = 1
declared: str
untyped = 3
"""


#: The static engine alone: the counts below are those of its rules, whatever model ships.
STATIC = Config(use_model=False)




@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MODULE)
    return root


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> EvaluationResult:
    root = tmp_path_factory.mktemp("evaluated") / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MODULE)
    return evaluate([root], STATIC)


def record(result: EvaluationResult, scope: str, kind: str, name: str = "") -> PredictionRecord:
    key = SiteKey("pkg/mod.py", scope, kind, name)
    found = [p for p in result.predictions if p.key == key]
    assert len(found) == 1, key
    return found[0]


# -- the API ----------------------------------------------------------------------------------

def test_ground_truth_counts(result: EvaluationResult) -> None:
    truth = result.truth
    assert truth.files == 2
    # Box.__init__: return, size, self.size; f, g (x, return), h, make, maybe (flag, return),
    # count: 11 scored sites; `anything: Any` and the bare `declared: str` are not scored.
    assert result.report.total.sites == 11
    assert truth.any == 1
    assert truth.declarations == 1
    assert truth.unannotated == 1  # `untyped = 3`
    assert {k: c.sites for k, c in result.report.by_kind.items()} == {
        "param": 3, "return": 6, "variable": 1, "attribute": 1}


def test_none_return_is_predicted(result: EvaluationResult) -> None:
    f = record(result, "f", "return")
    assert f.type == "None"
    assert f.source == "static"


def test_unknown_parameter_is_missed(result: EvaluationResult) -> None:
    x = record(result, "g", "param", "x")
    assert x.top1 is None
    assert record(result, "g", "return").top1 is None  # `return x`: nothing known about x


def test_scores(result: EvaluationResult) -> None:
    report = result.report
    assert report.threshold == STATIC.threshold
    assert report.by_kind["return"].top1_exact == 4  # __init__, f, h, make
    assert report.by_kind["param"].top1_exact == 1  # flag=False
    assert report.by_kind["param"].sites == 3
    assert report.by_kind["variable"].top1_exact == 1  # count = 0
    assert report.by_kind["attribute"].top1_exact == 0
    assert report.total.top1_exact == 6
    # the two `-> None` returns left out
    assert report.total_without_none_returns.sites == 9
    assert report.by_kind_without_none_returns["return"].top1_exact == 2  # h, make
    assert report.by_category["user-defined"].sites == 1  # -> Box
    assert report.by_category["user-defined"].top1_exact == 1
    assert report.by_category["basic"].sites == 9
    assert report.by_category["other"].sites == 1  # str | None
    # nothing given is wrong on this project, and only sure facts pass the threshold
    assert report.total.given_exact == report.total.given
    assert 0 < report.total.given < report.total.top1_exact


def test_forced_top1_calibration(result: EvaluationResult) -> None:
    truth = {site.key: str(site.type) for site in result.truth.sites}
    pairs = [(p.confidence, p.top1 == truth[p.key]) for p in result.predictions
             if p.key in truth and p.top1 is not None]
    # every scored site but g's x and return, Box.__init__'s size and self.size
    assert len(pairs) == 7
    calibration = result.calibration_top1
    assert calibration.count == 7
    assert calibration.ece == pytest.approx(expected_calibration_error(pairs).ece)
    assert "forced top-1: ECE" in render_result(result)


def test_the_stripped_copy_gives_nothing_away(result: EvaluationResult) -> None:
    assert {p.source for p in result.predictions} == {"static"}
    assert result.stripped_files == 2
    assert result.strip_failures == []


def test_speed_figures(result: EvaluationResult) -> None:
    timings = result.timings
    assert timings.files == 2
    assert timings.lines == MODULE.count("\n") - 1  # the bare declaration is stripped
    assert timings.sites == len(result.predictions) == 13  # 11 scored + anything + untyped
    assert timings.infer_seconds > 0 and timings.parse_seconds > 0
    assert timings.sites_per_second is not None and timings.sites_per_second > 0
    assert timings.ratio_to_parse is not None and timings.ratio_to_parse > 0
    assert timings.total_seconds >= timings.infer_seconds


def test_threshold(project: Path) -> None:
    everything = evaluate([project], STATIC, threshold=0.0).report.total
    nothing_sure = evaluate([project], STATIC, threshold=1.0).report.total
    assert everything.given_exact == everything.top1_exact  # every top-1 type is given
    assert everything.given >= 6
    assert nothing_sure.given <= everything.given
    permissive = Config(min_confidence=0.0, use_model=False)
    assert evaluate([project], permissive).report.total.given == everything.given
    with pytest.raises(EvaluationError):
        evaluate([project], STATIC, threshold=1.5)


def test_type_sets(project: Path) -> None:
    sets = top_type_sets(["None", "int", "str", "Box"], sizes=(2, 3))
    report = evaluate([project], STATIC, type_sets=sets).report
    assert report.by_category["top-2"].sites == 7  # None x2, int x5
    assert report.by_category["top-3"].sites == 8  # + str (h; `str | None` is not str)
    assert "top-2" in render_result(evaluate([project], STATIC, type_sets=sets))


def test_kinds_from_the_config(project: Path) -> None:
    params_only = Config(kinds=frozenset({SiteKind.PARAM}), use_model=False)
    report = evaluate([project], params_only).report
    assert report.total.sites == 3
    assert report.unmatched_predictions == 0


def test_exclude_from_the_config(project: Path) -> None:
    (project / "pkg" / "other.py").write_text("def k() -> int:\n    return 1\n")
    assert evaluate([project], STATIC).report.total.sites == 12
    excluding = Config(exclude=("other.py",), use_model=False)
    assert evaluate([project], excluding).report.total.sites == 11


def test_single_file_and_several_paths(project: Path, tmp_path: Path) -> None:
    single = evaluate([project / "pkg" / "mod.py"], STATIC)
    assert single.report.total.sites == 11
    assert all(p.key.file == "mod.py" for p in single.predictions)
    other = tmp_path / "other"
    other.mkdir()
    (other / "util.py").write_text("def k() -> int:\n    return 1\n")
    both = evaluate([project, other], STATIC)
    assert both.report.total.sites == 12
    assert both.report.total.top1_exact == 7


def test_stripping_in_processes(project: Path) -> None:
    for number in range(20):
        (project / "pkg" / f"m{number}.py").write_text(
            f"def k{number}(x: int = {number}) -> str:\n    return str(x)\n")
    (project / "pkg" / "broken.py").write_text("def k(x: int) -> int\n    return 1\n")
    alone = evaluate([project], STATIC, strip_jobs=1)
    pooled = evaluate([project], STATIC, strip_jobs=2)
    assert pooled.stripped_files == alone.stripped_files == 22
    assert pooled.strip_failures == alone.strip_failures
    assert [p.key for p in pooled.predictions] == [p.key for p in alone.predictions]
    assert pooled.report == alone.report
    assert pooled.report.total.sites == 11 + 40


def test_unstrippable_file_left_out(project: Path) -> None:
    (project / "pkg" / "broken.py").write_text("def k(x: int) -> int\n    return 1\n")
    result = evaluate([project], STATIC)
    assert result.report.total.sites == 11
    assert [file for file, _ in result.strip_failures] == ["pkg/broken.py"]


def test_encoding_kept(tmp_path: Path) -> None:
    source = "# -*- coding: latin-1 -*-\ndef k(s: str = 'é') -> str:\n    return 'é'\n"
    (tmp_path / "latin.py").write_bytes(source.encode("latin-1"))
    result = evaluate([tmp_path], STATIC)
    assert result.report.total.sites == 2
    assert result.report.by_kind["return"].top1_exact == 1
    assert result.diagnostics == []


def test_temporary_copy_removed(project: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    evaluate([project], STATIC)
    assert list(temp.iterdir()) == []


def test_nothing_to_evaluate(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("def k(x):\n    return x\n")
    with pytest.raises(NothingToEvaluate, match="no annotated site"):
        evaluate([tmp_path], STATIC)
    with pytest.raises(EvaluationError, match="no such file"):
        evaluate([tmp_path / "missing"], STATIC)


def test_read_top_types(tmp_path: Path) -> None:
    ranking = tmp_path / "types.txt"
    ranking.write_text("# most common first\nNone\t120\nOptional[int]\n\nList[str]\nint | None\n"
                       "typing.Dict[str, int]\nnot a type(\n")
    assert read_top_types(ranking) == ["None", "int | None", "list[str]", "dict[str, int]",
                                       "not a type("]
    sets = top_type_sets(read_top_types(ranking))
    assert sorted(sets) == ["top-100", "top-500"]
    assert "list[str]" in sets["top-100"]


def test_merge(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "util.py").write_text("def k() -> int:\n    return 1\n\n"
                                   "def j(flag: bool = True) -> bool:\n    return flag\n")
    first = evaluate([project], STATIC, threshold=0.5)
    second = evaluate([other], STATIC, threshold=0.5)
    merged = merge_results([first, second])
    report = merged.report
    assert report == merge_reports([first.report, second.report])
    assert report.total.sites == first.report.total.sites + second.report.total.sites
    assert report.total.top1_exact == (first.report.total.top1_exact
                                       + second.report.total.top1_exact)
    assert report.by_kind["param"].sites == 4
    assert report.by_category["user-defined"].sites == 1
    assert merged.timings.sites == first.timings.sites + second.timings.sites
    assert merged.calibration_top1.count == (first.calibration_top1.count
                                             + second.calibration_top1.count)
    pairs = [(p.confidence, p.type is not None and p.type == t)
             for result in (first, second) for p in result.predictions
             if p.type is not None and p.confidence >= 0.5
             for t in [_truth_type(result, p.key)] if t is not None]
    expected = expected_calibration_error(pairs)
    assert report.calibration.count == expected.count
    assert report.calibration.ece == pytest.approx(expected.ece)
    with pytest.raises(ValueError):
        merge_reports([])


def _truth_type(result: EvaluationResult, key: SiteKey) -> str | None:
    for site in result.truth.sites:
        if site.key == key:
            return str(site.type)
    return None


def test_result_to_dict_is_json(result: EvaluationResult) -> None:
    data = json.loads(json.dumps(result_to_dict(result)))
    assert data["ground_truth"]["scored"] == 11
    assert data["speed"]["sites"] == 13
    assert data["report"]["total"]["sites"] == 11
    assert data["calibration_top1"]["count"] == 7


# -- the command line -------------------------------------------------------------------------

def test_cli_table(project: Path) -> None:
    code, out, err = run("evaluate", str(project), "--no-model")
    assert code == 0, err
    assert "11 annotated sites scored" in out
    for row in ("total", "  param", "  return", "total w/o -> None", "category basic",
                "category user-defined", "ECE", "speed:", "sites/s", "lines/s", "ast.parse"):
        assert row in out


def test_cli_json_and_output_file(project: Path, tmp_path: Path) -> None:
    code, out, _ = run("evaluate", str(project), "--format", "json", "--min-confidence", "0.5",
                       "--no-model")
    assert code == 0
    data = json.loads(out)
    assert data["threshold"] == 0.5
    assert data["report"]["by_kind"]["return"]["top1_exact"] == 4
    target = tmp_path / "report.json"
    code, out, _ = run("evaluate", str(project), "-f", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["ground_truth"]["scored"] == 11


def test_cli_no_model(project: Path) -> None:
    code, out, _ = run("evaluate", str(project), "--no-model", "-f", "json")
    assert code == 0
    sources = json.loads(out)["report"]["by_source"]
    assert set(sources) == {"static"}


def test_cli_top_types(project: Path, tmp_path: Path) -> None:
    ranking = tmp_path / "types.txt"
    ranking.write_text("None\nint\nstr\n")
    code, out, _ = run("evaluate", str(project), "--top-types", str(ranking))
    assert code == 0
    assert "category top-100" in out and "category top-500" in out
    code, _, err = run("evaluate", str(project), "--top-types", str(tmp_path / "missing.txt"))
    assert code == 2
    assert "--top-types" in err


def test_cli_usage_errors(project: Path, tmp_path: Path) -> None:
    assert run("evaluate")[0] == 2
    code, _, err = run("evaluate", str(tmp_path / "missing"))
    assert code == 2 and "no such file" in err
    assert run("evaluate", str(project), "--min-confidence", "1.5")[0] == 2
    assert run("evaluate", str(project), "--format", "jsonl")[0] == 2


def test_cli_nothing_to_evaluate(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text(textwrap.dedent("""\
        def k(x):
            return x
        """))
    code, out, err = run("evaluate", str(tmp_path))
    assert code == 2
    assert out == ""
    assert "no annotated site to score" in err


def test_cli_corpus_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("corpus")[0] == 2
    code, _, _ = run("corpus", "build", "--help")
    assert code == 0
    assert "--out" in capsys.readouterr().out  # argparse's help goes to sys.stdout
    code, _, err = run("corpus", "build")
    assert code == 2
    assert "--out" in err
