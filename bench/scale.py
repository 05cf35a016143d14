"""Scaling of batch runs over corpus packages: 1 and 2 workers, local processes and Ray.

Two workloads on the same seeded sample of ``--packages N`` packages of a built corpus
(``typeseer corpus build``; default ``data/corpus``):

* **infer**: ``typeseer infer --projects-from LIST --out TMP`` on the packages' kept sources
  with their annotations stripped (code as a user who wants it annotated has it), one project
  per package, in ``bench/.cache/scale/``;
* **corpus**: ``typeseer corpus build --offline`` of the same packages from the cached wheels
  into a fresh folder (scan, de-duplication, extraction of labelled sites);
* **project** (not run by default): batch ``infer`` of one large project (``--project
  PATH``, default the largest package of the sample), split into batches that workers share:
  how far a monorepo gains from more workers.

Each run is a fresh CLI process, as a user runs it; the configurations are interleaved, run
after run, so that a noisy machine slows them alike. Reported per workload and executor:
the median wall time of ``--repeat`` runs, the time of the work itself (the run's own
``seconds``, without starting Python and Ray), throughput in packages and lines per second,
the scaling ratio (1-worker time over 2-worker time, side by side), the peak resident memory
of each worker process (sampled from ``/proc`` every 50 ms: the pool's processes, Ray's
``ray::`` workers, or the CLI itself when it runs the tasks inline) and of the whole process
tree (Ray's own services included), and the projected time for 100,000 packages: on this
machine's 2 workers, and in worker-hours (any number of workers, at the measured
per-worker rate). The outputs of every configuration are compared: same predictions, same
shards.

    .venv/bin/python bench/scale.py [--packages 40] [--repeat 3] [--executors local,ray]
        [--corpus data/corpus] [--workloads infer,corpus,project] [--project PATH]
        [--output bench/results/scale.json]

Needs pyarrow and Ray (``pip install -e '.[ray]'``). Writes bench/results/scale.json.
Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from _results import git_state, write_json  # noqa: E402
from memory import process_tree  # noqa: E402

from typeseer.batch import read_batch_table  # noqa: E402
from typeseer.corpus.lists import read_names  # noqa: E402
from typeseer.corpus.wheels import read_member  # noqa: E402
from typeseer.strip import StripError, strip_annotations  # noqa: E402

OUTPUT = ROOT / "bench" / "results" / "scale.json"
CACHE = ROOT / "bench" / ".cache" / "scale"
TYPESEER = [sys.executable, "-m", "typeseer"]
PROJECTED_PACKAGES = 100_000
_PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


# -- the sample -------------------------------------------------------------------------------

def sample_packages(corpus: Path, count: int, seed: int) -> list[str]:
    """``count`` packages of the corpus with labelled sites, drawn with a fixed seed."""
    names = sorted(set().union(*(read_names(corpus / "splits" / f"{s}.txt")
                                 for s in ("train", "valid", "test"))))
    if len(names) < count:
        raise SystemExit(f"{corpus} has {len(names)} packages, fewer than {count}")
    return sorted(random.Random(seed).sample(names, count))


def shipped_sources(corpus: Path, name: str) -> list[tuple[str, str]]:
    """``(path, text)`` of every Python file of the package's typed part, as shipped: the
    corpus keeps fewer (no duplicates, such as the empty ``__init__.py`` files that make
    folders packages)."""
    scan = json.loads((corpus / "scan" / f"{name}.json").read_text())
    record = json.loads((corpus / "packages" / f"{name}.json").read_text())
    with zipfile.ZipFile(record["wheel_path"]) as archive:
        return [(entry["path"], read_member(archive, entry["member"]))
                for entry in scan["files"]]


def materialise(corpus: Path, names: list[str]) -> tuple[list[Path], int]:
    """The stripped sources of each package under CACHE/sources/NAME, and their lines."""
    roots, lines = [], 0
    for name in names:
        root = CACHE / "sources" / name
        marker = root / ".complete"
        if not marker.is_file():
            shutil.rmtree(root, ignore_errors=True)
            for path, text in shipped_sources(corpus, name):
                with contextlib.suppress(StripError):  # kept: inference reports it
                    text = strip_annotations(text)
                target = root / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            root.mkdir(parents=True, exist_ok=True)
            marker.write_text("")
        roots.append(root)
        lines += _lines(root)
    return roots, lines


def _lines(root: Path) -> int:
    return sum(path.read_bytes().count(b"\n") for path in root.rglob("*.py"))


# -- memory -----------------------------------------------------------------------------------

class MemorySampler(threading.Thread):
    """Peak RSS of each process of a process tree, and of the tree, every 50 ms."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peaks: dict[int, float] = {}
        self.commands: dict[int, str] = {}
        self.parents: dict[int, int] = {}
        self.ran_tasks: set[int] = set()
        self.tree_peak = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            total = 0.0
            for pid, parent in process_tree(self.root).items():
                try:
                    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except (OSError, ValueError, IndexError):
                    continue  # ended meanwhile
                mib = pages * _PAGE_MIB
                total += mib
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), mib)
                self.parents[pid] = parent
                text = command.decode(errors="replace")
                if text.startswith("ray::_remote_call"):
                    self.ran_tasks.add(pid)  # a Ray worker, while it runs a task
                self.commands.setdefault(pid, text)
            self.tree_peak = max(self.tree_peak, total)
            self.stopped.wait(0.05)

    def worker_peaks(self) -> list[float]:
        """Peaks of the processes that ran tasks: Ray's workers, else the pool's processes
        (children of the CLI running the same program), else the CLI itself."""
        ray_workers = [p for pid, p in self.peaks.items() if pid in self.ran_tasks]
        if ray_workers:
            return ray_workers
        own = self.commands.get(self.root, "")
        pool = [p for pid, p in self.peaks.items()
                if self.parents.get(pid) == self.root and self.commands.get(pid) == own]
        return pool or [self.peaks.get(self.root, 0.0)]


