"""Training data: the corpus's labelled sites, featurised by the same code as ``infer``.

For each corpus package, the files the corpus kept are unpacked from the package's wheel and
analysed as a project. The static engine runs with annotations ignored, so it sees the code as
the stripped copy of the evaluation protocol does. Each annotated site becomes a row with:

* its label (the normalised annotation; ``Any`` is not a label);
* its feature ids (model/features.py);
* the static fact and its calibrated confidence;
* the module's candidate classes, for open-vocabulary prediction.

Rows are stored as one Parquet file per package under ``OUT/<split>/``. A package whose file
exists is not redone, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..annotations import existing_type
from ..project import Project
from ..sources import discover
from ..static import StaticEngine
from ..static.calibration import calibration_kind, load_calibration
from ..typeexpr import ANY
from .callsites import CallSites
from .features import candidate_classes, hash_features, site_features

__all__ = ["DatasetSummary", "build_dataset", "featurise_project", "read_splits"]

#: Files featurised per package at most.
MAX_FILES = 120


@dataclass(slots=True)
class DatasetSummary:
    packages: int = 0
    rows: int = 0
    skipped: int = 0
    failed: dict[str, str] | None = None


def featurise_project(root: Path, package: str = "", split: str = "") -> list[dict[str, Any]]:
    """Rows for every annotated site under ``root``, read as if its annotations were stripped."""
    files, _ = discover([root])
    project = Project(files)
    engine = StaticEngine(project, use_annotations=False)
    calibration = load_calibration()
    rows: list[dict[str, Any]] = []
    modules = project.load_all()
    call_sites = CallSites(engine, modules)
    for module in modules:
        candidates = candidate_classes(module)
        for site in module.sites:
            try:
                label = existing_type(site)
            except RecursionError:
                continue
            if label is None or label == ANY:
                continue
            fact = engine.site_fact(site)
            confidence = calibration.confidence(calibration_kind(site), fact) if fact else 0.0
            features = site_features(site, module, fact, confidence,
                                     call_sites.features(site, project))
            rows.append({
                "package": package, "split": split, "file": site.file, "scope": site.scope,
                "kind": site.kind.value, "name": site.name, "label": str(label),
                "features": hash_features(features),
                "static_type": str(fact.type) if fact is not None else None,
                "static_confidence": confidence,
                "candidates": candidates,
            })
    return rows


def _kept_members(corpus: Path, package: str) -> tuple[Path, list[str]] | None:
    record_path = corpus / "packages" / f"{package}.json"
    if not record_path.exists():
        return None
    record = json.loads(record_path.read_text(encoding="utf-8"))
    downloads = json.loads((corpus / "cache" / "downloads.json").read_text(encoding="utf-8"))
    wheel_name = downloads.get(package, {}).get("wheel")
    if not wheel_name:
        return None
    wheel = corpus / "cache" / "wheels" / wheel_name
    members = [f["member"] for f in record.get("files", []) if "member" in f]
    if len(members) > MAX_FILES:
        # Large packages are sampled (fixed, by a hash of the path): the training loader keeps a
        # few thousand rows per package anyway, and featurising all of homeassistant would take
        # as long as the rest of the corpus.
        members = sorted(members, key=lambda m: zlib.crc32(m.encode()))[:MAX_FILES]
    return wheel, members


def _package_rows(corpus: Path, package: str, split: str) -> list[dict[str, Any]]:
    found = _kept_members(corpus, package)
    if found is None:
        return []
    wheel, members = found
    work = Path(tempfile.mkdtemp(prefix="typeseer-ds-"))
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in members:
                target = work / member
                if ".." in Path(member).parts:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
        return featurise_project(work, package, split)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("package", pa.string()), ("split", pa.string()), ("file", pa.string()),
        ("scope", pa.string()), ("kind", pa.string()), ("name", pa.string()),
        ("label", pa.string()), ("features", pa.list_(pa.int32())),
        ("static_type", pa.string()), ("static_confidence", pa.float32()),
        ("candidates", pa.list_(pa.string())),
    ]))
    temp = path.with_suffix(".tmp")
    pq.write_table(table, temp, compression="zstd")
    temp.replace(path)


def _build_one(corpus: Path, out: Path, package: str, split: str) -> tuple[str, int, str | None]:
    target = out / split / f"{package}.parquet"
    if target.exists():
        return package, -1, None
    try:
        rows = _package_rows(corpus, package, split)
    except Exception as error:
        return package, 0, f"{error.__class__.__name__}: {error}"
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_rows(target, rows)
    return package, len(rows), None


def build_dataset(corpus: Path, out: Path, splits: dict[str, list[str]], jobs: int = 2,
                  progress: Callable[[str], None] | None = None) -> DatasetSummary:
    """Featurise every package of ``splits`` (split name -> packages) into ``out``."""
    summary = DatasetSummary(failed={})
    tasks = [(package, split) for split, packages in splits.items() for package in packages]
    with ProcessPoolExecutor(max(1, jobs)) as pool:
        futures = [pool.submit(_build_one, corpus, out, p, s) for p, s in tasks]
        for done, future in enumerate(futures, 1):
            package, rows, error = future.result()
            if error is not None:
                assert summary.failed is not None
                summary.failed[package] = error
            elif rows < 0:
                summary.skipped += 1
            else:
                summary.packages += 1
                summary.rows += rows
            if progress is not None:
                progress(f"[{done}/{len(tasks)}] {package}: "
                         f"{'done before' if rows < 0 else error or f'{rows} rows'}")
    return summary


def read_splits(split_dir: Path) -> dict[str, list[str]]:
    """Split name -> packages, from ``{valid,train,test}.txt`` (valid first: training needs it
    before the end)."""
    return {name: [line.strip() for line in (split_dir / f"{name}.txt").read_text().splitlines()
                   if line.strip() and not line.startswith("#")]
            for name in ("valid", "train", "test")}


def main(argv: list[str] | None = None) -> int:
    """``python -m typeseer.model.dataset CORPUS OUT``: featurise the corpus splits (the split
    lists are read from ``CORPUS/splits``)."""
    args = sys.argv[1:] if argv is None else argv
    corpus, out = Path(args[0]), Path(args[1])
    splits = read_splits(corpus / "splits")
    summary = build_dataset(corpus, out, splits, progress=lambda m: print(m, file=sys.stderr))
    print(json.dumps({"packages": summary.packages, "rows": summary.rows,
                      "skipped": summary.skipped, "failed": summary.failed}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
