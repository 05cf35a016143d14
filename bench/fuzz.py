"""Coverage-guided fuzzing (atheris, libFuzzer) of the type-expression parser and the site
extractor, bounded by runs or seconds.

What counts as a crash:

* ``typeexpr``: ``typeseer.typeexpr.parse_type`` raising anything but ``TypeParseError`` (its
  documented error), or a parsed type whose printed form does not parse back to the same
  type (the normal form is what every other module reads and writes);
* ``sites``: for text that ``typeseer.parsing.parse_source`` accepts (``ast.parse``, or valid
  newer syntax), ``extract_sites`` (and ``usage_slice`` on each site, as the model reads
  them) raising anything at all; for text it rejects, anything but ``ParseFailure``.

Each input is decoded as UTF-8 (invalid bytes replaced). A crash does not stop the run: each
distinct one (by exception type and the line that raised it) is recorded with its smallest
input, and the run goes on. The seed corpus is bench/fuzz_seeds/<target>/ (and the mutation
dictionary bench/fuzz_seeds/<target>.dict); inputs libFuzzer finds go to a temporary directory
(or ``--corpus``). Prints a table and writes
bench/results/fuzz_<target>.json.

    .venv/bin/python bench/fuzz.py --target typeexpr --seconds 600
    .venv/bin/python bench/fuzz.py --target sites --runs 200000

Needs the ``fuzz`` extra (``pip install -e '.[fuzz]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _results import git_state, write_json  # noqa: E402

SEEDS = ROOT / "bench" / "fuzz_seeds"
TARGETS = ("typeexpr", "sites")
#: libFuzzer's summary line: "Done 123456 runs in 60 second(s)".
_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
#: Seconds one input may take before libFuzzer calls it a hang (and stops).
HANG_SECONDS = 20


# -- the child: one libFuzzer run in this process ------------------------------------------------

class _Findings:
    """Distinct crashes, appended as JSON lines as they are found (the child may be killed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, int] = {}

    def record(self, error: BaseException, text: str) -> None:
        frames = traceback.extract_tb(error.__traceback__)
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        key = f"{type(error).__name__} at {where}"
        size = len(text)
        if key in self.seen and self.seen[key] <= size:
            return
        self.seen[key] = size
        entry = {"key": key, "error": f"{type(error).__name__}: {error}"[:500], "input": text,
                 "traceback": "".join(traceback.format_exception(error)[-4:])[-2000:]}
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")


