"""The peer benchmark: typeseer and the tools people use, on the same stripped real projects.

    .venv/bin/python bench/peers/run.py
    .venv/bin/python bench/peers/run.py --projects koda,janus --tools typeseer,pyrefly
    .venv/bin/python bench/peers/run.py --timeout 300 --jobs 1 --repeat 3 --repeat-under 30

1. Each project (``projects.py``: pinned, fully annotated PyPI projects outside typeseer's
   corpus lists) is fetched, stripped, and its original annotations collected as ground truth
   with ``typeseer.scoring`` (the functions ``typeseer evaluate`` uses: same normalisation,
   same site keys).
2. Each tool (``adapters/registry.py``) is installed once in its own venv (its version, or the
   reason it could not be installed, is recorded).
3. For each (tool, project): a fresh copy of the stripped tree, and ``run_one.py`` in a fresh
   process (so the peak memory is this run's) with the time limit; the records it returns are
   scored with ``typeseer.scoring.score`` at the default threshold 0.9 (a tool without
   confidences gives 1.0, so everything it gives counts) and at 0 (typeseer's forced top-1).
   A failure or timeout is recorded with its error and shown in the tables. A run shorter
   than ``--repeat-under`` seconds is repeated (``--repeat`` runs in all, each on a fresh
   copy) and its time is the median.
4. Markdown tables on standard output (the ones in ``docs/benchmarks.md``), everything in
   ``bench/results/peers.json``.

Figures are micro-averages over all the ground-truth sites of all the projects: a project a
tool failed on still counts, with whatever the tool produced there (usually nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PEERS = Path(__file__).resolve().parent
BENCH = PEERS.parent
ROOT = BENCH.parent
for _path in (PEERS, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _results import git_state, write_json  # noqa: E402
from adapters.registry import Registry, load_registry  # noqa: E402
from projects import (  # noqa: E402
    PROJECTS,
    PreparedProject,
    check_outside_corpus,
    prepare,
    select_projects,
)

from typeseer.evaluate import merge_reports  # noqa: E402
from typeseer.fileio import atomic_write_text  # noqa: E402
from typeseer.scoring import (  # noqa: E402
    DEFAULT_THRESHOLD,
    KINDS,
    Counts,
    PredictionRecord,
    Report,
    prediction_from_dict,
    report_to_dict,
    score,
)

__all__ = ["Outcome", "Row", "losses", "main", "render_tables", "rows_of", "run_tool_on_project",
           "targets"]

DEFAULT_CACHE = BENCH / ".cache" / "peers" / "projects"
DEFAULT_VENVS = BENCH / ".cache" / "peers" / "venvs"
DEFAULT_OUTPUT = BENCH / "results" / "peers.json"
RUN_ONE = PEERS / "run_one.py"
#: typeseer's forced top-1: every type it gives counts, whatever its confidence.
FORCED = 0.0
THRESHOLDS = (FORCED, DEFAULT_THRESHOLD)
#: The tool whose two rows (forced top-1, default threshold) the others are compared with.
TYPESEER = "typeseer"
#: What a table shows where a figure is undefined (no site, no type given).
NO_FIGURE = "-"


# -- one run --------------------------------------------------------------------------------

@dataclass
class Outcome:
    """One tool on one project: how the run ended and its scores."""

    tool: str
    project: str
    #: ``ok``, ``failed`` or ``timeout``.
    status: str
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    peak_mib: float | None = None
    #: Records returned, and those with a type.
    records: int = 0
    typed: int = 0
    #: The time of each run (``--repeat``); ``seconds`` is their median.
    all_seconds: list[float] = field(default_factory=list)
    #: Scores by threshold (FORCED and DEFAULT_THRESHOLD).
    reports: dict[float, Report] = field(default_factory=dict)


def _is_timeout(error: str) -> bool:
    text = error.lower()
    return "timed out" in text or "timeout" in text


def _records_of(raw: object) -> list[PredictionRecord]:
    records: list[PredictionRecord] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            record = prediction_from_dict(item)
            if record is not None:
                records.append(record)
    return records


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _invoke(request: dict[str, object], where: Path, limit: float) -> dict[str, Any]:
    """Run run_one.py on ``request``; its result, or an ``error`` when it died or hung."""
    request_file, result_file = where / "request.json", where / "result.json"
    atomic_write_text(request_file, json.dumps(request))
    process = subprocess.Popen([sys.executable, str(RUN_ONE), str(request_file),
                                str(result_file)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        return {"error": f"timeout: the adapter did not return within {limit:.0f} s "
                         "(killed by the runner)", "seconds": limit}
    finally:
        _kill_group(process)  # a server the adapter left behind
    if process.returncode != 0 or not result_file.is_file():
        return {"error": f"run_one.py exited with {process.returncode}: "
                         f"{output.strip()[-1500:] or 'no output'}"}
    data = json.loads(result_file.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {"error": "run_one.py wrote no object"}


def _run_once(module: str, prepared: PreparedProject, where: Path, venvs: Path,
              timeout: float, keep: bool) -> dict[str, Any]:
    """One run of run_one.py on a fresh copy of the stripped tree under ``where``."""
    root = where / "root"
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    shutil.copytree(prepared.stripped, root)
    request: dict[str, object] = {
        "module": module, "venvs": str(venvs), "timeout": timeout,
        "project": {"spec": prepared.project.spec, "root": str(root),
                    "packages": list(prepared.project.packages),
                    "files": list(prepared.files)},
    }
    grace = max(60.0, timeout / 2)
    data = _invoke(request, where, timeout + grace)
    if not keep:
        shutil.rmtree(where, ignore_errors=True)
    return data


def run_tool_on_project(tool: str, module: str, prepared: PreparedProject, work: Path,
                        venvs: Path, timeout: float, keep: bool = False,
                        repeat: int = 1, repeat_under: float = float("inf")) -> Outcome:
    """``tool`` on a fresh copy of ``prepared``'s stripped tree, in a process of its own,
    scored against the project's ground truth. With ``repeat`` above 1, a run that succeeded
    in under ``repeat_under`` seconds is repeated (each time on a fresh copy): the time is the
    median, the peak memory the largest, the scores the first run's."""
    where = work / "runs" / tool / prepared.name
    data = _run_once(module, prepared, where, venvs, timeout, keep)
    error = data.get("error")
    error = str(error) if error else None
    status = "ok" if error is None else "timeout" if _is_timeout(error) else "failed"
    records = _records_of(data.get("records"))
    notes = data.get("notes")
    outcome = Outcome(tool, prepared.name, status, error,
                      [str(n) for n in notes] if isinstance(notes, list) else [],
                      _number(data.get("seconds")) or 0.0, _number(data.get("peak_mib")),
                      len(records), sum(r.type is not None for r in records))
    outcome.all_seconds.append(outcome.seconds)
    again_wanted = status == "ok" and outcome.seconds < repeat_under
    for attempt in range(1, repeat if again_wanted else 1):
        again = _run_once(module, prepared, where.with_name(f"{prepared.name}-{attempt}"),
                          venvs, timeout, keep)
        if again.get("error"):
            outcome.notes.append(f"repeat {attempt + 1} failed: {again['error']}")
            continue
        outcome.all_seconds.append(_number(again.get("seconds")) or 0.0)
        peak = _number(again.get("peak_mib"))
        if peak is not None:
            outcome.peak_mib = max(peak, outcome.peak_mib or 0.0)
    outcome.seconds = statistics.median(outcome.all_seconds)
    for threshold in THRESHOLDS:
        outcome.reports[threshold] = score(prepared.truth.sites, records, threshold=threshold,
                                           class_names=prepared.truth.class_names)
    return outcome


