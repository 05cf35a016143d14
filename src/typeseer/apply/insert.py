"""Writing edits into one module's source with LibCST, keeping every other byte.

Parameters and returns get their annotation in place; ``x = v`` becomes ``x: T = v``; other
bindings (``for``, ``with``, unpacking, walrus) get a declaration ``x: T`` on a line of its own
before their statement. Imports: ``typing``, ``collections.abc`` and standard-library names
through LibCST's ``AddImportsVisitor`` (merged into existing imports); project and third-party
names in the module's ``if TYPE_CHECKING:`` block, created after the imports when missing.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from ..parsing import parse_libcst
from ..sites import SiteKind
from .names import Import
from .plan import Edit

__all__ = ["ModuleRenderer", "RenderError"]


class RenderError(ValueError):
    """The module cannot be rewritten (LibCST cannot parse it)."""


class ModuleRenderer:
    """One module's original text, parsed once, rendered with any subset of its edits."""

    def __init__(self, text: str, module_name: str) -> None:
        self.text = text
        self.module_name = module_name
        try:
            module = parse_libcst(text)
        except cst.ParserSyntaxError as error:
            raise RenderError(f"LibCST cannot parse it: {error.message}") from None
        except RecursionError as error:
            raise RenderError(str(error)) from None
        self._wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self._positions: Mapping[cst.CSTNode, CodeRange] = self._wrapper.resolve(
            PositionProvider)
        self._pieces: list[str] | None = None  # each top-level statement's code, on demand
        self._lost_suffix: str | None = None  # what LibCST's code of the module lacks, on demand

    def render(self, edits: Sequence[Edit]) -> str:
        """The module's text with ``edits`` written in (the original text when none)."""
        if not edits:
            return self.text
        annotator = _Annotator(self._positions, edits)
        module = self._wrapper.module
        lines = annotator.lines()
        # Only the top-level statements holding an edit are visited: on a large module this
        # is what makes one annotation cheap (an editor's code action, a verification round).
        body: list[cst.BaseStatement] = []
        for statement in module.body:
            position = self._positions[statement]
            if any(position.start.line <= line <= position.end.line for line in lines):
                visited = statement.visit(annotator)
                assert isinstance(visited, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
                statement = visited
            body.append(statement)
        imports = {i for e in edits for i in e.imports}
        if not imports and not annotator.declarations:
            spliced = self._splice(body)
            if spliced is not None:
                return spliced
        if annotator.declarations:
            body = annotator._with_declarations(module.body, body)
        module = module.with_changes(body=body)
        module = _add_imports(module, self.module_name, imports)
        return module.code + self._suffix_lost()

    def _suffix_lost(self) -> str:
        """What LibCST's code of the unchanged module lacks at its end: a final lone ``\\r``
        (it keeps every other byte). Raises RenderError when it would lose anything else: form
        feeds at the start of some lines, for one."""
        if self._lost_suffix is None:
            code = self._wrapper.module.code
            if code == self.text:
                self._lost_suffix = ""
            elif self.text.endswith("\r") and code == self.text[:-1]:
                self._lost_suffix = "\r"
            else:
                raise RenderError("LibCST would not keep every byte of it (form feeds at the "
                                  "start of lines?)")
        return self._lost_suffix

    def prepare(self) -> None:
        """Do ahead what the first render would (an editor warms its renderer while idle)."""
        self._code_pieces()

    def _code_pieces(self) -> list[str]:
        """The module's header, each top-level statement's code and the footer; empty when
        the text is not the plain concatenation of its parts."""
        if self._pieces is None:
            module = self._wrapper.module
            header = "".join(module.code_for_node(line) for line in module.header)
            footer = "".join(module.code_for_node(line) for line in module.footer)
            pieces = [header, *(module.code_for_node(s) for s in module.body), footer]
            self._pieces = pieces if "".join(pieces) == self.text else []
        return self._pieces

    def _splice(self, body: Sequence[cst.BaseStatement]) -> str | None:
        """The text with only the changed top-level statements generated again (None when the
        module's text is not the plain concatenation of its parts)."""
        module = self._wrapper.module
        pieces = self._code_pieces()
        if not pieces:
            return None
        parts = [pieces[0]]
        for index, (before, after) in enumerate(zip(module.body, body, strict=True)):
            parts.append(pieces[index + 1] if after is before else module.code_for_node(after))
        parts.append(pieces[-1])
        return "".join(parts)


def _annotation(text: str) -> cst.Annotation:
    return cst.Annotation(annotation=cst.parse_expression(text))


def _target_text(node: cst.BaseAssignTargetExpression | cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
        return f"{node.value.value}.{node.attr.value}"
    return None


class _Annotator(cst.CSTTransformer):
    def __init__(self, positions: Mapping[cst.CSTNode, CodeRange], edits: Iterable[Edit]) -> None:
        super().__init__()
        self.positions = positions
        self.functions: dict[int, list[Edit]] = {}
        self.inline: dict[tuple[int, str], Edit] = {}
        self.declarations: dict[int, list[Edit]] = {}
        for edit in edits:
            if edit.kind in (SiteKind.PARAM, SiteKind.RETURN):
                self.functions.setdefault(edit.def_line, []).append(edit)
            elif edit.inline:
                self.inline[(edit.statement_line, edit.target)] = edit
            else:
                self.declarations.setdefault(edit.statement_line, []).append(edit)
        self.anchors = sorted(self.lines())

    def lines(self) -> set[int]:
        """The lines the edits are anchored on."""
        return {*self.functions, *(line for line, _ in self.inline), *self.declarations}

    def on_visit(self, node: cst.CSTNode) -> bool:
        """Only enter nodes that span an edit's line: the rest of the tree is left as it is."""
        position = self.positions.get(node)
        if position is None:
            return True
        start, end = position.start.line, position.end.line
        index = bisect.bisect_left(self.anchors, start)
        return index < len(self.anchors) and self.anchors[index] <= end

    def _line(self, node: cst.CSTNode) -> int:
        position = self.positions.get(node)
        return position.start.line if position is not None else -1

    # -- functions ---------------------------------------------------------------------------
    def leave_FunctionDef(self, original_node: cst.FunctionDef,
                          updated_node: cst.FunctionDef) -> cst.FunctionDef:
        edits = self.functions.get(self._line(original_node.name))
        if not edits:
            return updated_node
        params = updated_node.params
        for edit in edits:
            if edit.kind is SiteKind.RETURN:
                updated_node = updated_node.with_changes(returns=_annotation(edit.annotation))
            else:
                params = _annotate_param(params, edit.key.name, edit.annotation)
        return updated_node.with_changes(params=params)

    # -- assignments -------------------------------------------------------------------------
    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign,
                     ) -> cst.BaseSmallStatement:
        if len(updated_node.targets) != 1:
            return updated_node
        target = updated_node.targets[0]
        text = _target_text(target.target)
        edit = self.inline.get((self._line(original_node), text or ""))
        if edit is None or text is None:
            return updated_node
        return cst.AnnAssign(
            target=target.target, annotation=_annotation(edit.annotation),
            value=updated_node.value,
            equal=cst.AssignEqual(whitespace_before=target.whitespace_before_equal,
                                  whitespace_after=target.whitespace_after_equal),
            semicolon=updated_node.semicolon)

    def leave_AnnAssign(self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign,
                        ) -> cst.AnnAssign:
        edit = self.inline.get((self._line(original_node),
                                _target_text(updated_node.target) or ""))
        if edit is None:
            return updated_node
        annotation = updated_node.annotation.with_changes(
            annotation=cst.parse_expression(edit.annotation))
        return updated_node.with_changes(annotation=annotation)

    # -- declarations before statements ------------------------------------------------------
    def _with_declarations(self, original: Sequence[cst.CSTNode],
                           updated: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        body: list[cst.BaseStatement] = []
        for before, after in zip(original, updated, strict=True):
            edits = self.declarations.get(self._line(before))
            if edits and isinstance(after, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                leading = after.leading_lines
                for index, edit in enumerate(edits):
                    body.append(_declaration(edit, leading if index == 0 else ()))
                after = after.with_changes(leading_lines=())
            body.append(after)
        return body

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                            updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if not self.declarations:
            return updated_node
        return updated_node.with_changes(
            body=self._with_declarations(original_node.body, updated_node.body))



def _declaration(edit: Edit, leading: Sequence[cst.EmptyLine]) -> cst.SimpleStatementLine:
    statement = cst.AnnAssign(target=cst.parse_expression(edit.target),  # type: ignore[arg-type]
                              annotation=_annotation(edit.annotation), value=None)
    return cst.SimpleStatementLine(body=[statement], leading_lines=list(leading))


def _annotate_param(params: cst.Parameters, name: str, annotation: str) -> cst.Parameters:
    def annotate(param: cst.Param) -> cst.Param:
        if param.name.value != name:
            return param
        equal = param.equal
        if isinstance(equal, cst.AssignEqual) and _tight(equal):
            equal = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(" "),
                                    whitespace_after=cst.SimpleWhitespace(" "))
        return param.with_changes(annotation=_annotation(annotation), equal=equal)

    star = params.star_arg
    return params.with_changes(
        posonly_params=[annotate(p) for p in params.posonly_params],
        params=[annotate(p) for p in params.params],
        kwonly_params=[annotate(p) for p in params.kwonly_params],
        star_arg=annotate(star) if isinstance(star, cst.Param) else star,
        star_kwarg=annotate(params.star_kwarg) if params.star_kwarg is not None else None,
    )


def _tight(equal: cst.AssignEqual) -> bool:
    """``x=1``: PEP 8 spaces the ``=`` once the parameter is annotated (``x: int = 1``)."""
    before, after = equal.whitespace_before, equal.whitespace_after
    return (isinstance(before, cst.SimpleWhitespace) and before.value == ""
            and isinstance(after, cst.SimpleWhitespace) and after.value == "")


# -- imports ---------------------------------------------------------------------------------
def _add_imports(module: cst.Module, module_name: str, imports: set[Import]) -> cst.Module:
    runtime = sorted(i for i in imports if not i.type_checking)
    checking = sorted(i for i in imports if i.type_checking)
    block_index = _type_checking_block(module)
    if checking and block_index is None:
        runtime.append(Import("typing", "TYPE_CHECKING"))
    if runtime:
        context = CodemodContext(full_module_name=module_name or None)
        for need in runtime:
            AddImportsVisitor.add_needed_import(context, need.module, need.name)
        module = AddImportsVisitor(context).transform_module(module)
    if checking:
        module = _add_checking_imports(module, checking)
    return module


def _is_type_checking_test(test: cst.BaseExpression) -> bool:
    return (isinstance(test, cst.Name) and test.value == "TYPE_CHECKING") or (
        isinstance(test, cst.Attribute) and test.attr.value == "TYPE_CHECKING")


def _type_checking_block(module: cst.Module) -> int | None:
    for index, statement in enumerate(module.body):
        if isinstance(statement, cst.If) and _is_type_checking_test(statement.test) and \
                isinstance(statement.body, cst.IndentedBlock):
            return index
    return None


def _import_line(need: Import, module: cst.Module) -> cst.SimpleStatementLine:
    code = f"from {need.module} import {need.name}\n"
    statement = cst.parse_statement(code, config=module.config_for_parsing)
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


def _add_checking_imports(module: cst.Module, needs: list[Import]) -> cst.Module:
    index = _type_checking_block(module)
    if index is not None:
        block = module.body[index]
        assert isinstance(block, cst.If) and isinstance(block.body, cst.IndentedBlock)
        present = {module.code_for_node(s).strip() for s in block.body.body}
        lines = [_import_line(n, module) for n in needs]
        new = [line for line in lines if module.code_for_node(line).strip() not in present]
        if not new:
            return module
        body = block.body.with_changes(body=[*block.body.body, *new])
        return module.with_changes(
            body=[*module.body[:index], block.with_changes(body=body), *module.body[index + 1:]])
    indent = module.default_indent
    newline = module.default_newline
    code = "if TYPE_CHECKING:" + newline + "".join(
        f"{indent}from {n.module} import {n.name}{newline}" for n in needs)
    block_statement = cst.parse_statement(code, config=module.config_for_parsing)
    block_statement = block_statement.with_changes(leading_lines=[cst.EmptyLine()])
    position = _after_imports(module)
    return module.with_changes(body=[*module.body[:position], block_statement,
                                     *module.body[position:]])


def _is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body)


def _is_docstring(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1 and \
        isinstance(statement.body[0], cst.Expr) and isinstance(
            statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))


def _after_imports(module: cst.Module) -> int:
    """Index after the module's leading docstring and imports."""
    position = 0
    for index, statement in enumerate(module.body):
        if index == 0 and _is_docstring(statement):
            position = 1
        elif _is_import_line(statement):
            position = index + 1
        else:
            break
    return position
