"""Strip type annotations from Python source (the DESIGN.md evaluation protocol).

The evaluation takes real annotated code, keeps its annotations as ground truth and runs
inference on a copy with every annotation removed. This module makes that copy with LibCST,
changing nothing but the annotations:

* parameter annotations go (``def f(x: int = 1, *a: str)`` -> ``def f(x=1, *a)``; the spaces
  around a default's ``=`` are tightened to the unannotated style when they are plain spaces);
* return annotations go (``def f() -> int:`` -> ``def f():``);
* annotated assignments with a value become plain assignments (``x: int = 1`` -> ``x = 1``,
  ``self.x: int = v`` -> ``self.x = v``);
* bare declarations (``x: int``) are dropped; a block left empty gets ``pass``; comments on
  the dropped lines are kept as comment lines in place.

Everything is stripped, including annotations that matter at run time (dataclass fields,
``NamedTuple`` and ``TypedDict`` bodies, pydantic models) and a bare declaration that makes a
name local to its function: the stripped copy is for static analysis, not for running. It
still compiles whenever the original does. Type comments, PEP 695 type parameters and
``type`` aliases are left alone (they are not annotation sites).
"""

from __future__ import annotations

import io
import os
import shutil
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from .parsing import parse_libcst

__all__ = ["StripError", "StripStats", "strip_annotations", "strip_tree"]


class StripError(ValueError):
    """The source cannot be parsed, so it cannot be stripped."""


def _is_declaration(statement: cst.BaseSmallStatement) -> bool:
    return isinstance(statement, cst.AnnAssign) and statement.value is None


def _plain_equal(equal: cst.AssignEqual | cst.MaybeSentinel) -> cst.AssignEqual | cst.MaybeSentinel:
    """``x: int = 1`` in a signature is spaced; ``x=1`` is the unannotated style."""
    if (isinstance(equal, cst.AssignEqual)
            and isinstance(equal.whitespace_before, cst.SimpleWhitespace)
            and isinstance(equal.whitespace_after, cst.SimpleWhitespace)):
        return equal.with_changes(whitespace_before=cst.SimpleWhitespace(""),
                                  whitespace_after=cst.SimpleWhitespace(""))
    return equal


def _comment_line(statement: cst.SimpleStatementLine) -> list[cst.EmptyLine]:
    """The trailing comment of a dropped line, kept as a line of its own."""
    comment = statement.trailing_whitespace.comment
    if comment is None:
        return []
    return [cst.EmptyLine(indent=True, whitespace=cst.SimpleWhitespace(""), comment=comment)]


def _pass_line(leading: Sequence[cst.EmptyLine]) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=list(leading))