# -- runs -------------------------------------------------------------------------------------

@dataclass
class Run:
    workload: str
    executor: str
    workers: int
    wall_s: float
    work_s: float
    worker_peak_mib: list[float]
    tree_peak_mib: float
    output_digest: str


def _digest_infer(out: Path) -> str:
    table = read_batch_table(out, "predictions").sort_by(
        [(c, "ascending") for c in ("project", "file", "line", "col", "kind", "scope", "name")])
    return hashlib.sha256(json.dumps(table.to_pylist(), sort_keys=True).encode()).hexdigest()


def _digest_corpus(out: Path) -> str:
    digest = hashlib.sha256()
    for shard in sorted((out / "sites").glob("*.parquet")):
        digest.update(shard.name.encode() + shard.read_bytes())
    return digest.hexdigest()


def run_once(workload: str, executor: str, workers: int, inputs: dict[str, Path],
             corpus: Path) -> Run:
    with tempfile.TemporaryDirectory(prefix="typeseer-scale-") as temp:
        out = Path(temp) / "out"
        options = ["--executor", executor, "--jobs", str(workers)]
        if workload in ("infer", "project"):
            listing = inputs["projects" if workload == "infer" else "project"]
            command = [*TYPESEER, "infer", "--projects-from", str(listing),
                       "--out", str(out), "--quiet", *options]
        else:
            command = [*TYPESEER, "corpus", "build", "--out", str(out), "--offline",
                       "--cache", str(corpus / "cache"), "--packages", str(inputs["packages"]),
                       "--holdout", str(inputs["empty"]), *options]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "RAY_USAGE_STATS_ENABLED": "0"}
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env=env, cwd=temp)
        sampler = MemorySampler(process.pid)
        sampler.start()
        stdout, stderr = process.communicate()
        wall = time.perf_counter() - started
        sampler.stopped.set()
        sampler.join()
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n"
                             f"{stderr.decode()[-3000:]}")
        summary = json.loads(stdout)
        digest = _digest_corpus(out) if workload == "corpus" else _digest_infer(out)
    return Run(workload, executor, workers, round(wall, 2), float(summary["seconds"]),
               [round(p, 1) for p in sorted(sampler.worker_peaks(), reverse=True)],
               round(sampler.tree_peak, 1), digest)


@dataclass
class Row:
    workload: str
    executor: str
    workers: int
    runs: list[Run] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def work(self) -> float:
        return statistics.median(r.work_s for r in self.runs)

    @property
    def worker_peak(self) -> float:
        return max(max(r.worker_peak_mib) for r in self.runs)

    @property
    def tree_peak(self) -> float:
        return statistics.median(r.tree_peak_mib for r in self.runs)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h"


