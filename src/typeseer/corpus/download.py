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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from typeseer.corpus.lists import LockEntry
from typeseer.corpus.store import read_json, write_json

__all__ = [
    "PYTHON_VERSION",
    "DownloadResult",
    "Downloader",
    "PipRunner",
    "download_all",
    "wheel_version",
]

#: The interpreter version whose wheels are downloaded.
PYTHON_VERSION = "3.12"
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


class Downloader:
    """Downloads into ``cache_dir/wheels``, recording outcomes in ``cache_dir/downloads.json``."""

    def __init__(self, cache_dir: Path, runner: PipRunner = run_pip) -> None:
        self.cache_dir = cache_dir
        self.wheels_dir = cache_dir / "wheels"
        self.state_path = cache_dir / "downloads.json"
        self.runner = runner
        self._lock = threading.Lock()
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
        requirement = f"{name}=={pin.version}" if pin is not None else name
        partial = self.wheels_dir / ".partial" / name
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            status, output = self.runner(requirement, partial)
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
            wheel.replace(self.wheels_dir / wheel.name)
            return DownloadResult(name, True, requirement, version, wheel.name, sha)
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    def record(self, result: DownloadResult) -> None:
        with self._lock:
            self.state[result.name] = result
            self._save()


def download_all(names: Sequence[str], cache_dir: Path, *, pins: Mapping[str, LockEntry],
                 jobs: int = 4, retry_failed: bool = False, offline: bool = False,
                 runner: PipRunner = run_pip,
                 log: Callable[[str], None] = lambda _: None) -> dict[str, DownloadResult]:
    """Outcome of every name: from the record when it holds, else downloaded now (``jobs``
    at once). ``offline``: nothing is downloaded; packages not yet cached are failures."""
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
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(downloader.fetch, name, pins.get(name)): name for name in todo}
        for future in as_completed(futures):
            name = futures[future]
            try:
                result = future.result()
            except OSError as error:  # a full disk, a permission problem: record and go on
                result = DownloadResult(name, False, name, reason=f"{type(error).__name__}: "
                                                                  f"{error}")
            downloader.record(result)
            results[name] = result
            done += 1
            outcome = result.wheel if result.ok else f"FAILED ({result.reason})"
            log(f"download [{done}/{len(todo)}] {name}: {outcome}")
    return results
