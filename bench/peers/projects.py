"""The projects of the peer benchmark: which ones, and how each is fetched, stripped and scored.

The seven pinned projects of ``bench/apply.py`` and two more of the same kind: small-to-medium,
pure Python, shipping ``py.typed``, annotated throughout, and named in none of typeseer's corpus
lists (training, tests, hold-out), so typeseer never saw them. Fetching and unpacking are
``bench/apply.py``'s (an sdist from PyPI, cached; the project's packages and its type-checker
configuration files).

For each project the benchmark keeps:

* the *original* tree, whose annotations are the ground truth, collected with
  :func:`typeseer.scoring.collect_ground_truth` exactly as ``typeseer evaluate`` collects it
  (same normalisation, same site keys; ``Any``, unparsable annotations and bare declarations
  are not scored, ``-> None`` returns are);
* the *stripped* tree (:func:`typeseer.strip.strip_tree`: every annotation removed, ``.pyi``
  stubs left out, other files such as ``py.typed`` and ``pyproject.toml`` copied), of which
  every tool gets its own fresh copy. A file that cannot be stripped is left out of the files
  handed to the tools and of the ground truth, as ``typeseer evaluate`` does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from apply import (  # noqa: E402
    PROJECTS as APPLY_PROJECTS,
)
from apply import (  # noqa: E402
    Project,
    count_lines,
    excluded_names,
    fetch_sdist,
    normalise_name,
    unpack,
)
from apply import select_projects as select_apply_projects  # noqa: E402

from typeseer.config import Config  # noqa: E402
from typeseer.scoring import GroundTruth, collect_ground_truth  # noqa: E402
from typeseer.sources import discover  # noqa: E402
from typeseer.strip import strip_tree  # noqa: E402

__all__ = ["PROJECTS", "PreparedProject", "Project", "check_outside_corpus", "prepare",
           "select_projects"]

#: The benchmark's projects: bench/apply.py's seven, then two more of the same kind
#: (koda-validate depends on koda only; phantom-types on nothing at run time).
PROJECTS: tuple[Project, ...] = (
    *APPLY_PROJECTS,
    Project("koda-validate", "5.1.0", ("koda_validate",)),
    Project("phantom-types", "4.0.0", ("phantom",)),
)


@dataclass(frozen=True)
class PreparedProject:
    """A project fetched, unpacked, stripped, with its ground truth."""

    project: Project
    #: The unpacked sdist (packages and type-checker configuration): the ground truth.
    original: Path
    #: The stripped tree; each tool runs on a copy of it.
    stripped: Path
    #: ``.py`` files handed to the tools, relative POSIX paths (the ``file`` keys).
    files: tuple[str, ...]
    #: Source lines of those files in the stripped tree.
    lines: int
    #: The scored sites of the original (files that could not be stripped left out).
    truth: GroundTruth
    #: Files left out because they could not be stripped: (file, reason).
    strip_failures: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return normalise_name(self.project.name)


def select_projects(spec: str | None) -> list[Project]:
    """The projects named in ``spec`` (comma-separated), all of them when None."""
    return select_apply_projects(spec, PROJECTS)


def check_outside_corpus(projects: Sequence[Project]) -> None:
    """Raise SystemExit when a project is named in typeseer's corpus lists."""
    used = excluded_names() & {normalise_name(p.name) for p in projects}
    if used:
        raise SystemExit(f"in typeseer's corpus lists, not a fair benchmark: {sorted(used)}")


def prepare(project: Project, cache: Path, work: Path) -> PreparedProject:
    """Fetch and unpack ``project`` (cached under ``cache``), strip it into ``work``, and
    collect its ground truth. Raises RuntimeError when it cannot be fetched or unpacked."""
    original = unpack(project, fetch_sdist(project, cache), cache)
    stripped = work / "stripped"
    stats = strip_tree(original, stripped)
    (stripped / ".complete").unlink(missing_ok=True)
    for relpath, _ in stats.failed:  # copied unstripped: its annotations would give answers
        (stripped / relpath).unlink(missing_ok=True)
    exclude = Config().exclude
    failed = {relpath for relpath, _ in stats.failed}
    truth = collect_ground_truth([original], exclude)
    truth.sites = [site for site in truth.sites if site.key.file not in failed]
    sources, _ = discover([original], exclude)
    files = tuple(sorted(s.relpath for s in sources if s.relpath not in failed))
    return PreparedProject(project, original, stripped, files,
                           count_lines(stripped, list(files)), truth,
                           tuple((relpath, reason) for relpath, reason in stats.failed))
