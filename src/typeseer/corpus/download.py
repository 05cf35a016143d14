"""Downloading the corpus wheels with pip (no dependencies, binary only, cached, resumable).

Each package is fetched by ``pip download --no-deps --only-binary=:all: --python-version 3.12``
into a private temporary folder and then moved into ``CACHE/wheels``, so the wheel a package
got is known exactly. The outcome of every package (the wheel, its version and sha256, or the
reason it failed) is recorded in ``CACHE/downloads.json``; a later run skips what is recorded
there (failures too, unless asked to retry them). A pin from the lock file turns the request
into ``NAME==VERSION``, so a rebuild downloads the same wheels.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from typeseer.corpus.lists import LockEntry
from typeseer.corpus.store import read_json, write_json
from typeseer.executor import Executor, Task

__all__ = [
    "PYTHON_VERSION",
    "DownloadResult",
    "Downloader",
    "PipRunner",
    "download_all",
    "fetch_wheel",
    "wheel_version",
]

#: The interpreter version whose wheels are downloaded.
PYTHON_VERSION = "3.12"
#: Seconds between rewrites of the record of outcomes while downloading.
_SAVE_EVERY_S = 5.0
#: Seconds one ``pip download`` may take.
PIP_TIMEOUT = 600

#: Runs pip for one requirement into a folder: returns (exit status, output text).
PipRunner = Callable[[str, Path], tuple[int, str]]


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What happened to one package."""

    name: str
    ok: bool
    #: The requirement given to pip (``name`` or ``name==version``).
    requirement: str
    version: str | None = None
    #: File name of the wheel under ``CACHE/wheels``.
    wheel: str | None = None
    sha256: str | None = None
    #: Why it failed: one line.
    reason: str | None = None

    def lock_entry(self) -> LockEntry | None:
        if not self.ok or self.version is None or self.wheel is None or self.sha256 is None:
            return None
        return LockEntry(self.name, self.version, self.wheel, self.sha256)

    @staticmethod
    def from_json(value: Mapping[str, Any]) -> DownloadResult:
        return DownloadResult(
            name=str(value["name"]), ok=bool(value["ok"]), requirement=str(value["requirement"]),
            version=value.get("version"), wheel=value.get("wheel"), sha256=value.get("sha256"),
            reason=value.get("reason"))


def wheel_version(filename: str) -> str:
    """The version field of a wheel file name (``name-1.2.3-py3-none-any.whl`` -> ``1.2.3``)."""
    parts = filename[:-4].split("-") if filename.endswith(".whl") else []
    if len(parts) < 5:
        raise ValueError(f"not a wheel file name: {filename!r}")
    return parts[1]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_pip(requirement: str, dest: Path) -> tuple[int, str]:
    """The real runner: the current interpreter's pip."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", PYTHON_VERSION, "--disable-pip-version-check", "--no-input",
               "--quiet", "-d", str(dest), requirement]
    try:
        completed = subprocess.run(command, capture_output=True, text=True,
                                   timeout=PIP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return 1, f"pip download timed out after {PIP_TIMEOUT} s"
    return completed.returncode, completed.stdout + completed.stderr


def _reason(output: str) -> str:
    """One line of pip's output that says why it failed."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:"):
            return line[len("ERROR:"):].strip()[:300]
    return (lines[-1] if lines else "pip failed without output")[:300]


def fetch_wheel(wheels_dir: Path, name: str, pin: LockEntry | None,
                runner: PipRunner = run_pip) -> DownloadResult:
    """Download one package into ``wheels_dir`` now (no cache look-up, no record): what
    a download task runs, in this process or on a worker that sees ``wheels_dir``."""
    requirement = f"{name}=={pin.version}" if pin is not None else name
    partial = wheels_dir / ".partial" / name
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        status, output = runner(requirement, partial)
        wheels = sorted(partial.glob("*.whl"))
        if status != 0 or not wheels:
            reason = _reason(output) if status != 0 else "pip saved no wheel"
            return DownloadResult(name, False, requirement, reason=reason)
        wheel = wheels[0]
        sha = file_sha256(wheel)
        if pin is not None and pin.sha256 and pin.sha256 != sha:
            return DownloadResult(name, False, requirement,
                                  reason=f"sha256 {sha} differs from the lock's {pin.sha256}")
        try:
            version = wheel_version(wheel.name)
        except ValueError as error:
            return DownloadResult(name, False, requirement, reason=str(error))
        wheel.replace(wheels_dir / wheel.name)
        return DownloadResult(name, True, requirement, version, wheel.name, sha)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


