"""Latency of the language server (``typeseer lsp``) on a generated 5,000-line file.

Starts the real server over stdio, opens one generated module (classes, methods, functions,
loops, ``with`` blocks: every kind of site), and measures, as seen by the client:

* the first analysis (``didOpen`` until the first inlay hints arrive);
* after it, ``--runs`` times each: inlay hints for the whole file and for one screen (60
  lines), hover on a site, the code action list at a site, and resolving each of its three
  actions ("Add type annotation", "Annotate function", "Annotate file": the edit, rendered
  by `apply`'s code path; the very first resolve, which also parses the module with LibCST,
  is reported apart);
* an edit of one line until the server asks the client to refresh its hints (debounce plus
  re-analysis).

With and without the model (``useModel``). Prints medians (and 90th percentiles) in
milliseconds and writes bench/results/lsp.json.

    .venv/bin/python bench/lsp.py [--lines 5000] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import BaseLanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _results import git_state, write_json  # noqa: E402

OUTPUT = ROOT / "bench" / "results" / "lsp.json"
DEBOUNCE = 0.3
SCREEN = 60

BLOCK = '''

class Store{i}:
    """A small store of records."""

    def __init__(self, name, capacity=10, verbose=False):
        self.name = name
        self.capacity = capacity
        self.items = []
        self.verbose = verbose
        self.index = {{}}

    def add(self, key, value):
        record = (key, value)
        self.items.append(record)
        self.index[key] = len(self.items) - 1
        return record

    def size(self):
        return len(self.items)

    def describe(self, prefix=""):
        text = prefix + self.name
        for key, value in self.items:
            text += f" {{key}}={{value}}"
        return text

    def is_full(self):
        return len(self.items) >= self.capacity


def load_{i}(path, encoding="utf-8"):
    with open(path, encoding=encoding) as handle:
        lines = handle.read().splitlines()
    count = 0
    for line in lines:
        if line.strip():
            count += 1
    ratio = count / max(len(lines), 1)
    return ratio


def merge_{i}(left, right):
    result = dict(left)
    result.update(right)
    keys = sorted(result)
    return keys
'''


def generate_module(lines: int) -> str:
    """A module of at least ``lines`` lines, made of numbered copies of one block."""
    parts = ['"""Generated module for the language server benchmark."""\n']
    count, index = 1, 0
    while count < lines:
        block = BLOCK.format(i=index)
        parts.append(block)
        count += block.count("\n")
        index += 1
    return "".join(parts)


CAPABILITIES = lsp.ClientCapabilities(
    text_document=lsp.TextDocumentClientCapabilities(
        code_action=lsp.CodeActionClientCapabilities(
            resolve_support=lsp.ClientCodeActionResolveOptions(properties=["edit"])),
        inlay_hint=lsp.InlayHintClientCapabilities(
            resolve_support=lsp.ClientInlayHintResolveOptions(properties=["textEdits"]))),
    workspace=lsp.WorkspaceClientCapabilities(
        inlay_hint=lsp.InlayHintWorkspaceClientCapabilities(refresh_support=True),
        workspace_edit=lsp.WorkspaceEditClientCapabilities(document_changes=True)))


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await call()
    return (time.perf_counter() - started) * 1000, result


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p90_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 1),
            "runs": len(ordered)}


async def measure(path: Path, use_model: bool, runs: int) -> dict[str, Any]:
    client = BaseLanguageClient("typeseer-bench", "1")
    refreshed = asyncio.Event()

    @client.feature(lsp.WORKSPACE_INLAY_HINT_REFRESH)
    def refresh(params: None) -> None:
        refreshed.set()

    await client.start_io(sys.executable, "-m", "typeseer.lsp", "--debounce", str(DEBOUNCE))
    await client.initialize_async(lsp.InitializeParams(
        capabilities=CAPABILITIES, root_uri=path.parent.as_uri(), process_id=os.getpid(),
        initialization_options={"typeseer": {"useModel": use_model}}))
    client.initialized(lsp.InitializedParams())
    uri = path.as_uri()
    text = path.read_text()
    document = lsp.TextDocumentIdentifier(uri)
    lines = text.count("\n")
    everything = lsp.Range(lsp.Position(0, 0), lsp.Position(lines + 1, 0))
    middle = lines // 2
    screen = lsp.Range(lsp.Position(middle, 0), lsp.Position(middle + SCREEN, 0))

    started = time.perf_counter()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri, "python", 1, text)))
    hints = await client.text_document_inlay_hint_async(lsp.InlayHintParams(document,
                                                                            everything))
    first = (time.perf_counter() - started) * 1000
    assert hints, "no inlay hints"
    sites = [lsp.Position(h.position.line, h.position.character - 1) for h in hints
             if str(h.label).startswith(":")]
    timings: dict[str, list[float]] = {name: [] for name in (
        "inlay hints, whole file", "inlay hints, one screen", "hover", "code actions (list)",
        "resolve: Add type annotation", "resolve: Annotate function",
        "resolve: Annotate file")}
    cold: float | None = None
    for run in range(runs):
        site = sites[(run * 37) % len(sites)]
        elapsed, _ = await _timed(lambda: client.text_document_inlay_hint_async(
            lsp.InlayHintParams(document, everything)))
        timings["inlay hints, whole file"].append(elapsed)
        elapsed, _ = await _timed(lambda: client.text_document_inlay_hint_async(
            lsp.InlayHintParams(document, screen)))
        timings["inlay hints, one screen"].append(elapsed)
        elapsed, shown = await _timed(lambda: client.text_document_hover_async(
            lsp.HoverParams(document, site)))  # noqa: B023 (awaited at once)
        assert shown is not None, f"no hover at {site}"
        timings["hover"].append(elapsed)
        elapsed, actions = await _timed(lambda: client.text_document_code_action_async(
            lsp.CodeActionParams(document, lsp.Range(site, site),  # noqa: B023
                                 lsp.CodeActionContext(diagnostics=[]))))
        timings["code actions (list)"].append(elapsed)
        for action, name in zip(actions or [], ("Add type annotation", "Annotate function",
                                                "Annotate file"), strict=False):
            elapsed, resolved = await _timed(
                lambda: client.code_action_resolve_async(action))  # noqa: B023
            assert resolved.edit is not None, f"{name}: no edit"
            if cold is None:
                cold = elapsed  # the first one also parses the module with LibCST
            else:
                timings[f"resolve: {name}"].append(elapsed)

    edits: list[float] = []
    target = next(n for n, line in enumerate(text.splitlines()) if "capacity=10" in line)
    column = text.splitlines()[target].index("capacity=10") + len("capacity=1")
    for version in range(2, 2 + min(runs, 5)):
        refreshed.clear()
        started = time.perf_counter()
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
            [lsp.TextDocumentContentChangePartial(
                range=lsp.Range(lsp.Position(target, column), lsp.Position(target, column + 1)),
                text=str(version % 10))]))
        await asyncio.wait_for(refreshed.wait(), 120)
        edits.append((time.perf_counter() - started) * 1000)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"use_model": use_model, "first_analysis_ms": round(first, 1),
            "first_resolve_ms": round(cold or 0.0, 1),
            "hints": len(hints), "lines": lines,
            "requests": {name: _summary(values) for name, values in timings.items()},
            "edit_to_refresh": _summary(edits), "debounce_ms": DEBOUNCE * 1000}


def _table(results: list[dict[str, Any]]) -> str:
    header = "| request | " + " | ".join(
        "model" if r["use_model"] else "static only" for r in results) + " |"
    rows = [header, "|---|" + "---:|" * len(results)]
    rows.append("| first analysis (open → hints) | " + " | ".join(
        f"{r['first_analysis_ms']:.0f}" for r in results) + " |")
    rows.append("| first resolve of an analysis (LibCST parses the module) | " + " | ".join(
        f"{r['first_resolve_ms']:.0f}" for r in results) + " |")
    for name in results[0]["requests"]:
        rows.append(f"| {name} | " + " | ".join(
            f"{r['requests'][name]['median_ms']:.0f} (p90 {r['requests'][name]['p90_ms']:.0f})"
            for r in results) + " |")
    rows.append("| edit → hints refreshed (incl. 300 ms debounce) | " + " | ".join(
        f"{r['edit_to_refresh']['median_ms']:.0f}" for r in results) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--output", default=str(OUTPUT))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "generated.py"
        path.write_text(generate_module(args.lines))
        results = [asyncio.run(measure(path, use_model, args.runs))
                   for use_model in (False, True)]
    print(f"{results[0]['lines']} lines, {results[0]['hints']} hints (static), "
          f"{results[1]['hints']} (model); milliseconds, median of {args.runs}")
    print(_table(results))
    write_json(Path(args.output), {
        **git_state(), "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                   "platform": platform.platform()},
        "runs": args.runs, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