# -- rows -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """A line of the tables: a tool's runs scored at one threshold."""

    label: str
    tool: str
    threshold: float


def rows_of(tools: Iterable[str]) -> list[Row]:
    """typeseer twice (forced top-1, default threshold), every other tool once."""
    rows: list[Row] = []
    for tool in tools:
        if tool == TYPESEER:
            rows.append(Row("typeseer, forced top-1", tool, FORCED))
            rows.append(Row(f"typeseer, confidence ≥ {DEFAULT_THRESHOLD:g}", tool,
                            DEFAULT_THRESHOLD))
        else:
            rows.append(Row(tool, tool, DEFAULT_THRESHOLD))
    return rows


@dataclass(frozen=True)
class Rates:
    """The table's measures over a set of sites, at a row's threshold."""

    sites: int
    coverage: float | None
    #: Exact types given, over all sites.
    exact: float | None
    #: Exact types given, over the types given.
    precision: float | None
    #: Types given that match up to parametric, over all sites.
    outer: float | None
    #: Types given (the denominator of precision).
    given: int = 0

    @classmethod
    def of(cls, counts: Counts) -> Rates:
        def rate(numerator: int, denominator: int) -> float | None:
            return numerator / denominator if denominator else None
        return cls(counts.sites, rate(counts.given, counts.sites),
                   rate(counts.given_exact, counts.sites),
                   rate(counts.given_exact, counts.given),
                   rate(counts.given_parametric, counts.sites), counts.given)

    def as_dict(self) -> dict[str, object]:
        return {"sites": self.sites, "coverage": self.coverage, "exact_over_all": self.exact,
                "precision": self.precision, "outer_over_all": self.outer}


