"""The contract between the peer benchmark's runner and its adapters.

An adapter installs one tool in its own virtual environment (so that pins do not clash),
runs it on its own copy of a stripped project (several tools edit files in place) with a time
limit, and turns what the tool says into records of typeseer's DESIGN.md JSONL contract:
``{"file", "line", "col", "scope", "kind", "name", "type", "confidence"}`` keyed by
``(file, scope, kind, name)`` exactly as typeseer's site extractor keys the stripped copy.
A tool that fails gives a ToolRun with ``error`` set and whatever it produced: failures are
recorded, never hidden.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

__all__ = ["Adapter", "Measured", "Project", "ToolRun", "make_venv", "measure"]


@dataclass(frozen=True)
class Project:
    """A stripped project, as handed to an adapter."""

    #: Name and pinned version, e.g. ``"aiostream==0.8.1"``.
    spec: str
    #: The adapter's own copy of the stripped tree; the tool runs with this as its cwd.
    root: Path
    #: Package directories (or top-level modules) under ``root`` to analyse, relative POSIX.
    packages: tuple[str, ...]
    #: Every ``.py`` file to analyse, relative POSIX paths under ``root``: the ``file`` keys.
    files: tuple[str, ...]


@dataclass
class ToolRun:
    """What one tool produced on one project."""

    #: DESIGN.md JSONL records (``type`` None where the tool gives nothing).
    records: list[dict[str, object]] = field(default_factory=list)
    #: Wall-clock seconds of the tool itself (installation excluded).
    seconds: float = 0.0
    #: Peak resident memory of the tool's processes, in MiB (None when not measurable).
    peak_mib: float | None = None
    #: Why the tool failed or stopped early (timeout, crash, unparsable output), or None.
    error: str | None = None
    #: Notes that qualify the figures (e.g. "3 files skipped: syntax not supported").
    notes: list[str] = field(default_factory=list)


class Adapter(Protocol):
    """One tool."""

    #: Short name used in tables and on the command line.
    name: str
    #: Written in Rust (compiled, native speed): the speed target treats these apart.
    rust: bool

    def install(self, venvs: Path) -> str:
        """Install the tool (idempotent; under ``venvs/<name>``); return its version string.
        Raise RuntimeError with the reason when it cannot be installed."""
        ...

    def run(self, project: Project, timeout: float) -> ToolRun:
        """Run the tool on ``project`` (its own copy) and read its types back."""
        ...


@dataclass
class Measured:
    """A finished subprocess with its time and peak memory."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float | None
    timed_out: bool


def measure(command: Sequence[str], cwd: Path, timeout: float,
            env: Mapping[str, str] | None = None, stdin: str | None = None) -> Measured:
    """Run ``command``; wall time, and peak RSS of the process tree (the largest of the
    process and its waited-for descendants, from ``wait4``/``RUSAGE_CHILDREN``)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})},
                               stdin=subprocess.PIPE if stdin is not None else None,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    timed_out = False
    try:
        stdout, stderr = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, 9)
        stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    return Measured(None if timed_out else process.returncode, stdout, stderr, seconds,
                    _children_peak_mib(), timed_out)


def _children_peak_mib() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    # ru_maxrss of RUSAGE_CHILDREN is the largest of all waited-for children so far: callers
    # that need a per-run figure run each tool in a fresh subprocess (the runner does).
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / (1024 * 1024)


def make_venv(directory: Path, requirements: Sequence[str]) -> Path:
    """Create (once) a virtual environment with ``requirements``; return its ``bin`` folder.

    A marker file records the requirements, so a changed pin rebuilds the environment.
    """
    marker = directory / ".typeseer-requirements"
    wanted = "\n".join(requirements)
    bin_dir = directory / "bin"
    if marker.is_file() and marker.read_text() == wanted:
        return bin_dir
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(directory)], check=True)
    done = subprocess.run([str(bin_dir / "pip"), "install", "-q", *requirements],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(requirements)} failed: "
                           f"{(done.stderr or done.stdout).strip()[-500:]}")
    marker.write_text(wanted)
    return bin_dir
