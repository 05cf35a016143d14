"""typeseer itself, run the way a user runs it: the ``typeseer`` command of this repository's
virtual environment, in a subprocess, at the project root.

``typeseer infer . --all --no-existing --format jsonl`` prints a record for every site with its
forced top-1 type and confidence (as ``typeseer evaluate`` runs inference), so one run gives
both the forced top-1 figures over all sites and those at the default threshold: the scorer
counts a type as given when its confidence reaches the threshold. Its records are already
keyed as the scorer needs them (file paths relative to the root given, here the project root).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from .base import Project, ToolRun, measure

__all__ = ["ADAPTER", "TypeseerAdapter"]

#: The repository root (bench/peers/adapters/ is three levels below it).
REPOSITORY = Path(__file__).resolve().parents[3]


def _executable() -> Path:
    """The ``typeseer`` command of the repository's own environment (never a peer's venv)."""
    local = REPOSITORY / ".venv" / "bin" / "typeseer"
    if local.is_file():
        return local
    found = shutil.which("typeseer")
    if found is None:
        raise RuntimeError(f"no typeseer command: {local} is missing and none is on PATH")
    return Path(found)


def _commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=REPOSITORY,
                              capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _source_state() -> str:
    """The commit, and whether ``src`` differs from it: the code this run used (the
    repository's venv runs ``src`` in place, and it may change between runs)."""
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                               "src"], cwd=REPOSITORY, capture_output=True, text=True,
                              check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return f"commit {_commit()}"
    modified = ", src modified" if done.returncode == 0 and done.stdout.strip() else ""
    return f"commit {_commit()}{modified}"


def _records(stdout: str) -> tuple[list[dict[str, object]], int]:
    """The site records of jsonl output, and the number of lines that are not JSON objects."""
    records: list[dict[str, object]] = []
    bad = 0
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(data, dict) and "kind" in data:
            records.append(data)
    return records, bad


class TypeseerAdapter:
    """typeseer: static rules plus the learned model, forced top-1 with confidences."""

    name = "typeseer"
    rust = False

    def install(self, venvs: Path) -> str:
        """Nothing to install (the repository's venv has it); the version and commit."""
        done = subprocess.run([str(_executable()), "--version"], capture_output=True, text=True,
                              check=False, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"typeseer --version failed: {done.stderr.strip()[-500:]}")
        version = done.stdout.strip().removeprefix("typeseer ").strip()
        commit = _commit()
        return f"{version} ({commit})" if commit else version

    def run(self, project: Project, timeout: float) -> ToolRun:
        command = [str(_executable()), "infer", ".", "--all", "--no-existing",
                   "--format", "jsonl", "--quiet"]
        state = _source_state()
        measured = measure(command, project.root, timeout)
        records, bad = _records(measured.stdout)
        run = ToolRun(records, measured.seconds, measured.peak_mib, notes=[state])
        if bad:
            run.notes.append(f"{bad} output lines were not JSON")
        if measured.timed_out:
            run.error = f"timed out after {timeout:g} s"
        elif measured.returncode != 0:
            run.error = (f"exit code {measured.returncode}: "
                         f"{measured.stderr.strip()[-1000:] or 'no message'}")
        return run


#: The adapter the registry loads.
ADAPTER = TypeseerAdapter()