@dataclass
class Tool:
    """A tool of the bench: whether it could run, and its runs."""

    name: str
    rust: bool = False
    version: str | None = None
    #: Why it has no runs (adapter missing, install failed), or None.
    unavailable: str | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def total(self, threshold: float) -> Report | None:
        reports = [o.reports[threshold] for o in self.outcomes.values()]
        return merge_reports(reports) if reports else None

    @property
    def seconds(self) -> float:
        return sum(o.seconds for o in self.outcomes.values())

    @property
    def peak_mib(self) -> float | None:
        peaks = [o.peak_mib for o in self.outcomes.values() if o.peak_mib is not None]
        return max(peaks) if peaks else None

    @property
    def not_ok(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.status != "ok"]


def lines_per_second(tool: Tool, lines: dict[str, int]) -> float | None:
    """Source lines per second over the projects the tool finished."""
    done = [o for o in tool.outcomes.values() if o.status == "ok"]
    seconds = sum(o.seconds for o in done)
    return sum(lines[o.project] for o in done) / seconds if seconds > 0 else None


# -- tables ---------------------------------------------------------------------------------

def _percent(value: float | None) -> str:
    return NO_FIGURE if value is None else f"{100 * value:.1f}"


def _markdown(header: Sequence[str], rows: Iterable[Sequence[str]],
              numeric: bool = True) -> str:
    """A markdown table; columns after the first are right-aligned when ``numeric``."""
    align = "---:" if numeric else "---"
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else align for i in range(len(header))) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def short_reason(outcome: Outcome, width: int = 48) -> str:
    """``timeout`` or ``failed: <first line of the error, cut>``."""
    if outcome.status == "timeout":
        return "timeout"
    first = (outcome.error or "").strip().splitlines()[0] if outcome.error else "?"
    first = first.replace("|", "/")
    return f"failed: {first if len(first) <= width else first[:width - 1] + '…'}"


def _unavailable_cells(tool: Tool, count: int) -> list[str]:
    reason = (tool.unavailable or "").replace("|", "/").splitlines()[0][:60]
    return [f"no figures: {reason}"] + ["" for _ in range(count - 1)]


