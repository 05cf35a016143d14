"""The local executor: outcomes, retries of tasks that raise or whose worker dies, reports of
tasks that fail every try; and the executor options."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from typeseer.executor import (
    ExecutorError,
    ExecutorSettings,
    LocalExecutor,
    Outcome,
    Task,
    add_executor_options,
    create_executor,
    executor_settings,
)


def square(value: int) -> int:
    return value * value


def fail_first(marker: str, value: int) -> int:
    """Raises on the first try (the marker file does not exist yet), then works."""
    path = Path(marker)
    if not path.exists():
        path.write_text("tried")
        raise OSError("shared storage hiccup")
    return value


def always_fail(value: int) -> int:
    raise ValueError(f"bad input {value}\nsecond line is the reason")


def die_first(marker: str, value: int) -> int:
    """Kills its own worker process on the first try (SIGKILL: no cleanup, no exception)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("killed")
        os.kill(os.getpid(), signal.SIGKILL)
    return value


def always_die(value: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return value


def by_key(outcomes: list[Outcome[int]]) -> dict[str, Outcome[int]]:
    found = {outcome.key: outcome for outcome in outcomes}
    assert len(found) == len(outcomes), "a task reported twice"
    return found


@pytest.mark.parametrize("workers", [1, 2])
def test_every_task_has_one_outcome(workers: int) -> None:
    tasks = [Task(f"t{i}", square, (i,)) for i in range(20)]
    with LocalExecutor(workers) as executor:
        outcomes = by_key(list(executor.run(tasks)))
    assert {k: o.value for k, o in outcomes.items()} == {f"t{i}": i * i for i in range(20)}
    assert all(o.ok and o.attempts == 1 for o in outcomes.values())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_task_that_raises_is_tried_again(tmp_path: Path, workers: int) -> None:
    tasks = [Task("flaky", fail_first, (str(tmp_path / "marker"), 7)),
             Task("fine", square, (3,))]
    outcomes = by_key(list(LocalExecutor(workers, max_attempts=3).run(tasks)))
    assert outcomes["flaky"].value == 7 and outcomes["flaky"].attempts == 2
    assert outcomes["fine"].value == 9


@pytest.mark.parametrize("workers", [1, 2])
def test_a_task_failing_every_try_is_reported_with_its_reason(workers: int) -> None:
    tasks = [Task("bad", always_fail, (1,)), Task("good", square, (2,))]
    outcomes = by_key(list(LocalExecutor(workers, max_attempts=2).run(tasks)))
    assert not outcomes["bad"].ok
    assert outcomes["bad"].attempts == 2
    assert outcomes["bad"].error == "ValueError: second line is the reason"
    assert outcomes["good"].value == 4


def test_a_killed_worker_is_replaced_and_its_task_run_again(tmp_path: Path) -> None:
    tasks = [Task(f"t{i}", square, (i,)) for i in range(8)]
    tasks.insert(3, Task("dies", die_first, (str(tmp_path / "marker"), 42)))
    outcomes = by_key(list(LocalExecutor(2, max_attempts=3).run(tasks)))
    assert outcomes["dies"].value == 42 and outcomes["dies"].attempts >= 2
    assert all(outcomes[f"t{i}"].value == i * i for i in range(8))


def test_a_task_that_always_kills_its_worker_fails_alone() -> None:
    tasks = [Task("killer", always_die, (0,)), *(Task(f"t{i}", square, (i,)) for i in range(6))]
    outcomes = by_key(list(LocalExecutor(2, max_attempts=2).run(tasks)))
    assert outcomes["killer"].error is not None
    assert "worker process died" in outcomes["killer"].error
    # The others were charged a try at most when they shared the broken pool, and finished.
    assert all(outcomes[f"t{i}"].value == i * i for i in range(6))


def test_create_executor_refuses_what_it_cannot_run() -> None:
    with pytest.raises(ExecutorError, match="unknown executor"):
        create_executor(ExecutorSettings(kind="spark"))
    with pytest.raises(ExecutorError, match="needs --executor ray"):
        create_executor(ExecutorSettings(kind="local", address="auto"))
    executor = create_executor(ExecutorSettings(kind="local", workers=3))
    assert executor.workers == 3 and executor.describe() == "local, 3 processes"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_executor_options(parser)
    return parser.parse_args(argv)


def test_executor_settings_from_options() -> None:
    assert executor_settings(parse(), 2) == ExecutorSettings("local", 2, None, 3, None)
    settings = executor_settings(parse("--ray-address", "auto", "--worker-memory", "2048",
                                       "--max-attempts", "5"), None)
    assert settings == ExecutorSettings("ray", None, "auto", 5, 2048)
    with pytest.raises(ExecutorError, match="--max-attempts"):
        executor_settings(parse("--max-attempts", "0"), 1)
    with pytest.raises(ExecutorError, match="--worker-memory"):
        executor_settings(parse("--worker-memory", "0"), 1)


def test_ray_is_imported_only_by_the_ray_executor() -> None:
    code = ("import sys, typeseer.cli, typeseer.api, typeseer.batch, typeseer.executor, "
            "typeseer.corpus.build, typeseer.evaluate; "
            "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert found.stdout.strip() == "[]"


def test_without_ray_the_message_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(ExecutorError, match=r"pip install 'typeseer\[ray\]'"):
        create_executor(ExecutorSettings(kind="ray"))
