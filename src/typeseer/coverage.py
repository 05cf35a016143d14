"""`typeseer coverage`: how much of a project is annotated now, and after `typeseer apply`.

A *site* is a DESIGN.md site of the selected kinds; members of ``Enum`` classes are not counted
(they must not be annotated). A site is *annotated now* when the code carries an annotation
for it. *After apply* counts the sites annotated now plus those `typeseer apply` would annotate
with the same configuration, computed by running `apply` in preview mode (nothing is written):
predictions at or above the threshold that `apply` would not write (runtime-sensitive code,
names it cannot import, unions too wide...) are not counted, so the figure is what running
`apply` would really give. A module without sites counts as fully annotated.

Figures are given per module, per package (the modules directly in one directory) and in total,
each split by kind, as a terminal table, JSON, a self-contained HTML page or SARIF. The JSON
document (``"schema": "typeseer-coverage/1"``)::

    {"schema": "typeseer-coverage/1", "typeseer": VERSION, "threshold": 0.9,
     "kinds": ["param", ...], "after_apply": LEGEND,
     "total": COUNTS, "packages": [{"package": "pkg/sub", "modules": 3, **COUNTS}, ...],
     "modules": [{"file": "pkg/sub/mod.py", "package": "pkg/sub", **COUNTS}, ...],
     "not_written": {REASON: N, ...},
     "diagnostics": [{"file": ..., "severity": ..., "message": ...}], "seconds": 1.2}

where ``COUNTS`` is ``{"sites": N, "annotated": N, "after_apply": N, "annotated_percent": P,
"after_apply_percent": P, "by_kind": {KIND: {the same five keys}}}`` (``after_apply``
includes ``annotated``; percentages of ``sites``, rounded to 0.1). Packages and modules are
ordered by path; a package named ``.`` holds the modules at the root.

``--fail-under N`` gates on the percentage annotated *now* (exit 1 below it), so that CI
tracks the code as committed, not what typeseer could add.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import posixpath
import re
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from . import __version__
from .apply.run import ApplyResult, FileChange, apply
from .config import Config, ConfigError, config_overrides, load_config
from .fileio import atomic_write_text
from .project import Project
from .report import Finding, findings_from_edits, sarif_log
from .sites import Site, SiteKey, SiteKind
from .sources import Diagnostic, Severity, SourceFile, discover

if TYPE_CHECKING:
    from .static import StaticEngine

__all__ = [
    "AFTER_APPLY_LEGEND",
    "AFTER_COLOUR",
    "JSON_SCHEMA",
    "NOW_COLOUR",
    "REST_COLOUR",
    "Counts",
    "CoverageFormat",
    "CoverageReport",
    "ModuleCoverage",
    "PackageCoverage",
    "add_coverage_parser",
    "coverage",
    "render_coverage",
    "render_html",
    "render_table",
    "run_coverage",
]

EXIT_OK = 0
EXIT_BELOW = 1
EXIT_USAGE = 2

#: The ``schema`` value of the JSON document; it changes when a key changes meaning.
JSON_SCHEMA = "typeseer-coverage/1"
#: What "after apply" means, in every format.
AFTER_APPLY_LEGEND = ("after apply = sites annotated now + sites `typeseer apply` would "
                      "annotate with this configuration (preview: predictions at or above the "
                      "threshold that apply would not write are not counted)")


class CoverageFormat(str, Enum):
    """Output formats of ``typeseer coverage``."""

    #: Aligned columns with text bars (the default).
    TABLE = "table"
    #: One JSON document (``JSON_SCHEMA``).
    JSON = "json"
    #: One self-contained HTML page with bars per module; opens without network access.
    HTML = "html"
    #: SARIF 2.1.0: one result, with its fix, per annotation `apply` would write.
    SARIF = "sarif"


#: Output format chosen by the extension of ``-o FILE`` when ``--format`` is not given.
_SUFFIX_FORMATS = {".json": CoverageFormat.JSON, ".html": CoverageFormat.HTML,
                   ".htm": CoverageFormat.HTML, ".sarif": CoverageFormat.SARIF}


@dataclass(frozen=True, slots=True)
class Counts:
    """Sites, how many are annotated now, and how many would be after `apply`."""

    sites: int = 0
    annotated: int = 0
    #: Annotated now or written by `apply` (so never less than ``annotated``).
    after_apply: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.sites + other.sites, self.annotated + other.annotated,
                      self.after_apply + other.after_apply)

    @property
    def annotated_percent(self) -> float:
        return _percent(self.annotated, self.sites)

    @property
    def after_apply_percent(self) -> float:
        return _percent(self.after_apply, self.sites)

    def to_json(self) -> dict[str, object]:
        return {"sites": self.sites, "annotated": self.annotated,
                "after_apply": self.after_apply,
                "annotated_percent": round(self.annotated_percent, 1),
                "after_apply_percent": round(self.after_apply_percent, 1)}


def _percent(part: int, whole: int) -> float:
    """Percentage of ``whole``; nothing to annotate is fully annotated."""
    return 100.0 * part / whole if whole else 100.0


def _sum_kinds(parts: Iterable[Mapping[str, Counts]]) -> dict[str, Counts]:
    total: dict[str, Counts] = {}
    for part in parts:
        for kind, counts in part.items():
            total[kind] = total.get(kind, Counts()) + counts
    return total


@dataclass(frozen=True, slots=True)
class ModuleCoverage:
    """The figures of one module."""

    #: Path relative to its root (the site key's ``file``); with several roots, relative to
    #: the working directory (absolute outside it).
    file: str
    #: Its directory, ``.`` for the root.
    package: str
    counts: Counts
    #: The same figures for each selected kind.
    by_kind: Mapping[str, Counts]

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "package": self.package, **self.counts.to_json(),
                "by_kind": {k: c.to_json() for k, c in self.by_kind.items()}}


@dataclass(frozen=True, slots=True)
class PackageCoverage:
    """The figures of the modules directly in one directory."""

    package: str
    modules: int
    counts: Counts
    by_kind: Mapping[str, Counts]

    def to_json(self) -> dict[str, object]:
        return {"package": self.package, "modules": self.modules, **self.counts.to_json(),
                "by_kind": {k: c.to_json() for k, c in self.by_kind.items()}}


@dataclass(slots=True)
class CoverageReport:
    """Coverage of the files under the paths, with what `apply` would change."""

    modules: list[ModuleCoverage] = field(default_factory=list)
    #: The confidence threshold `apply` writes at.
    threshold: float = 0.0
    #: The selected site kinds.
    kinds: tuple[str, ...] = ()
    #: Predictions at or above the threshold that `apply` would not write, by reason.
    not_written: Counter[str] = field(default_factory=Counter)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: The files `apply` would change, with its edits (the SARIF results).
    changes: list[FileChange] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> Counts:
        return sum((m.counts for m in self.modules), Counts())

    @property
    def by_kind(self) -> dict[str, Counts]:
        totals = _sum_kinds(m.by_kind for m in self.modules)
        return {kind: totals.get(kind, Counts()) for kind in self.kinds}

    @property
    def packages(self) -> list[PackageCoverage]:
        grouped: dict[str, list[ModuleCoverage]] = {}
        for module in self.modules:
            grouped.setdefault(module.package, []).append(module)
        return [PackageCoverage(name, len(members), sum((m.counts for m in members), Counts()),
                                _sum_kinds(m.by_kind for m in members))
                for name, members in sorted(grouped.items())]

    def to_json(self) -> dict[str, object]:
        return {
            "schema": JSON_SCHEMA,
            "typeseer": __version__,
            "threshold": self.threshold,
            "kinds": list(self.kinds),
            "after_apply": AFTER_APPLY_LEGEND,
            "total": {**self.total.to_json(),
                      "by_kind": {k: c.to_json() for k, c in self.by_kind.items()}},
            "packages": [p.to_json() for p in self.packages],
            "modules": [m.to_json() for m in self.modules],
            "not_written": dict(sorted(self.not_written.items())),
            "diagnostics": [{"file": d.file, "severity": d.severity.value,
                             "message": d.message} for d in self.diagnostics],
            "seconds": round(self.seconds, 3),
        }


# -- measuring -------------------------------------------------------------------------------

def coverage(paths: Sequence[str | Path], config: Config | None = None, *,
             progress: Callable[[str], None] | None = None) -> CoverageReport:
    """Coverage of the files under ``paths`` now and after `apply` with ``config`` (see the
    module doc). Nothing is written. ``progress`` receives one line per stage of `apply`.
    Raises ``VerifyError`` when the configuration asks `apply` to verify with a checker that
    cannot run."""
    started = time.perf_counter()
    config = config or Config()
    preview = apply(paths, config, progress=progress)
    sources, _ = discover(paths, config.exclude)
    report = CoverageReport(
        threshold=config.threshold,
        kinds=tuple(k.value for k in SiteKind if k in config.kinds),
        not_written=Counter(preview.skipped), diagnostics=list(preview.diagnostics),
        changes=list(preview.changes))
    written = _written(preview)
    project = Project(sources, config.max_file_bytes)
    enum_classes = _EnumClasses(project, config)
    shared = {r for r, n in Counter(s.relpath for s in sources).items() if n > 1}
    # Under one root, modules are named as `infer` keys them; under several, by their path.
    several_roots = len({s.root for s in sources}) > 1
    for source in sources:
        loaded = project.load(source)
        if loaded.sites is None:
            continue  # `apply`'s inference reported why
        sites = [s for s in loaded.sites.sites
                 if s.kind in config.kinds and not enum_classes.is_member(s)]
        # A relative path shared by files of several roots is not annotated by `apply`.
        keys = set() if source.relpath in shared else written
        name = _path_name(source) if several_roots else source.relpath
        report.modules.append(_module_coverage(name, sites, keys, report.kinds))
    report.modules.sort(key=lambda m: (m.package, m.file))
    report.seconds = time.perf_counter() - started
    return report


def _written(preview: ApplyResult) -> set[SiteKey]:
    return {edit.key for change in preview.changes for edit in change.edits}


def _path_name(source: SourceFile) -> str:
    """The file's path relative to the working directory, or absolute outside it."""
    try:
        return source.path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return source.path.as_posix()


