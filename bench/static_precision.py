"""How precise is what typeseer types? Strip real, fully annotated packages and score inference.

For each pinned package (pure-Python wheels from PyPI, cached under ``--cache-dir``):

1. unpack the wheel (its ``.dist-info`` left out) -- the original, whose annotations are the
   ground truth (``typeseer.scoring.collect_ground_truth``);
2. strip every annotation into a temporary copy (``typeseer.strip.strip_tree``);
3. run ``python -m typeseer infer <copy> --format jsonl --all`` (the DESIGN.md contract);
4. score the predictions (``typeseer.scoring.score``) at ``--min-confidence``.

Prints, per package and kind: sites with ground truth, types given at the threshold, coverage,
precision (exact) and precision with ``-> None`` returns left out; writes everything (full
reports included) to ``bench/results/static_precision.json``.

    .venv/bin/python bench/static_precision.py
    .venv/bin/python bench/static_precision.py --packages packaging==26.4 --min-confidence 0.5
    .venv/bin/python bench/static_precision.py --predictions-dir DIR   # DIR/<name>.jsonl, no CLI

``--sources static`` scores only the predictions of the static engine (the others count as
missing), for runs where the model is switched on too.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from _results import git_state, write_json  # noqa: E402

from typeseer.scoring import (  # noqa: E402
    DEFAULT_THRESHOLD,
    KINDS,
    Counts,
    GroundTruth,
    PredictionRecord,
    Report,
    TruthSite,
    collect_ground_truth,
    load_predictions,
    render_table,
    report_to_dict,
    score,
)
from typeseer.sites import SiteKey  # noqa: E402
from typeseer.strip import strip_tree  # noqa: E402

#: Pure-Python packages checked to be fully annotated (parameters and returns ~100%), pinned
#: so that results reproduce.
DEFAULT_PACKAGES = ("rich==15.0.0", "anyio==4.16.0", "typer==0.29.2")
DEFAULT_CACHE = ROOT / "bench" / ".cache"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "static_precision.json"


@dataclass(slots=True)
class PackageResult:
    name: str
    version: str
    truth: GroundTruth
    report: Report
    files_stripped: int
    strip_failures: list[tuple[str, str]]
    infer_seconds: float | None
    predictions: int
    existing: int
    #: The records scored (after the --sources filter).
    records: list[PredictionRecord]


# -- fetching -------------------------------------------------------------------------------

def _split_spec(spec: str) -> tuple[str, str]:
    name, sep, version = spec.partition("==")
    if not sep or not name or not version:
        raise SystemExit(f"package {spec!r}: pin a version as NAME==VERSION")
    return name.strip(), version.strip()


def _wheel_prefix(name: str, version: str) -> str:
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"


def fetch_wheel(name: str, version: str, cache: Path) -> Path:
    """The cached pure-Python wheel of ``name==version``, downloaded with pip if missing."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)

    def cached() -> Path | None:
        prefix = _wheel_prefix(name, version)
        found = [p for p in wheels.iterdir()
                 if p.name.lower().startswith(prefix) and p.name.endswith(".whl")]
        return min(found) if found else None

    wheel = cached()
    if wheel is None:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--only-binary=:all:", "--dest", str(wheels), f"{name}=={version}"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheel = cached()
        if done.returncode != 0 or wheel is None:
            raise RuntimeError(f"pip download {name}=={version} failed:\n{done.stderr.strip()}")
    if not wheel.name.endswith("-none-any.whl"):
        raise RuntimeError(f"{wheel.name} is not a pure-Python wheel")
    return wheel


def unpack(wheel: Path, cache: Path) -> Path:
    """The wheel's importable contents (no ``.dist-info``/``.data``), unpacked once."""
    target = cache / "src" / wheel.name.removesuffix(".whl")
    if (target / ".complete").exists():
        return target
    with tempfile.TemporaryDirectory(dir=cache) as temp, zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.namelist()
                   if not m.split("/")[0].endswith((".dist-info", ".data"))]
        archive.extractall(temp, members)
        (Path(temp) / ".complete").touch()
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            _remove_tree(target)
        os.replace(temp, target)
        Path(temp).mkdir()  # TemporaryDirectory removes it on exit
    return target


