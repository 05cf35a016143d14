"""The Ray executor (``--executor ray``, extra ``typeseer[ray]``): the one module that imports
Ray, and only when it is chosen.

Tasks are Ray tasks of one CPU each (and ``worker_memory_mb`` of reserved memory). Tries are
counted here, not by Ray (``max_retries=0``): a task that raised, whose worker died or whose
node was lost is submitted again, so both executors retry and report the same way. Every
node must have the same typeseer installed and see the paths the tasks are given (a shared
file system); outputs can also go to an object store URI (see ``typeseer.batch``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .executor import Executor, ExecutorError, ExecutorSettings, Outcome, Task, describe_error

__all__ = ["RayExecutor"]

R = TypeVar("R")

#: Tasks in flight per CPU of the cluster (the rest wait in this process).
_AHEAD_PER_CPU = 2
#: Seconds between looks at the cluster's size (it may grow or shrink while the run goes on).
_RESIZE_EVERY_S = 10.0


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs Ray: pip install 'typeseer[ray]'") from None
    return ray


@contextmanager
def _working_directory(path: str) -> Iterator[None]:
    """Run the block in ``path`` (the process's working directory: briefly, for every
    thread), then go back."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _remote_call(function: Any, args: tuple[Any, ...]) -> Any:
    """What a Ray worker runs: the task's function (one remote function for every task, so
    Ray registers it once)."""
    return function(*args)


class RayExecutor(Executor):
    """Tasks on a Ray cluster: the one at ``settings.address``, or a local instance started
    for this run (and stopped by ``close``)."""

    distributed = True

    def __init__(self, settings: ExecutorSettings) -> None:
        ray = _ray()
        self._ray = ray
        self.settings = settings
        self.max_attempts = max(1, settings.max_attempts)
        self._started_here = False
        #: Ray puts the driver's working directory on its workers' ``sys.path``: a project
        #: there (a ``json.py``, a ``numpy.py``) would be imported, and run, by the workers.
        #: Ray is started from an empty directory of typeseer's own instead.
        self._empty: str | None = None
        if not ray.is_initialized():
            options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
            if settings.address:
                options["address"] = settings.address
            else:
                options.update(num_cpus=settings.workers or None, include_dashboard=False)
            self._empty = tempfile.mkdtemp(prefix="typeseer-ray-")
            try:
                with _working_directory(self._empty):
                    ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
                shutil.rmtree(self._empty, ignore_errors=True)
                where = settings.address or "a local instance"
                raise ExecutorError(f"cannot start Ray ({where}): {error}") from None
            self._started_here = True
        self.workers = self._cpus()
        options = {"num_cpus": 1, "max_retries": 0}
        if settings.worker_memory_mb:
            options["memory"] = settings.worker_memory_mb * 1024 * 1024
        self._remote = ray.remote(**options)(_remote_call)

    def _cpus(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def describe(self) -> str:
        where = self.settings.address or "local instance"
        return f"ray ({where}), {self.workers} CPUs"

    def run(self, tasks: Iterable[Task[R]]) -> Iterator[Outcome[R]]:
        ray = self._ray
        waiting: deque[tuple[Task[R], int]] = deque((task, 0) for task in tasks)
        running: dict[Any, tuple[Task[R], int]] = {}
        resized = time.monotonic()
        try:
            while waiting or running:
                if time.monotonic() - resized > _RESIZE_EVERY_S:
                    self.workers, resized = self._cpus(), time.monotonic()
                while waiting and len(running) < self.workers * _AHEAD_PER_CPU:
                    task, tries = waiting.popleft()
                    running[self._remote.remote(task.function, task.args)] = (task, tries)
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    task, tries = running.pop(ref)
                    try:
                        value = ray.get(ref)
                    except ray.exceptions.RayError as error:
                        failed = self._again(task, tries + 1, _reason(error), waiting)
                        if failed is not None:
                            yield failed
                    else:
                        yield Outcome(task.key, value, attempts=tries + 1)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
        self._started_here = False
        if self._empty is not None:
            shutil.rmtree(self._empty, ignore_errors=True)
            self._empty = None


def _reason(error: BaseException) -> str:
    """The task's own exception for a task that raised; Ray's reason otherwise (worker died,
    node lost, out of memory)."""
    cause = getattr(error, "cause", None)
    return describe_error(cause if isinstance(cause, BaseException) else error)
