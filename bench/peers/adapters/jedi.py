"""jedi: ``Script.infer`` at each site, run by the python of jedi's own virtual environment.

The benchmark's interpreter finds the sites (``typeseer.sites.extract_sites`` of each stripped
file) and where to ask about them (``lsp_hover.hover_positions``: the parameter's or
variable's name, the function's name, the attribute name of ``self.x``; jedi counts columns
in characters); a worker in jedi's venv (so that jedi's time and memory are the child's)
reads them on stdin and prints one JSON line per site as it goes, so that a run stopped by
the time limit keeps what it printed. For each site the worker asks:

* params, variables, attributes: ``Script.infer(line, column)``, each inferred value rendered
  by ``Name.get_type_hint()`` (``List[str]``, ``int``), or by its class name where jedi's
  renderer fails (it raises on generics it could not fill, e.g. an empty ``{}``); several
  values make a union, and a value that renders as neither (a module, a function) makes the
  site untyped;
* returns: ``Script.infer`` on the function's name gives the function; its
  ``get_type_hint()`` is jedi's rendering of the signature with the return type it infers
  (``get(self, key) -> int``, ``self`` bound to the class, so ``return self`` gives the class):
  the text after the first top-level ``->`` is the return type. Where that renderer fails, the
  function's ``execute()`` values, rendered as above; an ``async def`` gives the type its
  coroutine returns (read from the coroutine's third type argument, jedi's private API of the
  pinned version). A function jedi finds no return value for (no ``return``, or none it can
  infer) shows no ``->`` and stays untyped: jedi never says ``None``.

Each site has a time limit of its own (``SIGALRM``); then the shared normalisation of
``lsp_hover.normalised_type`` (``Unknown``/``Any`` dropped, ``*args`` read as their element
type). jedi resolves imports with the benchmark's own interpreter (``environment_path``), as
the language servers do.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from typeseer.sites import Site

from .base import Project, ToolRun, make_venv, measure
from .lsp_hover import hover_positions, normalised_type, read_sites, record

__all__ = ["ADAPTER", "WORKER", "Jedi"]

#: The pinned release (PyPI).
REQUIREMENT = "jedi==0.20.1"
DEFAULT_VENVS = Path(__file__).resolve().parents[2] / ".cache" / "peers" / "venvs"
#: Seconds jedi may spend on one site before it is left untyped.
SITE_TIMEOUT = 20.0

#: The worker, run as ``python -c WORKER`` by jedi's venv. Input (stdin, JSON):
#: ``{"root", "environment", "cache", "timeout", "files": [{"path", "text",
#: "sites": [[index, kind, line, column], ...]}]}``; output: one line per site,
#: ``{"i": index, "type": text or null, "error": text or null}``.
WORKER = r'''
import json, signal, sys
import jedi


class SiteTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that jedi's ``except Exception`` lets it pass."""


def on_alarm(signum, frame):
    raise SiteTimeout


def top_level_split(text, separator):
    parts, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            start = index = index + len(separator)
            continue
        index += 1
    parts.append(text[start:])
    return parts


def hint_of(name):
    """A type hint for one inferred value; None when it has none."""
    try:
        hint = name.get_type_hint()
    except Exception:
        hint = None
    if hint:
        return hint
    if name.type == "instance":
        return name.name
    if name.type == "class":
        return "type[%s]" % name.name
    return None


def union_of(names):
    hints = [hint_of(name) for name in names]
    if not hints or None in hints:
        return None
    return " | ".join(dict.fromkeys(hints))


def awaited(function):
    """The type an async function's coroutine returns (jedi's private API)."""
    hints = []
    for value in function._name.infer():
        for result in value.execute_with_values():
            arguments = result.py__class__().get_generics()
            if len(arguments) != 3:  # an async generator, or not a coroutine
                return None
            hints.append(arguments[2].get_type_hint(add_class_info=False))
    return " | ".join(dict.fromkeys(hints)) if hints and None not in hints else None


def returned(function, is_async):
    if is_async:
        return awaited(function)
    try:
        signature = function.get_type_hint()
    except Exception:
        signature = None
    if signature:
        parts = top_level_split(signature, "->")
        return "->".join(parts[1:]).strip() or None if len(parts) > 1 else None
    return union_of(function.execute())


def infer(script, kind, line, column):
    names = script.infer(line, column)
    if kind in ("return", "async-return"):
        functions = [name for name in names if name.type == "function"]
        if len(functions) != 1:
            return None
        return returned(functions[0], kind == "async-return")
    return union_of(names)


def main():
    request = json.load(sys.stdin)
    jedi.settings.cache_directory = request["cache"]
    project = jedi.Project(request["root"], environment_path=request["environment"])
    signal.signal(signal.SIGALRM, on_alarm)
    for entry in request["files"]:
        path = request["root"] + "/" + entry["path"]
        try:
            script = jedi.Script(entry["text"], path=path, project=project)
        except Exception as error:
            script, failure = None, "%s: %s" % (type(error).__name__, error)
        for index, kind, line, column in entry["sites"]:
            answer = {"i": index, "type": None, "error": None}
            if script is None:
                answer["error"] = failure
            else:
                signal.setitimer(signal.ITIMER_REAL, request["timeout"])
                try:
                    answer["type"] = infer(script, kind, line, column)
                except SiteTimeout:
                    answer["error"] = "timeout"
                except Exception as error:
                    answer["error"] = "%s: %s" % (type(error).__name__, error)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()


