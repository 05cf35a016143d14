"""ty: its language server (``ty server``), hovered at each site.

ty prints no inferred types on the command line; its hover is a fenced ``python`` block with
the bare type of the hovered expression (``int``, ``list[str]``, ``Unknown | Literal[1]``) or,
on a function's name, its signature (``def f(x, y=1) -> int``, over several lines when long):

* parameters, variables, attributes: the block is the type;
* returns: the text after the signature's last top-level ``->``, only when the block is a
  ``def`` (a decorated function shows the decorator's result, e.g.
  ``_lru_cache_wrapper[int]``, which is not the function's return type); an ``async def``
  shows ``CoroutineType[Any, Any, T]``, read as ``T`` (what its annotation would say).

ty marks promoted literals with a star (``float*``), removed here. Unannotated parameters are
``Unknown`` joined with the default's type (``Unknown | Literal[1]``) and read, like every type
that is or contains ``Unknown``, as no type. The server runs with ``VIRTUAL_ENV`` set to the
benchmark's own environment so that the standard library and ``typing_extensions`` resolve as
they do for typeseer.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from typeseer.sites import Site, SiteKind

from .base import Project, ToolRun, make_venv
from .lsp_hover import (
    after_last_arrow,
    fenced_blocks,
    hover_project,
    split_top_level,
)

__all__ = ["ADAPTER", "Ty", "parse_hover"]

#: The pinned release (PyPI; a native binary).
REQUIREMENT = "ty==0.0.107"
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"

_PROMOTED = re.compile(r"(?<=\w)\*")
_COROUTINE = re.compile(r"(?:CoroutineType|Coroutine)\[(?P<args>.*)\]", re.DOTALL)


def _is_async(site: Site) -> bool:
    owner = site.owner
    return owner is not None and owner.kind == "function" and \
        isinstance(owner.function, ast.AsyncFunctionDef)


def _awaited(type_text: str) -> str | None:
    """``CoroutineType[Any, Any, int]`` -> ``int``; None for another type."""
    match = _COROUTINE.fullmatch(type_text.strip())
    if match is None:
        return None
    args = split_top_level(match["args"], ",")
    return args[2].strip() if len(args) == 3 else None


def parse_hover(text: str, site: Site) -> str | None:
    """The type text of a ty hover at ``site`` (None: no type shown)."""
    blocks = fenced_blocks(text)
    shown = _PROMOTED.sub("", blocks[0] if blocks else text).strip()
    if site.kind is not SiteKind.RETURN:
        return shown or None
    if not re.match(r"(async\s+)?def\s", shown):
        return None
    returned = after_last_arrow(shown)
    if returned is not None and _is_async(site):
        return _awaited(returned)
    return returned


class Ty:
    """ty's language server, hovered at every site."""

    name = "ty"
    rust = True

    def __init__(self) -> None:
        self.venv = DEFAULT_VENVS / self.name

    def install(self, venvs: Path) -> str:
        self.venv = venvs / self.name
        bin_dir = make_venv(self.venv, [REQUIREMENT])
        done = subprocess.run([str(bin_dir / "ty"), "--version"], capture_output=True,
                              text=True, check=False, timeout=120)
        words = done.stdout.split()
        if done.returncode != 0 or len(words) < 2:
            raise RuntimeError(f"ty --version failed: {done.stderr.strip()[-300:]}")
        return " ".join(words[1:])

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "ty"), "server"]

    def run(self, project: Project, timeout: float) -> ToolRun:
        command = self.command()  # missing: hover_project records "cannot start" per site
        run = hover_project(command, project, timeout, parse=parse_hover, tool=self.name,
                            env={"VIRTUAL_ENV": sys.prefix})
        run.notes.append("types read from textDocument/hover of `ty server` (default settings, "
                         "VIRTUAL_ENV = the benchmark's environment); Literal types at "
                         "variable/attribute bindings widened")
        returns = [r for r in run.records if r["kind"] == SiteKind.RETURN.value]
        if returns and all(r["type"] is None for r in returns):
            run.notes.append("no return typed: ty's hover shows `-> Unknown` for unannotated "
                             "functions (this version infers no return types; calls of them "
                             "are Unknown too)")
        return run


ADAPTER = Ty()
