"""Accuracy on the corpus test split: ``typeseer evaluate`` on every test package, aggregated.

The test split holds packages never trained on (split by package name, DESIGN.md protocol).
``typeseer corpus build`` writes the kept sources of each test package to
``CORPUS/sources/test/<package>/``; this script runs :func:`typeseer.evaluate.evaluate` (strip,
infer with the shipped engine and model through the API, score) on each of them, then:

* prints one row per package and the full table of the micro-average over all sites (every
  site of every package counts once; ``user-defined`` means a class of the site's package);
* writes everything to ``bench/results/accuracy.json`` (per-package reports included).

The package list is the committed ``src/typeseer/corpus/splits/<split>.txt``, else the
corpus's own ``CORPUS/splits/<split>.txt``. The ``top-100``/``top-500`` categories come from
``--top-types FILE`` (one type a line, most common first), else from the labels of the
corpus's train split (``CORPUS/sites/*.parquet``, needs pyarrow), else they are left out.

    .venv/bin/python bench/accuracy.py
    .venv/bin/python bench/accuracy.py --limit 10 --min-confidence 0.8
    .venv/bin/python bench/accuracy.py --corpus /work/data/corpus --split valid
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from _results import git_state, write_json  # noqa: E402

from typeseer.config import DEFAULT_MIN_CONFIDENCE, Config  # noqa: E402
from typeseer.corpus.lists import load_splits, read_names  # noqa: E402
from typeseer.evaluate import (  # noqa: E402
    EvaluationError,
    EvaluationResult,
    NothingToEvaluate,
    evaluate,
    merge_results,
    read_top_types,
    render_result,
    result_to_dict,
    top_type_sets,
)
from typeseer.scoring import Counts  # noqa: E402
from typeseer.typeexpr import TypeParseError, parse_type  # noqa: E402

DEFAULT_CORPUS = Path("/work/data/corpus")
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "accuracy.json"


# -- inputs ---------------------------------------------------------------------------------

def split_packages(corpus: Path, split: str) -> tuple[list[str], str]:
    """The packages of ``split`` and where the list came from."""
    committed = load_splits().get(split, [])
    if committed:
        return committed, f"src/typeseer/corpus/splits/{split}.txt"
    own = corpus / "splits" / f"{split}.txt"
    if own.is_file():
        return read_names(own), str(own)
    sources = corpus / "sources" / split
    if sources.is_dir():
        return sorted(p.name for p in sources.iterdir() if p.is_dir()), str(sources)
    raise SystemExit(f"no {split} split list: neither the committed one nor {own} exists")


def train_ranking(corpus: Path) -> list[str] | None:
    """Labels of the train split's shards, most common first (None without shards/pyarrow).

    Labels are normalised by the corpus with the same reader as ground truth; the most common
    ones are printed again through ``parse_type`` to be sure they compare equal."""
    names = load_splits().get("train") or (
        read_names(corpus / "splits" / "train.txt")
        if (corpus / "splits" / "train.txt").is_file() else [])
    shards = [corpus / "sites" / f"{name}.parquet" for name in names]
    shards = [s for s in shards if s.is_file()]
    if not shards:
        return None
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    raw: Counter[str] = Counter()
    for shard in shards:
        raw.update(label for label in pq.read_table(shard, columns=["label"])
                   .column("label").to_pylist() if label)
    merged: Counter[str] = Counter()
    for label, count in raw.most_common(2000):
        try:
            merged[str(parse_type(label))] += count
        except (TypeParseError, RecursionError):
            merged[label] += count
    return [label for label, _ in merged.most_common()]


# -- output ---------------------------------------------------------------------------------

def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


_HEADER = ["package", "files", "lines", "sites", "top1", "top1~", "top1 noNone", "basic",
           "user-def", "coverage", "precision", "ECE", "ECE top1", "sites/s"]


def _row(name: str, result: EvaluationResult) -> list[str]:
    report, timings = result.report, result.timings
    categories = report.by_category
    ece, ece_top1 = report.calibration.ece, result.calibration_top1.ece
    rate = timings.sites_per_second
    return [name, str(timings.files), str(timings.lines), str(report.total.sites),
            _percent(report.total.top1_exact_rate), _percent(report.total.top1_parametric_rate),
            _percent(report.total_without_none_returns.top1_exact_rate),
            _percent(categories.get("basic", Counts()).top1_exact_rate),
            _percent(categories.get("user-defined", Counts()).top1_exact_rate),
            _percent(report.total.coverage), _percent(report.total.precision),
            "-" if ece is None else f"{ece:.3f}",
            "-" if ece_top1 is None else f"{ece_top1:.3f}", "-" if rate is None else f"{rate:.0f}"]


def render_packages(results: dict[str, EvaluationResult],
                    overall: EvaluationResult | None) -> str:
    rows = [_HEADER]
    rows.extend(_row(name, result) for name, result in results.items())
    if overall is not None:
        rows.append(_row("all (micro)", overall))
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                  for i, cell in enumerate(row)).rstrip() for row in rows)






# -- main -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help="corpus folder of typeseer corpus build (default: %(default)s)")
    parser.add_argument("--split", default="test", choices=["test", "valid"],
                        help="split to evaluate (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only the first N packages of the split list")
    parser.add_argument("--packages", type=lambda s: [p for p in s.split(",") if p],
                        help="only these packages (comma-separated)")
    parser.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
                        help="threshold for coverage and precision (default: %(default)s)")
    parser.add_argument("--top-types", type=Path, metavar="FILE",
                        help="training types, most common first (default: from the corpus's "
                             "train split labels when available)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="worker processes of each infer run (default: %(default)s)")
    parser.add_argument("--no-model", action="store_false", dest="use_model",
                        help="static inference only, without the learned model")
    parser.add_argument("--strip-jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="processes stripping each package (no figure depends on it; "
                             "default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="results JSON (default: %(default)s)")
    parser.add_argument("--full", action="store_true",
                        help="also print the full table of each package")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be positive")
    if not 0.0 <= args.min_confidence <= 1.0:
        parser.error("--min-confidence must be between 0 and 1")

    started = time.perf_counter()
    names, list_source = split_packages(args.corpus, args.split)
    if args.packages:
        unknown = sorted(set(args.packages) - set(names))
        if unknown:
            parser.error(f"not in the {args.split} split: {', '.join(unknown)}")
        names = [n for n in names if n in set(args.packages)]
    if args.limit is not None:
        names = names[:args.limit]

    if args.top_types:
        ranking: list[str] | None = read_top_types(args.top_types)
        top_source = str(args.top_types)
    else:
        ranking = train_ranking(args.corpus)
        top_source = f"{args.corpus}/sites (train split labels)" if ranking else "none"
    type_sets = top_type_sets(ranking) if ranking else None
    print(f"{args.split} split: {len(names)} packages (list: {list_source}); top types: "
          f"{top_source}", file=sys.stderr)

    config = Config(min_confidence=args.min_confidence, jobs=args.jobs,
                    use_model=args.use_model)
    results: dict[str, EvaluationResult] = {}
    skipped: dict[str, str] = {}
    failures: dict[str, str] = {}
    for index, name in enumerate(names, 1):
        path = args.corpus / "sources" / args.split / name
        print(f"[{index}/{len(names)}] {name}: ", end="", file=sys.stderr, flush=True)
        if not path.is_dir():
            failures[name] = f"{path}: no such directory"
            print(failures[name], file=sys.stderr)
            continue
        try:
            result = results[name] = evaluate([path], config, type_sets=type_sets,
                                              strip_jobs=args.strip_jobs)
        except NothingToEvaluate as error:
            skipped[name] = str(error)
            print(f"skipped: {error}", file=sys.stderr)
            continue
        except (EvaluationError, OSError, RecursionError) as error:
            failures[name] = f"{error.__class__.__name__}: {error}"
            print(f"failed: {failures[name]}", file=sys.stderr)
            continue
        print(f"{result.report.total.sites} sites, top1 "
              f"{_percent(result.report.total.top1_exact_rate)}, "
              f"{result.timings.total_seconds:.1f} s", file=sys.stderr)
        if args.full:
            print(render_result(result, title=name))
            print()

    overall = merge_results(list(results.values())) if results else None
    print(f"threshold {args.min_confidence:g}; top1 = forced top-1 exact over all sites, '~' "
          "up to parametric; noNone = without '-> None' returns; basic/user-def = top1 in "
          "those categories; coverage/precision/ECE at the threshold; ECE top1 over every "
          "forced top-1 type")
    print(render_packages(results, overall))
    if overall is not None:
        print()
        print(render_result(overall, title=f"all {len(results)} packages of the {args.split} "
                                           "split (micro-average over sites)"))
    seconds = time.perf_counter() - started
    write_json(args.output, {
        "git": git_state(),
        "python": sys.version.split()[0],
        "corpus": str(args.corpus),
        "split": args.split,
        "split_list": list_source,
        "min_confidence": args.min_confidence,
        "jobs": args.jobs,
        "use_model": args.use_model,
        "strip_jobs": args.strip_jobs,
        "top_types": {"source": top_source, "ranked": len(ranking or ()),
                      "top_20": (ranking or [])[:20]},
        "packages_listed": len(names),
        "packages": {name: result_to_dict(result) for name, result in results.items()},
        "skipped": skipped,
        "failures": failures,
        "all": result_to_dict(overall) if overall is not None else None,
        "seconds": seconds,
    })
    print(f"{len(results)} packages evaluated, {len(skipped)} skipped, {len(failures)} failed "
          f"in {seconds:.0f} s; results written to {args.output}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
