"""pyre-check: ``pyre infer`` writes the types it infers as stubs, read back here.

``pyre infer --annotate-attributes`` (without ``--in-place``) writes one ``.pyi`` per module
it inferred something for under ``.pyre/types``, attributes declared in the class bodies;
``--in-place`` only applies those same stubs to the sources, and leaves the attributes out, so
the stubs are read. No ``.pyre_configuration``
is needed: ``--source-directory .`` names the project root, and ``--search-path`` the
benchmark's own site-packages (imports resolve as they do for typeseer). A module without a
stub is one pyre inferred nothing for.

Two things pyre prints are not Python, and are read the way pyre means them: a type variable
``Variable[T]`` (also ``Variable[T (bound to X)]``) is ``T``; an empty tuple ``Tuple[]`` is
``Tuple[()]`` (a stub holding one would not parse, losing all of its module's types).
"""

from __future__ import annotations

import re
import sysconfig
from pathlib import Path

from typeseer.fileio import atomic_write_text

from .base import Project, ToolRun, make_venv, measure
from .readback import distribution_version, read_back

__all__ = ["ADAPTER", "Pyre", "repair_stub"]

#: The pinned release (PyPI; an OCaml binary with a Python client).
REQUIREMENT = "pyre-check==0.10.0"
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"
#: Where ``pyre infer`` writes its stubs, and where they are kept once repaired.
STUBS = Path(".pyre") / "types"
READ = Path(".pyre") / "types-read"

_VARIABLE = re.compile(r"\bVariable\[\s*([\w.]+)[^\[\]]*\]")
_EMPTY_SUBSCRIPT = re.compile(r"\b(Tuple|tuple)\[\s*\]")


def repair_stub(text: str) -> str:
    """A pyre stub with its type variables and empty tuples spelled as Python."""
    previous = None
    while previous != text:  # Variable[...] may nest inside another
        previous, text = text, _VARIABLE.sub(r"\1", text)
    return _EMPTY_SUBSCRIPT.sub(r"\1[()]", text)


def _repair_stubs(root: Path) -> int:
    """Copy ``root/STUBS`` to ``root/READ`` repaired; how many stubs were changed."""
    changed = 0
    for stub in sorted((root / STUBS).rglob("*.pyi")):
        text = stub.read_text(encoding="utf-8", errors="replace")
        repaired = repair_stub(text)
        changed += repaired != text
        atomic_write_text(root / READ / stub.relative_to(root / STUBS), repaired)
    return changed


class Pyre:
    """``pyre infer``, its stubs read back."""

    name = "pyre"
    rust = False

    def __init__(self) -> None:
        self.venv = DEFAULT_VENVS / self.name

    @property
    def executable(self) -> Path:
        return self.venv / "bin" / "pyre"

    def install(self, venvs: Path) -> str:
        self.venv = venvs / self.name
        bin_dir = make_venv(self.venv, [REQUIREMENT])
        if not (bin_dir / "pyre.bin").is_file():
            raise RuntimeError(f"pyre-check installed no server binary ({bin_dir}/pyre.bin)")
        return distribution_version(bin_dir, "pyre-check")

    def command(self) -> list[str]:
        site_packages = sysconfig.get_paths()["purelib"]
        return [str(self.executable), "--noninteractive", "--source-directory", ".",
                "--search-path", site_packages, "infer", "--annotate-attributes"]

    def run(self, project: Project, timeout: float) -> ToolRun:
        if not self.executable.is_file():
            return ToolRun(error=f"not installed: {self.executable} is missing")
        command = self.command()
        done = measure(command, project.root, timeout)
        shown = " ".join(["pyre", *command[1:]]).replace(sysconfig.get_paths()["purelib"],
                                                         "$SITE_PACKAGES")
        notes = [f"command: {shown}",
                 "read from the stubs in .pyre/types (--in-place leaves attributes out); a "
                 "module without a stub is one pyre inferred nothing for"]
        repaired = _repair_stubs(project.root)
        if repaired:
            notes.append(f"{repaired} stubs spelled Variable[T] or Tuple[]: read as T, "
                         "Tuple[()]")
        return read_back(project, done, self.name, project.root, project.root / READ,
                         stubs=True, missing_ok=True, notes=notes)


ADAPTER = Pyre()