def _module_coverage(name: str, sites: Sequence[Site], written: set[SiteKey],
                     kinds: Sequence[str]) -> ModuleCoverage:
    by_kind: dict[str, Counts] = {kind: Counts() for kind in kinds}
    for site in sites:
        annotated = site.annotation is not None
        after = annotated or site.key in written
        kind = site.kind.value
        by_kind[kind] = by_kind[kind] + Counts(1, int(annotated), int(after))
    package = posixpath.dirname(name) or "."
    return ModuleCoverage(name, package, sum(by_kind.values(), Counts()), by_kind)


class _EnumClasses:
    """Which class-level variables are ``Enum`` members (static inference decides, as `infer`
    does: members are never annotated, so they are not sites to cover)."""

    def __init__(self, project: Project, config: Config) -> None:
        self.project = project
        self.config = config
        self._engine: StaticEngine | None = None
        self._known: dict[int, bool] = {}

    def is_member(self, site: Site) -> bool:
        owner = site.owner
        if site.kind is not SiteKind.VARIABLE or owner is None or owner.kind != "class":
            return False
        if not getattr(owner.node, "bases", None):
            return False
        if id(owner) not in self._known:
            if self._engine is None:
                from .static import StaticEngine
                from .static.stubs import Stubs

                self._engine = StaticEngine(self.project, Stubs(), self.config.rules)
            self._known[id(owner)] = self._engine.is_enum(owner)
        return self._known[id(owner)]