def _typeexpr_target(findings: _Findings) -> Callable[[bytes], None]:
    from typeseer.typeexpr import TypeParseError, parse_type

    def one(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        try:
            parsed = parse_type(text)
        except TypeParseError:
            return
        except Exception as error:
            findings.record(error, text)
            return
        try:
            again = parse_type(str(parsed))
        except Exception as error:
            findings.record(error, text)
            return
        if again != parsed:
            findings.record(AssertionError(f"{text!r} -> {parsed} -> {again}"), text)

    return one


def _sites_target(findings: _Findings) -> Callable[[bytes], None]:
    from typeseer.parsing import ParseFailure, parse_source
    from typeseer.sites import extract_sites, usage_slice

    def one(data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        try:
            tree = parse_source(text, "fuzzed.py")
        except ParseFailure:
            return
        except Exception as error:
            findings.record(error, text)
            return
        try:
            # A module of a package, so that relative imports resolve against two levels.
            module = extract_sites("fuzzed.py", text, tree, "pkg.sub.fuzzed", is_package=False)
            for site in module.sites:
                usage_slice(module.lines, site)
        except Exception as error:
            findings.record(error, text)

    return one


def _child(target: str, findings_path: Path, libfuzzer_args: list[str]) -> None:
    import atheris

    findings = _Findings(findings_path)
    with atheris.instrument_imports(include=["typeseer"]):
        one = _typeexpr_target(findings) if target == "typeexpr" else _sites_target(findings)
    sys.setrecursionlimit(1000)  # the default: what typeseer runs under
    atheris.Setup([sys.argv[0], *libfuzzer_args], one)
    atheris.Fuzz()


# -- the parent: run the child, read its findings ------------------------------------------------

def _run(target: str, runs: int | None, seconds: int | None, corpus: Path | None,
         ) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="typeseer-fuzz-") as scratch:
        work = corpus or Path(scratch) / "corpus"
        work.mkdir(parents=True, exist_ok=True)
        findings_path = Path(scratch) / "findings.jsonl"
        findings_path.touch()
        options = [f"-timeout={HANG_SECONDS}", "-rss_limit_mb=4096", "-max_len=4096",
                   f"-artifact_prefix={scratch}/", f"-dict={SEEDS / target}.dict"]
        if runs is not None:
            options.append(f"-runs={runs}")
        if seconds is not None:
            options.append(f"-max_total_time={seconds}")
        command = [sys.executable, __file__, "--child", target, "--findings", str(findings_path),
                   "--", *options, str(work), str(SEEDS / target)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        elapsed = time.perf_counter() - started
        log = done.stdout + done.stderr
        match = _DONE.search(log)
        crashes = [json.loads(line) for line in findings_path.read_text().splitlines() if line]
        best: dict[str, dict[str, str]] = {}
        for crash in crashes:  # the smallest input of each kind
            if crash["key"] not in best or len(crash["input"]) < len(best[crash["key"]]["input"]):
                best[crash["key"]] = crash
        stopped = None if match else "\n".join(log.strip().splitlines()[-15:])
        return {"target": target, "runs": int(match.group(1)) if match else None,
                "seconds": round(elapsed, 1), "corpus_files": len(list(work.iterdir())),
                "crashes": list(best.values()), "libfuzzer_stopped": stopped}


def _table(result: dict[str, object]) -> str:
    crashes = result["crashes"]
    assert isinstance(crashes, list)
    rows = [("target", str(result["target"])), ("runs", str(result["runs"])),
            ("seconds", str(result["seconds"])), ("corpus files", str(result["corpus_files"])),
            ("distinct crashes", str(len(crashes)))]
    lines = [f"{name:<17} {value}" for name, value in rows]
    lines += [f"  {c['key']}: {c['error'][:120]!s}  input={c['input'][:80]!r}" for c in crashes]
    if result["libfuzzer_stopped"]:
        lines.append(f"libFuzzer stopped early:\n{result['libfuzzer_stopped']}")
    return "\n".join(lines)


def main() -> int:
    if "--child" in sys.argv:
        index = sys.argv.index("--")
        target, findings = sys.argv[2], Path(sys.argv[4])
        _child(target, findings, sys.argv[index + 1:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=TARGETS, required=True)
    bound = parser.add_mutually_exclusive_group(required=True)
    bound.add_argument("--runs", type=int, help="inputs to try")
    bound.add_argument("--seconds", type=int, help="time to fuzz for")
    parser.add_argument("--corpus", type=Path,
                        help="keep the inputs libFuzzer finds here (default: thrown away)")
    parser.add_argument("--output", type=Path,
                        help="results file (default bench/results/fuzz_<target>.json)")
    args = parser.parse_args()
    try:
        import atheris  # noqa: F401
    except ImportError:
        parser.error("atheris is not installed: pip install -e '.[fuzz]'")
    result = _run(args.target, args.runs, args.seconds, args.corpus)
    print(_table(result))
    output = args.output or ROOT / "bench" / "results" / f"fuzz_{args.target}.json"
    command = " ".join(["bench/fuzz.py", *sys.argv[1:]])
    write_json(output, {**git_state(), "command": command, **result})
    print(f"results: {output}")
    return 1 if result["crashes"] or result["libfuzzer_stopped"] else 0


if __name__ == "__main__":
    sys.exit(main())
