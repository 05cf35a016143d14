"""Reading back the annotations a tool wrote, as DESIGN.md records of the stripped project.

Several tools answer by writing: pyrefly, pyre, autotyping and infer-types annotate the files
in place; stubgen (and pyre's stub mode) write ``.pyi`` stubs beside or below them. Either way
the sites are the stripped file's (``typeseer.sites.extract_sites``): its keys are what the
shared scorer matches, and the tool's version of the same file (or its stub) says which of
them it typed. Annotations the stripped copy already carried are not the tool's; placeholders
(``Any``, ``Incomplete``, also as a union member: ``Incomplete | None``) say the tool did not
infer a type, so they read as no type.

In a stub, methods have no bodies, so an instance attribute (``self.x = ...`` in a method) is
declared in the class body (``x: int``): such a class-level declaration types the stripped
project's ``(Class, "attribute", "x")`` site. A stub method that lost its ``@staticmethod``
still answers for its first parameter.
"""

from __future__ import annotations

import ast
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from typeseer.annotations import existing_type
from typeseer.fileio import atomic_write_bytes
from typeseer.parsing import ParseFailure, parse_source
from typeseer.scoring import module_name_of
from typeseer.sites import Site, SiteKey, SiteKind, extract_sites
from typeseer.sources import UnreadableSource, decode_source
from typeseer.typeexpr import TypeExpr

from .base import Measured, Project, ToolRun

__all__ = ["PLACEHOLDERS", "distribution_version", "failure_of", "read_back",
           "records_from_tree", "stripped_snapshot", "stub_candidates", "target_paths",
           "typed_count"]

#: Names a tool writes where it has no type: they are not inferred types.
PLACEHOLDERS = frozenset({"Any", "Incomplete"})


@dataclass(frozen=True, slots=True)
class _Sites:
    """The sites of one parsed file, by key."""

    sites: list[Site]
    by_key: dict[SiteKey, Site]


def _sites_of(path: Path, relpath: str) -> _Sites:
    """The sites of the file at ``path``, keyed as ``relpath`` (raises OSError,
    UnreadableSource or ParseFailure)."""
    text = decode_source(path.read_bytes())
    tree = parse_source(text, str(path))
    module_name, is_package = module_name_of(relpath)
    sites = extract_sites(relpath, text, tree, module_name, is_package).sites
    return _Sites(sites, {site.key: site for site in sites})


def stub_candidates(relpath: str) -> list[str]:
    """Where a stub of ``relpath`` may lie, relative to the stub root, best first:
    ``pkg/mod.py`` -> ``pkg/mod.pyi``, ``pkg/mod.py.pyi``; ``pkg/__init__.py`` also
    ``pkg.pyi``."""
    stem = relpath.removesuffix(".py")
    candidates = [f"{stem}.pyi", f"{relpath}.pyi"]
    if stem == "__init__" or stem.endswith("/__init__"):
        package = stem.removesuffix("__init__").rstrip("/")
        if package:
            candidates.append(f"{package}.pyi")
    return candidates


def _result_path(result_root: Path, relpath: str, stubs: bool) -> Path | None:
    if not stubs:
        path = result_root / relpath
        return path if path.is_file() else None
    return next((result_root / c for c in stub_candidates(relpath)
                 if (result_root / c).is_file()), None)


def _is_placeholder(t: TypeExpr) -> bool:
    return any(member.name in PLACEHOLDERS for member in t.members)


def _written_type(site: Site | None) -> str | None:
    """The normalised type written at ``site`` (None: none, not a type, or a placeholder)."""
    if site is None or site.annotation is None:
        return None
    written = existing_type(site)
    if written is None or _is_placeholder(written):
        return None
    return str(written)


def _result_site(key: SiteKey, result: _Sites, stubs: bool) -> Site | None:
    """The site of the tool's file that answers for the stripped site ``key``."""
    found = result.by_key.get(key)
    if found is not None and found.annotation is not None:
        return found
    if stubs and key.kind == SiteKind.ATTRIBUTE.value:
        declared = result.by_key.get(key._replace(kind=SiteKind.VARIABLE.value))
        if declared is not None:
            return declared
    if stubs and key.kind == SiteKind.PARAM.value and found is None:
        return _undecorated_param(key, result)
    return found


def _undecorated_param(key: SiteKey, result: _Sites) -> Site | None:
    """The parameter ``key`` of a stub's method that lost its ``@staticmethod`` (pyre's stubs
    drop decorators): the site extractor took its first parameter for ``self``."""
    returns = result.by_key.get(key._replace(kind=SiteKind.RETURN.value, name=""))
    if returns is None or returns.owner is None:
        return None
    args = returns.owner.function.args
    for arg in (*args.posonlyargs, *args.args):
        if arg.arg == key.name and arg.annotation is not None:
            return Site(key.file, key.scope, SiteKind.PARAM, arg.arg, arg.lineno,
                        arg.col_offset, ast.unparse(arg.annotation), owner=returns.owner)
    return None


def _record(site: Site, type_: str | None) -> dict[str, object]:
    return {"file": site.file, "line": site.line, "col": site.col, "scope": site.scope,
            "kind": site.kind.value, "name": site.name, "type": type_,
            "confidence": 1.0 if type_ is not None else 0.0}


