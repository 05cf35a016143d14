"""Acceptance benchmark of ``typeseer apply``: strip real, fully annotated projects, re-annotate.

For each pinned project (an sdist from PyPI, cached under ``--cache-dir``; none of them is in
typeseer's corpus lists, so none was trained or tested on):

1. unpack its package directories and its own mypy configuration (``mypy.ini``, ``.mypy.ini``,
   ``pyproject.toml``, ``setup.cfg``) -- the original, whose annotations are the ground truth;
2. strip every annotation (``typeseer.strip.strip_tree``) -- the stripped copy;
3. on a fresh copy of the stripped tree, run
   ``typeseer apply ROOT --write --verify mypy --report R.json`` (wall clock, median of
   ``--repeat`` runs, each on its own fresh copy) -- the applied copy;
4. check the applied copy:

   * every written file compiles (``compile()``);
   * every module that imported in the stripped copy still imports (a fresh interpreter per
     module, the copy's root on ``sys.path``, ``--import-timeout`` seconds);
   * a second ``typeseer apply`` with the same options changes no byte, and ``--check`` with
     the same options exits 0;
   * mypy (the project's own configuration, the same flags for both) reports no error on the
     applied copy that it did not already report on the stripped copy; errors are compared as
     multisets of (file, code, message) because lines shift (the message of
     ``no-untyped-def`` is left out: a def still partly unannotated is the same error);
   * the written annotations match the original ones at the same site key (file, scope, kind,
     name): exactly, or up to parametric types (the DESIGN.md normal form); original
     annotations that are ``Any`` or missing are not scored.

Prints one row per project and writes everything to ``bench/results/apply.json``.

    .venv/bin/python bench/apply.py
    .venv/bin/python bench/apply.py --projects koda,aiostream --repeat 3 --keep
    .venv/bin/python bench/apply.py --no-verify
    .venv/bin/python bench/apply.py --skip-apply   # the harness alone: apply is a no-op

Work directories live under the system's temporary directory, outside any repository, so that
mypy and typeseer find no configuration but the project's own (both look upwards for one).
They are removed at the end unless ``--keep`` is given or a check failed.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from _results import git_state, write_json  # noqa: E402

from typeseer.annotations import existing_type  # noqa: E402
from typeseer.fileio import atomic_write_text  # noqa: E402
from typeseer.parsing import ParseFailure, parse_source  # noqa: E402
from typeseer.scoring import module_name_of  # noqa: E402
from typeseer.sites import SiteKey, extract_sites  # noqa: E402
from typeseer.sources import UnreadableSource, discover, read_source  # noqa: E402
from typeseer.strip import strip_tree  # noqa: E402
from typeseer.typeexpr import ANY, NONE, TypeExpr, same_up_to_parametric  # noqa: E402


@dataclass(frozen=True, slots=True)
class Project:
    """A pinned PyPI project and the import packages taken from its sdist."""

    #: Distribution name on PyPI.
    name: str
    #: Exact version (results must reproduce).
    version: str
    #: Top-level import packages of the sdist that are benchmarked (tests, docs left out).
    packages: tuple[str, ...]

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


#: Small-to-medium pure-Python projects that ship ``py.typed`` and annotate (nearly) every
#: parameter and return; none needs more than ``typing_extensions`` (in this venv) to import.
#: None is named in ``src/typeseer/corpus/packages.txt``, ``lock.txt``, ``holdout.txt`` or
#: ``splits/*.txt`` (``main`` checks it). Two import checks are partly vacuous, on purpose:
#: wireup's framework integrations need their frameworks, and no module of expression imports
#: once stripped (its tagged unions read annotations at class creation) -- both still test
#: everything else, and a module that apply makes importable again is listed as ``fixed``.
PROJECTS = (
    Project("aiojobs", "1.4.0", ("aiojobs",)),
    Project("janus", "2.0.0", ("janus",)),
    Project("koda", "1.4.0", ("koda",)),
    Project("dirty-equals", "0.11", ("dirty_equals",)),
    Project("aiostream", "0.8.1", ("aiostream",)),
    Project("wireup", "2.13.0", ("wireup",)),
    Project("expression", "5.8.0", ("expression",)),
)

#: Where mypy looks for a project's configuration, in its own order of preference.
MYPY_CONFIG_FILES = ("mypy.ini", ".mypy.ini", "pyproject.toml", "setup.cfg")
#: Directories that tools write as caches: not part of the tree that apply must leave alone.
CACHE_DIRS = frozenset({"__pycache__", ".mypy_cache", ".typeseer_cache", ".ruff_cache",
                        ".pytest_cache"})
#: Output flags that make mypy's report one parseable line per message, whatever the project's
#: configuration says (``pretty``, ``show_error_end``, ``color_output``...).
MYPY_OUTPUT_FLAGS = ("--no-pretty", "--no-color-output", "--show-error-codes",
                     "--hide-error-context", "--hide-column-numbers", "--hide-error-end",
                     "--no-error-summary", "--show-traceback")

DEFAULT_CACHE = ROOT / "bench" / ".cache" / "apply"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "apply.json"
CORPUS_LISTS = ROOT / "src" / "typeseer" / "corpus"


# -- choosing -------------------------------------------------------------------------------

def normalise_name(name: str) -> str:
    """PEP 503 normal form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def excluded_names() -> set[str]:
    """Every distribution named in typeseer's corpus lists (training, tests, hold-out)."""
    lists = [CORPUS_LISTS / "packages.txt", CORPUS_LISTS / "lock.txt",
             CORPUS_LISTS / "holdout.txt", *sorted((CORPUS_LISTS / "splits").glob("*.txt"))]
    names: set[str] = set()
    for path in lists:
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split("#", 1)[0].split()
            if words:
                names.add(normalise_name(words[0]))
    return names