def totals_table(rows: Sequence[Row], tools: dict[str, Tool], lines: dict[str, int]) -> str:
    header = ["tool", "coverage", "exact, all sites", "precision", "outer type, all sites",
              "exact w/o `-> None`", "precision w/o `-> None`", "time (s)", "peak MiB",
              "lines/s", "failed"]
    body: list[list[str]] = []
    for row in rows:
        tool = tools[row.tool]
        total = tool.total(row.threshold)
        if total is None:
            body.append([row.label, *_unavailable_cells(tool, len(header) - 1)])
            continue
        rates = Rates.of(total.total)
        without = Rates.of(total.total_without_none_returns)
        speed = lines_per_second(tool, lines)
        peak = tool.peak_mib
        failed = ", ".join(f"{o.project} ({'timeout' if o.status == 'timeout' else 'failed'})"
                           for o in tool.not_ok)
        body.append([row.label, _percent(rates.coverage), _percent(rates.exact),
                     _percent(rates.precision), _percent(rates.outer), _percent(without.exact),
                     _percent(without.precision), f"{tool.seconds:.1f}",
                     NO_FIGURE if peak is None else f"{peak:.0f}",
                     NO_FIGURE if speed is None else f"{speed:,.0f}", failed or "none"])
    return _markdown(header, body)


def kinds_table(rows: Sequence[Row], tools: dict[str, Tool]) -> str:
    header = ["tool", *(f"{kind}: exact / precision" for kind in KINDS)]
    body: list[list[str]] = []
    for row in rows:
        tool = tools[row.tool]
        total = tool.total(row.threshold)
        if total is None:
            body.append([row.label, *_unavailable_cells(tool, len(KINDS))])
            continue
        cells = []
        for kind in KINDS:
            rates = Rates.of(total.by_kind.get(kind, Counts()))
            cells.append(f"{_percent(rates.exact)} / {_percent(rates.precision)}")
        body.append([row.label, *cells])
    return _markdown(header, body)


def projects_table(rows: Sequence[Row], tools: dict[str, Tool],
                   projects: Sequence[PreparedProject]) -> str:
    header = ["tool", *(p.name for p in projects)]
    body: list[list[str]] = []
    for row in rows:
        tool = tools[row.tool]
        if not tool.outcomes:
            body.append([row.label, *_unavailable_cells(tool, len(projects))])
            continue
        cells = []
        for project in projects:
            outcome = tool.outcomes.get(project.name)
            if outcome is None:
                cells.append("not run")
            elif outcome.status != "ok":
                cells.append(short_reason(outcome))
            else:
                cells.append(_percent(Rates.of(outcome.reports[row.threshold].total).exact))
        body.append([row.label, *cells])
    return _markdown(header, body)


def ground_truth_table(projects: Sequence[PreparedProject]) -> str:
    header = ["project", "files", "lines", "scored sites", *KINDS, "`-> None`"]
    body: list[list[str]] = []
    for project in projects:
        by_kind = {kind: 0 for kind in KINDS}
        for site in project.truth.sites:
            by_kind[site.key.kind] = by_kind.get(site.key.kind, 0) + 1
        nones = sum(site.is_none_return for site in project.truth.sites)
        body.append([project.project.spec, str(len(project.files)), f"{project.lines:,}",
                     str(len(project.truth.sites)), *(str(by_kind[k]) for k in KINDS),
                     str(nones)])
    return _markdown(header, body)


def tools_table(tools: dict[str, Tool]) -> str:
    body = [[name, tool.version or NO_FIGURE, "yes" if tool.rust else "no",
             (tool.unavailable or "").replace("|", "/").splitlines()[0][:200]
             if tool.unavailable else ""]
            for name, tool in tools.items()]
    return _markdown(["tool", "version", "Rust", "no figures because"], body, numeric=False)


def failures_list(tools: dict[str, Tool]) -> str:
    lines: list[str] = []
    for tool in tools.values():
        for outcome in tool.not_ok:
            error = " ".join((outcome.error or "").split())
            lines.append(f"- {tool.name} on {outcome.project} ({outcome.status}): "
                         f"{error[:400]}")
    return "\n".join(lines) if lines else "- none"


