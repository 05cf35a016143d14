"""Batch evaluation (``evaluate --out``): one task per project on an executor, results stored
per project and merged into the report ``merge_results`` of per-project evaluations gives;
resumed runs, failed projects and the command line."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run

from typeseer.config import Config
from typeseer.evaluate import (
    EvaluationResult,
    NothingToEvaluate,
    evaluate,
    merge_results,
    result_to_dict,
)
from typeseer.evaluate_batch import (
    EvaluateBatchError,
    EvaluateBatchSummary,
    evaluate_batch,
    read_evaluation_table,
)
from typeseer.executor import ExecutorSettings, LocalExecutor, create_executor

FIXTURES = Path(__file__).parent / "fixtures" / "evaluate_batch"
#: Two annotated projects (a package with a file that cannot be stripped, and two modules)
#: and one without a single annotation.
NAMES = ("inventory", "textkit", "legacy")
CONFIG = Config()
#: Not the default threshold, and a type set, so that both reach the re-scoring.
THRESHOLD = 0.5
TYPE_SETS = {"top-100": frozenset({"str", "int", "bool", "None"})}
#: ``speed`` fields that are wall times, or rates of them.
TIMED = {"infer_seconds", "ast_parse_seconds", "ground_truth_seconds", "strip_seconds",
         "total_seconds", "sites_per_second", "lines_per_second", "ratio_to_ast_parse"}


def untimed(result: EvaluationResult | None) -> dict[str, Any]:
    """``result_to_dict`` without the wall times."""
    assert result is not None
    data: dict[str, Any] = result_to_dict(result)
    data["speed"] = {k: v for k, v in data["speed"].items() if k not in TIMED}
    return data


def batch(paths: Sequence[Path], out: Path, workers: int = 1,
          ) -> tuple[EvaluationResult | None, EvaluateBatchSummary]:
    with LocalExecutor(workers, max_attempts=1) as executor:
        return evaluate_batch(paths, out, executor, CONFIG, threshold=THRESHOLD,
                              type_sets=TYPE_SETS, log=lambda message: None)


@pytest.fixture(scope="module")
def projects() -> list[Path]:
    return [FIXTURES / name for name in NAMES]


@pytest.fixture(scope="module")
def reference(projects: list[Path]) -> dict[str, Any]:
    """What evaluating each project on its own and merging gives."""
    results = []
    for path in projects:
        try:
            results.append(evaluate([path], CONFIG, threshold=THRESHOLD, type_sets=TYPE_SETS))
        except NothingToEvaluate:
            continue
    assert len(results) == 2
    return untimed(merge_results(results))


@pytest.fixture(scope="module")
def inline_run(projects: list[Path], tmp_path_factory: pytest.TempPathFactory,
               ) -> tuple[Path, EvaluationResult | None, EvaluateBatchSummary]:
    out = tmp_path_factory.mktemp("inline") / "out"
    result, summary = batch(projects, out)
    return out, result, summary


@pytest.fixture
def copied(tmp_path: Path) -> list[Path]:
    """The fixture projects copied, to be touched."""
    shutil.copytree(FIXTURES, tmp_path / "projects")
    return [tmp_path / "projects" / name for name in NAMES]


def test_report_is_the_merge_of_each_project_evaluated_alone(
        inline_run: tuple[Path, EvaluationResult | None, EvaluateBatchSummary],
        reference: dict[str, Any]) -> None:
    out, result, summary = inline_run
    assert untimed(result) == reference
    assert reference["ground_truth"]["scored"] == 52
    assert reference["report"]["by_category"]["top-100"]["sites"] > 0
    assert (summary.projects, summary.projects_run, summary.projects_scored) == (3, 3, 2)
    assert [item["project"] for item in summary.nothing_to_evaluate] == ["legacy"]
    assert summary.failures == [] and summary.scored_sites == 52
    assert json.loads((out / "summary.json").read_text())["projects_run"] == 3


def test_each_project_stores_its_truth_predictions_and_record(
        inline_run: tuple[Path, EvaluationResult | None, EvaluateBatchSummary]) -> None:
    out, _, _ = inline_run
    truth = read_evaluation_table(out, "truth")
    assert truth.num_rows == 52
    assert set(truth.column("project").to_pylist()) == {"inventory", "textkit"}
    rows = truth.to_pylist()
    assert {"project": "inventory", "file": "inventory/stock.py", "scope": "Stock.find",
            "kind": "return", "name": "", "type": "Item | None",
            "annotation": "Optional[Item]"} in rows
    predictions = read_evaluation_table(out, "predictions").to_pylist()
    found = next(p for p in predictions if p["file"] == "wrap.py"
                 and p["scope"] == "is_blank" and p["kind"] == "return")
    assert found["type"] == "bool" and found["confidence"] > 0.5
    assert len(found["alternatives"]) == len(found["alternative_confidences"])

    [inventory] = (out / "projects" / "inventory").iterdir()
    record = json.loads(inventory.read_text())
    assert record["status"] == "evaluated"
    assert record["strip_failures"][0][0] == "inventory/unfinished.py"
    assert [file for file, _ in record["truth"]["failed"]] == ["inventory/unfinished.py"]
    assert {"Item", "Stock"} <= set(record["truth"]["class_names"])
    [legacy] = (out / "projects" / "legacy").iterdir()
    assert json.loads(legacy.read_text())["status"] == "nothing to evaluate"
    assert read_evaluation_table(out, "predictions").num_rows == len(predictions)
    with pytest.raises(EvaluateBatchError, match="unknown table"):
        read_evaluation_table(out, "files")


def test_two_processes_give_the_report_of_one(
        projects: list[Path], tmp_path: Path,
        inline_run: tuple[Path, EvaluationResult | None, EvaluateBatchSummary]) -> None:
    result, summary = batch(projects, tmp_path / "out", workers=2)
    assert untimed(result) == untimed(inline_run[1])
    assert summary.executor == "local, 2 processes" and summary.projects_run == 3


def test_ray_gives_the_report_of_local(
        projects: list[Path], tmp_path: Path,
        inline_run: tuple[Path, EvaluationResult | None, EvaluateBatchSummary]) -> None:
    pytest.importorskip("ray")
    with create_executor(ExecutorSettings(kind="ray", workers=2, max_attempts=1)) as executor:
        result, summary = evaluate_batch(projects, tmp_path / "out", executor, CONFIG,
                                         threshold=THRESHOLD, type_sets=TYPE_SETS,
                                         log=lambda message: None)
    # Exactly: the model runs on one BLAS thread in the CLI and in a one-CPU Ray task alike.
    assert untimed(result) == untimed(inline_run[1])
    assert summary.projects_run == 3 and summary.failures == []
    assert summary.executor.startswith("ray")


def test_a_second_run_evaluates_nothing_and_a_touched_project_alone_again(
        copied: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, _ = batch(copied, out)
    again, summary = batch(copied, out)
    assert (summary.projects_run, summary.projects_resumed) == (0, 3)
    assert untimed(again) == untimed(first)

    stale = {path.name for path in (out / "truth" / "textkit").iterdir()}
    touched = copied[1] / "wrap.py"
    info = touched.stat()
    os.utime(touched, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    third, summary = batch(copied, out)
    assert (summary.projects_run, summary.projects_resumed) == (1, 2)
    assert untimed(third) == untimed(first)
    for folder in ("truth", "predictions", "projects"):
        [kept] = (out / folder / "textkit").iterdir()
        assert kept.name not in stale


def test_a_project_whose_stored_results_are_lost_is_reported_and_evaluated_again(
        copied: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, _ = batch(copied, out)
    [part] = (out / "predictions" / "inventory").iterdir()
    part.write_bytes(b"not parquet")
    _, summary = batch(copied, out)  # the record says done: the part is read, and fails
    assert [f["project"] for f in summary.failures] == ["inventory"]
    again, summary = batch(copied, out)
    assert summary.projects_run == 1 and summary.failures == []
    assert untimed(again) == untimed(first)


def test_a_project_failing_every_try_is_listed_and_exits_1(
        copied: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    real_evaluate = evaluate
    tries: list[str] = []

    def flaky(paths: Sequence[str | Path], config: Config, **options: Any) -> EvaluationResult:
        if Path(paths[0]).name == "textkit":
            tries.append("textkit")
            raise RuntimeError("disk vanished\nno space left for the copy")
        return real_evaluate(paths, config, **options)

    monkeypatch.setattr("typeseer.evaluate_batch.evaluate", flaky)
    listing = tmp_path / "projects.txt"
    listing.write_text(f"# the rest\n{copied[1]}\n\n{copied[2]}\n")
    code, stdout, stderr = run("evaluate", str(copied[0]), "--projects-from", str(listing),
                               "--out", "out", "--jobs", "1", "--max-attempts", "2",
                               "-f", "json")
    assert code == 1 and len(tries) == 2
    assert "project textkit" in stderr and "failed after 2 tries" in stderr
    assert "RuntimeError: no space left for the copy" in stderr
    assert "Traceback" not in stderr
    only_inventory = merge_results([evaluate([copied[0]], CONFIG)])
    assert json.loads(stdout)["report"] == result_to_dict(only_inventory)["report"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [(f["project"], f["attempts"]) for f in summary["failures"]] == [("textkit", 2)]

    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run("evaluate", *map(str, copied), "--out", "out", "--jobs", "1",
                               "--output", "report.txt")
    assert code == 0 and stdout == ""
    assert "1 to evaluate" in stderr and "2 done before" in stderr
    assert (tmp_path / "report.txt").read_text().startswith("5 files, 52 annotated sites")


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--out", "out", "missing-project"], 2, "no such file or directory: missing-project"),
    (["--out", "out"], 2, "no project given"),
    (["--out", "out", "--projects-from", "nowhere.txt"], 2, "cannot read --projects-from"),
    (["PROJECT", "--projects-from", "list.txt"], 2, "--projects-from needs --out"),
    (["PROJECT", "--executor", "ray"], 2, "--executor needs --out"),
    ([], 2, "required: PATH"),
    (["--out", "out", "PROJECT", "--max-attempts", "0"], 2, "--max-attempts must be at least"),
    (["--out", "out", "PROJECT", "--jobs", "-1"], 2, "--jobs must not be negative"),
    (["--out", "out", "PROJECT", "PROJECT"], 2, "is given twice"),
    (["--out", "out", "LEGACY"], 2, "no annotated site to score in any project"),
])
def test_usage_errors_are_one_line_and_exit_2(
        argv: list[str], code: int, message: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    places = {"PROJECT": str(FIXTURES / "textkit"), "LEGACY": str(FIXTURES / "legacy")}
    found, stdout, stderr = run("evaluate", *(places.get(arg, arg) for arg in argv))
    assert (found, stdout) == (code, "")
    assert message in stderr and "Traceback" not in stderr


def test_ray_missing_is_one_line_and_exits_1(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    code, stdout, stderr = run("evaluate", str(FIXTURES / "textkit"), "--out", "out",
                               "--executor", "ray")
    assert (code, stdout) == (1, "")
    assert stderr == "typeseer evaluate: --executor ray needs Ray: pip install 'typeseer[ray]'\n"


def test_without_out_evaluate_is_one_evaluation_of_every_path(projects: list[Path]) -> None:
    code, stdout, _ = run("evaluate", *map(str, projects[:2]), "-f", "json", "--jobs", "2")
    assert code == 0
    whole = evaluate(projects[:2], CONFIG)
    assert json.loads(stdout)["report"] == result_to_dict(whole)["report"]
