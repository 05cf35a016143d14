"""Batch inference (``infer --out``): the same predictions as ``infer`` on each project
whichever way its files are spread, resume after a crash, failures reported, the CLI."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from typeseer import batch
from typeseer.api import infer
from typeseer.batch import BatchError, infer_batch, read_batch_table
from typeseer.cli import main
from typeseer.config import Config
from typeseer.executor import Executor, LocalExecutor, Outcome, Task

FIXTURES = Path(__file__).parent / "fixtures" / "batch"
PROJECTS = ("shop", "geometry", "scripts")


@pytest.fixture
def projects(tmp_path: Path) -> list[Path]:
    """A copy of the three fixture projects (tests touch their files)."""
    copies = []
    for name in PROJECTS:
        shutil.copytree(FIXTURES / name, tmp_path / "in" / name)
        copies.append(tmp_path / "in" / name)
    return copies


def as_contract(row: dict[str, Any]) -> dict[str, Any]:
    """A predictions row as the JSONL contract record ``infer`` gives."""
    record = {k: v for k, v in row.items()
              if k not in ("project", "alternatives", "alternative_confidences")}
    record["alternatives"] = [[t, c] for t, c in zip(row["alternatives"],
                                                     row["alternative_confidences"],
                                                     strict=True)]
    return record


def rows(out: Path, table: str = "predictions") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = read_batch_table(out, table).to_pylist()
    return found


def test_each_project_gets_what_infer_gives_it(projects: list[Path], tmp_path: Path) -> None:
    # One file a batch on two processes: every file is analysed away from the rest of its
    # project, and must still see it (imported classes, call sites of its functions).
    config = Config(report_all=True, cache=False)
    with LocalExecutor(2) as executor:
        summary = infer_batch(projects, tmp_path / "out", executor, config, batch_files=1,
                              log=lambda _: None)
    assert summary.failures == [] and summary.batches_run == summary.batches == 11
    assert summary.projects == 3 and summary.files == summary.files_analysed == 11
    found = rows(tmp_path / "out")
    for project in projects:
        expected = [p.to_json() for p in infer([project], config).predictions]
        assert [as_contract(r) for r in found if r["project"] == project.name] == expected
    # Facts from other files did reach files analysed alone: what make_item (items.py) and
    # first_cart (cart.py) return.
    facts = {(r["file"], r["scope"], r["name"]): (r["type"], r["evidence"]) for r in found}
    for site, expected_type in [(("shop/cart.py", "Cart.add_named", "item"), "Item"),
                                (("shop/report.py", "main", "cart"), "Cart")]:
        assert facts[site][0] == expected_type
        assert "project_constructor" in facts[site][1]


def test_every_file_has_a_status(projects: list[Path], tmp_path: Path) -> None:
    infer_batch(projects, tmp_path / "out", LocalExecutor(1), log=lambda _: None)
    status = {(r["project"], r["file"]): (r["status"], r["message"])
              for r in rows(tmp_path / "out", "files")}
    assert len(status) == 11
    assert status[("shop", "shop/broken.py")][0] == "error"
    assert status[("geometry", "geometry/empty.py")] == ("info", "empty file, nothing to infer")
    assert status[("scripts", "retry.py")] == ("ok", "")


def test_same_output_inline_and_on_processes(projects: list[Path], tmp_path: Path) -> None:
    infer_batch(projects, tmp_path / "one", LocalExecutor(1), batch_files=200,
                log=lambda _: None)
    infer_batch(projects, tmp_path / "two", LocalExecutor(2), batch_files=2,
                log=lambda _: None)
    for table in batch.TABLES:
        one = sorted(rows(tmp_path / "one", table), key=repr)
        two = sorted(({**r, "batch": 0} if table == "files" else r
                      for r in rows(tmp_path / "two", table)), key=repr)
        assert one == two


class CrashAfter(Executor):
    """Runs tasks inline, and 'crashes' the run (KeyboardInterrupt) when task ``count + 1``
    has finished, before the run hears of it."""

    def __init__(self, count: int) -> None:
        self.count = count

    def describe(self) -> str:
        return "crashing"

    def run(self, tasks: Iterable[Task[Any]]) -> Iterator[Outcome[Any]]:
        for done, outcome in enumerate(LocalExecutor(1).run(tasks)):
            if done == self.count:
                raise KeyboardInterrupt
            yield outcome


def test_a_run_again_after_a_crash_does_only_what_is_missing(projects: list[Path],
                                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        infer_batch(projects, out, CrashAfter(4), batch_files=2, log=lambda _: None)
    summary = infer_batch(projects, out, LocalExecutor(1), batch_files=2, log=lambda _: None)
    assert summary.batches == 6
    assert (summary.batches_resumed, summary.batches_run) == (5, 1)
    infer_batch(projects, tmp_path / "clean", LocalExecutor(1), batch_files=2,
                log=lambda _: None)
    for table in batch.TABLES:
        assert rows(out, table) == rows(tmp_path / "clean", table)
    again = infer_batch(projects, out, LocalExecutor(1), batch_files=2, log=lambda _: None)
    assert (again.batches_resumed, again.batches_run) == (6, 0)


def test_a_batch_killed_between_its_two_parts_is_run_again(projects: list[Path],
                                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    infer_batch(projects, out, LocalExecutor(1), batch_files=2, log=lambda _: None)
    before = rows(out)
    files_part = next(p for p in (out / "files" / "shop").iterdir() if "00001" in p.name)
    files_part.unlink()  # the predictions part was written, the marker was not
    summary = infer_batch(projects, out, LocalExecutor(1), batch_files=2, log=lambda _: None)
    assert (summary.batches_resumed, summary.batches_run) == (5, 1)
    assert rows(out) == before


def test_a_changed_project_is_run_again_and_its_old_parts_removed(projects: list[Path],
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "out"
    infer_batch(projects, out, LocalExecutor(1), log=lambda _: None)
    retry = projects[2] / "retry.py"
    retry.write_text(retry.read_text() + "\n\ndef again(n):\n    return n + 1\n")
    os.utime(retry, ns=(1, 1))
    summary = infer_batch(projects, out, LocalExecutor(1), log=lambda _: None)
    assert (summary.batches_resumed, summary.batches_run) == (2, 1)
    assert len(list((out / "predictions" / "scripts").iterdir())) == 1
    assert ("retry.py", "again") in {(r["file"], r["scope"]) for r in rows(out)}


def fail_always(*args: object) -> object:
    raise OSError("storage unreachable")


class Failing(Executor):
    """Every task of project ``project`` fails every try."""

    def __init__(self, project: str) -> None:
        self.project = project

    def describe(self) -> str:
        return "failing"

    def run(self, tasks: Iterable[Task[Any]]) -> Iterator[Outcome[Any]]:
        broken = [replace(t, function=fail_always) if t.key.startswith(self.project + "#")
                  else t for t in tasks]
        yield from LocalExecutor(1, max_attempts=2).run(broken)


def test_a_failed_batch_is_reported_with_its_files_and_tried_next_time(
        projects: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = infer_batch(projects, out, Failing("geometry"), log=lambda _: None)
    assert len(summary.failures) == 1
    failure = summary.failures[0]
    assert failure["project"] == "geometry" and failure["attempts"] == 2
    assert failure["error"] == "OSError: storage unreachable"
    assert sorted(failure["files"]) == ["geometry/__init__.py", "geometry/empty.py",
                                        "geometry/plots.py", "geometry/shapes.py"]
    assert json.loads((out / "summary.json").read_text())["failures"] == summary.failures
    summary = infer_batch(projects, out, LocalExecutor(1), log=lambda _: None)
    assert (summary.batches_resumed, summary.batches_run, summary.failures) == (2, 1, [])


def test_projects_sharing_a_name_get_their_own_folders(tmp_path: Path) -> None:
    for owner in ("a", "b"):
        shutil.copytree(FIXTURES / "scripts", tmp_path / owner / "scripts")
    infer_batch([tmp_path / "a" / "scripts", tmp_path / "b" / "scripts"], tmp_path / "out",
                LocalExecutor(1), log=lambda _: None)
    folders = sorted(p.name for p in (tmp_path / "out" / "predictions").iterdir())
    assert len(folders) == 2 and all(f.startswith("scripts-") for f in folders)


def test_bad_input_is_refused(projects: list[Path], tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="no such file"):
        infer_batch([tmp_path / "nowhere"], tmp_path / "out", LocalExecutor(1))
    with pytest.raises(BatchError, match="given twice"):
        infer_batch([projects[0], projects[0]], tmp_path / "out", LocalExecutor(1))
    with pytest.raises(BatchError, match="at least 1"):
        infer_batch(projects, tmp_path / "out", LocalExecutor(1), batch_files=0)
    with pytest.raises(BatchError, match="unknown table"):
        read_batch_table(tmp_path / "out", "sites")


def run_cli(*argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout, stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def test_cli_batch_mode(projects: list[Path], tmp_path: Path) -> None:
    listing = tmp_path / "projects.txt"
    listing.write_text(f"# the rest\n{projects[1]}\n\n{projects[2]}\n")
    code, out, err = run_cli("infer", str(projects[0]), "--projects-from", str(listing),
                             "--out", str(tmp_path / "out"), "--jobs", "1", "--no-model")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["projects"] == 3 and summary["batches_run"] == 3
    assert "3 projects, 11 files, 3 batches" in err
    assert {r["project"] for r in rows(tmp_path / "out")} == set(PROJECTS)
    assert all(r["source"] != "model" for r in rows(tmp_path / "out"))


@pytest.mark.parametrize(("argv", "message"), [
    (["--out", "OUT", "--format", "json"], "--format does not apply to batch mode"),
    (["--executor", "ray"], "--executor needs --out"),
    (["--projects-from", "list.txt"], "--projects-from needs --out"),
    (["--out", "OUT", "--projects-from", "missing.txt"], "cannot read --projects-from"),
    (["--out", "OUT", "--max-attempts", "0"], "--max-attempts must be at least 1"),
])
def test_cli_usage_errors(projects: list[Path], tmp_path: Path, argv: list[str],
                          message: str) -> None:
    argv = [str(tmp_path / a) if a in ("OUT", "list.txt", "missing.txt") else a for a in argv]
    code, _, err = run_cli("infer", str(projects[0]), *argv)
    assert message in err and "Traceback" not in err
    assert code in (1, 2)


def test_cli_missing_project(tmp_path: Path) -> None:
    code, _, err = run_cli("infer", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert code == 2 and "no such file or directory" in err


def test_cli_output_that_cannot_be_written(projects: list[Path], tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("not a folder")
    code, _, err = run_cli("infer", str(projects[2]), "--out", str(taken), "--no-model")
    assert code == 1 and f"cannot write under {taken}" in err and "Traceback" not in err
    assert taken.read_text() == "not a folder"


def test_cli_unknown_storage_scheme(projects: list[Path]) -> None:
    code, _, err = run_cli("infer", str(projects[2]), "--out", "nosuchfs://bucket/run")
    assert code == 2 and "nosuchfs://bucket/run" in err and "Traceback" not in err