def render_tables(tools: dict[str, Tool], projects: Sequence[PreparedProject]) -> str:
    """Every table of the benchmark, in markdown."""
    rows = rows_of(tools)
    lines = {p.name: p.lines for p in projects}
    sites = sum(len(p.truth.sites) for p in projects)
    parts = [
        f"Totals over {len(projects)} projects, {sites} annotated sites (percentages; "
        "`exact`/`outer type` count over all sites, `precision` over the types given):",
        totals_table(rows, tools, lines),
        "By kind (exact over all sites / precision, %):",
        kinds_table(rows, tools),
        "Exact over all sites, by project (%):",
        projects_table(rows, tools, projects),
        "Tools:", tools_table(tools),
        "Projects (ground truth):", ground_truth_table(projects),
        "Failures and timeouts:", failures_list(tools),
        "Where typeseer loses (percentages; forced top-1 for exact/outer type, the default "
        "threshold for precision/coverage and exact at the default threshold):",
        "\n".join(losses(tools, projects)) or "- nowhere",
    ]
    return "\n\n".join(parts)


# -- targets --------------------------------------------------------------------------------

def _best_peer(tools: dict[str, Tool], measure: str) -> tuple[str | None, float | None]:
    best: tuple[str | None, float | None] = (None, None)
    for name, tool in tools.items():
        total = tool.total(DEFAULT_THRESHOLD)
        if name == TYPESEER or total is None:
            continue
        value = getattr(Rates.of(total.total), measure)
        if value is not None and (best[1] is None or value > best[1]):
            best = (name, value)
    return best


def _speed_ratio(typeseer: Tool, peer: Tool) -> tuple[float | None, list[str]]:
    """typeseer's seconds over the peer's, on the projects both finished."""
    common = [p for p, o in typeseer.outcomes.items() if o.status == "ok"
              and p in peer.outcomes and peer.outcomes[p].status == "ok"]
    mine = sum(typeseer.outcomes[p].seconds for p in common)
    theirs = sum(peer.outcomes[p].seconds for p in common)
    return (mine / theirs if theirs > 0 else None), common


def targets(tools: dict[str, Tool]) -> dict[str, Any]:
    """Issue 5's targets for typeseer, each with the figures it is decided on."""
    typeseer = tools.get(TYPESEER)
    if typeseer is None or not typeseer.outcomes:
        return {"error": "typeseer has no runs"}
    forced = typeseer.total(FORCED)
    at_threshold = typeseer.total(DEFAULT_THRESHOLD)
    assert forced is not None and at_threshold is not None
    mine_exact = Rates.of(forced.total).exact
    mine_precision = Rates.of(at_threshold.total).precision
    peer_exact = _best_peer(tools, "exact")
    peer_precision = _best_peer(tools, "precision")
    speed: dict[str, Any] = {}
    for name, tool in tools.items():
        if name == TYPESEER or not tool.outcomes:
            continue
        ratio, common = _speed_ratio(typeseer, tool)
        limit = 3.0 if tool.rust else 1.0
        speed[name] = {"rust": tool.rust, "typeseer_over_tool": ratio, "projects": common,
                       "limit": limit, "met": ratio is not None and ratio <= limit}
    return {
        "highest_exact_over_all": {
            "typeseer": mine_exact, "best_peer": peer_exact[0], "best_peer_value": peer_exact[1],
            "met": mine_exact is not None and (peer_exact[1] is None
                                               or mine_exact > peer_exact[1])},
        "highest_precision_at_threshold": {
            "typeseer": mine_precision, "best_peer": peer_precision[0],
            "best_peer_value": peer_precision[1],
            "met": mine_precision is not None and (peer_precision[1] is None
                                                   or mine_precision > peer_precision[1])},
        "speed": speed,
    }