class Downloader:
    """Downloads into ``cache_dir/wheels``, recording outcomes in ``cache_dir/downloads.json``."""

    def __init__(self, cache_dir: Path, runner: PipRunner = run_pip) -> None:
        self.cache_dir = cache_dir
        self.wheels_dir = cache_dir / "wheels"
        self.state_path = cache_dir / "downloads.json"
        self.runner = runner
        self._lock = threading.Lock()
        self._saved = time.monotonic()
        raw = read_json(self.state_path)
        self.state: dict[str, DownloadResult] = {}
        if isinstance(raw, dict):
            for name, value in raw.items():
                try:
                    self.state[name] = DownloadResult.from_json(value)
                except (KeyError, TypeError):
                    continue

    def _save(self) -> None:
        write_json(self.state_path, {n: asdict(r) for n, r in sorted(self.state.items())})
        self._saved = time.monotonic()

    def cached(self, name: str, pin: LockEntry | None, retry_failed: bool) -> DownloadResult | None:
        """The recorded outcome, when it still holds (same pin, wheel still on disk)."""
        result = self.state.get(name)
        if result is None:
            return None
        if pin is not None and (result.version != pin.version if result.ok
                                else result.requirement != f"{name}=={pin.version}"):
            return None
        if not result.ok:
            return None if retry_failed else result
        if result.wheel is None or not (self.wheels_dir / result.wheel).is_file():
            return None
        return result

    def fetch(self, name: str, pin: LockEntry | None) -> DownloadResult:
        """Download one package now (no cache look-up)."""
        return fetch_wheel(self.wheels_dir, name, pin, self.runner)

    def record(self, result: DownloadResult) -> None:
        """Keep an outcome; the record file is rewritten at most every few seconds (it
        grows with the package list), and by ``flush``."""
        with self._lock:
            self.state[result.name] = result
            if time.monotonic() - self._saved > _SAVE_EVERY_S:
                self._save()

    def flush(self) -> None:
        with self._lock:
            self._save()


def download_all(names: Sequence[str], cache_dir: Path, *, pins: Mapping[str, LockEntry],
                 jobs: int = 4, retry_failed: bool = False, offline: bool = False,
                 runner: PipRunner = run_pip,
                 log: Callable[[str], None] = lambda _: None,
                 executor: Executor | None = None) -> dict[str, DownloadResult]:
    """Outcome of every name: from the record when it holds, else downloaded now (``jobs``
    at once, or as tasks on ``executor``). ``offline``: nothing is downloaded; packages not
    yet cached are failures."""
    downloader = Downloader(cache_dir, runner)
    downloader.wheels_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, DownloadResult] = {}
    todo: list[str] = []
    for name in names:
        cached = downloader.cached(name, pins.get(name), retry_failed)
        if cached is not None:
            results[name] = cached
        elif offline:
            results[name] = DownloadResult(name, False, name, reason="not cached (offline run)")
        else:
            todo.append(name)
    log(f"download: {len(results)} of {len(names)} packages already recorded, "
        f"{len(todo)} to fetch")
    if not todo:
        return results
    try:
        for done, result in enumerate(_fetch_all(downloader, todo, pins, jobs, executor), 1):
            downloader.record(result)
            results[result.name] = result
            outcome = result.wheel if result.ok else f"FAILED ({result.reason})"
            log(f"download [{done}/{len(todo)}] {result.name}: {outcome}")
    finally:
        downloader.flush()  # what was downloaded stays recorded, even when interrupted
    return results


def _fetch_all(downloader: Downloader, names: Sequence[str], pins: Mapping[str, LockEntry],
               jobs: int, executor: Executor | None) -> Iterator[DownloadResult]:
    """Download ``names``, yielding each outcome as it comes: ``jobs`` threads here, or tasks
    on ``executor`` (whose workers must see the cache)."""
    if executor is not None:
        tasks = [Task(name, fetch_wheel, (downloader.wheels_dir, name, pins.get(name),
                                          downloader.runner)) for name in names]
        for outcome in executor.run(tasks):
            yield outcome.value if outcome.value is not None else DownloadResult(
                outcome.key, False, outcome.key, reason=outcome.error)
        return
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(downloader.fetch, name, pins.get(name)): name for name in names}
        for future in as_completed(futures):
            name = futures[future]
            try:
                yield future.result()
            except OSError as error:  # a full disk, a permission problem: record and go on
                yield DownloadResult(name, False, name,
                                     reason=f"{type(error).__name__}: {error}")