# -- rendering -------------------------------------------------------------------------------

def render_coverage(report: CoverageReport, fmt: CoverageFormat, out: TextIO) -> None:
    """Write ``report`` in ``fmt``."""
    if fmt is CoverageFormat.JSON:
        json.dump(report.to_json(), out, indent=1)
        out.write("\n")
    elif fmt is CoverageFormat.HTML:
        out.write(render_html(report))
    elif fmt is CoverageFormat.SARIF:
        json.dump(sarif_log(_findings(report), report.diagnostics), out, indent=1)
        out.write("\n")
    else:
        out.write(render_table(report))


def _findings(report: CoverageReport) -> list[Finding]:
    from .project import module_name_for

    findings: list[Finding] = []
    for change in report.changes:
        text = change.original.decode(change.encoding)
        module_name, _ = module_name_for(change.source.path)
        findings.extend(findings_from_edits(change.source, text, module_name, change.edits))
    return findings


#: Width of the text bars of the table, in characters.
_BAR = 20


def _text_bar(counts: Counts) -> str:
    """``[######++++........]``: ``#`` annotated now, ``+`` added by `apply`."""
    now = round(_BAR * counts.annotated_percent / 100)
    after = max(now, round(_BAR * counts.after_apply_percent / 100))
    return "[" + "#" * now + "+" * (after - now) + "." * (_BAR - after) + "]"


