"""``typeseer corpus build``: the labelled-site corpus of typed PyPI packages (issue 3, step 1).

Stages, each resumable (an interrupted build picks up where it stopped; a finished one redoes
nothing, and a rebuild from the same lock gives the same data):

1. **download** the candidates of ``packages.txt`` and the hold-out of ``holdout.txt`` with pip
   (no dependencies, wheels for CPython 3.12 only) into ``CACHE/wheels``; pins from
   ``lock.txt`` make the requests exact (``download``);
2. **scan** each wheel: keep ``.py`` files under a ``py.typed`` package, drop vendored folders,
   tests and stubs, fingerprint every file (``wheels``); cached in ``OUT/scan/NAME.json``;
3. **de-duplicate** across packages in a fixed order: hold-out packages first (so no training
   file copies an evaluation benchmark), then the candidates by name (``dedup``);
4. **extract** the labelled sites of the kept files with the project's site extractor into one
   Parquet shard per package, ``OUT/sites/NAME.parquet``, with caps on generated code and on
   sites per package (``extract``); a shard is redone only when its inputs changed;
5. **split** packages into train/valid/test by a seeded hash of the name (``split``) and write
   ``OUT/splits/*.txt``, ``OUT/lock.txt``, the kept sources of the valid and test
   packages under ``OUT/sources/SPLIT/NAME/`` (for ``typeseer evaluate``) and
   ``OUT/summary.json``.

Shard columns (one row per labelled site): ``package version split file module scope kind name
line col label annotation default value decorators usage function params docstring doc_type
generated``. ``label`` is the normalised annotation, ``annotation`` its source text, ``value``
the first value bound to a variable or attribute, ``usage`` the PYInfer-style token windows
around each use (``sites.usage_slice``), ``function``/``params``/``docstring`` describe the
enclosing function (the method of the first binding for attributes), ``doc_type`` the type the
docstring gives a parameter or return, as written.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import json
import os
import shutil
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from typeseer import parsing, sites, typeexpr
from typeseer.corpus import dedup, extract, wheels
from typeseer.corpus.dedup import Deduplicator
from typeseer.corpus.download import DownloadResult, PipRunner, download_all, run_pip
from typeseer.corpus.extract import COLUMNS, ExtractStats, extract_package
from typeseer.corpus.lists import (
    DEFAULT_HOLDOUT_FILE,
    DEFAULT_LOCK_FILE,
    DEFAULT_PACKAGES_FILE,
    read_lock,
    read_names,
    write_lock,
)
from typeseer.corpus.split import DEFAULT_SEED, SPLITS, split_packages, write_split_lists
from typeseer.corpus.store import atomic_write_bytes, read_json, write_json
from typeseer.corpus.wheels import FileEntry, WheelScan, scan_wheel
from typeseer.executor import (
    Executor,
    ExecutorError,
    LocalExecutor,
    Task,
    add_executor_options,
    create_executor,
    executor_settings,
)

__all__ = [
    "DEFAULT_MAX_GENERATED_SITES",
    "DEFAULT_MAX_SITES",
    "DEFAULT_MAX_SITES_PER_FILE",
    "CorpusSummary",
    "add_corpus_parser",
    "build_corpus",
    "package_sources",
    "read_sites",
    "run_corpus_command",
]

#: Labelled sites kept per package, per package from generated files, and per file.
DEFAULT_MAX_SITES = 20_000
DEFAULT_MAX_GENERATED_SITES = 2_000
DEFAULT_MAX_SITES_PER_FILE = 3_000
#: Splits whose kept sources are written out for evaluation.
EXPORTED_SPLITS = ("valid", "test")
#: Bump when the scan record's meaning changes.
SCAN_VERSION = 2
#: Bump when the shard's columns or meaning change (the extractor's own sources are hashed too).
EXTRACT_VERSION = 1

Log = Callable[[str], None]
T = TypeVar("T")


@dataclass(slots=True)
class CorpusSummary:
    """Figures of one build (also written to ``OUT/summary.json``)."""

    out_dir: str
    packages_listed: int = 0
    packages_downloaded: int = 0
    download_failures: dict[str, str] = field(default_factory=dict)
    #: Scan or extraction tasks that failed every try (``"extract NAME"``: why); the next
    #: build tries them again.
    failures: dict[str, str] = field(default_factory=dict)
    packages_typed: int = 0
    #: Typed packages with at least one labelled site stored.
    packages_kept: int = 0
    files_seen: int = 0
    files_kept: int = 0
    #: Kept files left unread because their package reached its site cap.
    files_unread: int = 0
    files_dropped: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    files_generated: int = 0
    parse_failures: int = 0
    sites_total: int = 0
    sites_labelled: int = 0
    unparsable_labels: int = 0
    sites_kept: int = 0
    sites_capped: int = 0
    sites_by_kind: dict[str, int] = field(default_factory=dict)
    #: Per split: packages and sites.
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    distinct_types: int = 0
    #: Share of kept sites whose label is among the N most common labels (N = 1, 10, 100, 500).
    top_type_share: dict[str, float] = field(default_factory=dict)
    top_types: list[tuple[str, int]] = field(default_factory=list)
    #: Packages with the most kept sites.
    largest_packages: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        """A few lines for a terminal."""
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.sites_by_kind.items()))
        splits = ", ".join(f"{s} {v.get('packages', 0)} pkgs/{v.get('sites', 0)} sites"
                           for s, v in self.splits.items())
        shares = ", ".join(f"top-{k} {v:.1%}" for k, v in self.top_type_share.items())
        return "\n".join([
            f"corpus in {self.out_dir} ({self.seconds:.0f} s)",
            f"packages: {self.packages_listed} listed, {self.packages_downloaded} downloaded, "
            f"{len(self.download_failures)} failed, {self.packages_typed} typed, "
            f"{self.packages_kept} kept; {len(self.failures)} tasks failed",
            f"files: {self.files_seen} seen, {self.files_kept} kept, duplicates {self.duplicates}, "
            f"{self.files_generated} generated, {self.files_unread} unread (caps), "
            f"{self.parse_failures} unparsable",
            f"sites: {self.sites_total} total, {self.sites_labelled} labelled, "
            f"{self.sites_kept} kept ({self.sites_capped} over caps); {kinds}",
            f"splits: {splits}",
            f"types: {self.distinct_types} distinct; {shares}",
        ])


def _stderr_log(start: float) -> Log:
    def log(message: str) -> None:
        print(f"[corpus {time.monotonic() - start:7.1f}s] {message}", file=sys.stderr,
              flush=True)
    return log


def _extractor_hash() -> str:
    """Hash of the sources that decide what a shard holds: a change to them redoes shards."""
    digest = hashlib.sha256(f"extract-{EXTRACT_VERSION}".encode())
    # ``typeseer.annotations`` by name: the package's ``annotations`` attribute is the
    # ``__future__`` feature until the submodule is imported.
    reader = importlib.import_module("typeseer.annotations")
    for module in (sites, typeexpr, reader, parsing, extract, wheels, dedup):
        source = inspect.getsourcefile(module)
        if source is not None:
            digest.update(Path(source).read_bytes())
    return digest.hexdigest()[:16]


def _run_tasks(executor: Executor, stage: str, tasks: Sequence[Task[T]],
               summary: CorpusSummary) -> Iterator[tuple[str, T | None]]:
    """Run ``tasks`` on ``executor``, yielding ``(key, value)`` as they finish; a task that
    failed every try yields None and is recorded in ``summary.failures`` (the build goes
    on, and the next build tries it again)."""
    for outcome in executor.run(tasks):
        if outcome.error is not None:
            summary.failures[f"{stage} {outcome.key}"] = outcome.error
            yield outcome.key, None
        else:
            yield outcome.key, outcome.value


# -- scan ---------------------------------------------------------------------------------

def _scan_job(name: str, wheel_path: str, sha256: str) -> dict[str, Any]:
    scan = scan_wheel(name, Path(wheel_path), sha256)
    return {"version": SCAN_VERSION, **scan.to_json()}


def _scan_all(downloads: dict[str, DownloadResult], wheels_dir: Path, scan_dir: Path,
              executor: Executor, summary: CorpusSummary, log: Log) -> dict[str, WheelScan]:
    scans: dict[str, WheelScan] = {}
    tasks: list[Task[dict[str, Any]]] = []
    for name, result in sorted(downloads.items()):
        if not result.ok or result.wheel is None or result.sha256 is None:
            continue
        cached = read_json(scan_dir / f"{name}.json")
        if (isinstance(cached, dict) and cached.get("version") == SCAN_VERSION
                and cached.get("sha256") == result.sha256):
            scans[name] = WheelScan.from_json(cached)
            continue
        tasks.append(Task(name, _scan_job,
                          (name, str(wheels_dir / result.wheel), result.sha256)))
    log(f"scan: {len(scans)} wheels cached, {len(tasks)} to read")
    for done, (name, value) in enumerate(_run_tasks(executor, "scan", tasks, summary), 1):
        if value is None:
            log(f"scan [{done}/{len(tasks)}] {name}: FAILED ({summary.failures['scan ' + name]})")
            continue
        write_json(scan_dir / f"{name}.json", value)
        scan = WheelScan.from_json(value)
        scans[name] = scan
        if done % 25 == 0 or done == len(tasks):
            log(f"scan [{done}/{len(tasks)}] {name}: {'typed' if scan.typed else 'untyped'}, "
                f"{len(scan.files)} files")
    return scans


# -- de-duplication -----------------------------------------------------------------------

def _deduplicate(scans: dict[str, WheelScan], corpus: Sequence[str], holdout: Sequence[str]
                 ) -> tuple[dict[str, list[FileEntry]], dict[str, list[dict[str, str]]]]:
    """Kept files and dropped duplicates of each corpus package."""
    checker = Deduplicator()
    kept: dict[str, list[FileEntry]] = {}
    duplicates: dict[str, list[dict[str, str]]] = {}
    order = [(name, True) for name in sorted(holdout)] + [(name, False) for name in
                                                          sorted(corpus)]
    for name, is_holdout in order:
        scan = scans.get(name)
        if scan is None or not scan.typed:
            continue
        files: list[FileEntry] = []
        dropped: list[dict[str, str]] = []
        for entry in scan.files:
            duplicate = checker.check(name, entry.path, entry.sha256, entry.norm_hash,
                                      entry.minhash)
            if duplicate is None:
                files.append(entry)
            else:
                dropped.append({"path": entry.path, "kind": duplicate.kind,
                                "of": f"{duplicate.package}:{duplicate.path}"})
        if not is_holdout:
            kept[name] = files
            duplicates[name] = dropped
    return kept, duplicates


# -- extraction ---------------------------------------------------------------------------

def _schema() -> Any:
    import pyarrow as pa

    types: dict[str, Any] = {
        "string": pa.string(), "int32": pa.int32(), "bool": pa.bool_(),
        "list<string>": pa.list_(pa.string()),
        "list<list<string>>": pa.list_(pa.list_(pa.string())),
    }
    return pa.schema([(name, types[kind]) for name, kind in COLUMNS.items()])


def _write_shard(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schema())
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


def _extract_job(name: str, version: str, split: str, wheel_path: str,
                 files: list[dict[str, Any]], shard: str, caps: tuple[int, int, int]
                 ) -> dict[str, Any]:
    entries = [FileEntry(**f) for f in files]
    rows, stats = extract_package(
        name, version, split, Path(wheel_path), entries, max_sites=caps[0],
        max_generated_sites=caps[1], max_sites_per_file=caps[2])
    if rows:
        _write_shard(Path(shard), rows)
    else:
        Path(shard).unlink(missing_ok=True)
    return asdict(stats)


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


# -- outputs ------------------------------------------------------------------------------

def _export_sources(out_dir: Path, name: str, split: str, wheel_path: Path,
                    files: Sequence[FileEntry], fingerprint: str) -> None:
    """Write a package's sources to ``OUT/sources/SPLIT/NAME`` (once per fingerprint)."""
    target = out_dir / "sources" / split / name
    marker = target / ".typeseer-corpus"
    if marker.is_file() and marker.read_text(encoding="utf-8") == fingerprint:
        return
    staging = out_dir / "sources" / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(wheel_path) as archive:
        for entry in files:
            destination = staging / entry.path
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.read(entry.member))
    staging.mkdir(parents=True, exist_ok=True)
    (staging / ".typeseer-corpus").write_text(fingerprint, encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.replace(target)


def read_sites(out_dir: Path, split: str | None = None,
               columns: Sequence[str] | None = None) -> Any:
    """The sites of a built corpus as one pyarrow Table (all splits, or one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names: list[str] | None = None
    if split is not None:
        names = read_names(out_dir / "splits" / f"{split}.txt")
    shards = sorted((out_dir / "sites").glob("*.parquet"))
    if names is not None:
        wanted = set(names)
        shards = [s for s in shards if s.stem in wanted]
    tables = [pq.read_table(s, columns=list(columns) if columns else None) for s in shards]
    if not tables:
        return _schema().empty_table() if columns is None else pa.table(
            {c: pa.array([], type=_schema().field(c).type) for c in columns})
    return pa.concat_tables(tables)


def package_sources(out_dir: Path, name: str) -> Iterator[tuple[str, str]]:
    """``(path, text)`` of a corpus package's kept files, read back from its cached wheel."""
    record = read_json(out_dir / "packages" / f"{name}.json")
    if not isinstance(record, dict):
        raise KeyError(f"{name} is not a package of the corpus in {out_dir}")
    with zipfile.ZipFile(record["wheel_path"]) as archive:
        for entry in record["files"]:
            yield entry["path"], wheels.read_member(archive, entry["member"])


def _type_statistics(out_dir: Path, kept: Sequence[str], summary: CorpusSummary) -> None:
    import pyarrow.parquet as pq

    counts: Counter[str] = Counter()
    for name in kept:
        shard = out_dir / "sites" / f"{name}.parquet"
        if shard.is_file():
            counts.update(pq.read_table(shard, columns=["label"]).column("label").to_pylist())
    total = sum(counts.values())
    summary.distinct_types = len(counts)
    ranked = counts.most_common()
    for top in (1, 10, 100, 500):
        covered = sum(count for _, count in ranked[:top])
        summary.top_type_share[str(top)] = round(covered / total, 4) if total else 0.0
    summary.top_types = [(label, count) for label, count in ranked[:30]]


# -- the build ----------------------------------------------------------------------------

def build_corpus(out_dir: Path, packages_file: Path = DEFAULT_PACKAGES_FILE, jobs: int = 2,
                 limit: int | None = None, *, cache_dir: Path | None = None,
                 holdout_file: Path | None = DEFAULT_HOLDOUT_FILE,
                 lock_file: Path | None = DEFAULT_LOCK_FILE, download_jobs: int = 6,
                 max_sites: int = DEFAULT_MAX_SITES,
                 max_generated_sites: int = DEFAULT_MAX_GENERATED_SITES,
                 max_sites_per_file: int = DEFAULT_MAX_SITES_PER_FILE,
                 seed: str = DEFAULT_SEED, retry_failed: bool = False, offline: bool = False,
                 export_splits: Sequence[str] = EXPORTED_SPLITS,
                 runner: PipRunner = run_pip, log: Log | None = None,
                 executor: Executor | None = None) -> CorpusSummary:
    """Build (or finish, or refresh) the corpus in ``out_dir``; see the module docstring.

    ``limit``: only the first N candidates of ``packages_file``. ``jobs``: processes for
    scanning and extraction, unless ``executor`` (local processes, or Ray: ``out_dir`` and
    the wheel cache must then be on storage every node sees) runs them. ``cache_dir``: where
    wheels are kept (default ``OUT/cache``).
    ``lock_file``: pins to download (missing file: latest versions). ``offline``: use only
    wheels already cached."""
    start = time.monotonic()
    log = log or _stderr_log(start)
    # Absolute: tasks may run in other processes, elsewhere (a Ray worker's working
    # directory is not this one's).
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir = (cache_dir or out_dir / "cache").resolve()
    holdout = read_names(holdout_file) if holdout_file is not None and holdout_file.is_file() \
        else []
    candidates = [n for n in read_names(packages_file) if n not in set(holdout)]
    if limit is not None:
        candidates = candidates[:limit]
    summary = CorpusSummary(str(out_dir), packages_listed=len(candidates))
    pins = read_lock(lock_file) if lock_file is not None else {}
    log(f"{len(candidates)} candidates, {len(holdout)} hold-out packages, {len(pins)} pins")

    executor = executor or LocalExecutor(jobs)
    log(f"tasks run on {executor.describe()}")
    # Downloads wait on the network: on a cluster they are tasks too, here they are threads.
    downloads = download_all([*candidates, *holdout], cache_dir, pins=pins,
                             jobs=download_jobs, retry_failed=retry_failed, offline=offline,
                             runner=runner, log=log,
                             executor=executor if executor.distributed else None)
    summary.packages_downloaded = sum(1 for n in candidates if downloads[n].ok)
    summary.download_failures = {n: downloads[n].reason or "" for n in candidates
                                 if not downloads[n].ok}

    scans = _scan_all(downloads, cache_dir / "wheels", out_dir / "scan", executor, summary, log)
    typed = [n for n in candidates if n in scans and scans[n].typed]
    summary.packages_typed = len(typed)
    for name in typed:
        summary.files_seen += len(scans[name].files)
        for reason, count in scans[name].dropped.items():
            summary.files_dropped[reason] = summary.files_dropped.get(reason, 0) + count

    kept_files, duplicates = _deduplicate(scans, typed, [n for n in holdout if n in scans])
    for dropped in duplicates.values():
        for item in dropped:
            summary.duplicates[item["kind"]] = summary.duplicates.get(item["kind"], 0) + 1
    log(f"dedup: {sum(map(len, kept_files.values()))} files kept, duplicates "
        f"{summary.duplicates}")

    extractor = _extractor_hash()
    caps = (max_sites, max_generated_sites, max_sites_per_file)
    split_of = {name: split for split, names in split_packages(typed, seed).items()
                for name in names}
    records: dict[str, dict[str, Any]] = {}
    tasks: list[Task[dict[str, Any]]] = []
    for name in typed:
        result = downloads[name]
        assert result.wheel is not None and result.version is not None
        files = kept_files.get(name, [])
        wheel_path = cache_dir / "wheels" / result.wheel
        fingerprint = _fingerprint(result.sha256, [(f.path, f.sha256) for f in files],
                                   caps, split_of[name], extractor)
        shard = out_dir / "sites" / f"{name}.parquet"
        record = read_json(out_dir / "packages" / f"{name}.json")
        if (isinstance(record, dict) and record.get("fingerprint") == fingerprint
                and (shard.is_file() or record.get("stats", {}).get("sites_kept") == 0)):
            record["wheel_path"] = str(wheel_path)
            records[name] = record
            continue
        records[name] = {
            "name": name, "version": result.version, "wheel": result.wheel,
            "wheel_path": str(wheel_path), "sha256": result.sha256, "split": split_of[name],
            "fingerprint": fingerprint, "typed_roots": scans[name].typed_roots,
            "dropped": scans[name].dropped, "duplicates": duplicates.get(name, []),
            "files": [asdict(f) for f in files],
        }
        tasks.append(Task(name, _extract_job, (name, result.version, split_of[name],
                                                str(wheel_path), [asdict(f) for f in files],
                                                str(shard), caps)))
    log(f"extract: {len(typed) - len(tasks)} packages up to date, {len(tasks)} to extract")
    for done, (name, value) in enumerate(_run_tasks(executor, "extract", tasks, summary), 1):
        if value is None:
            log(f"extract [{done}/{len(tasks)}] {name}: FAILED "
                f"({summary.failures['extract ' + name]})")
            records.pop(name, None)
            continue
        records[name]["stats"] = value
        write_json(out_dir / "packages" / f"{name}.json", records[name])
        log(f"extract [{done}/{len(tasks)}] {name}: {value['files']} files read, "
            f"{value['sites_kept']} sites kept of {value['sites_labelled']} labelled")

    kept: list[str] = []
    for name in typed:
        record = records.get(name)
        if record is None or "stats" not in record:
            continue
        stats = ExtractStats(**record["stats"])
        summary.files_kept += len(record["files"])
        summary.files_unread += stats.files_skipped
        summary.files_generated += sum(1 for f in record["files"] if f["generated"])
        summary.parse_failures += stats.parse_failures
        summary.sites_total += stats.sites_total
        summary.sites_labelled += stats.sites_labelled
        summary.unparsable_labels += stats.unparsable_labels
        summary.sites_kept += stats.sites_kept
        summary.sites_capped += stats.sites_capped
        for kind, count in stats.by_kind.items():
            summary.sites_by_kind[kind] = summary.sites_by_kind.get(kind, 0) + count
        if stats.sites_kept > 0:
            kept.append(name)
    summary.packages_kept = len(kept)
    splits = split_packages(kept, seed)
    write_split_lists(out_dir / "splits", splits)
    for split in SPLITS:
        summary.splits[split] = {
            "packages": len(splits[split]),
            "sites": sum(records[n]["stats"]["sites_kept"] for n in splits[split])}
    summary.largest_packages = sorted(
        ((n, int(records[n]["stats"]["sites_kept"])) for n in kept),
        key=lambda item: (-item[1], item[0]))[:15]
    locked = [e for n in [*candidates, *holdout] if n in downloads
              and (e := downloads[n].lock_entry()) is not None]
    write_lock(out_dir / "lock.txt", locked)
    for split in export_splits:
        for name in splits.get(split, []):
            record = records[name]
            # Short duplicates (empty ``__init__`` modules and the like) go along: the package
            # needs them to hang together, and they are not copied code.
            kept_paths = {f["path"] for f in record["files"]}
            files = [f for f in scans[name].files
                     if f.path in kept_paths or f.tokens < dedup.MIN_TOKENS]
            _export_sources(out_dir, name, split, Path(record["wheel_path"]), files,
                            record["fingerprint"])
    _type_statistics(out_dir, kept, summary)
    summary.seconds = round(time.monotonic() - start, 1)
    write_json(out_dir / "summary.json", summary.to_json())
    log("done\n" + summary.format())
    return summary


# -- command line -------------------------------------------------------------------------

def add_corpus_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``corpus build`` to an ``argparse`` sub-command set (``parser.add_subparsers()``).
    The parser's default ``handler`` is ``run_corpus_command``."""
    corpus = subparsers.add_parser(
        "corpus", help="build the training corpus of labelled sites from typed PyPI packages")
    commands = corpus.add_subparsers(dest="corpus_command", metavar="COMMAND")
    commands.required = True
    build = commands.add_parser(
        "build", help="download, de-duplicate and extract the corpus (resumable)",
        description=(__doc__ or "").split("\n\n")[0])
    build.add_argument("--out", type=Path, required=True, help="corpus folder")
    build.add_argument("--packages", type=Path, default=DEFAULT_PACKAGES_FILE,
                       help="candidate list (default: the committed packages.txt)")
    build.add_argument("--holdout", type=Path, default=DEFAULT_HOLDOUT_FILE,
                       help="packages never trained on (default: the committed holdout.txt)")
    build.add_argument("--lock", type=Path, default=DEFAULT_LOCK_FILE,
                       help="pinned versions (default: the committed lock.txt)")
    build.add_argument("--cache", type=Path, default=None,
                       help="wheel cache (default: OUT/cache)")
    build.add_argument("--limit", type=int, default=None, metavar="N",
                       help="only the first N candidates")
    build.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                       help="processes for scanning and extraction (default: CPU count; "
                            "with --executor ray, the CPUs of a local Ray instance)")
    build.add_argument("--download-jobs", type=int, default=6, metavar="N",
                       help="parallel pip downloads (default: 6)")
    build.add_argument("--max-sites", type=int, default=DEFAULT_MAX_SITES, metavar="N",
                       help=f"labelled sites kept per package (default: {DEFAULT_MAX_SITES})")
    build.add_argument("--max-generated-sites", type=int, default=DEFAULT_MAX_GENERATED_SITES,
                       metavar="N", help="sites per package from generated files "
                                         f"(default: {DEFAULT_MAX_GENERATED_SITES})")
    build.add_argument("--max-sites-per-file", type=int, default=DEFAULT_MAX_SITES_PER_FILE,
                       metavar="N", help=f"default: {DEFAULT_MAX_SITES_PER_FILE}")
    build.add_argument("--seed", default=DEFAULT_SEED, help="split seed")
    build.add_argument("--retry-failed", action="store_true",
                       help="download again the packages that failed before")
    build.add_argument("--offline", action="store_true",
                       help="download nothing; use the cached wheels")
    add_executor_options(build)
    build.set_defaults(handler=run_corpus_command)
    assert isinstance(corpus, argparse.ArgumentParser)
    return corpus


