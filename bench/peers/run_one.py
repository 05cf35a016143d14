"""Run one tool on one project, in a process of its own, and write what it produced as JSON.

    python bench/peers/run_one.py REQUEST.json RESULT.json

``REQUEST.json`` names the adapter module, the project (``spec``, ``root``, ``packages``,
``files``), the venvs folder and the time limit. ``RESULT.json`` gets the adapter's ToolRun
(``records``, ``seconds``, ``peak_mib``, ``error``, ``notes``). The runner starts a fresh
process per (tool, project) so that the peak memory the adapter reads from ``RUSAGE_CHILDREN``
is this run's alone. ``install`` is called first (idempotent: once the tool's venv exists it
only reads the version), because an adapter may need it in the process that runs the tool.
An adapter that raises gives a result with the exception as its error: nothing is hidden.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import traceback
from pathlib import Path

PEERS = Path(__file__).resolve().parent
if str(PEERS) not in sys.path:
    sys.path.insert(0, str(PEERS))

from adapters.base import Project, ToolRun  # noqa: E402
from adapters.registry import load_adapter  # noqa: E402

from typeseer.fileio import atomic_write_text  # noqa: E402

__all__ = ["main", "run_request"]


def _project(data: dict[str, object]) -> Project:
    packages = data["packages"]
    files = data["files"]
    if not isinstance(packages, list) or not isinstance(files, list):
        raise ValueError("packages and files must be lists")
    return Project(str(data["spec"]), Path(str(data["root"])),
                   tuple(str(p) for p in packages), tuple(str(f) for f in files))


def _failure(stage: str, error: BaseException) -> ToolRun:
    lines = traceback.format_exception(error)
    return ToolRun(error=f"{stage} raised {type(error).__name__}: {error}",
                   notes=["".join(lines)[-3000:]])


def run_request(request: dict[str, object]) -> ToolRun:
    """Load the adapter, install it (idempotent), run it on the project; never raises."""
    try:
        adapter = load_adapter(str(request["module"]))
    except LookupError as error:
        return ToolRun(error=str(error))
    try:
        adapter.install(Path(str(request["venvs"])))
    except Exception as error:  # recorded as the run's failure
        return _failure("install", error)
    project_data = request["project"]
    if not isinstance(project_data, dict):
        return ToolRun(error="bad request: project is not an object")
    timeout = request["timeout"]
    if not isinstance(timeout, (int, float)):
        return ToolRun(error="bad request: timeout is not a number")
    try:
        return adapter.run(_project(project_data), float(timeout))
    except Exception as error:  # recorded as the run's failure
        return _failure("run", error)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: run_one.py REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    request = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    result = run_request(request)
    atomic_write_text(Path(args[1]), json.dumps(dataclasses.asdict(result), default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
