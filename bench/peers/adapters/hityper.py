"""HiTyper in its static mode, as a peer of typeseer.

HiTyper (Peng et al., ICSE 2022) builds a type dependency graph per function and propagates
types through it; its hybrid mode asks a deep-learning model server (Type4Py) for the types it
cannot infer. Only the static mode runs here: ``hityper infer -p . -d OUT`` without ``-t`` or
``-m`` asks no model. It writes one JSON file for the whole tree::

    {"./pkg/mod.py": {"get@Cache": [{"category": "arg", "name": "key", "type": ["str"]},
                                    {"category": "return", "name": "get", "type": []}],
                      "global@global": [{"category": "local", "name": "X", "type": ["int"]}]}}

Scopes are ``function@Class,Inner`` (every enclosing class, outermost first) or
``function@global``; nested functions lose their enclosing function's name, and of several
functions with one such name only the first (in source order) is analysed. The static mode
gives the set of types a name may hold, without ranks: two or more read as their union (where
it holds both a bare and a parameterised form of one constructor, ``list`` and ``list[str]``,
the parameterised form stands for both).
``local`` entries merge everything of one name in a function (a variable, a parameter read
there, and ``self.NAME``), so a local entry types both the function's variable and, in the
method that first assigns it, the class's attribute of that name. Class-body variables are not
reported. Files HiTyper cannot analyse (walrus in a condition, ``for ... else``) are skipped by
it with a logged reason, which the notes count.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from typeseer.fileio import atomic_write_text
from typeseer.parsing import ParseFailure, parse_source
from typeseer.scoring import module_name_of
from typeseer.sites import Scope, Site, SiteKind, extract_sites
from typeseer.sources import UnreadableSource, decode_source
from typeseer.typeexpr import TypeExpr, TypeParseError, make_union, parse_type

from .base import Project, ToolRun, make_venv, measure
from .readback import PLACEHOLDERS, failure_of

__all__ = ["ADAPTER", "HiTyperAdapter", "hityper_scope", "records_from_results"]

#: HiTyper's last release; PyCG 0.0.8 renamed its import package (``pycg`` -> ``PyCG``),
#: which HiTyper 1.0.3 cannot import, so PyCG stays at the last release before that.
REQUIREMENTS = ("hityper==1.0.3", "pycg==0.0.7")
#: Where the runner keeps the tools' virtual environments (when run() comes before install()).
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"
#: Written into the environment once HiTyper's command-line module imports there.
PROBED_MARKER = ".typeseer-probed"
#: The scope HiTyper files module-level names under.
MODULE_SCOPE = "global@global"

#: HiTyper's spelling of the dot of a dotted name (``re_@_Pattern`` is ``re.Pattern``).
DOTTED_SEPARATOR = "_@_"
#: What HiTyper says for one scope: (category, name) -> the type strings it gives.
ScopeTypes = dict[tuple[str, str], list[str]]

_FAILED_FILE = re.compile(r"Type inference failed for file (\S+), reason: (.*)")
_TRACEBACK_FRAME = re.compile(r'\s*File "(?:.*/)?([^/"]+)", line (\d+), in (\S+)$')


@dataclass
class _Conversion:
    """Counts kept while turning HiTyper's strings into types, for the notes."""

    #: Type strings that do not parse as a type (``dict[, int]``) and were cut to their outer
    #: constructor.
    repaired: int = 0
    #: Files whose stripped copy could not be read or parsed, with the reason.
    unreadable: list[str] | None = None


def hityper_scope(scope: Scope) -> str:
    """HiTyper's name of a function scope: ``get@Cache``, ``deep@Outer,Inner``, ``f@global``."""
    classes: list[str] = []
    parent = scope.parent
    while parent is not None:
        if parent.kind == "class":
            classes.append(parent.qualname.rpartition(".")[2])
        parent = parent.parent
    name = scope.function.name
    return f"{name}@{','.join(reversed(classes))}" if classes else f"{name}@global"