def render_table(report: CoverageReport) -> str:
    """The terminal table: packages with their modules, the total, then the kinds."""
    rows: list[tuple[str, ...]] = []
    modules_of: dict[str, list[ModuleCoverage]] = {}
    for module in report.modules:
        modules_of.setdefault(module.package, []).append(module)
    for package in report.packages:
        rows.append(_table_row(f"{package.package}/ ({package.modules} modules)",
                               package.counts))
        rows.extend(_table_row("  " + posixpath.basename(m.file), m.counts)
                    for m in modules_of[package.package])
    rows.append(_table_row("TOTAL", report.total))
    kind_rows = [_table_row(kind, counts) for kind, counts in report.by_kind.items()]
    headers = ("module", "sites", "annotated", "now", "after apply", "")
    width = max(len(headers[0]), *(len(r[0]) for r in (*rows, *kind_rows)))
    legend = f"{AFTER_APPLY_LEGEND}; bars: # annotated now, + added by apply"
    lines = [
        f"typeseer coverage at threshold {report.threshold:.2f}",
        *textwrap.wrap(legend, 100),
        "",
        _table_line(headers, width),
        *(_table_line(r, width) for r in rows),
        "",
        _table_line(("kind", *headers[1:]), width),
        *(_table_line(r, width) for r in kind_rows),
    ]
    if report.not_written:
        reasons = ", ".join(f"{reason} ({count})"
                            for reason, count in report.not_written.most_common(3))
        lines += ["", f"{sum(report.not_written.values())} inferred types apply would not "
                      f"write: {reasons}"]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _table_row(label: str, counts: Counts) -> tuple[str, ...]:
    return (label, str(counts.sites), str(counts.annotated),
            f"{counts.annotated_percent:.1f}%", f"{counts.after_apply_percent:.1f}%",
            _text_bar(counts))


def _table_line(cells: Sequence[str], width: int) -> str:
    label, sites, annotated, now, after, bar = cells
    return (f"{label.ljust(width)}  {sites.rjust(6)}  {annotated.rjust(9)}  {now.rjust(6)}  "
            f"{after.rjust(11)}  {bar}")


# -- HTML ------------------------------------------------------------------------------------

#: Colours of the bars (the screenshot test looks for them): annotated now, added by apply,
#: still unannotated.
NOW_COLOUR = "#2b6cb0"
AFTER_COLOUR = "#90cdf4"
REST_COLOUR = "#e2e8f0"

_STYLE = f"""
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 24px 32px; color: #1a202c; background: #ffffff; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }}
h2 {{ font-size: 17px; margin: 28px 0 8px; }}
.summary {{ font-size: 16px; margin: 4px 0 12px; }}
.note {{ color: #4a5568; max-width: 60em; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 3px 10px; text-align: right; white-space: nowrap; }}
th {{ border-bottom: 2px solid #cbd5e0; cursor: pointer; user-select: none; }}
td {{ border-bottom: 1px solid #edf2f7; }}
th:first-child, td:first-child {{ text-align: left; }}
td.path {{ font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }}
.bar {{ position: relative; display: inline-block; vertical-align: middle;
        width: 240px; height: 14px; background: {REST_COLOUR}; }}
.bar span {{ position: absolute; left: 0; top: 0; height: 100%; }}
.bar .after {{ background: {AFTER_COLOUR}; }}
.bar .now {{ background: {NOW_COLOUR}; }}
.legend span.swatch {{ display: inline-block; width: 12px; height: 12px;
                       vertical-align: -1px; margin: 0 4px 0 14px; }}
.legend .now {{ background: {NOW_COLOUR}; }}
.legend .after {{ background: {AFTER_COLOUR}; }}
.legend .rest {{ background: {REST_COLOUR}; }}
"""

