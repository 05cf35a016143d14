"""autotyping: a LibCST codemod that adds the annotations its rules allow, read back here.

``autotyping --aggressive`` applies every rule that needs no argument: ``-> None`` for
functions that return nothing, scalar returns (``return 0``), parameter types from scalar
defaults (``x=0``, ``flag=False``), magic methods (``__str__ -> str``, ``__iter__ ->
Iterator``) and guesses from common parameter names. It rewrites the files in place.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import Project, ToolRun, make_venv, measure
from .readback import distribution_version, read_back, stripped_snapshot, target_paths

__all__ = ["ADAPTER", "Autotyping"]

#: The pinned release (PyPI).
REQUIREMENT = "autotyping==24.9.0"
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"

_FAILED = re.compile(r"Failed to codemod (\d+) files?")


class Autotyping:
    """``autotyping --aggressive`` in place, read back."""

    name = "autotyping"
    rust = False

    def __init__(self) -> None:
        self.venv = DEFAULT_VENVS / self.name

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "autotyping"

    def install(self, venvs: Path) -> str:
        self.venv = venvs / self.name
        return distribution_version(make_venv(self.venv, [REQUIREMENT]), "autotyping")

    def run(self, project: Project, timeout: float) -> ToolRun:
        if not self.executable.is_file():
            return ToolRun(error=f"not installed: {self.executable} is missing")
        paths = target_paths(project)
        with stripped_snapshot(project) as stripped:
            done = measure([str(self.executable), "--aggressive", *paths], project.root,
                           timeout)
            notes = [f"command: autotyping --aggressive {' '.join(paths)}"]
            failed = _FAILED.search(done.stderr + done.stdout)
            if failed is not None and failed[1] != "0":
                notes.append(f"autotyping could not codemod {failed[1]} files")
            return read_back(project, done, self.name, stripped, project.root, notes=notes)


ADAPTER = Autotyping()
