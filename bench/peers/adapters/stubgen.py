"""mypy's stubgen: the stubs it drafts hold the few types it infers, read back here.

stubgen infers only what needs no inference engine: ``-> None`` for functions without a
``return`` value, ``bool``/``int``/``str``... for parameters with literal defaults and module or
class variables bound to literals, ``Generator[...]`` for generators, instance attributes
declared in the class body (``x: Incomplete`` when it cannot say: read as no type). It is the
floor the other tools are compared with. It runs without importing the code (``--no-import``,
stripped modules may not import), with private names included (they are sites too), and goes
on past a module it cannot process (``--ignore-errors``).
"""

from __future__ import annotations

from pathlib import Path

from .base import Project, ToolRun, make_venv, measure
from .readback import distribution_version, read_back, target_paths

__all__ = ["ADAPTER", "OPTIONS", "Stubgen"]

#: The pinned release (PyPI; stubgen ships with mypy).
REQUIREMENT = "mypy==2.4.1"
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"
#: Where the stubs go, under the project's copy.
OUTPUT = ".stubgen-out"
OPTIONS = ("--no-import", "--include-private", "--ignore-errors")


class Stubgen:
    """``stubgen`` on the project's packages, its stubs read back."""

    name = "stubgen"
    rust = False

    def __init__(self) -> None:
        self.venv = DEFAULT_VENVS / self.name

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "stubgen"

    def install(self, venvs: Path) -> str:
        self.venv = venvs / self.name
        return distribution_version(make_venv(self.venv, [REQUIREMENT]), "mypy")

    def run(self, project: Project, timeout: float) -> ToolRun:
        if not self.executable.is_file():
            return ToolRun(error=f"not installed: {self.executable} is missing")
        arguments = [*OPTIONS, "-o", OUTPUT, *target_paths(project)]
        done = measure([str(self.executable), *arguments], project.root, timeout)
        return read_back(project, done, self.name, project.root, project.root / OUTPUT,
                         stubs=True, notes=[f"command: stubgen {' '.join(arguments)}"])


ADAPTER = Stubgen()
