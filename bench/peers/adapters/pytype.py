"""pytype, as a peer of typeseer: the ``.pyi`` stubs it infers, read back.

``pytype --keep-going --no-report-errors --jobs auto --output OUT --pythonpath . PACKAGE...``
analyses every module of the packages in dependency order (through ninja) and writes one stub
per module under ``OUT/pyi``: parameter and return types, module variables, and instance
attributes declared in the class body. It gives no types of local variables. Type errors are
not reported (the stripped code has many, and reporting them stops dependent modules).

pytype is slow: it runs under the time limit, and on a time-out the stubs written so far are
still read back. ``timeout`` (coreutils) stops it a little before the limit with SIGTERM, which
ninja passes on to the per-module ``pytype-single`` processes it started in process groups of
their own; a SIGKILL of pytype's own group alone would leave them running.

Two spellings of pytype's stubs are read as the source means them: a property is written
``name: Annotated[T, 'property']``, which becomes ``def name(self) -> T: ...`` before reading
back, so that it types the property's return site; an ``async def`` is written as a plain
``def`` returning ``Coroutine[Any, Any, T]`` (``coroutine`` when T is unknown), whose ``T`` is
the return type the ``async def`` site takes (DESIGN.md sites are annotations as written).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import tempfile
from pathlib import Path

from typeseer.fileio import atomic_write_text
from typeseer.parsing import ParseFailure, parse_source
from typeseer.scoring import module_name_of
from typeseer.sites import SiteKind, extract_sites
from typeseer.sources import UnreadableSource, decode_source
from typeseer.typeexpr import TypeParseError, parse_type

from .base import Project, ToolRun, make_venv, measure
from .readback import PLACEHOLDERS, failure_of, records_from_tree

__all__ = ["ADAPTER", "PytypeAdapter", "awaited_returns", "properties_as_methods"]

#: pytype's last release (it supports Python 3.8 to 3.12; the benchmark runs it on 3.11).
REQUIREMENTS = ("pytype==2024.10.11",)
#: Where the runner keeps the tools' virtual environments (when run() comes before install()).
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"
#: Seconds before the limit at which pytype is asked to stop, so that it stops cleanly.
STOP_MARGIN = 15.0
#: Seconds ``timeout`` waits after SIGTERM before it sends SIGKILL.
KILL_AFTER = 5.0
#: ``timeout``'s exit code when the command ran out of time.
TIMEOUT_STATUS = 124


def _property_type(node: ast.stmt) -> tuple[str, str] | None:
    """``(name, type source)`` of a declaration ``name: Annotated[T, 'property']``."""
    if not (isinstance(node, ast.AnnAssign) and node.value is None
            and isinstance(node.target, ast.Name)
            and isinstance(node.annotation, ast.Subscript)):
        return None
    base = node.annotation.value
    base_name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
    arguments = node.annotation.slice
    if base_name != "Annotated" or not isinstance(arguments, ast.Tuple) \
            or len(arguments.elts) < 2:
        return None
    if not any(isinstance(e, ast.Constant) and e.value == "property"
               for e in arguments.elts[1:]):
        return None
    return node.target.id, ast.unparse(arguments.elts[0])


def properties_as_methods(stub: str) -> str:
    """``stub`` with every class-body ``name: Annotated[T, 'property']`` written as
    ``def name(self) -> T: ...`` (unchanged when it does not parse)."""
    try:
        tree = ast.parse(stub)
    except (SyntaxError, ValueError):
        return stub
    lines = stub.splitlines(keepends=True)
    replacements: dict[int, tuple[int, str]] = {}
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        for node in cls.body:
            found = _property_type(node)
            if found is not None and node.end_lineno is not None:
                indent = lines[node.lineno - 1][:node.col_offset]
                replacements[node.lineno - 1] = (
                    node.end_lineno, f"{indent}def {found[0]}(self) -> {found[1]}: ...\n")
    if not replacements:
        return stub
    rewritten: list[str] = []
    index = 0
    while index < len(lines):
        if index in replacements:
            end, text = replacements[index]
            rewritten.append(text)
            index = end
        else:
            rewritten.append(lines[index])
            index += 1
    return "".join(rewritten)


def _rewrite_properties(stub_root: Path) -> None:
    for stub in stub_root.rglob("*.pyi"):
        try:
            text = stub.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # readback notes what it cannot read
        rewritten = properties_as_methods(text)
        if rewritten != text:
            atomic_write_text(stub, rewritten)


def _async_functions(root: Path, files: tuple[str, ...]) -> set[tuple[str, str]]:
    """``(file, scope)`` of every ``async def`` of the stripped files (unreadable files are
    readback's to note)."""
    found: set[tuple[str, str]] = set()
    for relpath in files:
        path = root / relpath
        try:
            text = decode_source(path.read_bytes())
            tree = parse_source(text, str(path))
        except (OSError, UnreadableSource, ParseFailure):
            continue
        module_name, is_package = module_name_of(relpath)
        for site in extract_sites(relpath, text, tree, module_name, is_package).sites:
            if site.kind is SiteKind.RETURN and site.owner is not None \
                    and isinstance(site.owner.node, ast.AsyncFunctionDef):
                found.add((site.file, site.scope))
    return found


def _awaited(type_: str) -> str | None:
    """What awaiting a ``type_`` gives: ``Coroutine[Any, Any, T]`` -> ``T``; None where
    that is unknown (``coroutine``, a placeholder); other types unchanged."""
    try:
        parsed = parse_type(type_)
    except TypeParseError:
        return type_
    if parsed.name == "coroutine" and not parsed.args:
        return None
    if parsed.name != "Coroutine" or len(parsed.args) != 3:
        return type_
    result = parsed.args[2]
    if any(member.name in PLACEHOLDERS for member in result.members):
        return None
    return str(result)


def awaited_returns(records: list[dict[str, object]], root: Path,
                    files: tuple[str, ...]) -> None:
    """Give the return records of ``async def`` sites the type their coroutine returns."""
    async_functions = _async_functions(root, files)
    for record in records:
        given = record.get("type")
        if record.get("kind") != SiteKind.RETURN.value or not isinstance(given, str):
            continue
        if (record.get("file"), record.get("scope")) in async_functions:
            record["type"] = _awaited(given)
            if record["type"] is None:
                record["confidence"] = 0.0


def _count_stubs(stub_root: Path) -> int:
    return sum(1 for _ in stub_root.rglob("*.pyi")) if stub_root.is_dir() else 0


class PytypeAdapter:
    """``pytype`` (stub output) in its own virtual environment."""

    name = "pytype"
    rust = False

    def __init__(self) -> None:
        self._bin: Path | None = None

    def install(self, venvs: Path) -> str:
        bin_dir = make_venv(venvs / self.name, REQUIREMENTS)
        probe = subprocess.run([str(bin_dir / "pytype"), "--version"], capture_output=True,
                               text=True, check=False)
        if probe.returncode != 0:
            tail = (probe.stderr.strip() or probe.stdout.strip())[-500:]
            raise RuntimeError(f"pytype --version failed in its environment: {tail}")
        if shutil.which("timeout") is None:
            raise RuntimeError("coreutils 'timeout' is not on PATH (it stops pytype cleanly)")
        self._bin = bin_dir
        return f"pytype {probe.stdout.strip().splitlines()[-1]}"

    def command(self, output: Path, project: Project, seconds: float) -> list[str]:
        """The command line: pytype under ``timeout``, stopping after ``seconds``."""
        assert self._bin is not None
        return ["timeout", "--signal=TERM", f"--kill-after={KILL_AFTER:g}", f"{seconds:.0f}",
                str(self._bin / "pytype"), "--keep-going", "--jobs", "auto",
                "--no-report-errors", "--output", str(output), "--pythonpath", ".",
                *project.packages]

    def run(self, project: Project, timeout: float) -> ToolRun:
        if self._bin is None:
            self.install(DEFAULT_VENVS)
        stop_after = max(1.0, timeout - STOP_MARGIN - KILL_AFTER)
        with tempfile.TemporaryDirectory(prefix="pytype-") as temp:
            output = Path(temp, "out")
            done = measure(self.command(output, project, stop_after), project.root, timeout)
            run = ToolRun(seconds=done.seconds, peak_mib=done.peak_mib)
            stub_root = output / "pyi"
            if done.returncode == TIMEOUT_STATUS:
                run.error = f"pytype timed out after {stop_after:.0f}s"
            else:
                run.error = failure_of(done, "pytype")
            written = _count_stubs(stub_root)
            if run.error is not None:
                run.notes.append(f"{written} of {len(project.files)} stubs written")
            _rewrite_properties(stub_root)
            run.records = records_from_tree(project.root, stub_root, project.files,
                                            stubs=True, notes=run.notes)
            awaited_returns(run.records, project.root, project.files)
        return run


#: The adapter the runner loads.
ADAPTER = PytypeAdapter()