def report(rows: list[Row], sizes: dict[str, tuple[int, int]]) -> list[dict[str, object]]:
    """The table; ``sizes``: packages and lines of each workload."""
    table: list[dict[str, object]] = []
    by_key = {(r.workload, r.executor, r.workers): r for r in rows}
    for row in rows:
        single = by_key.get((row.workload, row.executor, 1))
        packages, lines = sizes[row.workload]
        per_package = row.work / packages
        entry: dict[str, object] = {
            "workload": row.workload, "executor": row.executor, "workers": row.workers,
            "median_wall_s": round(row.wall, 2), "median_work_s": round(row.work, 2),
            "packages_per_s": round(packages / row.work, 3),
            "lines_per_s": round(lines / row.work) if row.workload != "corpus" else None,
            "scaling_vs_1_worker": round(single.work / row.work, 2) if single else None,
            "worker_peak_mib": round(row.worker_peak, 1),
            "tree_peak_mib": round(row.tree_peak, 1),
            "projected_100k_s": round(PROJECTED_PACKAGES * per_package),
            "worker_hours_100k": round(PROJECTED_PACKAGES * per_package * row.workers / 3600, 1),
            "runs": [asdict(r) for r in row.runs],
        }
        table.append(entry)
    header = ("| workload | executor | workers | wall s | work s | pkgs/s | lines/s | scaling | "
              "peak MiB/worker | tree MiB | 100k pkgs here | worker-hours |")
    print(header)
    print("|" + "---|" * 12)
    for e in table:
        print(f"| {e['workload']} | {e['executor']} | {e['workers']} | {e['median_wall_s']} | "
              f"{e['median_work_s']} | {e['packages_per_s']} | {e['lines_per_s'] or '-'} | "
              f"{e['scaling_vs_1_worker'] or '-'} | {e['worker_peak_mib']} | "
              f"{e['tree_peak_mib']} | {_hours(float(e['projected_100k_s']))} | "  # type: ignore[arg-type]
              f"{e['worker_hours_100k']} |")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "corpus")
    parser.add_argument("--packages", type=int, default=40)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--workloads", default="infer,corpus")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()

    names = sample_packages(args.corpus, args.packages, args.seed)
    roots, lines = materialise(args.corpus, names)
    CACHE.mkdir(parents=True, exist_ok=True)
    inputs = {"projects": CACHE / "projects.txt", "packages": CACHE / "packages.txt",
              "empty": CACHE / "empty.txt"}
    inputs["projects"].write_text("".join(f"{r}\n" for r in roots))
    inputs["packages"].write_text("".join(f"{n}\n" for n in names))
    inputs["empty"].write_text("")
    files = sum(1 for r in roots for _ in r.rglob("*.py"))
    print(f"{len(names)} packages, {files} files, {lines:,} lines (stripped sources)",
          flush=True)
    project = (args.project or max(roots, key=_lines)).resolve()
    inputs["project"] = CACHE / "project.txt"
    inputs["project"].write_text(f"{project}\n")
    sizes = {"infer": (len(names), lines), "corpus": (len(names), lines),
             "project": (1, _lines(project))}
    if "project" in args.workloads.split(","):
        print(f"project: {project}, {sizes['project'][1]:,} lines", flush=True)

    rows = [Row(w, e, n) for w in args.workloads.split(",") for e in args.executors.split(",")
            for n in map(int, args.workers.split(","))]
    for repeat in range(args.repeat):
        for row in rows:
            run = run_once(row.workload, row.executor, row.workers, inputs, args.corpus)
            row.runs.append(run)
            print(f"[{repeat + 1}/{args.repeat}] {row.workload} {row.executor} x{row.workers}: "
                  f"{run.wall_s} s wall, {run.work_s} s work, workers {run.worker_peak_mib} "
                  f"MiB", flush=True)
    same = {w: len({r.output_digest for row in rows if row.workload == w for r in row.runs})
            == 1 for w in args.workloads.split(",")}
    print(f"same output in every run: {same}")
    table = report(rows, sizes)
    write_json(args.output, {
        "command": " ".join(["bench/scale.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "git": git_state(), "packages": names, "files": files, "lines": lines,
        "project": str(project), "project_lines": sizes["project"][1],
        "same_output": same, "rows": table,
    })


if __name__ == "__main__":
    main()
