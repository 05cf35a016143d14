"""End-to-end speed of ``typeseer infer`` on a large real project, against plain ``ast.parse``.

Downloads a pinned pure-Python wheel from PyPI (default: Django, ~155k lines), then measures,
each as the median of ``--runs`` runs side by side on the same files:

* ``ast.parse`` of every file, in one process (the DESIGN.md baseline);
* ``typeseer infer --format jsonl --no-model`` (static inference only), one process;
* ``typeseer infer --format jsonl`` end to end with the model (process start, discovery,
  parsing, sites, static inference, features, model, output), with ``--jobs 1`` and 2.

Prints a table (seconds, source lines/s, sites/s, ratio to ast.parse) and writes
bench/results/speed.json.

    .venv/bin/python bench/speed.py [--package django==5.1.4] [--runs 3]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from static_precision import DEFAULT_CACHE, _split_spec, fetch_wheel, unpack  # noqa: E402

OUTPUT = ROOT / "bench" / "results" / "speed.json"


def parse_all(files: list[Path]) -> float:
    started = time.perf_counter()
    for path in files:
        with contextlib.suppress(SyntaxError, ValueError):
            ast.parse(path.read_bytes())
    return time.perf_counter() - started


def run_infer(target: Path, jobs: int, model: bool = True) -> tuple[float, int]:
    command = [sys.executable, "-m", "typeseer", "infer", str(target), "--format", "jsonl",
               "--jobs", str(jobs), "--quiet", *([] if model else ["--no-model"])]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    return elapsed, done.stdout.count("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", default="django==5.1.4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE))
    parser.add_argument("--output", default=str(OUTPUT))
    args = parser.parse_args(argv)
    name, version = _split_spec(args.package)
    source = unpack(fetch_wheel(name, version, Path(args.cache_dir)), Path(args.cache_dir))
    package_dirs = [p for p in source.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    target = package_dirs[0] if len(package_dirs) == 1 else source
    files = sorted(target.rglob("*.py"))
    lines = sum(p.read_bytes().count(b"\n") for p in files)

    timings: dict[str, list[float]] = {"ast.parse": [], "static -j1": [], "infer -j1": [],
                                       "infer -j2": []}
    sites = 0
    for _ in range(args.runs):  # interleaved, so that load on the machine hits all alike
        timings["ast.parse"].append(parse_all(files))
        timings["static -j1"].append(run_infer(target, 1, model=False)[0])
        for jobs in (1, 2):
            elapsed, sites = run_infer(target, jobs)
            timings[f"infer -j{jobs}"].append(elapsed)
    medians = {k: statistics.median(v) for k, v in timings.items()}
    baseline = medians["ast.parse"]
    print(f"{args.package}: {len(files)} files, {lines} lines, {sites} sites; "
          f"median of {args.runs} runs")
    print(f"{'step':<12}{'seconds':>9}{'lines/s':>11}{'sites/s':>10}{'x ast.parse':>13}")
    for step, seconds in medians.items():
        site_rate = f"{sites / seconds:10.0f}" if step != "ast.parse" else f"{'-':>10}"
        print(f"{step:<12}{seconds:9.2f}{lines / seconds:11.0f}{site_rate}"
              f"{seconds / baseline:13.2f}")
    result = {
        "package": args.package, "files": len(files), "lines": lines, "sites": sites,
        "runs": args.runs, "timings": timings, "medians": medians,
        "ratio_to_ast_parse": {k: v / baseline for k, v in medians.items()},
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                    "platform": platform.platform()},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