def _analysed_functions(root: Scope) -> dict[int, str]:
    """``id(scope)`` -> HiTyper scope name, for the function scopes HiTyper analyses: the
    first in source order of each name (it skips later ones with a name it has seen)."""
    seen: set[str] = set()
    analysed: dict[int, str] = {}
    for scope in root.walk():
        if scope.kind != "function":
            continue
        name = hityper_scope(scope)
        if name not in seen:
            seen.add(name)
            analysed[id(scope)] = name
    return analysed


def _type_of(strings: list[str], conversion: _Conversion) -> str | None:
    """The union of HiTyper's types in normal form; None for none or a placeholder."""
    members: list[TypeExpr] = []
    for raw in strings:
        text = raw.replace(DOTTED_SEPARATOR, ".")
        try:
            members.append(parse_type(text))
        except TypeParseError:
            outer = text.partition("[")[0].strip()
            try:
                members.append(parse_type(outer))
            except TypeParseError:
                continue
            conversion.repaired += 1
    if not members:
        return None
    union = make_union(members)
    parameterised = {m.name for m in union.members if m.args}
    if any(not m.args and m.name in parameterised for m in union.members):
        # ``list | list[str]``: the bare one is the same constructor with parameters unknown
        # (an empty literal, say): the parameterised one says all that the union says.
        union = make_union(m for m in union.members if m.args or m.name not in parameterised)
    if any(member.name in PLACEHOLDERS for member in union.members):
        return None
    return str(union)


def _scope_types(entries: object) -> ScopeTypes:
    """One scope's list of ``{"category", "name", "type"}`` entries, by (category, name)."""
    types: ScopeTypes = {}
    if not isinstance(entries, list):
        return types
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        category, name, given = entry.get("category"), entry.get("name"), entry.get("type")
        if isinstance(category, str) and isinstance(name, str) and isinstance(given, list):
            types.setdefault((category, name), []).extend(str(t) for t in given)
    return types


def _lookup(site: Site, analysed: Mapping[int, str],
            scopes: Mapping[str, ScopeTypes]) -> list[str]:
    """HiTyper's type strings for ``site`` (empty when it gives none)."""
    owner = site.owner
    if owner is None:
        return []
    if site.kind is SiteKind.ATTRIBUTE:
        method = owner.attr_scopes.get((site.line, site.col))
        if method is None or id(method) not in analysed:
            return []
        return scopes.get(analysed[id(method)], {}).get(("local", site.name), [])
    if owner.kind == "module":
        return scopes.get(MODULE_SCOPE, {}).get(("local", site.name), [])
    if owner.kind != "function" or id(owner) not in analysed:
        return []  # class-body variables: HiTyper reports none
    found = scopes.get(analysed[id(owner)], {})
    if site.kind is SiteKind.PARAM:
        return found.get(("arg", site.name), [])
    if site.kind is SiteKind.RETURN:
        return found.get(("return", owner.function.name), [])
    return found.get(("local", site.name), [])


def _record(site: Site, type_: str | None) -> dict[str, object]:
    return {"file": site.file, "line": site.line, "col": site.col, "scope": site.scope,
            "kind": site.kind.value, "name": site.name, "type": type_,
            "confidence": 1.0 if type_ is not None else 0.0}


def _file_records(root: Path, relpath: str, scopes: Mapping[str, ScopeTypes],
                  conversion: _Conversion) -> Iterator[dict[str, object]]:
    path = root / relpath
    try:
        text = decode_source(path.read_bytes())
        tree = parse_source(text, str(path))
    except (OSError, UnreadableSource, ParseFailure) as error:
        if conversion.unreadable is not None:
            conversion.unreadable.append(f"{relpath}: {error}")
        return
    module_name, is_package = module_name_of(relpath)
    module = extract_sites(relpath, text, tree, module_name, is_package)
    analysed = _analysed_functions(module.scope)
    for site in module.sites:
        type_ = None
        if site.annotation is None:  # an annotation left in the stripped copy is not HiTyper's
            type_ = _type_of(_lookup(site, analysed, scopes), conversion)
        yield _record(site, type_)