def render_targets(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"targets: {result['error']}"
    exact = result["highest_exact_over_all"]
    precision = result["highest_precision_at_threshold"]
    lines = [
        f"- highest exact accuracy over all sites: {'met' if exact['met'] else 'NOT met'} "
        f"(typeseer forced top-1 {_percent(exact['typeseer'])}%, best peer "
        f"{exact['best_peer']} {_percent(exact['best_peer_value'])}%)",
        f"- highest precision at {DEFAULT_THRESHOLD:g}: "
        f"{'met' if precision['met'] else 'NOT met'} (typeseer "
        f"{_percent(precision['typeseer'])}%, best peer {precision['best_peer']} "
        f"{_percent(precision['best_peer_value'])}%)",
    ]
    for name, speed in result["speed"].items():
        ratio = speed["typeseer_over_tool"]
        bound = "within 3x of" if speed["rust"] else "faster than"
        figure = "no common finished project" if ratio is None else (
            f"typeseer takes {ratio:.2f}x its time on the {len(speed['projects'])} projects "
            "both finished")
        lines.append(f"- {bound} {name}: {'met' if speed['met'] else 'NOT met'} ({figure})")
    return "\n".join(lines)


# -- where typeseer loses --------------------------------------------------------------------

#: Measures compared with typeseer's forced top-1 row (its best over all sites) and with its
#: row at the default threshold (what it reports by default).
FORCED_MEASURES = (("exact over all sites", "exact"), ("outer type over all sites", "outer"))
THRESHOLD_MEASURES = (("precision", "precision"), ("coverage", "coverage"),
                      ("exact over all sites at the default threshold", "exact"))


def _scopes(report: Report) -> list[tuple[str, Counts]]:
    return [("all sites", report.total),
            ("without `-> None`", report.total_without_none_returns),
            *((kind, report.by_kind.get(kind, Counts())) for kind in KINDS)]


def _beaten(label: str, scope: str, mine: Rates, theirs: list[tuple[str, Rates]],
            measure: str) -> str | None:
    """The line saying which peers beat typeseer on ``measure`` in ``scope`` (None: none).
    Precision is shown with the number of types given (a few lucky ones can be 100%)."""
    def value(rates: Rates) -> float | None:
        return getattr(rates, measure)  # type: ignore[no-any-return]

    def shown(rates: Rates) -> str:
        text = _percent(value(rates))
        return f"{text} of {rates.given}" if measure == "precision" else text

    ours = value(mine)
    better = sorted(((name, rates) for name, rates in theirs
                     if (v := value(rates)) is not None and v > (ours or 0.0)),
                    key=lambda item: -(value(item[1]) or 0.0))
    if not better:
        return None
    peers = ", ".join(f"{name} {shown(rates)}" for name, rates in better)
    return f"- {label}, {scope}: typeseer {shown(mine)} < {peers}"


def losses(tools: dict[str, Tool], projects: Sequence[PreparedProject]) -> list[str]:
    """Every measure, scope (total, kind, project) and peer where a peer beats typeseer:
    on exact and outer-type accuracy over all sites its forced top-1 is compared, on
    precision, coverage and exact accuracy again its default threshold; then time and
    memory."""
    typeseer = tools.get(TYPESEER)
    peers = {n: t for n, t in tools.items() if n != TYPESEER and t.outcomes}
    if typeseer is None or not typeseer.outcomes:
        return []
    found: list[str] = []
    for measures, threshold in ((FORCED_MEASURES, FORCED),
                                (THRESHOLD_MEASURES, DEFAULT_THRESHOLD)):
        mine_total = typeseer.total(threshold)
        peer_totals = {n: t.total(DEFAULT_THRESHOLD) for n, t in peers.items()}
        assert mine_total is not None
        for label, measure in measures:
            for index, (scope, counts) in enumerate(_scopes(mine_total)):
                theirs = [(n, Rates.of(_scopes(r)[index][1]))
                          for n, r in peer_totals.items() if r is not None]
                found.append(_beaten(label, scope, Rates.of(counts), theirs, measure) or "")
            for project in projects:
                mine = typeseer.outcomes.get(project.name)
                if mine is None:
                    continue
                theirs = [(n, Rates.of(t.outcomes[project.name]
                                       .reports[DEFAULT_THRESHOLD].total))
                          for n, t in peers.items() if project.name in t.outcomes]
                found.append(_beaten(label, f"project {project.name}",
                                     Rates.of(mine.reports[threshold].total), theirs,
                                     measure) or "")
    for name, tool in peers.items():
        ratio, common = _speed_ratio(typeseer, tool)
        if ratio is not None and ratio > 1:
            found.append(f"- time: typeseer takes {ratio:.2f}x the time of {name} "
                         f"({'Rust' if tool.rust else 'not Rust'}; {len(common)} projects)")
    mine_peak = typeseer.peak_mib
    lighter = sorted(((n, t.peak_mib) for n, t in peers.items()
                      if t.peak_mib is not None and mine_peak is not None
                      and t.peak_mib < mine_peak), key=lambda item: item[1])
    if lighter:
        found.append(f"- peak memory: typeseer {mine_peak:.0f} MiB > "
                     + ", ".join(f"{n} {peak:.0f}" for n, peak in lighter))
    return [line for line in found if line]


# -- JSON -----------------------------------------------------------------------------------

def _report_json(report: Report) -> dict[str, object]:
    full = report_to_dict(report)
    keys = ("total", "by_kind", "total_without_none_returns", "by_kind_without_none_returns",
            "unmatched_predictions", "duplicate_predictions", "unparsable_predictions")
    return {key: full[key] for key in keys}


def _outcome_json(outcome: Outcome) -> dict[str, object]:
    return {"status": outcome.status, "error": outcome.error, "notes": outcome.notes,
            "seconds": outcome.seconds, "all_seconds": outcome.all_seconds,
            "peak_mib": outcome.peak_mib,
            "records": outcome.records, "typed_records": outcome.typed,
            "scores": {f"{t:g}": _report_json(r) for t, r in outcome.reports.items()}}


def _row_json(row: Row, tool: Tool, lines: dict[str, int]) -> dict[str, object]:
    total = tool.total(row.threshold)
    data: dict[str, object] = {"label": row.label, "tool": row.tool, "threshold": row.threshold}
    if total is None:
        return {**data, "no_figures": tool.unavailable}
    return {**data, "total": Rates.of(total.total).as_dict(),
            "without_none_returns": Rates.of(total.total_without_none_returns).as_dict(),
            "by_kind": {k: Rates.of(c).as_dict() for k, c in total.by_kind.items()},
            "seconds": tool.seconds, "peak_mib": tool.peak_mib,
            "lines_per_second": lines_per_second(tool, lines),
            "failed": {o.project: o.status for o in tool.not_ok}}


def results_json(tools: dict[str, Tool], projects: Sequence[PreparedProject],
                 args: argparse.Namespace, command: str, seconds: float,
                 git: dict[str, object]) -> dict[str, object]:
    """Everything of the run; ``git`` is the repository's state when it started (each
    typeseer run also notes the commit it ran at: the source may change during a run)."""
    lines = {p.name: p.lines for p in projects}
    return {
        "git": git,
        "git_at_end": git_state(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() - seconds)),
        "command": command,
        "python": sys.version.split()[0],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "timeout_s": args.timeout, "jobs": args.jobs, "repeat": args.repeat,
        "repeat_under_s": args.repeat_under,
        "threshold": DEFAULT_THRESHOLD,
        "bench_seconds": seconds,
        "projects": {p.name: {"spec": p.project.spec, "packages": list(p.project.packages),
                              "files": len(p.files), "lines": p.lines,
                              "scored_sites": len(p.truth.sites),
                              "strip_failures": [list(f) for f in p.strip_failures]}
                     for p in projects},
        "tools": {name: {"version": t.version, "rust": t.rust, "no_figures": t.unavailable}
                  for name, t in tools.items()},
        "rows": [_row_json(row, tools[row.tool], lines) for row in rows_of(tools)],
        "targets": targets(tools),
        "typeseer_loses": [line.removeprefix("- ") for line in losses(tools, projects)],
        "runs": {name: {p: _outcome_json(o) for p, o in t.outcomes.items()}
                 for name, t in tools.items()},
    }