def records_from_tree(stripped_root: Path, result_root: Path, files: Sequence[str], *,
                      stubs: bool = False, missing_ok: bool = False,
                      notes: list[str] | None = None) -> list[dict[str, object]]:
    """One DESIGN.md record per site of each stripped file (``files``: POSIX paths relative
    to ``stripped_root``), typed with what the tool wrote at that site.

    The tool's version of a file is ``result_root/<relpath>`` (rewritten in place; pass the
    project root) or, with ``stubs``, its stub under ``result_root`` (see stub_candidates).
    A missing or unparsable result leaves the file's sites untyped; why is appended to
    ``notes`` (when given; a missing one only unless ``missing_ok``: a tool that writes stubs
    only where it inferred something), as is a stripped file that cannot be read at all.
    """
    records: list[dict[str, object]] = []
    problems: list[str] = []
    for relpath in files:
        try:
            stripped = _sites_of(stripped_root / relpath, relpath)
        except (OSError, UnreadableSource, ParseFailure) as error:
            problems.append(f"{relpath}: stripped file unreadable ({error}), no sites")
            continue
        result = _read_result(result_root, relpath, stubs, missing_ok, problems)
        for site in stripped.sites:
            written = None
            if site.annotation is None and result is not None:
                written = _written_type(_result_site(site.key, result, stubs))
            records.append(_record(site, written))
    if notes is not None:
        notes.extend(_summarise(problems))
    return records


def _read_result(result_root: Path, relpath: str, stubs: bool, missing_ok: bool,
                 problems: list[str]) -> _Sites | None:
    path = _result_path(result_root, relpath, stubs)
    if path is None:
        if not missing_ok:
            problems.append(f"{relpath}: no {'stub' if stubs else 'file'} written")
        return None
    try:
        return _sites_of(path, relpath)
    except (OSError, UnreadableSource, ParseFailure) as error:
        problems.append(f"{relpath}: the tool's output does not parse ({error})")
        return None


def _summarise(problems: list[str], limit: int = 5) -> list[str]:
    """At most ``limit`` notes, then a count of the rest."""
    if len(problems) <= limit:
        return problems
    return [*problems[:limit], f"... and {len(problems) - limit} more files like these"]


def typed_count(records: Iterable[dict[str, object]]) -> int:
    """How many records carry a type."""
    return sum(1 for record in records if record.get("type") is not None)


def failure_of(run: Measured, tool: str, ok_codes: Sequence[int] = (0,)) -> str | None:
    """Why a measured run of ``tool`` failed (time-out, or an exit code not in ``ok_codes``
    with the tail of its output), or None when it did not."""
    if run.timed_out:
        return f"{tool} timed out after {run.seconds:.0f}s"
    if run.returncode in ok_codes:
        return None
    tail = (run.stderr.strip() or run.stdout.strip())[-800:]
    return f"{tool} exited with code {run.returncode}: {tail}" if tail else \
        f"{tool} exited with code {run.returncode}"


# -- what every writing adapter does around its tool -----------------------------------------

def target_paths(project: Project) -> list[str]:
    """The command-line paths of ``project``'s packages: ``pkg`` for a package directory,
    ``mod.py`` for a top-level module."""
    paths: list[str] = []
    for package in project.packages:
        if (project.root / package).is_dir() or package.endswith(".py"):
            paths.append(package)
        else:
            paths.append(f"{package}.py")
    return paths


@contextmanager
def stripped_snapshot(project: Project) -> Iterator[Path]:
    """A temporary copy of ``project.files`` as they are now (stripped), for the keys: the
    tool is about to rewrite them in place."""
    with tempfile.TemporaryDirectory(prefix="typeseer-peers-stripped-") as temp:
        snapshot = Path(temp)
        for relpath in project.files:
            source = project.root / relpath
            if source.is_file():
                atomic_write_bytes(snapshot / relpath, source.read_bytes())
        yield snapshot


def read_back(project: Project, run: Measured, tool: str, stripped_root: Path,
              result_root: Path, *, stubs: bool = False, missing_ok: bool = False,
              ok_codes: Sequence[int] = (0,), notes: Sequence[str] = ()) -> ToolRun:
    """The ToolRun of a writing tool's measured ``run``: its records read back
    (records_from_tree), its failure if any, ``notes`` and what the read-back noticed."""
    all_notes = list(notes)
    records = records_from_tree(stripped_root, result_root, project.files, stubs=stubs,
                                missing_ok=missing_ok, notes=all_notes)
    all_notes.append(f"{typed_count(records)} of {len(records)} sites typed")
    return ToolRun(records, run.seconds, run.peak_mib, failure_of(run, tool, ok_codes),
                   all_notes)


def distribution_version(bin_dir: Path, distribution: str) -> str:
    """The installed version of ``distribution`` in the venv of ``bin_dir`` (RuntimeError when
    it cannot be read)."""
    code = "import importlib.metadata, sys; print(importlib.metadata.version(sys.argv[1]))"
    done = subprocess.run([str(bin_dir / "python"), "-c", code, distribution],
                          capture_output=True, text=True, check=False, timeout=120)
    version = done.stdout.strip()
    if done.returncode != 0 or not re.fullmatch(r"[\w.+!-]+", version):
        raise RuntimeError(f"cannot read the version of {distribution}: "
                           f"{done.stderr.strip()[-300:]}")
    return version