#: Sorting by a column header (the page is ordered by path without it).
_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var down = th.dataset.down !== "1";
    th.dataset.down = down ? "1" : "0";
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.v, y = b.cells[column].dataset.v;
      var c = isNaN(x) || isNaN(y) ? x.localeCompare(y) : x - y;
      return down ? c : -c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _bar(counts: Counts) -> str:
    now, after = counts.annotated_percent, counts.after_apply_percent
    label = f"{now:.1f}% annotated now, {after:.1f}% after apply"
    return (f'<span class="bar" role="img" aria-label="{label}" title="{label}">'
            f'<span class="after" style="width:{after:.1f}%"></span>'
            f'<span class="now" style="width:{now:.1f}%"></span></span>')


def _cells(counts: Counts) -> str:
    return (f'<td data-v="{counts.sites}">{counts.sites}</td>'
            f'<td data-v="{counts.annotated}">{counts.annotated}</td>'
            f'<td data-v="{counts.annotated_percent:.3f}">{counts.annotated_percent:.1f}%</td>'
            f'<td data-v="{counts.after_apply_percent:.3f}">'
            f'{counts.after_apply_percent:.1f}%</td>'
            f'<td data-v="{counts.after_apply_percent:.3f}">{_bar(counts)}</td>')


def _table(title: str, first: str, rows: Iterable[tuple[str, Counts]], path: bool) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in (
        first, "sites", "annotated", "now", "after apply", ""))
    cls = ' class="path"' if path else ""
    body = "\n".join(f'<tr><td{cls} data-v="{html.escape(name)}">{html.escape(name)}</td>'
                     f"{_cells(counts)}</tr>" for name, counts in rows)
    return (f"<h2>{html.escape(title)}</h2>\n<table class=\"sortable\"><thead><tr>{head}"
            f"</tr></thead>\n<tbody>\n{body}\n</tbody></table>")


def _code(text: str) -> str:
    """``text`` escaped, with its `backquoted` parts as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def render_html(report: CoverageReport) -> str:
    """One self-contained page: inline style and script, nothing fetched."""
    total = report.total
    not_written = ""
    if report.not_written:
        reasons = "; ".join(f"{html.escape(reason)} ({count})"
                            for reason, count in report.not_written.most_common(5))
        not_written = (f'<p class="note">{sum(report.not_written.values())} inferred types '
                       f"<code>typeseer apply</code> would not write: {reasons}.</p>")
    sections = [
        _table("By kind", "kind", report.by_kind.items(), path=False),
        _table("Packages", "package", ((p.package, p.counts) for p in report.packages),
               path=True),
        _table("Modules", "module", ((m.file, m.counts) for m in report.modules), path=True),
    ]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>typeseer coverage: {total.annotated_percent:.1f}% annotated</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>Type annotation coverage</h1>
<p class="summary"><strong>{total.annotated_percent:.1f}%</strong> of {total.sites} sites
annotated now ({total.annotated}), <strong>{total.after_apply_percent:.1f}%</strong> after
<code>typeseer apply</code> ({total.after_apply}) {_bar(total)}</p>
<p class="legend"><span class="swatch now"></span>annotated now<span class="swatch after"></span>
added by <code>typeseer apply</code><span class="swatch rest"></span>still unannotated</p>
<p class="note">Kinds: {html.escape(", ".join(report.kinds))}; threshold
{report.threshold:.2f}. {_code(AFTER_APPLY_LEGEND[0].upper() + AFTER_APPLY_LEGEND[1:])}.
Members of <code>Enum</code> classes are not counted. Click a column to sort.</p>
{not_written}
{chr(10).join(sections)}
<p class="note">typeseer {html.escape(__version__)}, {len(report.modules)}
module{"s" * (len(report.modules) != 1)}, {report.seconds:.1f} s.</p>
<script>{_SCRIPT}</script>
</body>
</html>
"""


# -- command line ----------------------------------------------------------------------------

