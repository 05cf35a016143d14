"""Labelled sites of a package's kept files, with the context the model reads, as a table.

Sites come from the project's own extractor (``sites.extract_sites`` over
``parsing.parse_source``), exactly as ``typeseer infer`` sees them. A site is *labelled* when
the code annotates it; its label is the annotation in normal form (``annotations.existing_type``),
and sites whose annotation does not parse as a type are skipped (counted). Unlabelled sites
are counted but not stored.

Caps keep a few packages from dominating: at most ``max_sites_per_file`` labelled sites per
file, ``max_generated_sites`` from files flagged as generated, and ``max_sites`` per package.
When a package is over a cap, whole files are taken in a fixed pseudo-random order (hash of
package and path), hand-written before generated ones, and the last file is cut.
"""

from __future__ import annotations

import ast
import hashlib
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typeseer.annotations import existing_type
from typeseer.corpus.wheels import FileEntry, read_member
from typeseer.parsing import ParseFailure, parse_source
from typeseer.sites import BindingKind, Scope, Site, SiteKind, extract_sites, usage_slice
from typeseer.sources import UnreadableSource

__all__ = [
    "COLUMNS",
    "DOCSTRING_CHARS",
    "ExtractStats",
    "docstring_type",
    "extract_file_rows",
    "extract_package",
]

#: Characters of the enclosing function's docstring kept per site.
DOCSTRING_CHARS = 300
#: Characters of a default value or assigned value kept.
VALUE_CHARS = 200

#: The table's columns, in order (see docs in ``build``): name -> pyarrow type name.
COLUMNS: dict[str, str] = {
    "package": "string", "version": "string", "split": "string", "file": "string",
    "module": "string", "scope": "string", "kind": "string", "name": "string",
    "line": "int32", "col": "int32", "label": "string", "annotation": "string",
    "default": "string", "value": "string", "decorators": "list<string>",
    "usage": "list<list<string>>", "function": "string", "params": "list<string>",
    "docstring": "string", "doc_type": "string", "generated": "bool",
}


@dataclass(slots=True)
class ExtractStats:
    """Counts of one package's extraction."""

    #: Files read, and files left unread because the package's caps were reached.
    files: int = 0
    files_skipped: int = 0
    parse_failures: int = 0
    unreadable: int = 0
    sites_total: int = 0
    sites_labelled: int = 0
    unparsable_labels: int = 0
    sites_kept: int = 0
    sites_capped: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


def _function_scope(site: Site) -> Scope | None:
    owner = site.owner
    if owner is None:
        return None
    if site.kind in (SiteKind.PARAM, SiteKind.RETURN):
        return owner
    if site.kind is SiteKind.ATTRIBUTE:
        method = owner.attr_scopes.get((site.line, site.col))
        if method is not None:
            return method
        for child in owner.children:
            node = child.node
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and node.lineno <= site.line <= (node.end_lineno or node.lineno)):
                return child
        return None
    return owner if owner.kind == "function" else None


