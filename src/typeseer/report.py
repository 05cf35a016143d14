"""Rendering predictions: JSONL (the contract), JSON and a readable table."""

from __future__ import annotations

import json
from collections import Counter
from enum import Enum
from typing import TextIO

from .api import InferResult, Prediction
from .sources import Severity

__all__ = ["Format", "render"]


class Format(str, Enum):
    """Output formats of ``typeseer infer``."""

    #: One JSON object per site per line: the DESIGN.md contract that benchmarks read.
    JSONL = "jsonl"
    #: One JSON document with predictions, diagnostics and a summary.
    JSON = "json"
    #: Aligned columns for people (the default on a terminal).
    TABLE = "table"


def summary(result: InferResult) -> dict[str, object]:
    typed = [p for p in result.predictions if p.type is not None and p.source != "existing"]
    return {
        "files": result.files,
        "lines": result.lines,
        "sites": len(result.predictions),
        "existing": sum(p.source == "existing" for p in result.predictions),
        "inferred": len(typed),
        "inferred_by_kind": dict(Counter(p.kind for p in typed)),
        "diagnostics": len([d for d in result.diagnostics if d.severity is not Severity.INFO]),
        "seconds": round(result.seconds, 3),
    }


def render(result: InferResult, fmt: Format, out: TextIO) -> None:
    if fmt is Format.JSONL:
        for prediction in result.predictions:
            out.write(json.dumps(prediction.to_json()) + "\n")
    elif fmt is Format.JSON:
        document = {
            "predictions": [p.to_json() for p in result.predictions],
            "diagnostics": [{"file": d.file, "severity": d.severity.value, "message": d.message}
                            for d in result.diagnostics],
            "summary": summary(result),
        }
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        _render_table(result, out)


def _render_table(result: InferResult, out: TextIO) -> None:
    rows = [_row(p) for p in result.predictions if p.type is not None and p.source != "existing"]
    headers = ("location", "kind", "scope", "name", "type", "conf", "source")
    if rows:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        widths[4] = min(widths[4], 48)
        for row in (headers, *rows):
            cells = (c.ljust(w) for c, w in zip(row, widths, strict=True))
            out.write("  ".join(cells).rstrip() + "\n")
    facts = summary(result)
    out.write(
        f"\n{facts['inferred']} of {facts['sites']} sites typed "
        f"({facts['existing']} already annotated) in {facts['files']} files, "
        f"{facts['lines']} lines, {facts['seconds']} s\n"
    )


def _row(p: Prediction) -> tuple[str, ...]:
    return (f"{p.file}:{p.line}:{p.col}", p.kind, p.scope, p.name or "-", p.type or "",
            f"{p.confidence:.2f}", p.source)