def records_from_results(root: Path, files: tuple[str, ...] | list[str],
                         results: Mapping[str, object], notes: list[str] | None = None
                         ) -> list[dict[str, object]]:
    """One record per site of each stripped file under ``root``, typed from HiTyper's JSON
    ``results`` (keyed by ``./relpath`` as ``hityper infer -p .`` writes them)."""
    by_file = {key.removeprefix("./"): value for key, value in results.items()}
    conversion = _Conversion(unreadable=[])
    records: list[dict[str, object]] = []
    for relpath in files:
        raw = by_file.get(relpath)
        scopes = ({name: _scope_types(entries) for name, entries in raw.items()}
                  if isinstance(raw, dict) else {})
        records.extend(_file_records(root, relpath, scopes, conversion))
    if notes is not None:
        if conversion.repaired:
            notes.append(f"{conversion.repaired} unparsable type strings (e.g. 'dict[, int]') "
                         "cut to their outer type")
        notes.extend(f"stripped file unreadable, no sites: {u}" for u in conversion.unreadable
                     or ())
    return records


def _failed_files(log: str, files: tuple[str, ...]) -> list[str]:
    """Notes for the project files HiTyper logged as failed, grouped by reason (with the
    function of HiTyper's that raised, from the traceback it prints before each)."""
    wanted = set(files)
    reasons: Counter[str] = Counter()
    raised_in: str | None = None
    for line in log.splitlines():
        frame = _TRACEBACK_FRAME.match(line)
        if frame is not None:
            raised_in = f"{frame.group(3)}, {frame.group(1)}:{frame.group(2)}"
            continue
        failed = _FAILED_FILE.search(line)
        if failed is None:
            continue
        if failed.group(1).removeprefix("./") in wanted:
            reason = failed.group(2).strip()
            reasons[f"{reason} (in {raised_in})" if raised_in else reason] += 1
        raised_in = None
    return [f"{count} of {len(files)} files not analysed by HiTyper: {reason}"
            for reason, count in reasons.most_common()]


class HiTyperAdapter:
    """``hityper infer`` (static mode, no model server) in its own virtual environment."""

    name = "hityper"
    rust = False

    def __init__(self) -> None:
        self._bin: Path | None = None

    def install(self, venvs: Path) -> str:
        bin_dir = make_venv(venvs / self.name, REQUIREMENTS)
        self._bin = bin_dir
        probed = bin_dir.parent / PROBED_MARKER
        if probed.is_file():  # probed once: no import of transformers (and its memory) again
            return probed.read_text(encoding="utf-8").strip()
        # Importing the CLI module imports everything it needs (PyCG, transformers, gensim).
        probe = subprocess.run(
            [str(bin_dir / "python"), "-c",
             "import hityper, hityper.__main__; print(hityper.__version__)"],
            capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            self._bin = None
            tail = (probe.stderr.strip() or probe.stdout.strip())[-500:]
            raise RuntimeError(f"hityper does not import in its environment: {tail}")
        version = f"hityper {probe.stdout.strip().splitlines()[-1]}"
        atomic_write_text(probed, version + "\n")
        return version

    def run(self, project: Project, timeout: float) -> ToolRun:
        if self._bin is None:
            self.install(DEFAULT_VENVS)
        assert self._bin is not None
        with tempfile.TemporaryDirectory(prefix="hityper-") as output:
            command = [str(self._bin / "hityper"), "infer", "-p", ".", "-d", output]
            done = measure(command, project.root, timeout,
                           env={"TRANSFORMERS_VERBOSITY": "error", "TQDM_DISABLE": "1"})
            result_file = Path(output, "._INFERREDTYPES.json")
            results = _read_results(result_file)
        run = ToolRun(seconds=done.seconds, peak_mib=done.peak_mib,
                      error=failure_of(done, "hityper"))
        if results is None and run.error is None:
            run.error = f"hityper wrote no readable {result_file.name}: " \
                        f"{done.stderr.strip()[-500:]}"
        run.notes.extend(_failed_files(done.stderr, project.files))
        run.records = records_from_results(project.root, project.files, results or {},
                                           run.notes)
        return run


def _read_results(path: Path) -> dict[str, object] | None:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


#: The adapter the runner loads.
ADAPTER = HiTyperAdapter()