def select_projects(spec: str | None,
                    projects: Sequence[Project] = PROJECTS) -> list[Project]:
    """The ``projects`` named in ``spec`` (comma-separated, any spelling of the name, each
    once), all of them when None. Raises SystemExit naming the known projects for an unknown
    one."""
    if spec is None:
        return list(projects)
    by_name = {normalise_name(p.name): p for p in projects}
    chosen: list[Project] = []
    for raw in filter(None, (s.strip() for s in spec.split(","))):
        project = by_name.get(normalise_name(raw))
        if project is None:
            known = ", ".join(p.name for p in projects)
            raise SystemExit(f"unknown project {raw!r} (known: {known})")
        if project not in chosen:
            chosen.append(project)
    return chosen


# -- fetching -------------------------------------------------------------------------------

def _is_sdist_of(filename: str, project: Project) -> bool:
    """``dirty-equals-0.11.tar.gz`` and ``dirty_equals-0.11.zip`` are sdists of
    dirty-equals 0.11 (the name part compared in normal form)."""
    name, _, rest = filename.rpartition("-")
    return (normalise_name(name) == normalise_name(project.name)
            and rest in (f"{project.version}.tar.gz", f"{project.version}.zip"))


def fetch_sdist(project: Project, cache: Path) -> Path:
    """The cached sdist of ``project``, downloaded with pip if missing."""
    sdists = cache / "sdist"
    sdists.mkdir(parents=True, exist_ok=True)

    def cached() -> Path | None:
        found = [p for p in sdists.iterdir() if _is_sdist_of(p.name, project)]
        return min(found) if found else None

    sdist = cached()
    if sdist is None:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--no-binary=:all:", "--dest", str(sdists), project.spec]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        sdist = cached()
        if done.returncode != 0 or sdist is None:
            raise RuntimeError(f"pip download {project.spec} failed:\n{done.stderr.strip()}")
    return sdist


def _sdist_members(sdist: Path) -> dict[str, bytes]:
    """The files of an sdist, by path below its top directory."""
    files: dict[str, bytes] = {}
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    files[info.filename] = archive.read(info)
    else:
        with tarfile.open(sdist) as archive:
            for member in archive.getmembers():
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is not None:
                    files[member.name] = handle.read()
    return {path.split("/", 1)[1]: data for path, data in files.items() if "/" in path}


def unpack(project: Project, sdist: Path, cache: Path) -> Path:
    """The original tree: the project's packages (flat or ``src/`` layout, moved to the root)
    and its mypy configuration files, unpacked once."""
    target = cache / "src" / f"{normalise_name(project.name)}-{project.version}"
    if (target / ".complete").exists():
        return target
    members = _sdist_members(sdist)
    kept: dict[str, bytes] = {}
    for package in project.packages:
        for layout in (f"{package}/", f"src/{package}/"):
            found = {path.removeprefix(layout): data for path, data in members.items()
                     if path.startswith(layout)}
            if found:
                kept.update({f"{package}/{path}": data for path, data in found.items()
                             if not set(PurePosixPath(path).parts) & CACHE_DIRS
                             and not path.endswith((".pyc", ".so", ".pyd"))})
                break
        else:
            raise RuntimeError(f"{sdist.name} has no package directory {package}/")
    for name in MYPY_CONFIG_FILES:
        if name in members:
            kept[name] = members[name]
    with tempfile.TemporaryDirectory(dir=cache) as temp:
        for path, data in kept.items():
            destination = Path(temp, path)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
        Path(temp, ".complete").touch()
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(temp, target)
        Path(temp).mkdir()  # TemporaryDirectory removes it on exit
    return target