def run_corpus_command(args: argparse.Namespace) -> int:
    """Run a parsed ``corpus`` command; the exit status."""
    if getattr(args, "corpus_command", None) != "build":
        print("typeseer corpus: unknown command", file=sys.stderr)
        return 2
    for option in ("limit", "jobs", "download_jobs", "max_sites", "max_generated_sites",
                   "max_sites_per_file"):
        value = getattr(args, option)
        if value is not None and value < (0 if option == "limit" else 1):
            print(f"typeseer corpus build: --{option.replace('_', '-')} must be positive",
                  file=sys.stderr)
            return 2
    if not args.packages.is_file():
        print(f"typeseer corpus build: {args.packages}: no such file", file=sys.stderr)
        return 2
    try:
        with create_executor(executor_settings(args, args.jobs)) as executor:
            summary = build_corpus(
                args.out, args.packages, args.jobs, args.limit, cache_dir=args.cache,
                holdout_file=args.holdout, lock_file=args.lock,
                download_jobs=args.download_jobs, max_sites=args.max_sites,
                max_generated_sites=args.max_generated_sites,
                max_sites_per_file=args.max_sites_per_file, seed=args.seed,
                retry_failed=args.retry_failed, offline=args.offline, executor=executor)
    except ExecutorError as error:
        print(f"typeseer corpus build: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary.to_json(), indent=1))
    for task, reason in summary.failures.items():
        print(f"typeseer corpus build: {task} failed: {reason}", file=sys.stderr)
    return 1 if summary.failures else 0