def add_coverage_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """``typeseer coverage PATH... [--format F] [-o FILE] [--fail-under N] ...``."""
    command = commands.add_parser(
        "coverage", help="how much of the code is annotated, now and after `typeseer apply`",
        description="Share of sites (parameters, returns, variables, attributes) annotated "
                    "now, and after `typeseer apply` with the same configuration (computed "
                    "by a preview of apply: what it would really write), per package, module "
                    "and kind. Exit status: 0, 1 when --fail-under is not met, 2 on a usage "
                    "error.")
    command.add_argument("paths", nargs="+", metavar="PATH")
    command.add_argument("--format", "-f", choices=[f.value for f in CoverageFormat],
                         help="output format (default: from the -o extension .json, .html "
                              "or .sarif, else table)")
    command.add_argument("--output", "-o", metavar="FILE",
                         help="write to FILE (atomically) instead of standard output")
    command.add_argument("--fail-under", type=float, metavar="N",
                         help="exit 1 when the percentage annotated NOW is below N (0-100)")
    command.add_argument("--min-confidence", type=float, metavar="X",
                         help="threshold of the types apply would write (after apply)")
    command.add_argument("--level", choices=["safe", "balanced", "aggressive"],
                         help="apply's safety level (default: balanced)")
    command.add_argument("--kinds", metavar="K,K",
                         help="site kinds to count: param,return,variable,attribute")
    command.add_argument("--exclude", action="append", default=None, metavar="GLOB",
                         help="skip paths matching GLOB (repeatable)")
    command.add_argument("--jobs", "-j", type=int, metavar="N",
                         help="inference processes (default 1; 0 = one per CPU)")
    command.add_argument("--no-model", action="store_false", dest="use_model", default=None,
                         help="static inference only, without the learned model")
    command.add_argument("--quiet", "-q", action="store_true",
                         help="no diagnostics and no summary on stderr")


def run_coverage(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Handle ``typeseer coverage``: 0, 1 below ``--fail-under``, 2 on a usage error."""
    from .verify import VerifyError

    if args.fail_under is not None and not 0 <= args.fail_under <= 100:
        stderr.write("typeseer coverage: --fail-under must be between 0 and 100\n")
        return EXIT_USAGE
    try:
        config = load_config(Path(args.paths[0]), config_overrides(args))
    except ConfigError as error:
        stderr.write(f"typeseer coverage: configuration error: {error}\n")
        return EXIT_USAGE
    fmt = _format(args)
    progress = None
    if stderr.isatty() and not args.quiet:
        def progress(message: str) -> None:
            stderr.write(f"typeseer: {message}...\n")
    try:
        report = coverage(args.paths, config, progress=progress)
    except VerifyError as error:
        stderr.write(f"typeseer coverage: verification failed: {error}\n")
        return EXIT_USAGE
    buffer = io.StringIO()
    render_coverage(report, fmt, buffer)
    if args.output:
        try:
            atomic_write_text(Path(args.output), buffer.getvalue())
        except OSError as error:
            stderr.write(f"typeseer coverage: cannot write {args.output}: "
                         f"{error.strerror or error}\n")
            return EXIT_USAGE
    else:
        stdout.write(buffer.getvalue())
    if not args.quiet:
        for diagnostic in report.diagnostics:
            if diagnostic.severity is not Severity.INFO:
                stderr.write(f"typeseer: {diagnostic}\n")
    if args.output and not args.quiet:
        total = report.total
        stderr.write(f"typeseer: {total.annotated_percent:.1f}% of {total.sites} sites "
                     f"annotated now, {total.after_apply_percent:.1f}% after apply; "
                     f"report in {args.output}\n")
    if any(d.message == "no such file or directory" for d in report.diagnostics):
        return EXIT_USAGE
    if args.fail_under is not None and report.total.annotated_percent < args.fail_under:
        stderr.write(f"typeseer coverage: {report.total.annotated_percent:.1f}% annotated, "
                     f"below --fail-under {args.fail_under:g}\n")
        return EXIT_BELOW
    return EXIT_OK


def _format(args: argparse.Namespace) -> CoverageFormat:
    if args.format:
        return CoverageFormat(args.format)
    if args.output:
        return _SUFFIX_FORMATS.get(Path(args.output).suffix.lower(), CoverageFormat.TABLE)
    return CoverageFormat.TABLE