class _Stripper(cst.CSTTransformer):
    """Removes annotations; see the module docstring for the rules."""

    def leave_Param(self, original_node: cst.Param, updated_node: cst.Param) -> cst.Param:
        if updated_node.annotation is None:
            return updated_node
        return updated_node.with_changes(annotation=None, equal=_plain_equal(updated_node.equal))

    def leave_FunctionDef(self, original_node: cst.FunctionDef,
                          updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if updated_node.returns is None:
            return updated_node
        return updated_node.with_changes(returns=None)

    def leave_AnnAssign(self, original_node: cst.AnnAssign,
                        updated_node: cst.AnnAssign) -> cst.BaseSmallStatement:
        if updated_node.value is None:  # a declaration: dropped by the enclosing line/block
            return updated_node
        equal = updated_node.equal
        before = after = cst.SimpleWhitespace(" ")
        if isinstance(equal, cst.AssignEqual):
            if isinstance(equal.whitespace_before, cst.SimpleWhitespace):
                before = equal.whitespace_before
            if isinstance(equal.whitespace_after, cst.SimpleWhitespace):
                after = equal.whitespace_after
        target = cst.AssignTarget(target=updated_node.target, whitespace_before_equal=before,
                                  whitespace_after_equal=after)
        return cst.Assign(targets=[target], value=updated_node.value,
                          semicolon=updated_node.semicolon)

    # -- dropping declarations ------------------------------------------------------------
    @staticmethod
    def _small_statements(
        body: Sequence[cst.BaseSmallStatement],
    ) -> list[cst.BaseSmallStatement]:
        """``body`` without declarations; the last one keeps the original's last semicolon."""
        kept = [s for s in body if not _is_declaration(s)]
        if kept and len(kept) != len(body):
            kept[-1] = kept[-1].with_changes(semicolon=body[-1].semicolon)
        return kept

    def _statements(
        self, body: Sequence[cst.BaseStatement]
    ) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]] | None:
        """The statements of a block with declarations dropped, and the comment lines left
        over at its end (the dropped lines' own and leading comments); None if unchanged."""
        result: list[cst.BaseStatement] = []
        pending: list[cst.EmptyLine] = []
        changed = False
        for statement in body:
            if isinstance(statement, cst.SimpleStatementLine):
                kept = self._small_statements(statement.body)
                if not kept:
                    pending.extend(statement.leading_lines)
                    pending.extend(_comment_line(statement))
                    changed = True
                    continue
                if len(kept) != len(statement.body):
                    statement = statement.with_changes(body=kept)
                    changed = True
            if pending and isinstance(statement, (cst.SimpleStatementLine,
                                                  cst.BaseCompoundStatement)):
                statement = statement.with_changes(
                    leading_lines=[*pending, *statement.leading_lines])
                pending = []
            result.append(statement)
        return (result, pending) if changed else None

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                            updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        stripped = self._statements(updated_node.body)
        if stripped is None:
            return updated_node
        body, pending = stripped
        if not body:
            return updated_node.with_changes(body=[_pass_line(pending)])
        return updated_node.with_changes(body=body,
                                         footer=[*pending, *updated_node.footer])

    def leave_SimpleStatementSuite(self, original_node: cst.SimpleStatementSuite,
                                   updated_node: cst.SimpleStatementSuite
                                   ) -> cst.SimpleStatementSuite:
        kept = self._small_statements(updated_node.body)
        if len(kept) == len(updated_node.body):
            return updated_node
        return updated_node.with_changes(body=kept or [cst.Pass()])

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        stripped = self._statements(updated_node.body)
        if stripped is None:
            return updated_node
        body, pending = stripped
        return updated_node.with_changes(body=body, footer=[*pending, *updated_node.footer])


def strip_annotations(source: str) -> str:
    """``source`` with every annotation removed (see the module docstring).

    Raises StripError when LibCST cannot parse the source. Idempotent.
    """
    try:
        module = parse_libcst(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else error.__class__.__name__
        raise StripError(f"cannot parse: {message}") from None
    return module.visit(_Stripper()).code


@dataclass(slots=True)
class StripStats:
    """What ``strip_tree`` did."""

    #: ``.py`` files written stripped.
    stripped: int = 0
    #: Other files copied as they are.
    copied: int = 0
    #: ``.py`` files that could not be stripped (copied as they are), with the reason.
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: Stub files left out (they would give the ground truth away).
    skipped_stubs: int = 0


def _strip_file_bytes(data: bytes) -> bytes:
    """Strip one file's bytes, writing them back in the file's own encoding."""
    if b"\0" in data:
        raise StripError("binary file (contains null bytes)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as error:
        raise StripError(f"cannot decode: {error}") from None
    stripped = strip_annotations(text)
    if stripped == text:
        return data
    try:
        return stripped.encode(encoding)
    except UnicodeEncodeError as error:  # cannot happen: only characters were removed
        raise StripError(f"cannot encode: {error}") from None


def strip_tree(src_dir: str | os.PathLike[str], dst_dir: str | os.PathLike[str],
               keep_stubs: bool = False) -> StripStats:
    """Copy the tree under ``src_dir`` to ``dst_dir`` with every ``.py`` file stripped.

    Other files are copied as they are, and so are ``.py`` files that cannot be parsed or
    decoded (listed in the result). ``.pyi`` stubs are left out unless ``keep_stubs``: they
    hold the annotations being evaluated. Existing files in ``dst_dir`` are overwritten;
    ``__pycache__`` directories and symbolic links to directories are not followed.
    """
    src, dst = Path(src_dir), Path(dst_dir)
    if not src.is_dir():
        raise NotADirectoryError(str(src))
    stats = StripStats()
    for directory, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        here = Path(directory)
        target_dir = dst / here.relative_to(src)
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames):
            path, target = here / name, target_dir / name
            relpath = path.relative_to(src).as_posix()
            if name.endswith(".pyi") and not keep_stubs:
                stats.skipped_stubs += 1
                continue
            if not name.endswith(".py"):
                shutil.copyfile(path, target)
                stats.copied += 1
                continue
            data = path.read_bytes()
            try:
                target.write_bytes(_strip_file_bytes(data))
                stats.stripped += 1
            except StripError as error:
                target.write_bytes(data)
                stats.failed.append((relpath, str(error)))
    return stats
