"""The long run of the property tests: thousands of generated programs through infer, apply
--write (twice) and stub, every failure recorded instead of stopping at the first.

The programs and properties are those of tests/test_properties.py (tests/generated_programs.py):
hypothesmith's ``from_grammar`` and ``from_node`` (modules and functions) and typeseer's own
grammar of annotatable code. ``--examples`` is split evenly over the four sources; each
program runs with static inference only (``--no-model``, every type written) except every
``--model-every``-th, which runs with the model at the default level, and every
``--old-every``-th, which targets Python 3.8 (``Optional[int]``, ``List[str]``). Prints a
table (programs tried, how many apply annotated, failures by property, seconds) and writes
bench/results/properties.json with each failing program's source.

    .venv/bin/python bench/properties.py --examples 4000 [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import hypothesmith  # noqa: E402
import libcst as cst  # noqa: E402
from _results import git_state, write_json  # noqa: E402
from generated_programs import (  # noqa: E402
    FAST,
    OLD_SPELLING,
    PROPERTIES,
    WITH_MODEL,
    annotatable_programs,
    check_program,
)
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from typeseer.config import Config  # noqa: E402

OUTPUT = ROOT / "bench" / "results" / "properties.json"

SOURCES: dict[str, st.SearchStrategy[str]] = {
    "from_grammar": hypothesmith.from_grammar(),
    "from_node": hypothesmith.from_node(),
    "from_node(FunctionDef)": hypothesmith.from_node(cst.FunctionDef),
    "annotatable": annotatable_programs(),
}


@dataclass(slots=True)
class SourceRun:
    """The figures of one source of programs."""

    name: str
    tried: int = 0
    annotated: int = 0
    with_model: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def _config(number: int, model_every: int, old_every: int) -> tuple[str, Config]:
    if model_every and number % model_every == 0:
        return "model", WITH_MODEL
    if old_every and number % old_every == 0:
        return "python 3.8", OLD_SPELLING
    return "static", FAST


def run_source(name: str, strategy: st.SearchStrategy[str], examples: int, seed_value: int,
               model_every: int, old_every: int, keep: int) -> SourceRun:
    """Every program Hypothesis generates from ``strategy`` (up to ``examples``), checked."""
    figures = SourceRun(name)
    started = time.perf_counter()

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(source: str) -> None:
        try:
            compile(source, "<generated>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return  # the grammar's statements outside a function: not a program
        figures.tried += 1
        label, config = _config(figures.tried, model_every, old_every)
        figures.with_model += label == "model"
        outcome = check_program(source, config)
        figures.annotated += outcome.annotated
        for failure in outcome.failures:
            figures.failures[failure.property] += 1
            if len(figures.examples) < keep:
                figures.examples.append({"property": failure.property, "config": label,
                                         "source": source, "detail": failure.detail})

    one()
    figures.seconds = time.perf_counter() - started
    return figures


def _table(runs: list[SourceRun]) -> str:
    header = ["source", "programs", "annotated", "model", *PROPERTIES, "seconds"]
    rows = [[r.name, str(r.tried), str(r.annotated), str(r.with_model),
             *(str(r.failures[p]) for p in PROPERTIES), f"{r.seconds:.0f}"] for r in runs]
    totals = Counter[str]()
    for r in runs:
        totals.update(r.failures)
    rows.append(["total", str(sum(r.tried for r in runs)), str(sum(r.annotated for r in runs)),
                 str(sum(r.with_model for r in runs)), *(str(totals[p]) for p in PROPERTIES),
                 f"{sum(r.seconds for r in runs):.0f}"])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in [header, *rows]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=400,
                        help="programs to generate, split over the sources (default 400)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument("--model-every", type=int, default=10,
                        help="every Nth program runs with the model (0: never; default 10)")
    parser.add_argument("--old-every", type=int, default=7,
                        help="every Nth program targets Python 3.8 (0: never; default 7)")
    parser.add_argument("--sources", default=",".join(SOURCES),
                        help="comma-separated sources (default: all)")
    parser.add_argument("--keep", type=int, default=20,
                        help="failing programs kept per source in the results (default 20)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    names = [n.strip() for n in args.sources.split(",") if n.strip()]
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        parser.error(f"unknown source(s): {', '.join(unknown)} (choose from {', '.join(SOURCES)})")
    per_source = max(1, args.examples // len(names))
    warnings.simplefilter("ignore", SyntaxWarning)  # generated code: `assert (x, y)` and such
    runs = []
    for name in names:
        print(f"{name}: {per_source} programs...", file=sys.stderr, flush=True)
        runs.append(run_source(name, SOURCES[name], per_source, args.seed, args.model_every,
                               args.old_every, args.keep))
    print(_table(runs))
    write_json(args.output, {
        **git_state(),
        "command": " ".join(["bench/properties.py", *sys.argv[1:]]),
        "examples": args.examples, "seed": args.seed,
        "sources": [{"name": r.name, "programs": r.tried, "annotated": r.annotated,
                     "with_model": r.with_model, "failures": dict(r.failures),
                     "seconds": round(r.seconds, 1), "failing_programs": r.examples}
                    for r in runs],
    })
    print(f"results: {args.output}")
    return 1 if any(r.failures for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