def copy_tree(source: Path, destination: Path) -> None:
    """A copy of ``source`` at ``destination`` (replaced), without the ``.complete`` marker."""
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".complete"))


# -- the tree -------------------------------------------------------------------------------

def python_files(root: Path, packages: tuple[str, ...]) -> list[str]:
    """The ``.py`` files of ``packages`` under ``root``, as sorted POSIX relative paths."""
    found: list[str] = []
    for package in packages:
        for path in (root / package).rglob("*.py"):
            relative = path.relative_to(root)
            if not set(relative.parts) & CACHE_DIRS:
                found.append(relative.as_posix())
    return sorted(found)


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` but tool caches, by POSIX relative path."""
    hashes: dict[str, str] = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in CACHE_DIRS)
        for name in filenames:
            path = Path(directory, name)
            hashes[path.relative_to(root).as_posix()] = hashlib.sha256(
                path.read_bytes()).hexdigest()
    return hashes


def changed_files(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(path for path in before.keys() | after.keys()
                  if before.get(path) != after.get(path))


def count_lines(root: Path, files: list[str]) -> int:
    return sum(len((root / f).read_bytes().splitlines()) for f in files)


def compile_failures(root: Path, files: list[str]) -> list[tuple[str, str]]:
    """The files among ``files`` that ``compile()`` rejects, with the error."""
    failures: list[tuple[str, str]] = []
    for relpath in files:
        path = root / relpath
        try:
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            failures.append((relpath, f"{type(error).__name__}: {error}"))
    return failures


# -- imports --------------------------------------------------------------------------------

def module_names(files: list[str]) -> list[str]:
    return [module_name_of(f)[0] for f in files]


def import_module(root: Path, module: str, timeout: float) -> str | None:
    """Import ``module`` in a fresh interpreter with ``root`` first on ``sys.path``; None when
    it imports, else the last line of the error."""
    code = ("import importlib, sys; sys.path.insert(0, sys.argv[1]); "
            "importlib.import_module(sys.argv[2])")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        done = subprocess.run([sys.executable, "-I", "-B", "-c", code, str(root), module],
                              cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g}s"
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"


def import_results(root: Path, modules: list[str], timeout: float) -> dict[str, str | None]:
    """``import_module`` of every module (two at a time: the machine has two cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        errors = pool.map(lambda m: import_module(root, m, timeout), modules)
        return dict(zip(modules, errors, strict=True))


# -- mypy -----------------------------------------------------------------------------------

_MYPY_LINE = re.compile(r"^(?P<file>[^:\n]+\.pyi?):(?P<line>\d+): (?P<severity>error|note|warning):"
                        r" (?P<message>.*?)(?:  \[(?P<code>[a-z0-9-]+)\])?$")
_LINE_NUMBER = re.compile(r"\bline \d+\b")


@dataclass(slots=True)
class MypyRun:
    """What mypy said about one tree."""

    #: mypy's exit code (0 clean, 1 errors, 2 crash or bad usage).
    returncode: int
    #: Errors as (file, code, message), lines left out (messages' "line N" too).
    errors: Counter[tuple[str, str, str]]
    seconds: float
    #: The tail of the output when mypy crashed (exit code 2).
    crash: str | None = None


def mypy_config(root: Path) -> Path | None:
    """The project's own mypy configuration under ``root``, found the way mypy finds it."""
    for name in MYPY_CONFIG_FILES:
        path = root / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if name.endswith(".toml") and not re.search(r"^\[tool\.mypy", text, re.MULTILINE):
            continue
        if name == "setup.cfg" and not re.search(r"^\[mypy", text, re.MULTILINE):
            continue
        return path
    return None


def run_mypy(root: Path, packages: tuple[str, ...], config: Path, cache_dir: Path,
             timeout: float) -> MypyRun:
    """mypy on ``packages`` from ``root`` with ``config`` (always given: mypy would otherwise
    look upwards for another project's configuration)."""
    command = [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir",
               str(cache_dir), *MYPY_OUTPUT_FLAGS, *packages]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=timeout,
                          check=False)
    seconds = time.perf_counter() - started
    errors: Counter[tuple[str, str, str]] = Counter()
    for line in done.stdout.splitlines():
        match = _MYPY_LINE.match(line)
        if match and match["severity"] == "error":
            message = _LINE_NUMBER.sub("line N", match["message"])
            if match["code"] == "no-untyped-def":
                # "missing a type annotation" and "... for one or more parameters" are one
                # error (a def not fully annotated), as in typeseer's verification.
                message = ""
            errors[(match["file"], match["code"] or "", message)] += 1
    crash = None
    if done.returncode not in (0, 1):
        crash = (done.stdout + done.stderr).strip()[-2000:]
    return MypyRun(done.returncode, errors, seconds, crash)


# -- annotations ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Annotation:
    """An annotation found at a site."""

    #: As written.
    text: str
    #: Normalised (``annotations.existing_type``); None when not a type.
    type: TypeExpr | None


def annotations_of(root: Path, files: list[str]) -> dict[SiteKey, Annotation | None]:
    """Every site of ``files`` under ``root`` (keys relative to ``root``) and its annotation
    (None where it has none)."""
    found: dict[SiteKey, Annotation | None] = {}
    sources, _ = discover([root / f for f in files])
    for source in sources:
        relpath = source.path.relative_to(root).as_posix()
        try:
            text = read_source(source)
            tree = parse_source(text, str(source.path))
        except (UnreadableSource, ParseFailure):
            continue
        module_name, is_package = module_name_of(relpath)
        for site in extract_sites(relpath, text, tree, module_name, is_package).sites:
            found[site.key] = (None if site.annotation is None
                               else Annotation(site.annotation, existing_type(site)))
    return found


@dataclass(slots=True)
class MatchCounts:
    """Written annotations against the original ones."""

    written: int = 0
    #: Written where the original has a type that is not ``Any`` (the scored ones).
    scored: int = 0
    exact: int = 0
    parametric: int = 0
    #: Written where the original site has no annotation, or one that is not a type.
    no_truth: int = 0
    #: Written where the original is ``Any``.
    truth_any: int = 0
    #: Scored ones that are ``-> None`` in the original (the easy part), and exact among them.
    none_returns: int = 0
    none_returns_exact: int = 0

    def add(self, original: Annotation | None, written: Annotation, kind: str) -> str:
        """Count one written annotation at a site of ``kind``; returns its outcome."""
        outcome = self._outcome(original, written)
        if original is not None and original.type == NONE and kind == "return":
            self.none_returns += 1
            self.none_returns_exact += outcome == "exact"
        return outcome

    def _outcome(self, original: Annotation | None, written: Annotation) -> str:
        self.written += 1
        if original is None or original.type is None:
            self.no_truth += 1
            return "no_truth"
        if original.type == ANY:
            self.truth_any += 1
            return "any"
        self.scored += 1
        if written.type is not None and written.type == original.type:
            self.exact += 1
            self.parametric += 1
            return "exact"
        if written.type is not None and same_up_to_parametric(written.type, original.type):
            self.parametric += 1
            return "parametric"
        return "wrong"

    def rate(self, hits: int) -> float | None:
        return hits / self.scored if self.scored else None


@dataclass(slots=True)
class Matching:
    """The written annotations scored, in total and per site kind."""

    #: Sites of the stripped copy, unannotated there, whose original annotation is scored.
    truth_sites: int = 0
    total: MatchCounts = field(default_factory=MatchCounts)
    by_kind: dict[str, MatchCounts] = field(default_factory=dict)
    #: (key, written, original) of the annotations that are neither exact nor parametric.
    wrong: list[tuple[SiteKey, str, str]] = field(default_factory=list)
    #: (key, written, original) of the annotations right only up to parametric types.
    parametric_only: list[tuple[SiteKey, str, str]] = field(default_factory=list)


def _is_scored(annotation: Annotation | None) -> bool:
    return annotation is not None and annotation.type is not None and annotation.type != ANY


def match_written(original: dict[SiteKey, Annotation | None],
                  stripped: dict[SiteKey, Annotation | None],
                  applied: dict[SiteKey, Annotation | None]) -> Matching:
    """Score the annotations of ``applied`` that ``stripped`` did not have."""
    matching = Matching()
    matching.truth_sites = sum(_is_scored(original.get(key)) and annotation is None
                               for key, annotation in stripped.items())
    for key in sorted(applied):
        written, truth = applied[key], original.get(key)
        if written is None or stripped.get(key) is not None:
            continue
        matching.total.add(truth, written, key.kind)
        outcome = matching.by_kind.setdefault(key.kind, MatchCounts()).add(truth, written,
                                                                            key.kind)
        if truth is not None and outcome == "wrong":
            matching.wrong.append((key, written.text, truth.text))
        elif truth is not None and outcome == "parametric":
            matching.parametric_only.append((key, written.text, truth.text))
    return matching


# -- running apply --------------------------------------------------------------------------

@dataclass(slots=True)
class ApplyRun:
    returncode: int
    seconds: float
    stderr: str
    report: dict[str, object] | None


def run_apply(root: Path, options: list[str], report: Path | None, timeout: float,
              skip: bool) -> ApplyRun:
    """``typeseer apply ROOT *options`` (a no-op when ``skip``)."""
    if skip:
        if report is not None:
            atomic_write_text(report, json.dumps({"changed_files": [], "annotations": [],
                                                  "dropped": [], "skipped": {},
                                                  "verify": None, "seconds": 0.0}))
        return ApplyRun(0, 0.0, "", _read_report(report))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [sys.executable, "-m", "typeseer", "apply", str(root), *options]
    if report is not None:
        command += ["--report", str(report)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root.parent, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    seconds = time.perf_counter() - started
    return ApplyRun(done.returncode, seconds, done.stderr.strip()[-3000:],
                    _read_report(report) if done.returncode in (0, 1) else None)


def _read_report(path: Path | None) -> dict[str, object] | None:
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def unified_diff(before: Path, after: Path, relpath: str, limit: int = 4000) -> str:
    """``diff -u`` of one file between two trees, cut at ``limit`` characters."""
    old = (before / relpath).read_text(encoding="utf-8", errors="replace").splitlines(True)
    new = (after / relpath).read_text(encoding="utf-8", errors="replace").splitlines(True) \
        if (after / relpath).exists() else []
    text = "".join(difflib.unified_diff(old, new, f"a/{relpath}", f"b/{relpath}"))
    return text if len(text) <= limit else text[:limit] + "\n... (cut)\n"


# -- one project ----------------------------------------------------------------------------

def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


@dataclass(slots=True)
class Trees:
    """The trees of one project and what the checks need to know about them."""

    project: Project
    #: The unpacked sdist: the ground truth.
    original: Path
    #: Stripped of every annotation (``strip_tree``); each apply run starts from a copy.
    stripped: Path
    #: The copy apply wrote into (the last run's).
    applied: Path
    work: Path
    #: ``.py`` files of the project's packages, relative to each tree's root.
    files: list[str]
    #: The mypy configuration every mypy run uses (the project's, else an empty one).
    mypy_config: Path
    strip: dict[str, object]


def prepare(project: Project, cache: Path, work: Path) -> Trees:
    """Fetch, unpack and strip ``project`` into ``work``."""
    original = unpack(project, fetch_sdist(project, cache), cache)
    stripped = work / "stripped"
    copy_tree(original, stripped)  # the configuration and data files
    stats = strip_tree(original, stripped)
    (stripped / ".complete").unlink(missing_ok=True)
    config = mypy_config(stripped)
    if config is None:  # an empty configuration, outside the tree: mypy's defaults
        config = work / "mypy-defaults.ini"
        atomic_write_text(config, "[mypy]\n")
    return Trees(project, original, stripped, work / "applied", work,
                 python_files(original, project.packages), config,
                 {"stripped": stats.stripped, "failed": [list(f) for f in stats.failed],
                  "skipped_stubs": stats.skipped_stubs})


def _without_location(reason: str) -> str:
    """``koda/either.py:10: Function is ...`` -> ``Function is ...`` (to count reasons)."""
    return re.sub(r"^\S+?:\d+(?::\d+)?: ", "", reason)


def apply_step(trees: Trees, options: list[str], args: argparse.Namespace) -> dict[str, object]:
    """Step 1: apply ``--repeat`` times, each on a fresh copy of the stripped tree."""
    runs: list[ApplyRun] = []
    for attempt in range(args.repeat):
        copy_tree(trees.stripped, trees.applied)
        print(f"  apply {attempt + 1}/{args.repeat}... ", end="", file=sys.stderr, flush=True)
        run = run_apply(trees.applied, options, trees.work / "report.json", args.timeout,
                        args.skip_apply)
        print(f"{run.seconds:.1f}s (exit {run.returncode})", file=sys.stderr)
        runs.append(run)
        if run.returncode not in (0, 1):
            break
    last = runs[-1]
    report = last.report or {}
    dropped = [d for d in _list(report.get("dropped")) if isinstance(d, dict)]
    seconds = [r.seconds for r in runs]
    return {
        "command": ["typeseer", "apply", "ROOT", *options, "--report", "R.json"],
        "returncode": last.returncode,
        "stderr_tail": last.stderr,
        "seconds": seconds,
        "median_seconds": statistics.median(seconds),
        "report_changed_files": len(_list(report.get("changed_files"))),
        "report_annotations": len(_list(report.get("annotations"))),
        "dropped": len(dropped),
        "dropped_reasons": dict(Counter(_without_location(str(d.get("reason")))
                                        for d in dropped).most_common()),
        "skipped": report.get("skipped"),
        "verify": report.get("verify"),
        "report_seconds": report.get("seconds"),
    }


def compile_step(trees: Trees, written: list[str]) -> dict[str, object]:
    """Step 2: every written ``.py`` file compiles."""
    checked = [f for f in written if f.endswith(".py")]
    failures = compile_failures(trees.applied, checked)
    return {"checked": len(checked), "ok": len(checked) - len(failures),
            "failures": [list(f) for f in failures],
            "diffs": {f: unified_diff(trees.stripped, trees.applied, f) for f, _ in failures}}


def import_step(trees: Trees, timeout: float) -> dict[str, object]:
    """Step 3: the modules that imported from the stripped tree still import."""
    modules = module_names(trees.files)
    print("  imports... ", end="", file=sys.stderr, flush=True)
    before = import_results(trees.stripped, modules, timeout)
    after = import_results(trees.applied, modules, timeout)
    imported_before = [m for m in modules if before[m] is None]
    imported_after = [m for m in modules if after[m] is None]
    print(f"{len(imported_before)} -> {len(imported_after)} of {len(modules)}", file=sys.stderr)
    return {"modules": len(modules), "before": len(imported_before),
            "after": len(imported_after),
            "broken": {m: after[m] for m in imported_before if after[m] is not None},
            "fixed": [m for m in imported_after if m not in imported_before],
            "failing_before": {m: e for m, e in before.items() if e is not None}}


def idempotence_step(trees: Trees, options: list[str],
                     args: argparse.Namespace) -> dict[str, object]:
    """Step 4: a second apply with the same options changes no byte (run on a copy, so the
    applied tree stays as the first run left it), and ``--check`` exits 0."""
    print("  second run and --check... ", end="", file=sys.stderr, flush=True)
    applied = tree_hashes(trees.applied)
    second_dir = trees.work / "second"
    copy_tree(trees.applied, second_dir)
    second = run_apply(second_dir, options, trees.work / "report-second.json", args.timeout,
                       args.skip_apply)
    second_changed = changed_files(applied, tree_hashes(second_dir))
    second_diffs = {f: unified_diff(trees.applied, second_dir, f) for f in second_changed[:10]}
    check = run_apply(trees.applied, ["--check", *options[1:]], None, args.timeout,
                      args.skip_apply)
    check_changed = changed_files(applied, tree_hashes(trees.applied))
    idempotent = (not second_changed and second.returncode in (0, 1)
                  and check.returncode == 0 and not check_changed)
    print(f"{'idempotent' if idempotent else 'NOT idempotent'} "
          f"({second.seconds + check.seconds:.1f}s)", file=sys.stderr)
    return {
        "idempotent": idempotent,
        "second_returncode": second.returncode,
        "second_stderr_tail": second.stderr[-1000:],
        "second_changed_files": second_changed,
        "second_diffs": second_diffs,
        "second_annotations": len(_list((second.report or {}).get("annotations"))),
        "check_returncode": check.returncode,
        "check_stderr_tail": check.stderr[-1000:],
        "check_changed_files": check_changed,
    }


def mypy_step(trees: Trees, timeout: float) -> dict[str, object]:
    """Step 5: mypy reports nothing on the applied tree that it did not on the stripped one."""
    print("  mypy... ", end="", file=sys.stderr, flush=True)
    packages = trees.project.packages
    before = run_mypy(trees.stripped, packages, trees.mypy_config,
                      trees.work / "mypy-cache-stripped", timeout)
    after = run_mypy(trees.applied, packages, trees.mypy_config,
                     trees.work / "mypy-cache-applied", timeout)
    # the project's own annotations, for scale: what mypy says about them here
    original = run_mypy(trees.original, packages, trees.mypy_config,
                        trees.work / "mypy-cache-original", timeout)
    new, gone = after.errors - before.errors, before.errors - after.errors
    print(f"{before.errors.total()} -> {after.errors.total()} errors, {new.total()} new",
          file=sys.stderr)
    return {
        "config": (trees.mypy_config.name if trees.mypy_config.parent == trees.stripped
                   else None),
        "flags": list(MYPY_OUTPUT_FLAGS),
        "stripped_errors": before.errors.total(),
        "applied_errors": after.errors.total(),
        "new_errors": new.total(),
        "fixed_errors": gone.total(),
        "original_errors": original.errors.total(),
        "original_new_errors": (original.errors - before.errors).total(),
        "new_by_code": dict(Counter({code: n for (_, code, _), n in new.items()})),
        "new": [[*key, n] for key, n in sorted(new.items())],
        "returncodes": [before.returncode, after.returncode, original.returncode],
        "seconds": [before.seconds, after.seconds, original.seconds],
        "crash": [before.crash, after.crash, original.crash],
    }


def _counts_json(counts: MatchCounts) -> dict[str, object]:
    return {"written": counts.written, "scored": counts.scored, "exact": counts.exact,
            "parametric": counts.parametric, "no_truth": counts.no_truth,
            "any": counts.truth_any, "exact_rate": counts.rate(counts.exact),
            "parametric_rate": counts.rate(counts.parametric),
            "none_returns": counts.none_returns, "none_returns_exact": counts.none_returns_exact,
            "exact_rate_without_none": _rate(counts.exact - counts.none_returns_exact,
                                             counts.scored - counts.none_returns)}


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def match_step(trees: Trees) -> dict[str, object]:
    """Step 6: the written annotations against the original ones, site by site."""
    matching = match_written(annotations_of(trees.original, trees.files),
                             annotations_of(trees.stripped, trees.files),
                             annotations_of(trees.applied, trees.files))
    exact = matching.total.exact
    return {**_counts_json(matching.total),
            "truth_sites": matching.truth_sites,
            "recall_exact": exact / matching.truth_sites if matching.truth_sites else None,
            "by_kind": {kind: _counts_json(c) for kind, c in sorted(matching.by_kind.items())},
            "wrong": [[*k, w, o] for k, w, o in matching.wrong],
            "parametric_only": [[*k, w, o] for k, w, o in matching.parametric_only]}


def problems_of(result: dict[str, Any]) -> list[str]:
    """What failed among the acceptance checks, one line each."""
    problems: list[str] = []
    if result["apply"]["returncode"] not in (0, 1):
        problems.append(f"apply exited with {result['apply']['returncode']}")
    if result["compile"]["failures"]:
        problems.append(f"{len(result['compile']['failures'])} written files do not compile")
    if result["imports"]["broken"]:
        problems.append(f"{len(result['imports']['broken'])} modules no longer import")
    idempotence = result["idempotence"]
    if idempotence["second_changed_files"]:
        problems.append(f"a second apply changed {len(idempotence['second_changed_files'])} "
                        "files")
    if idempotence["second_returncode"] not in (0, 1):
        problems.append(f"the second apply exited with {idempotence['second_returncode']}")
    if idempotence["check_returncode"] != 0:
        problems.append(f"apply --check exited with {idempotence['check_returncode']}")
    if idempotence["check_changed_files"]:
        problems.append("apply --check changed files")
    if result["mypy"]["new_errors"]:
        problems.append(f"{result['mypy']['new_errors']} new mypy errors")
    if any(result["mypy"]["crash"]):
        problems.append("mypy crashed")
    return problems


def bench_project(project: Project, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every step on one project; the JSON of its results, ``problems`` included."""
    trees = prepare(project, Path(args.cache_dir), work)
    options = ["--write", *([] if args.no_verify else ["--verify", "mypy"]),
               *(args.apply_arg or [])]
    apply = apply_step(trees, options, args)
    written = changed_files(tree_hashes(trees.stripped), tree_hashes(trees.applied))
    result: dict[str, Any] = {
        "version": project.version,
        "packages": list(project.packages),
        "files": len(trees.files),
        "lines": count_lines(trees.original, trees.files),
        "strip": trees.strip,
        "apply": {**apply, "changed_files": len(written)},
        "compile": compile_step(trees, written),
        "imports": import_step(trees, args.import_timeout),
        "idempotence": idempotence_step(trees, options, args),
        "mypy": mypy_step(trees, args.timeout),
        "match": match_step(trees),
    }
    result["problems"] = problems_of(result)
    return result


# -- output ---------------------------------------------------------------------------------

def _percent(value: object) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, float) else "-"


_HEADER = ["project", "files", "lines", "written", "dropped", "exact", "param~", "compile",
           "import", "idempotent", "new mypy", "time (s)"]


def _row(label: str, result: dict[str, Any]) -> list[str]:
    match, imports = result["match"], result["imports"]
    return [label, str(result["files"]), str(result["lines"]), str(match["written"]),
            str(result["apply"]["dropped"]),
            f"{_percent(match['exact_rate'])} ({match['exact']}/{match['scored']})",
            _percent(match["parametric_rate"]),
            f"{result['compile']['ok']}/{result['compile']['checked']}",
            f"{imports['before']}->{imports['after']}/{imports['modules']}",
            "yes" if result["idempotence"]["idempotent"] else "NO",
            str(result["mypy"]["new_errors"]), f"{result['apply']['median_seconds']:.1f}"]


def render_table(results: dict[str, dict[str, Any]]) -> str:
    """One row per project; 'import' is before->after/modules."""
    rows = [_HEADER, *(_row(f"{name} {r['version']}", r) for name, r in results.items())]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    return "\n".join("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                               for i, cell in enumerate(row)).rstrip() for row in rows)


def totals(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Sums over every project (rates are micro-averages: every written annotation counts once)."""
    def total(section: str, key: str) -> int:
        return sum(int(r[section][key]) for r in results.values())

    scored, exact, parametric, none_returns, none_exact = (
        total("match", k)
        for k in ("scored", "exact", "parametric", "none_returns", "none_returns_exact"))
    return {
        "projects": len(results),
        "files": sum(int(r["files"]) for r in results.values()),
        "lines": sum(int(r["lines"]) for r in results.values()),
        "written": total("match", "written"), "truth_sites": total("match", "truth_sites"),
        "scored": scored, "exact": exact,
        "parametric": parametric,
        "exact_rate": exact / scored if scored else None,
        "parametric_rate": parametric / scored if scored else None,
        "none_returns": none_returns,
        "exact_rate_without_none": _rate(exact - none_exact, scored - none_returns),
        "dropped": total("apply", "dropped"),
        "compile_ok": total("compile", "ok"), "compile_checked": total("compile", "checked"),
        "imports_before": total("imports", "before"), "imports_after": total("imports", "after"),
        "new_mypy_errors": total("mypy", "new_errors"),
        "all_idempotent": all(r["idempotence"]["idempotent"] for r in results.values()),
        "apply_seconds": sum(float(r["apply"]["median_seconds"]) for r in results.values()),
    }






def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", help="comma-separated project names (default: all of "
                        + ", ".join(p.spec for p in PROJECTS) + ")")
    parser.add_argument("--no-verify", action="store_true",
                        help="run apply without --verify mypy")
    parser.add_argument("--repeat", type=int, default=1,
                        help="apply runs per project, each on a fresh copy; the time is the "
                             "median (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directories (always kept when a check fails)")
    parser.add_argument("--apply-arg", action="append", metavar="ARG",
                        help="extra argument for typeseer apply (repeatable)")
    parser.add_argument("--skip-apply", action="store_true",
                        help="replace apply by a no-op (checks the harness itself)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE),
                        help="where sdists and unpacked sources are kept (default: %(default)s)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT),
                        help="results JSON (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds allowed for one apply or mypy run (default: %(default)s)")
    parser.add_argument("--import-timeout", type=float, default=30.0,
                        help="seconds allowed to import one module (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    projects = select_projects(args.projects)
    used = excluded_names() & {normalise_name(p.name) for p in projects}
    if used:
        raise SystemExit(f"in typeseer's corpus lists, not a fair benchmark: {sorted(used)}")

    results: dict[str, dict[str, Any]] = {}
    failures: dict[str, str] = {}
    kept: dict[str, str] = {}
    started = time.perf_counter()
    for project in projects:
        print(f"{project.spec}:", file=sys.stderr, flush=True)
        work = Path(tempfile.mkdtemp(prefix=f"typeseer-apply-{normalise_name(project.name)}-"))
        try:
            result = bench_project(project, args, work)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            print(f"  failed: {error}", file=sys.stderr)
            failures[project.name] = str(error)
            kept[project.name] = str(work)
            continue
        results[project.name] = result
        problems = result["problems"]
        for problem in problems:
            print(f"  PROBLEM: {problem}", file=sys.stderr)
        if args.keep or problems:
            kept[project.name] = str(work)
            print(f"  work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work)

    print(render_table(results))
    summary = totals(results)
    print(f"all: {summary['written']} annotations written ({summary['truth_sites']} stripped "
          f"sites had an original type), exact "
          f"{_percent(summary['exact_rate'])}, up to parametric "
          f"{_percent(summary['parametric_rate'])} of {summary['scored']} scored "
          f"({_percent(summary['exact_rate_without_none'])} exact without the "
          f"{summary['none_returns']} '-> None'); "
          f"{summary['new_mypy_errors']} new mypy errors; "
          f"bench {time.perf_counter() - started:.0f}s")
    write_json(Path(args.output), {
        "git": git_state(),
        "python": sys.version.split()[0],
        "machine": {"cpus": os.cpu_count()},
        "verify": None if args.no_verify else "mypy",
        "apply_args": args.apply_arg or [],
        "repeat": args.repeat,
        "skip_apply": args.skip_apply,
        "projects": results,
        "all": summary,
        "failures": failures,
        "kept_work_dirs": kept,
    })
    print(f"results written to {args.output}", file=sys.stderr)
    problems_found = any(r["problems"] for r in results.values())
    return 1 if failures or problems_found else 0


if __name__ == "__main__":
    raise SystemExit(main())