# -- main -----------------------------------------------------------------------------------

def _select_tools(registry: Registry, spec: str | None) -> list[str]:
    names = registry.names
    if spec is None:
        return names
    chosen: list[str] = []
    for raw in filter(None, (s.strip() for s in spec.split(","))):
        if raw not in names:
            raise SystemExit(f"unknown tool {raw!r} (known: {', '.join(names)})")
        if raw not in chosen:
            chosen.append(raw)
    return chosen


def _install(registry: Registry, names: Sequence[str], venvs: Path) -> dict[str, Tool]:
    tools: dict[str, Tool] = {}
    for name in names:
        adapter = registry.adapters.get(name)
        if adapter is None:
            tools[name] = Tool(name, unavailable=registry.unavailable.get(name, "no adapter"))
            continue
        tool = Tool(name, rust=adapter.rust)
        print(f"installing {name}...", file=sys.stderr, flush=True)
        try:
            tool.version = adapter.install(venvs)
        except Exception as error:  # recorded in the table
            tool.unavailable = f"install failed: {type(error).__name__}: {error}"
            print(f"  {tool.unavailable}", file=sys.stderr)
        tools[name] = tool
    return tools


def _progress(done: int, total: int, outcome: Outcome) -> None:
    state = outcome.status if outcome.error is None else short_reason(outcome, 120)
    print(f"[{done}/{total}] {outcome.tool} on {outcome.project}: {state}, "
          f"{outcome.seconds:.1f} s, {outcome.typed}/{outcome.records} records typed",
          file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", help="comma-separated project names (default: all of "
                        + ", ".join(p.spec for p in PROJECTS) + ")")
    parser.add_argument("--tools", help="comma-separated tool names (default: all)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds allowed for one tool on one project "
                             "(default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="(tool, project) runs at a time; above 1 the times are noisier "
                             "(default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each tool on each project; the time is the median, the "
                             "scores are the first run's (default: %(default)s)")
    parser.add_argument("--repeat-under", type=float, default=30.0, metavar="S",
                        help="repeat only runs that took less than S seconds: longer ones "
                             "suffer less from the machine's noise (default: %(default)s)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help="where sdists and unpacked sources are kept (default: %(default)s)")
    parser.add_argument("--venvs", type=Path, default=DEFAULT_VENVS,
                        help="one venv per tool under this folder (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="results JSON (default: %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (each tool's copy of each project)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    command = " ".join(["python bench/peers/run.py", *(argv if argv is not None
                                                       else sys.argv[1:])])

    started = time.perf_counter()
    git = git_state()  # before typeseer runs: the commit its figures come from
    chosen = select_projects(args.projects)
    check_outside_corpus(chosen)
    registry = load_registry()
    names = _select_tools(registry, args.tools)
    work = Path(tempfile.mkdtemp(prefix="typeseer-peers-"))
    try:
        projects: list[PreparedProject] = []
        for project in chosen:
            print(f"preparing {project.spec}...", file=sys.stderr, flush=True)
            try:
                projects.append(prepare(project, args.cache_dir, work / "projects"
                                        / project.name))
            except (RuntimeError, OSError) as error:
                raise SystemExit(f"cannot prepare {project.spec}: {error}") from error
        tools = _install(registry, names, args.venvs)
        # project by project, every tool on each, so that the machine's noise spreads evenly
        tasks = [(tools[name], project) for project in projects for name in names
                 if tools[name].unavailable is None]

        def run(task: tuple[Tool, PreparedProject]) -> Outcome:
            tool, project = task
            return run_tool_on_project(tool.name, registry.modules[tool.name], project, work,
                                       args.venvs, args.timeout, args.keep, args.repeat,
                                       args.repeat_under)

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for done, outcome in enumerate(pool.map(run, tasks), start=1):
                tools[outcome.tool].outcomes[outcome.project] = outcome
                _progress(done, len(tasks), outcome)
    finally:
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    seconds = time.perf_counter() - started
    result = results_json(tools, projects, args, command, seconds, git)
    write_json(args.output, result)
    print(render_tables(tools, projects))
    print("\nTargets:\n" + render_targets(result["targets"]))  # type: ignore[arg-type]
    print(f"\nbench {seconds:.0f} s; results written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