def _params(scope: Scope) -> list[str]:
    args = scope.function.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg is not None:
        names.append("*" + args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg is not None:
        names.append("**" + args.kwarg.arg)
    return names


def _value(site: Site) -> str | None:
    """Source of the value first bound to a variable or attribute."""
    owner = site.owner
    if owner is None or site.kind not in (SiteKind.VARIABLE, SiteKind.ATTRIBUTE):
        return None
    bindings = (owner.attr_bindings if site.kind is SiteKind.ATTRIBUTE
                else owner.bindings).get(site.name, [])
    for binding in sorted(bindings, key=lambda b: (b.line, b.col)):
        if binding.value is not None and binding.kind in (
                BindingKind.ASSIGN, BindingKind.ANNOTATED, BindingKind.WALRUS):
            try:
                text = ast.unparse(binding.value)
            except (ValueError, RecursionError):
                return None
            return _clip(text, VALUE_CHARS)
    return None


_TYPE_TEXT = r"([^\n]+?)"


def docstring_type(docstring: str, site: Site) -> str | None:
    """The type a docstring gives a parameter or return (Sphinx, Google or NumPy style), as
    written; None when it gives none."""
    if site.kind is SiteKind.PARAM:
        name = re.escape(site.name)
        patterns = [
            rf":param\s+([^:\n]+?)\s+\**{name}\s*:",  # :param int x:
            rf":type\s+\**{name}\s*:\s*{_TYPE_TEXT}\s*$",  # :type x: int
            rf"^\s*\**{name}\s*\(([^)\n]+)\)\s*:",  # Google: x (int): ...
            rf"^\s*\**{name}\s+:\s+{_TYPE_TEXT}\s*$",  # NumPy: x : int
        ]
    elif site.kind is SiteKind.RETURN:
        patterns = [
            rf":rtype:\s*{_TYPE_TEXT}\s*$",
            r"^\s*(?:Returns|Yields)\s*:\s*\n\s*([A-Za-z_][\w\[\], .|]*?)\s*:",  # Google
            r"^\s*(?:Returns|Yields)\s*\n\s*-{3,}\s*\n\s*(?:\w+\s+:\s+)?([^\n]+?)\s*$",  # NumPy
        ]
    else:
        return None
    for pattern in patterns:
        match = re.search(pattern, docstring, re.MULTILINE)
        if match:
            text = match.group(1).strip()
            if text:
                return text[:VALUE_CHARS]
    return None


def extract_file_rows(path: str, module: str, is_package: bool, text: str,
                      generated: bool = False) -> tuple[list[dict[str, Any]], int, int]:
    """Rows of the labelled sites of one file: (rows, all sites, unparsable labels).
    Raises ParseFailure."""
    tree = parse_source(text, path)
    module_sites = extract_sites(path, text, tree, module, is_package)
    rows: list[dict[str, Any]] = []
    unparsable = 0
    docs: dict[int, str | None] = {}
    for site in module_sites.sites:
        if site.annotation is None:
            continue
        try:
            parsed = existing_type(site)  # aliases spelled out, qualifiers unwrapped
        except RecursionError:
            parsed = None
        if parsed is None:
            unparsable += 1
            continue
        label = str(parsed)
        function = _function_scope(site)
        doc: str | None = None
        if function is not None:
            key = id(function)
            if key not in docs:
                docs[key] = ast.get_docstring(function.function, clean=True)
            doc = docs[key]
        rows.append({
            "file": path, "module": module, "scope": site.scope, "kind": site.kind.value,
            "name": site.name, "line": site.line, "col": site.col, "label": label,
            "annotation": site.annotation, "default": _clip(site.default, VALUE_CHARS),
            "value": _value(site), "decorators": list(site.decorators),
            "usage": usage_slice(module_sites.lines, site),
            "function": function.function.name if function is not None else None,
            "params": _params(function) if function is not None else [],
            "docstring": _clip(doc, DOCSTRING_CHARS),
            "doc_type": docstring_type(doc, site) if doc else None,
            "generated": generated,
        })
    return rows, len(module_sites.sites), unparsable


def _order_key(package: str, entry: FileEntry) -> tuple[bool, str]:
    digest = hashlib.blake2b(f"{package}/{entry.path}".encode(), digest_size=8).hexdigest()
    return entry.generated, digest


def extract_package(package: str, version: str, split: str, wheel_path: Path,
                    files: Iterable[FileEntry], *, max_sites: int, max_generated_sites: int,
                    max_sites_per_file: int) -> tuple[list[dict[str, Any]], ExtractStats]:
    """All stored rows of one package (in file and source order), and its counts.

    Files are read in the cap order (see the module docstring) and reading stops once the
    package's cap is reached, so a huge package costs no more than a capped one; its
    ``sites_total`` and ``sites_labelled`` then count the files read."""
    stats = ExtractStats()
    entries = list(files)
    order = {entry.path: index for index, entry in enumerate(entries)}
    taken: list[dict[str, Any]] = []
    generated_taken = 0
    with zipfile.ZipFile(wheel_path) as archive:
        for entry in sorted(entries, key=lambda e: _order_key(package, e)):
            room = max_sites - len(taken)
            if entry.generated:
                room = min(room, max_generated_sites - generated_taken)
            if room <= 0:
                stats.files_skipped += 1
                continue
            stats.files += 1
            try:
                text = read_member(archive, entry.member)
            except UnreadableSource as error:
                stats.unreadable += 1
                stats.failures.append(f"{entry.path}: {error}")
                continue
            try:
                rows, sites, unparsable = extract_file_rows(
                    entry.path, entry.module, entry.is_package, text, entry.generated)
            except (ParseFailure, RecursionError) as error:
                stats.parse_failures += 1
                stats.failures.append(f"{entry.path}: {error}")
                continue
            stats.sites_total += sites
            stats.sites_labelled += len(rows)
            stats.unparsable_labels += unparsable
            chunk = rows[:min(room, max_sites_per_file)]
            taken.extend(chunk)
            if entry.generated:
                generated_taken += len(chunk)
    taken.sort(key=lambda row: (order[row["file"]], row["line"], row["col"]))
    for row in taken:
        row["package"] = package
        row["version"] = version
        row["split"] = split
        stats.by_kind[row["kind"]] = stats.by_kind.get(row["kind"], 0) + 1
    stats.sites_kept = len(taken)
    stats.sites_capped = stats.sites_labelled - stats.sites_kept
    return taken, stats