main()
'''


def _kind(site: Site) -> str:
    """The worker's kind: the site's, with ``async-return`` for an ``async def``'s return."""
    owner = site.owner
    if site.kind.value == "return" and owner is not None and owner.kind == "function" and \
            isinstance(owner.function, ast.AsyncFunctionDef):
        return "async-return"
    return site.kind.value


class Jedi:
    """jedi's ``Script.infer`` at every site."""

    name = "jedi"
    rust = False

    def __init__(self) -> None:
        self.venv = DEFAULT_VENVS / self.name
        self.unlocated = 0

    def install(self, venvs: Path) -> str:
        self.venv = venvs / self.name
        bin_dir = make_venv(self.venv, [REQUIREMENT])
        done = subprocess.run([str(bin_dir / "python"), "-c",
                               "import jedi; print(jedi.__version__)"],
                              capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0 or not done.stdout.strip():
            raise RuntimeError(f"jedi does not import: {done.stderr.strip()[-300:]}")
        return done.stdout.strip()

    def run(self, project: Project, timeout: float) -> ToolRun:
        python = self.venv / "bin" / "python"
        found = read_sites(project.root, project.files)
        notes = [f"{len(found.failed)} files unreadable, no sites: "
                 + "; ".join(found.failed[:3])] if found.failed else []
        if not python.is_file():
            return ToolRun([record(site, None) for site in found.sites],
                           error=f"not installed: {python} is missing", notes=notes)
        self.unlocated = 0
        request, asked = self._request(project, found.sites, found.texts)
        measured = measure([str(python), "-c", WORKER], project.root, timeout,
                           stdin=json.dumps(request))
        types, errors = self._answers(measured.stdout, asked)
        run = ToolRun([record(site, types.get(index)) for index, site in
                       enumerate(found.sites)], measured.seconds, measured.peak_mib,
                      notes=notes)
        if measured.timed_out:
            run.error = f"timeout after {timeout:.0f} s"
        elif measured.returncode != 0:
            run.error = (f"jedi worker exited with code {measured.returncode}: "
                         f"{measured.stderr.strip()[-800:]}")
        run.notes.extend(self._error_notes(errors))
        if self.unlocated:
            run.notes.append(f"{self.unlocated} sites whose name was not found where the site "
                             "begins (left untyped)")
        run.notes.append("types from jedi.Script.infer (returns: the signature jedi renders "
                         "with its inferred return type); jedi never infers `-> None`")
        return run

    def _request(self, project: Project, sites: list[Site], texts: dict[str, str]
                 ) -> tuple[dict[str, object], dict[int, Site]]:
        """The worker's input, and the sites it is asked about by index."""
        by_file: dict[str, list[tuple[int, Site]]] = {}
        for index, site in enumerate(sites):
            if site.annotation is None:  # an annotation the stripped copy kept is not jedi's
                by_file.setdefault(site.file, []).append((index, site))
        files: list[dict[str, object]] = []
        asked: dict[int, Site] = {}
        for relpath, indexed in by_file.items():
            targets = hover_positions(texts[relpath], [site for _, site in indexed])
            entries: list[list[object]] = []
            for (index, site), target in zip(indexed, targets, strict=True):
                if target is None:
                    self.unlocated += 1
                    continue
                entries.append([index, _kind(site), target.line + 1, target.character])
                asked[index] = site
            files.append({"path": relpath, "text": texts[relpath], "sites": entries})
        cache = self.venv / "jedi-cache"
        return ({"root": str(project.root.resolve()), "environment": sys.prefix,
                 "cache": str(cache), "timeout": SITE_TIMEOUT, "files": files}, asked)

    @staticmethod
    def _answers(stdout: str, asked: dict[int, Site]
                 ) -> tuple[dict[int, str | None], list[str]]:
        """Normalised types by site index, and the worker's errors."""
        types: dict[int, str | None] = {}
        errors: list[str] = []
        for line in stdout.splitlines():
            try:
                answer = json.loads(line)
                index = int(answer["i"])
            except (ValueError, KeyError, TypeError):
                continue
            site = asked.get(index)
            if site is None:
                continue
            if answer.get("error"):
                errors.append(str(answer["error"]))
            raw = answer.get("type")
            types[index] = normalised_type(raw if isinstance(raw, str) else None, site)
        return types, errors

    @staticmethod
    def _error_notes(errors: list[str]) -> list[str]:
        if not errors:
            return []
        timeouts = errors.count("timeout")
        others = [error for error in errors if error != "timeout"]
        notes = [f"{timeouts} sites took over {SITE_TIMEOUT:.0f} s (left untyped)"] \
            if timeouts else []
        if others:
            notes.append(f"{len(others)} sites raised in jedi (left untyped), e.g. "
                         + "; ".join(dict.fromkeys(e[:200] for e in others[:20])))
        return notes


ADAPTER = Jedi()
