"""Where batches of work run: processes on this machine (``local``, the default) or a Ray
cluster (``ray``, the extra ``typeseer[ray]``; nothing else imports Ray).

A task is a module-level function with picklable arguments and a stable key. Both executors
stream outcomes as tasks finish, in completion order; they run a task again when it raised or
its worker process died (``max_attempts`` tries in all), and report a task that failed every
try with the last reason, never drop it. Results are the tasks' own business: a task writes
its output atomically, and a caller resumes by leaving out the tasks whose output exists.
"""

from __future__ import annotations

import argparse
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

__all__ = [
    "EXECUTORS",
    "Executor",
    "ExecutorError",
    "ExecutorSettings",
    "LocalExecutor",
    "Outcome",
    "Task",
    "add_executor_options",
    "create_executor",
    "describe_error",
    "executor_settings",
]

R = TypeVar("R")
#: What a task returns (a task of a subtype is a task of its supertype).
R_co = TypeVar("R_co", covariant=True)

#: The executors ``--executor`` can name.
EXECUTORS = ("local", "ray")
#: Tasks handed to the workers ahead of those running, per worker: enough to keep them busy,
#: few enough that a long list of tasks is not all in flight (memory, and fair retries).
_AHEAD_PER_WORKER = 2


class ExecutorError(RuntimeError):
    """The executor cannot start (Ray is not installed, the cluster cannot be reached...)."""


@dataclass(frozen=True, slots=True)
class Task(Generic[R_co]):
    """``function(*args)``, named ``key`` in reports (unique within one run)."""

    key: str
    function: Callable[..., R_co]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    """A task's value, or why its last try failed (``error``) when every try did."""

    key: str
    value: R | None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ExecutorSettings:
    """Which executor, and how it runs tasks."""

    #: ``local`` or ``ray``.
    kind: str = "local"
    #: Local: worker processes (1 runs tasks in this process); 0 or None: one per CPU.
    #: Ray: CPUs of the local instance started when no ``address`` is given (None: all).
    workers: int | None = None
    #: Ray: the cluster to join (``auto``, ``ray://HOST:10001``, ``HOST:6379``); None starts a
    #: local instance for this run.
    address: str | None = None
    #: Tries per task, the first included.
    max_attempts: int = 3
    #: Ray: memory (MiB) each task reserves, so that the scheduler does not place more tasks
    #: on a node than its memory holds; None: no reservation.
    worker_memory_mb: int | None = None


class Executor:
    """Runs tasks; a context manager that releases its workers on exit."""

    #: Tasks that can run at once.
    workers: int = 1
    #: Tries per task, the first included.
    max_attempts: int = 1
    #: Whether tasks may run on other machines (then it is worth sending them work that is
    #: not CPU-bound, such as downloads).
    distributed: bool = False

    def run(self, tasks: Iterable[Task[R]]) -> Iterator[Outcome[R]]:
        raise NotImplementedError

    def _again(self, task: Task[R], tries: int, reason: str,
               waiting: deque[tuple[Task[R], int]]) -> Outcome[R] | None:
        """After ``tries`` failed tries: queue the task for another, or its failure when it
        has had them all (the one retry rule of every executor)."""
        if tries >= self.max_attempts:
            return Outcome(task.key, None, reason, tries)
        waiting.append((task, tries))
        return None

    def describe(self) -> str:
        """A few words for logs: which executor, how many workers."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers (idempotent)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def describe_error(error: BaseException) -> str:
    """One line: the exception's type and the last line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1]}" if text else type(error).__name__


