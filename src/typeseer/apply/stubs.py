"""`stub`: ``.pyi`` files with the inferred types, one per module, under an output directory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..fileio import atomic_write_text
from ..parsing import ParseFailure, parse_source
from ..project import module_name_for
from ..sources import (
    Diagnostic,
    Severity,
    SourceFile,
    UnreadableSource,
    discover,
    read_source,
)
from .run import apply

__all__ = ["StubResult", "write_stubs"]


@dataclass(slots=True)
class StubResult:
    """The stubs written and the files that got none."""

    written: list[Path] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def stub_path(out_dir: Path, relpath: str) -> Path | None:
    """Where the stub of ``relpath`` goes; None when that would be outside ``out_dir``."""
    target = (out_dir / relpath).with_suffix(".pyi")
    root = out_dir.resolve()
    resolved = target.resolve()
    if resolved != root and root not in resolved.parents:
        return None
    return target


def _stub_relpath(source: SourceFile, prefixes: dict[Path, str]) -> str:
    """Where the stub goes under the output directory: the file's path from its root, under
    the root's own package when the root is one (``stub mypkg`` gives ``mypkg/__init__.pyi``,
    the layout a type checker looks for)."""
    init = source.root / "__init__.py"
    if not source.root.is_dir() or not init.is_file():
        return source.relpath
    package = module_name_for(init, prefixes)[0]
    return f"{package.replace('.', '/')}/{source.relpath}" if package else source.relpath


def write_stubs(paths: Sequence[str | Path], out_dir: Path, config: Config) -> StubResult:
    """Annotate each module in memory (as `apply` would), turn it into a stub, write it."""
    from ..pyi import StubError, to_stub

    annotated = apply(paths, config)
    result = StubResult(diagnostics=list(annotated.diagnostics))
    texts = {c.relpath: c.new.decode(c.encoding) for c in annotated.changes}
    sources, _ = discover(paths, config.exclude)
    prefixes: dict[Path, str] = {}
    for source in sources:
        text = texts.get(source.relpath)
        if text is None:
            try:
                text = read_source(source, config.max_file_bytes)
                parse_source(text, source.relpath)
            except (UnreadableSource, ParseFailure):
                continue  # reported by the annotation step
        target = stub_path(out_dir, _stub_relpath(source, prefixes))
        if target is None:
            result.diagnostics.append(Diagnostic(source.relpath, "stub path would leave the "
                                                 "output directory; skipped", Severity.SKIPPED))
            continue
        try:
            stub = to_stub(text, module_name=module_name_for(source.path, prefixes)[0])
        except StubError as error:
            result.diagnostics.append(Diagnostic(source.relpath, f"no stub: {error}"))
            continue
        atomic_write_text(target, stub)
        result.written.append(target)
    return result
