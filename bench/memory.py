"""Peak memory and time of ``typeseer infer`` on a project of a million lines.

The project is three pinned pure-Python wheels from PyPI unpacked side by side (default:
sympy, Django and pip: 1.03M lines of ``.py`` files; nothing of them is committed). Each run is
a fresh ``typeseer infer PROJECT --no-cache`` process writing JSONL to a file, as a user runs
it; the memory of the whole process tree (the CLI and its workers) is sampled from ``/proc``
every 50 ms, and the peak of the sum is reported with the peak of any single process. Target:
under 2 GiB. Both modes are measured: with the model (the default) and static only
(``--no-model``). Also reported: the files skipped (and why), and with ``--slowest``, the files
whose analysis took longest (one in-process run, timing each file; the first file's time
includes gathering the model's call-site index, which runs before any file, outside its time
limit), which is what the per-file time limit (``file-timeout``) is measured against.

    .venv/bin/python bench/memory.py [--runs 3] [--jobs 1,2] [--modes model,static] [--slowest]
        [--baseline OTHER_CHECKOUT/src]

Writes bench/results/memory.json. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _results import git_state, write_json  # noqa: E402
from static_precision import DEFAULT_CACHE, _split_spec, fetch_wheel, unpack  # noqa: E402

OUTPUT = ROOT / "bench" / "results" / "memory.json"
DEFAULT_PACKAGES = ("sympy==1.13.3", "django==5.2.17", "pip==24.2")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def assemble(specs: list[str], cache: Path) -> tuple[list[Path], int, int]:
    """The unpacked wheels, and their ``.py`` files and lines."""
    roots = [unpack(fetch_wheel(*_split_spec(spec), cache), cache) for spec in specs]
    files = [path for root in roots for path in root.rglob("*.py")]
    lines = sum(path.read_bytes().count(b"\n") for path in files)
    return roots, len(files), lines


def process_tree(pid: int) -> dict[int, int]:
    """``pid`` and its descendants, each with its parent (``pid``'s own is 0)."""
    found: dict[int, int] = {}
    pending = [(pid, 0)]
    while pending:
        current, parent = pending.pop()
        found[current] = parent
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending.extend((int(c), current)
                               for c in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def _rss_kib(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


class Sampler(threading.Thread):
    """Samples the resident memory of a process tree until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_total_kib = 0
        self.peak_single_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            sizes = [_rss_kib(pid) for pid in process_tree(self.pid)]
            self.peak_total_kib = max(self.peak_total_kib, sum(sizes))
            self.peak_single_kib = max([self.peak_single_kib, *sizes])
            self.done.wait(0.05)


@dataclass(frozen=True, slots=True)
class Run:
    code: str
    jobs: int
    model: bool
    seconds: float
    predictions: int
    #: SHA-256 of the JSONL output: the same for every run of every code, or results differ.
    output_sha256: str
    peak_total_mib: int
    peak_single_mib: int


def measure(roots: list[Path], jobs: int, model: bool, output: Path,
            src: Path | None = None) -> Run:
    """One run; ``src``: run the typeseer of another checkout's ``src`` instead."""
    env = dict(os.environ, PYTHONPATH=str(src)) if src is not None else None
    command = [sys.executable, "-m", "typeseer", "infer", *map(str, roots), "--no-cache",
               "--jobs", str(jobs), "--format", "jsonl", "--output", str(output), "--quiet",
               *([] if model else ["--no-model"])]
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    sampler = Sampler(process.pid)
    sampler.start()
    _, stderr = process.communicate()
    sampler.done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"typeseer infer failed ({process.returncode}): {stderr[-2000:]}")
    data = output.read_bytes()
    predictions = data.count(b"\n")
    return Run("this" if src is None else str(src), jobs, model, round(seconds, 2),
               predictions, hashlib.sha256(data).hexdigest(), round(sampler.peak_total_kib / 1024),
               round(sampler.peak_single_kib / 1024))


def slowest(roots: list[Path], count: int = 5) -> tuple[list[tuple[str, float]], Counter[str]]:
    """The files that took longest in one in-process run (each file's time includes loading
    the modules it imports for the first time), and the skip reasons."""
    from typeseer.api import infer
    from typeseer.config import Config

    times: list[float] = []
    last = time.perf_counter()

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.perf_counter()
        times.append(now - last)
        last = now

    result = infer(roots, Config(jobs=1), progress=progress)
    ranked = sorted(zip(result.analysed_paths, times, strict=True), key=lambda p: -p[1])
    reasons = Counter(d.message.split(" (")[0] for d in result.diagnostics
                      if d.severity.value != "info")
    return [(path, round(seconds, 2)) for path, seconds in ranked[:count]], reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", default=",".join(DEFAULT_PACKAGES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--modes", default="model,static",
                        help="model (the default run) and/or static (--no-model)")
    parser.add_argument("--slowest", action="store_true",
                        help="also time each file in one in-process run")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--baseline", type=Path, metavar="SRC",
                        help="also run the typeseer in SRC (another checkout's src "
                             "directory, e.g. a git worktree), alternating with this one")
    args = parser.parse_args()
    roots, files, lines = assemble(args.packages.split(","), args.cache)
    print(f"project: {args.packages}: {files:,} files, {lines:,} lines")
    output = args.cache / "memory-output.jsonl"
    codes: list[Path | None] = [None] if args.baseline is None else [None, args.baseline]
    series: dict[tuple[str, str, int], list[Run]] = {}
    for mode in args.modes.split(","):
        for jobs in map(int, args.jobs.split(",")):
            for _ in range(args.runs):  # alternating, so that both see the same machine
                for src in codes:
                    run = measure(roots, jobs, mode == "model", output, src)
                    series.setdefault((run.code, mode, jobs), []).append(run)
    print("| code | mode | jobs | median s | lines/s | peak MiB, process tree (median) "
          "| (max) | peak MiB, one process | predictions |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (code, mode, jobs), runs in series.items():
        seconds = statistics.median(r.seconds for r in runs)
        print(f"| {code} | {mode} | {jobs} | {seconds:.1f} | {lines / seconds:,.0f} "
              f"| {statistics.median(r.peak_total_mib for r in runs):.0f} "
              f"| {max(r.peak_total_mib for r in runs)} "
              f"| {max(r.peak_single_mib for r in runs)} | {runs[0].predictions:,} |")
    for mode in args.modes.split(","):
        outputs = {r.output_sha256 for (_, m, _), runs in series.items() if m == mode
                   for r in runs}
        print(f"{mode}: {'the same output' if len(outputs) == 1 else 'DIFFERENT outputs'} "
              f"in every run{' of both codes' if args.baseline else ''}")
    results: dict[str, object] = {
        "packages": args.packages.split(","), "files": files, "lines": lines,
        "runs": [asdict(run) for runs in series.values() for run in runs],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", **git_state()}
    if args.slowest:
        ranked, reasons = slowest(roots)
        print("slowest files (s):", ", ".join(f"{p} {s}" for p, s in ranked))
        print("skipped or failed:", dict(reasons) or "none")
        results["slowest"] = ranked
        results["skipped"] = dict(reasons)
    write_json(OUTPUT, results)


if __name__ == "__main__":
    main()
