"""infer-types: adds the return types its extractors infer (astroid), in place, read back here.

infer-types annotates returns only, of module-level functions and of the methods of
module-level classes. Its command line (``python -m infer_types DIR``) walks the directory and
stops at the first file it fails on (an exception while inserting an annotation, e.g.
``LookupError: cannot find colon matching the function ...``), leaving the rest unannotated.
So that one such file costs only itself, the adapter runs that same command line once per file,
all in one process (``infer_types._cli.main([FILE], stdout)``), and lists the files it failed
on. Files it rewrote into text that no longer parses (it sometimes inserts ``-> T`` after a
class header or an import after a decorator) are read as giving no types, and listed.
"""

from __future__ import annotations

import json
from pathlib import Path

from .base import Project, ToolRun, make_venv, measure
from .readback import distribution_version, read_back, stripped_snapshot

__all__ = ["ADAPTER", "DRIVER", "InferTypes"]

#: The pinned release (PyPI).
REQUIREMENT = "infer-types==1.0.0"
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"

#: ``python -m infer_types FILE`` for each file named in argv[1] (JSON), in one process; the
#: files it fails on are printed to stderr as one JSON line each.
DRIVER = """
import io, json, sys
from infer_types._cli import main
for path in json.loads(sys.argv[1]):
    try:
        main([path], io.StringIO())
    except Exception as error:
        print(json.dumps({"file": path, "error": f"{type(error).__name__}: {error}"}),
              file=sys.stderr, flush=True)
"""


def _failures(stderr: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []
    for line in stderr.splitlines():
        if line.startswith('{"file"'):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


class InferTypes:
    """``python -m infer_types`` on each file, in place, read back."""

    name = "infer-types"
    rust = False

    def __init__(self) -> None:
        self.venv = DEFAULT_VENVS / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def install(self, venvs: Path) -> str:
        self.venv = venvs / self.name
        return distribution_version(make_venv(self.venv, [REQUIREMENT]), "infer-types")

    def run(self, project: Project, timeout: float) -> ToolRun:
        if not self.python.is_file():
            return ToolRun(error=f"not installed: {self.python} is missing")
        command = [str(self.python), "-c", DRIVER, json.dumps(list(project.files))]
        with stripped_snapshot(project) as stripped:
            done = measure(command, project.root, timeout)
            failures = _failures(done.stderr)
            notes = ["command: python -m infer_types FILE, for each file (in one process: "
                     "infer_types._cli.main)"]
            if failures:
                shown = "; ".join(f"{f['file']}: {f['error']}" for f in failures[:3])
                more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
                notes.append(f"infer-types failed on {len(failures)} files: {shown}{more}")
            return read_back(project, done, self.name, stripped, project.root, notes=notes)


ADAPTER = InferTypes()
