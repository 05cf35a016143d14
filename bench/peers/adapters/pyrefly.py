"""pyrefly: ``pyrefly infer`` writes the annotations it infers into the files, read back here.

Every kind of annotation ``pyrefly infer`` knows is switched on (parameters, returns, container
variables, with the imports they need), and so is checking the bodies of unannotated functions
and inferring their return types: the stripped project is unannotated throughout, and without
them pyrefly would skip most of it. Imports resolve through the benchmark's own interpreter
(``--python-interpreter-path``), as they do for typeseer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .base import Project, ToolRun, make_venv, measure
from .readback import read_back, stripped_snapshot, target_paths

__all__ = ["ADAPTER", "OPTIONS", "Pyrefly"]

#: The pinned release (PyPI; a native binary).
REQUIREMENT = "pyrefly==1.4.1"
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"

#: The most complete setting of ``pyrefly infer``.
OPTIONS = ("--parameter-types=true", "--return-types=true", "--containers=true",
           "--imports=true", "--check-unannotated-defs=true", "--infer-return-types=checked")


class Pyrefly:
    """``pyrefly infer`` in place, read back."""

    name = "pyrefly"
    rust = True

    def __init__(self) -> None:
        self.venv = DEFAULT_VENVS / self.name

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "pyrefly"

    def install(self, venvs: Path) -> str:
        self.venv = venvs / self.name
        make_venv(self.venv, [REQUIREMENT])
        done = subprocess.run([str(self.executable), "--version"], capture_output=True,
                              text=True, check=False, timeout=120)
        words = done.stdout.split()
        if done.returncode != 0 or len(words) < 2:
            raise RuntimeError(f"pyrefly --version failed: {done.stderr.strip()[-300:]}")
        return words[-1]

    def command(self, project: Project) -> list[str]:
        return [str(self.executable), "infer", *OPTIONS, "--python-interpreter-path",
                sys.executable, *target_paths(project)]

    def run(self, project: Project, timeout: float) -> ToolRun:
        if not self.executable.is_file():
            return ToolRun(error=f"not installed: {self.executable} is missing")
        command = self.command(project)
        with stripped_snapshot(project) as stripped:
            done = measure(command, project.root, timeout, env={"PYREFLY_COLOR": "never"})
            shown = " ".join(["pyrefly", *command[1:]]).replace(sys.executable, "$PYTHON")
            return read_back(project, done, self.name, stripped, project.root,
                             notes=[f"command: {shown}"])


ADAPTER = Pyrefly()