def _remove_tree(path: Path) -> None:
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir() and not child.is_symlink():
            child.rmdir()
        else:
            child.unlink()
    path.rmdir()


# -- running --------------------------------------------------------------------------------

def run_inference(stripped: Path, out: Path, extra: list[str], timeout: float) -> float:
    """Run the CLI on ``stripped``, JSONL to ``out``; returns the wall time."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    command = [sys.executable, "-m", "typeseer", "infer", str(stripped), "--format", "jsonl",
               "--all", *extra]
    started = time.perf_counter()
    with out.open("w", encoding="utf-8") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.PIPE, text=True,
                              env=env, timeout=timeout, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}:\n"
                           f"{done.stderr.strip()[-2000:]}")
    return seconds


def bench_package(spec: str, args: argparse.Namespace) -> PackageResult:
    name, version = _split_spec(spec)
    cache = Path(args.cache_dir)
    original = unpack(fetch_wheel(name, version, cache), cache)
    truth = collect_ground_truth([original])
    with tempfile.TemporaryDirectory(prefix="typeseer-bench-") as temp:
        stripped = Path(temp) / "stripped"
        stats = strip_tree(original, stripped)
        infer_seconds: float | None = None
        if args.predictions_dir:
            lines = (Path(args.predictions_dir) / f"{name}.jsonl").read_text(
                encoding="utf-8").splitlines()
        else:
            out = Path(temp) / "predictions.jsonl"
            infer_seconds = run_inference(stripped, out, ["--no-model", *(args.infer_arg or [])],
                                          args.timeout)
            lines = out.read_text(encoding="utf-8").splitlines()
    predictions = load_predictions(lines)
    existing = sum(p.source == "existing" for p in predictions)
    kept = [p for p in predictions if args.sources is None or p.source in args.sources]
    report = score(truth.sites, kept, threshold=args.min_confidence,
                   class_names=truth.class_names)
    return PackageResult(name, version, truth, report, stats.stripped, stats.failed,
                         infer_seconds, len(predictions), existing, kept)


def combined_report(results: list[PackageResult], threshold: float) -> Report:
    """One report over every package (file keys prefixed by the package name)."""
    truth: list[TruthSite] = []
    records: list[PredictionRecord] = []
    class_names: set[str] = set()
    for result in results:
        for site in result.truth.sites:
            truth.append(TruthSite(_prefixed(result.name, site.key), site.type,
                                   site.annotation))
        records.extend(
            PredictionRecord(_prefixed(result.name, p.key), p.type, p.confidence, p.source,
                             p.alternatives) for p in result.records)
        class_names |= result.truth.class_names
    return score(truth, records, threshold=threshold, class_names=class_names)


def _prefixed(prefix: str, key: SiteKey) -> SiteKey:
    return key._replace(file=f"{prefix}/{key.file}")


# -- output ---------------------------------------------------------------------------------

def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _summary_rows(label: str, report: Report) -> list[list[str]]:
    rows: list[list[str]] = []
    for kind in (*KINDS, "total"):
        counts = report.total if kind == "total" else report.by_kind.get(kind, Counts())
        no_none = (report.total_without_none_returns if kind == "total"
                   else report.by_kind_without_none_returns.get(kind, Counts()))
        rows.append([label if kind == KINDS[0] else "", kind, str(counts.sites),
                     str(counts.given), str(counts.given_exact), _percent(counts.coverage),
                     _percent(counts.precision), _percent(counts.precision_parametric),
                     str(no_none.given), _percent(no_none.precision),
                     _percent(counts.top1_exact_rate)])
    return rows


_HEADER = ["package", "kind", "sites", "given", "exact", "coverage", "precision",
           "precision~", "given(noNone)", "prec(noNone)", "top1"]


def render_summary(results: list[PackageResult], overall: Report | None) -> str:
    rows = [_HEADER]
    for result in results:
        rows.extend(_summary_rows(f"{result.name} {result.version}", result.report))
    if overall is not None:
        rows.extend(_summary_rows("all", overall))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i])
                  for i, cell in enumerate(row)).rstrip() for row in rows)




def _package_json(result: PackageResult) -> dict[str, object]:
    truth = result.truth
    return {
        "version": result.version,
        "files": truth.files,
        "ground_truth": {"scored": len(truth.sites), "unannotated": truth.unannotated,
                         "any": truth.any, "unparsable": truth.unparsable,
                         "qualifier_only": truth.qualifier_only,
                         "declarations_only": truth.declarations,
                         "failed_files": [list(f) for f in truth.failed]},
        "stripped_files": result.files_stripped,
        "strip_failures": [list(f) for f in result.strip_failures],
        "predictions": result.predictions,
        "existing_predictions": result.existing,
        "infer_seconds": result.infer_seconds,
        "report": report_to_dict(result.report),
    }




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", default=",".join(DEFAULT_PACKAGES),
                        help="comma-separated NAME==VERSION pins (default: %(default)s)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE),
                        help="where wheels and unpacked sources are kept (default: %(default)s)")
    parser.add_argument("--min-confidence", type=float, default=DEFAULT_THRESHOLD,
                        help="a type counts as given at this confidence (default: %(default)s)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT),
                        help="results JSON (default: %(default)s)")
    parser.add_argument("--predictions-dir",
                        help="read DIR/<name>.jsonl instead of running typeseer infer")
    parser.add_argument("--sources", type=lambda s: set(s.split(",")),
                        help="score only predictions from these sources (e.g. static)")
    parser.add_argument("--infer-arg", action="append", metavar="ARG",
                        help="extra argument for typeseer infer (repeatable)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds allowed for one typeseer infer run")
    parser.add_argument("--full", action="store_true",
                        help="also print the full report (categories, sources) per package")
    args = parser.parse_args(argv)

    results: list[PackageResult] = []
    failures: dict[str, str] = {}
    for spec in filter(None, (s.strip() for s in args.packages.split(","))):
        print(f"{spec}: ", end="", file=sys.stderr, flush=True)
        try:
            result = bench_package(spec, args)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            print(f"failed: {error}", file=sys.stderr)
            failures[spec] = str(error)
            continue
        timing = "" if result.infer_seconds is None else f" in {result.infer_seconds:.1f}s"
        print(f"{len(result.truth.sites)} sites with ground truth, {result.predictions} "
              f"predictions{timing}", file=sys.stderr)
        if result.existing:
            print(f"  warning: {result.existing} predictions with source 'existing': "
                  "annotations survived stripping", file=sys.stderr)
        results.append(result)
        if args.full:
            print(render_table(result.report, title=f"{result.name} {result.version}"))
            print()

    overall = combined_report(results, args.min_confidence) if len(results) > 1 else None
    print(f"threshold {args.min_confidence:g}; 'given' = typed at the threshold; 'exact' = "
          "given and exactly right; '~' = up to parametric; '(noNone)' = without '-> None' "
          "returns; 'top1' = forced top-1 exact over all sites")
    print(render_summary(results, overall))
    write_json(Path(args.output), {
        "git": git_state(),
        "python": sys.version.split()[0],
        "min_confidence": args.min_confidence,
        "sources": sorted(args.sources) if args.sources else None,
        "infer_args": ["--no-model", *(args.infer_arg or [])],
        "packages": {r.name: _package_json(r) for r in results},
        "all": report_to_dict(overall) if overall is not None else None,
        "failures": failures,
    })
    print(f"results written to {args.output}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