class LocalExecutor(Executor):
    """Worker processes of this machine; with one worker, tasks run in this process."""

    def __init__(self, workers: int | None = None, max_attempts: int = 3) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.max_attempts = max(1, max_attempts)

    def describe(self) -> str:
        if self.workers == 1:
            return "local, in this process"
        return f"local, {self.workers} processes"

    def run(self, tasks: Iterable[Task[R]]) -> Iterator[Outcome[R]]:
        if self.workers == 1:
            yield from self._run_inline(tasks)
        else:
            yield from self._run_pool(tasks)

    def _run_inline(self, tasks: Iterable[Task[R]]) -> Iterator[Outcome[R]]:
        for task in tasks:
            error = ""
            for attempt in range(1, self.max_attempts + 1):
                try:
                    value = task.function(*task.args)
                except Exception as raised:
                    error = describe_error(raised)
                    continue
                yield Outcome(task.key, value, attempts=attempt)
                break
            else:
                yield Outcome(task.key, None, error, self.max_attempts)

    def _run_pool(self, tasks: Iterable[Task[R]]) -> Iterator[Outcome[R]]:
        """A pool whose worker dies is broken for good: it is replaced, and the tasks it held
        run again (each counted as a try: which one killed the worker is unknown)."""
        waiting: deque[tuple[Task[R], int]] = deque((task, 0) for task in tasks)
        running: dict[Future[R], tuple[Task[R], int]] = {}
        pool: ProcessPoolExecutor | None = None
        try:
            while waiting or running:
                if pool is None:
                    pool = ProcessPoolExecutor(self.workers)
                while waiting and len(running) < self.workers * _AHEAD_PER_WORKER:
                    task, tries = waiting.popleft()
                    running[pool.submit(task.function, *task.args)] = (task, tries)
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    task, tries = running.pop(future)
                    try:
                        value = future.result()
                    except BrokenProcessPool:
                        broken = True
                        outcome = self._again(task, tries + 1, "a worker process died "
                                              "(killed, or out of memory?)", waiting)
                    except Exception as raised:
                        outcome = self._again(task, tries + 1, describe_error(raised),
                                              waiting)
                    else:
                        outcome = Outcome(task.key, value, attempts=tries + 1)
                    if outcome is not None:
                        yield outcome
                if broken:
                    for task, tries in running.values():
                        outcome = self._again(task, tries + 1, "a worker process died "
                                              "(killed, or out of memory?)", waiting)
                        if outcome is not None:
                            yield outcome
                    running.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = None
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)



def create_executor(settings: ExecutorSettings) -> Executor:
    """The executor ``settings`` names. Raises ExecutorError when it cannot start."""
    if settings.kind == "local":
        if settings.address is not None:
            raise ExecutorError("--ray-address needs --executor ray")
        return LocalExecutor(settings.workers, settings.max_attempts)
    if settings.kind == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(settings)
    raise ExecutorError(f"unknown executor {settings.kind!r}; known: {', '.join(EXECUTORS)}")


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--ray-address``, ``--max-attempts``, ``--worker-memory`` (read back by
    ``executor_settings``; the worker count is the command's own ``--jobs``)."""
    group = parser.add_argument_group("executor")
    group.add_argument("--executor", choices=EXECUTORS, default=None,
                       help="where the work runs: local processes (default) or a Ray cluster "
                            "(pip install 'typeseer[ray]')")
    group.add_argument("--ray-address", metavar="ADDR", default=None,
                       help="the Ray cluster to join (auto, HOST:6379, ray://HOST:10001); "
                            "default: a local Ray instance for this run")
    group.add_argument("--max-attempts", type=int, metavar="N", default=3,
                       help="tries per task, the first included (default 3)")
    group.add_argument("--worker-memory", type=int, metavar="MIB", default=None,
                       help="Ray: memory each task reserves on its node (MiB)")


def executor_settings(args: argparse.Namespace, workers: int | None) -> ExecutorSettings:
    """The settings the options of ``add_executor_options`` give; ExecutorError when they
    contradict each other."""
    kind = args.executor or ("ray" if args.ray_address else "local")
    if args.max_attempts < 1:
        raise ExecutorError("--max-attempts must be at least 1")
    if args.worker_memory is not None and args.worker_memory < 1:
        raise ExecutorError("--worker-memory must be a positive number of MiB")
    return ExecutorSettings(kind, workers, args.ray_address, args.max_attempts,
                            args.worker_memory)
