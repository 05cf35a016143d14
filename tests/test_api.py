"""`infer` keeps going when one file is pathological: the per-file time limit, and a bug met in
one file."""

from __future__ import annotations

import io
import multiprocessing
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from typeseer import api
from typeseer import project as project_module
from typeseer.api import InferResult, WorkerFailure, infer
from typeseer.cli import main
from typeseer.config import Config, ConfigError, load_config
from typeseer.sites import ModuleSites
from typeseer.sources import Severity

#: Tests that patch what worker processes run need the workers forked from the test.
forked_workers = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                                    reason="workers are not forked")
STATIC = Config(use_model=False, report_all=True, file_timeout=0.5)

FILES = {
    "pkg/__init__.py": "",
    "pkg/slow.py": "def helper(a=1):\n    return a\n",
    "pkg/user.py": "from pkg.slow import helper\n\n\ndef count(n=0):\n    return helper(n)\n",
    "pkg/other.py": "def name(first=''):\n    return first.upper()\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for relative, text in FILES.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


class Stall:
    """Makes extracting ``slow.py`` take a minute (a pathological file) while ``active``;
    ``attempts`` counts the stalled extractions."""

    def __init__(self) -> None:
        self.active = True
        self.attempts = 0
        self.extract = project_module.extract_sites

    def __call__(self, path: str, *args: object, **kwargs: object) -> ModuleSites:
        if self.active and path.endswith("slow.py"):
            self.attempts += 1
            time.sleep(60)
        return self.extract(path, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def stall(monkeypatch: pytest.MonkeyPatch) -> Stall:
    stalling = Stall()
    monkeypatch.setattr(project_module, "extract_sites", stalling)
    return stalling


def problems(result: InferResult) -> list[tuple[str, str]]:
    return [(d.file, d.message) for d in result.diagnostics if d.severity is not Severity.INFO]


def by_file(result: InferResult) -> dict[str, set[tuple[str, str | None]]]:
    found: dict[str, set[tuple[str, str | None]]] = {}
    for prediction in result.predictions:
        found.setdefault(prediction.file, set()).add((prediction.name, prediction.type))
    return found


def test_a_file_over_the_time_limit_is_reported_and_the_rest_analysed(
        project: Path, stall: Stall) -> None:
    started = time.monotonic()
    result = infer([project], STATIC)
    assert time.monotonic() - started < 20
    skipped = [d for d in result.diagnostics if d.severity is Severity.SKIPPED]
    assert [d.file for d in skipped] == ["pkg/slow.py"]
    assert "per-file time limit (0.5 s, option file-timeout)" in skipped[0].message
    found = by_file(result)
    assert "pkg/slow.py" not in found
    assert ("first", "str") in found["pkg/other.py"]
    # The module that imports the stalled one is analysed without it, and without stalling
    # again: the stalled file is not loaded a second time.
    assert ("n", "int") in found["pkg/user.py"]
    assert stall.attempts == 1


@forked_workers
def test_the_limit_applies_in_worker_processes(project: Path, stall: Stall) -> None:
    for index in range(140):  # enough files for two workers
        (project / "pkg" / f"extra{index}.py").write_text(f"def f{index}(a=1):\n    return a\n")
    result = infer([project], replace(STATIC, jobs=2))
    skipped = [d.file for d in result.diagnostics if d.severity is Severity.SKIPPED]
    assert skipped == ["pkg/slow.py"]
    assert len(by_file(result)) == 142  # all but slow.py


def test_no_limit_when_zero(project: Path) -> None:
    result = infer([project], replace(STATIC, file_timeout=0))
    assert not problems(result) and len(by_file(result)) == 3


def test_a_timed_out_file_is_not_cached(project: Path, stall: Stall, tmp_path: Path) -> None:
    store = tmp_path / "cache" / "cache.sqlite"
    first = infer([project], STATIC, cache=store)
    assert [file for file, _ in problems(first)] == ["pkg/slow.py"]
    stall.active = False  # e.g. the machine was busy the first time
    second = infer([project], STATIC, cache=store)
    assert second.analysed_paths == ["pkg/slow.py"]
    assert not problems(second) and ("a", "int") in by_file(second)["pkg/slow.py"]


def test_a_bug_met_in_one_file_is_reported_and_the_rest_analysed(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extract = project_module.extract_sites

    def broken(path: str, *args: object, **kwargs: object) -> ModuleSites:
        if path.endswith("other.py"):
            raise KeyError("boom")
        return extract(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(project_module, "extract_sites", broken)
    result = infer([project], STATIC)
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    assert [d.file for d in errors] == ["pkg/other.py"]
    assert "internal error (KeyError: 'boom')" in errors[0].message
    assert "please report it" in errors[0].message
    assert set(by_file(result)) == {"pkg/slow.py", "pkg/user.py"}


def test_the_cli_reports_the_file_and_exits_0(project: Path, stall: Stall) -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["infer", str(project), "--no-model", "--no-cache", "--file-timeout", "0.5"],
                stdout, stderr)
    assert code == 0
    assert "slow.py" in stderr.getvalue() and "per-file time limit" in stderr.getvalue()
    assert '"file": "pkg/other.py"' in stdout.getvalue()


@pytest.mark.parametrize("value", ["-1", '"soon"', "nan", "inf"])
def test_a_bad_time_limit_is_refused(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.typeseer]\nfile-timeout = {value}\n")
    with pytest.raises(ConfigError, match="file-timeout"):
        load_config(tmp_path)


def test_the_time_limit_is_read_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.typeseer]\nfile-timeout = 5\n")
    assert load_config(tmp_path).file_timeout == 5.0


@forked_workers
def test_a_worker_that_dies_ends_the_run_with_a_clear_message(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed (by the out-of-memory killer, say) cannot be recovered from: the CLI
    says so and exits 1, without a traceback."""
    for index in range(140):
        (project / "pkg" / f"extra{index}.py").write_text(f"def f{index}(a=1):\n    return a\n")
    run = api._Worker.run

    def dying(worker: api._Worker, index: int) -> object:
        if index == 0:
            os._exit(9)  # the workers are forked: they run this patched method
        return run(worker, index)

    monkeypatch.setattr(api._Worker, "run", dying)
    with pytest.raises(WorkerFailure, match="a worker process died"):
        infer([project], replace(STATIC, jobs=2))
    stdout, stderr = io.StringIO(), io.StringIO()
    code = main(["infer", str(project), "--no-model", "--no-cache", "--jobs", "2"],
                stdout, stderr)
    assert code == 1 and "Traceback" not in stderr.getvalue()
    assert stderr.getvalue().startswith("typeseer: a worker process died")


@pytest.mark.parametrize("use_model", [False, True], ids=["static", "model"])
def test_dropping_loaded_modules_past_the_budget_changes_no_result(
        project: Path, monkeypatch: pytest.MonkeyPatch, use_model: bool) -> None:
    """Memory is bounded by dropping loaded modules (here after every file, and between the
    batches the call-site index is gathered in): they are loaded again on demand, with the
    same results."""
    config = replace(STATIC, use_model=use_model)
    (project / "pkg" / "more.py").write_text(
        "from pkg.user import count\nfrom pkg.other import name\n\n\n"
        "def both(n=0):\n    return count(n), name()\n")
    everything = infer([project], config)
    forgotten: list[int] = []
    forget = api._Worker._forget

    def counted(worker: api._Worker) -> None:
        forgotten.append(1)
        forget(worker)

    monkeypatch.setattr(api._Worker, "_forget", counted)
    bounded = infer([project], replace(config, loaded_lines=0))
    assert len(forgotten) >= 3
    assert bounded.predictions == everything.predictions
    assert ("", "tuple[int, str]") in by_file(bounded)["pkg/more.py"]
