"""The Ray executor on a local Ray instance started by the tests (no network): retries and
reports like the local executor, and batch inference gives exactly the local output, also
when a worker is killed in the middle of a batch."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from typeseer import api, batch
from typeseer.batch import infer_batch, read_batch_table
from typeseer.executor import Executor, ExecutorSettings, LocalExecutor, Outcome, Task

ray = pytest.importorskip("ray")

from typeseer.ray_executor import RayExecutor  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "batch"


HOSTILE = ("json", "numpy", "typeseer", "pyarrow")


@pytest.fixture(scope="module")
def started_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the Ray instance is started: a folder of modules named like those the workers
    import, each leaving a mark when imported (Ray puts the driver's working directory on
    its workers' ``sys.path``)."""
    folder = tmp_path_factory.mktemp("hostile")
    for name in HOSTILE:
        (folder / f"{name}.py").write_text(
            f"open({str(folder / ('IMPORTED-' + name))!r}, 'w').close()\n")
    return folder


@pytest.fixture(scope="module")
def executor(started_in: Path) -> Iterator[RayExecutor]:
    # Ray workers cannot import this test module: its functions travel by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    previous = os.getcwd()
    os.chdir(started_in)
    try:
        started = RayExecutor(ExecutorSettings("ray", workers=2, max_attempts=3))
    finally:
        os.chdir(previous)
    try:
        yield started
    finally:
        started.close()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def double(value: int) -> int:
    return 2 * value


def broken(value: int) -> int:
    raise KeyError(f"no entry {value}")


def die_first(marker: str, value: int) -> int:
    path = Path(marker)
    if not path.exists():
        path.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return value


def test_tasks_retries_and_failures(executor: RayExecutor, tmp_path: Path) -> None:
    assert executor.workers == 2 and "local instance" in executor.describe()
    tasks = [Task(f"t{i}", double, (i,)) for i in range(10)]
    tasks += [Task("broken", broken, (7,)), Task("dies", die_first, (str(tmp_path / "m"), 5))]
    outcomes = {o.key: o for o in executor.run(tasks)}
    assert len(outcomes) == 12
    assert all(outcomes[f"t{i}"].value == 2 * i for i in range(10))
    assert outcomes["broken"].attempts == 3
    assert outcomes["broken"].error == "KeyError: 'no entry 7'"
    assert outcomes["dies"].value == 5 and outcomes["dies"].attempts == 2


def killed_midway(marker: str, spec: Any) -> Any:
    """A batch whose worker process is killed (SIGKILL) on its first try, after the first
    file of the batch was analysed and before anything is written."""
    if not Path(marker).exists():
        Path(marker).write_text("killed")
        run = api._Worker.run
        analysed: list[int] = []

        def run_then_die(self: Any, index: int) -> Any:
            if analysed:
                os.kill(os.getpid(), signal.SIGKILL)
            analysed.append(index)
            return run(self, index)

        api._Worker.run = run_then_die  # type: ignore[method-assign]
    return batch.run_batch_task(spec)


class KillingOne(Executor):
    """Runs on ``inner``, killing the worker of one batch of ``project`` midway."""

    def __init__(self, inner: Executor, project: str, marker: Path) -> None:
        self.inner, self.project, self.marker = inner, project, marker

    def describe(self) -> str:
        return self.inner.describe()

    def run(self, tasks: Iterable[Task[Any]]) -> Iterator[Outcome[Any]]:
        wrapped = [replace(t, function=killed_midway, args=(str(self.marker), *t.args))
                   if t.key == f"{self.project}#0" else t for t in tasks]
        return self.inner.run(wrapped)


def test_batch_inference_on_ray_is_exactly_the_local_output(executor: RayExecutor,
                                                            tmp_path: Path) -> None:
    projects = []
    for name in ("shop", "geometry", "scripts"):
        shutil.copytree(FIXTURES / name, tmp_path / "in" / name)
        projects.append(tmp_path / "in" / name)
    infer_batch(projects, tmp_path / "local", LocalExecutor(2), batch_files=2,
                log=lambda _: None)
    summary = infer_batch(projects, tmp_path / "ray", executor, batch_files=2,
                          log=lambda _: None)
    assert summary.failures == [] and summary.batches_run == 6
    marker = tmp_path / "killed"
    killed = infer_batch(projects, tmp_path / "ray-killed",
                         KillingOne(executor, "shop", marker), batch_files=2,
                         log=lambda _: None)
    assert marker.exists(), "no worker was killed"
    assert killed.failures == [] and killed.retries == 1 and killed.batches_run == 6
    for table in batch.TABLES:
        local = read_batch_table(tmp_path / "local", table)
        assert local.num_rows > 0
        assert read_batch_table(tmp_path / "ray", table).equals(local)
        assert read_batch_table(tmp_path / "ray-killed", table).equals(local)


def worker_path() -> list[str]:
    return list(sys.path)


def test_the_driver_folder_is_not_on_the_workers_path(executor: RayExecutor,
                                                      started_in: Path) -> None:
    [outcome] = list(executor.run([Task("path", worker_path)]))
    assert outcome.value is not None and str(started_in) not in outcome.value
    assert list(started_in.glob("IMPORTED-*")) == []


def test_a_relative_output_folder_is_the_driver_s(executor: RayExecutor, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "scripts"
    shutil.copytree(FIXTURES / "scripts", project)
    monkeypatch.chdir(tmp_path)
    summary = infer_batch([project], "results", executor, log=lambda _: None)
    assert summary.failures == []
    assert read_batch_table(tmp_path / "results").num_rows > 0
