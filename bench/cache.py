"""Timing of ``typeseer infer`` with the incremental cache on a large real project.

Takes a pinned pure-Python wheel from PyPI (default: Django, ~159k lines), copies its package
to a temporary directory (where the cache and the edits go), and measures, as the median of
``--runs`` rounds, each run in a fresh process exactly as ``typeseer infer PATH -f jsonl``
with the cache switched on (the CLI's ``infer`` called with ``cache=True``):

* ``no cache``: the run without a cache, for reference;
* ``cold``: the first run with an empty cache (analyses everything and fills the cache);
* ``warm``: a second run of the unchanged project (target: under 1 s);
* ``one-file change``: a run after one edit (a function appended to ``--change``),
  reporting how many files were analysed again; undoing the edit is timed as a second sample.

For each run, the table gives the time of the whole process (start, imports, discovery,
inference, JSONL output) and of the ``infer`` call alone. The JSONL of the cached runs is
checked to be byte-identical to the output without a cache. Writes bench/results/cache.json.

    .venv/bin/python bench/cache.py [--package django==5.2.17] [--runs 3] [--without DIR,DIR]

``--without contrib,test`` leaves those subpackages out of the copy (Django: 108k lines).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _results import git_state, write_json  # noqa: E402
from static_precision import DEFAULT_CACHE, _split_spec, fetch_wheel, unpack  # noqa: E402

OUTPUT = ROOT / "bench" / "results" / "cache.json"

#: The CLI, with the cache on or off, reporting the ``infer`` call's own time and counters on
#: stderr's last line.
_DRIVER = """
import functools, json, sys, time
import typeseer.cli as cli
plain = cli.infer
figures = {}
def timed(*args, **kwargs):
    started = time.perf_counter()
    result = plain(*args, cache=sys.argv[1] == "cache", **kwargs)
    figures.update(seconds=time.perf_counter() - started, analysed=result.analysed_files,
                   cached=result.cached_files, predictions=len(result.predictions))
    return result
cli.infer = timed
code = cli.main(["infer", sys.argv[2], "-f", "jsonl", "-q"])
sys.stderr.write("\\n" + json.dumps(figures) + "\\n")
sys.exit(code)
"""

#: The edit of the one-file change.
_ADDED = "\n\ndef _typeseer_bench_helper(value=0):\n    return value + 1\n"


def run_cli(target: Path, cached: bool, output: Path) -> dict[str, float]:
    """One ``typeseer infer`` process; its wall time, the infer call's time and counters."""
    started = time.perf_counter()
    with output.open("wb") as stdout:
        done = subprocess.run([sys.executable, "-c", _DRIVER, "cache" if cached else "plain",
                               str(target)], stdout=stdout, stderr=subprocess.PIPE, text=True,
                              check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"typeseer infer failed:\n{done.stderr}")
    figures = json.loads(done.stderr.strip().splitlines()[-1])
    return {"process": wall, "infer": figures["seconds"], "analysed": figures["analysed"],
            "cached": figures["cached"], "predictions": figures["predictions"]}


def edit(path: Path) -> str:
    """Append a function to ``path``; returns the original text."""
    original = path.read_text(encoding="utf-8")
    path.write_text(original + _ADDED, encoding="utf-8")
    return original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", default="django==5.2.17")
    parser.add_argument("--change", default="utils/text.py",
                        help="file (relative to the package) edited for the one-file change")
    parser.add_argument("--without", default="",
                        help="subpackages (comma-separated, relative to the package) left out")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=3, help="warm runs per round")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE))
    parser.add_argument("--output", default=str(OUTPUT))
    args = parser.parse_args(argv)
    name, version = _split_spec(args.package)
    source = unpack(fetch_wheel(name, version, Path(args.cache_dir)), Path(args.cache_dir))
    package = next(p for p in sorted(source.iterdir()) if (p / "__init__.py").exists())
    work = Path(tempfile.mkdtemp(prefix="typeseer-cache-bench-"))
    try:
        target = work / package.name
        left_out = {part.strip() for part in args.without.split(",") if part.strip()}
        shutil.copytree(package, target, ignore=lambda directory, names: [
            n for n in names if Path(directory, n).relative_to(package).as_posix() in left_out])
        return measure(args, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, target: Path, work: Path) -> int:
    files = sorted(target.rglob("*.py"))
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    cache_dir = target / ".typeseer_cache"
    changed = target / args.change
    samples: dict[str, list[dict[str, float]]] = {
        "no cache": [], "cold": [], "warm": [], "one-file change": []}
    identical = True
    reference, edited_reference = work / "plain.jsonl", work / "plain-edited.jsonl"
    output = work / "out.jsonl"
    for round_ in range(args.runs):
        samples["no cache"].append(run_cli(target, False, reference))
        shutil.rmtree(cache_dir, ignore_errors=True)
        samples["cold"].append(run_cli(target, True, output))
        identical &= output.read_bytes() == reference.read_bytes()
        for _ in range(args.warm_runs):
            samples["warm"].append(run_cli(target, True, output))
            identical &= output.read_bytes() == reference.read_bytes()
        original = edit(changed)
        try:
            samples["one-file change"].append(run_cli(target, True, output))
            if round_ == 0:
                run_cli(target, False, edited_reference)
                identical &= output.read_bytes() == edited_reference.read_bytes()
        finally:
            changed.write_text(original, encoding="utf-8")
        samples["one-file change"].append(run_cli(target, True, output))  # the edit undone
        identical &= output.read_bytes() == reference.read_bytes()
    medians = {step: {key: statistics.median(s[key] for s in runs)
                      for key in ("process", "infer", "analysed")}
               for step, runs in samples.items()}
    subset = f" without {args.without}" if args.without else ""
    print(f"{args.package}{subset}: {len(files)} files, {lines} lines; "
          f"median of {args.runs} rounds "
          f"({args.warm_runs} warm runs and 2 one-file changes of {args.change} per round)")
    print(f"{'run':<17}{'process s':>10}{'infer s':>9}{'files analysed':>16}")
    for step, median in medians.items():
        print(f"{step:<17}{median['process']:10.2f}{median['infer']:9.2f}"
              f"{median['analysed']:16.0f}")
    print(f"cached output identical to the output without a cache: {identical}")
    write_json(Path(args.output), {
        "package": args.package, "without": args.without, "files": len(files), "lines": lines,
        "runs": args.runs,
        "change": args.change, "samples": samples, "medians": medians,
        "identical_output": identical, **git_state(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
    })
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
