"""Turn annotated Python source into a ``.pyi`` stub (the core of ``typeseer stub``).

``typeseer stub`` writes the inferred annotations into each module's source in memory (the
code path of ``typeseer apply``) and hands the result to :func:`to_stub`, a pure function built
with LibCST. The stub keeps the module's interface and drops everything else; it is written
for mypy and pyright, so it never defines a name twice where a checker would object. Rules:

* **Imports** are kept, ``from __future__`` ones dropped. The body of ``if TYPE_CHECKING:``
  is hoisted (a stub never runs; its ``else`` is the run-time fallback and goes), and so is
  the ``TYPE_CHECKING`` import once nothing uses it. Without a literal ``__all__``, imports
  from the module's own package (relative ones; absolute ones too when ``module_name`` is
  given) are spelled as re-exports, ``from .core import Engine as Engine``: that is how a
  package exposes its names, and stubs re-export nothing else (a renamed ``helper as run``
  becomes ``helper as _run`` and ``run = _run``).
* **Functions**: decorators, ``async`` and the signature are kept, annotations as written;
  defaults become ``...`` and the body ``...``; nested functions go. ``@overload`` variants
  stay and their implementation goes (a stub may not have one).
* **Classes**: bases, keywords and decorators kept, the body stubbed by these same rules.
  Attributes that methods assign (``self.x: T = ...``, ``self.x = ...``, ``cls.x = ...``)
  become declarations ``x: T`` -- typed as the parameter for ``self.x = x``, else
  ``Incomplete`` -- unless the class (a property, a method, a variable) or a class of the
  module it derives from already declares them; a type variable the class does not bind
  becomes ``Incomplete`` too. In a ``@dataclass`` they read ``x: T = field(init=False)``,
  not being fields. An enum without members gets ``# type: ignore[misc]`` (mypy rejects one
  in a stub, though a base enum that adds methods is what the source has).
* **Variables**: ``x: T = v`` becomes ``x: T`` in a module and ``x: T = ...`` in a class,
  where the value tells a dataclass-like class (dataclasses, attrs, ``NamedTuple``, pydantic,
  every ``dataclass_transform`` class) that the field has a default; a field specifier call
  stays where it shapes ``__init__`` (``init=``, ``kw_only=``, ``alias=``). ``x: Final = v``
  keeps a literal ``v`` (else ``Final[Incomplete]``) and ``x: TypeAlias = v`` keeps ``v``.
  ``x = v`` becomes ``x: Incomplete`` (``from _typeshed import Incomplete`` added), or
  ``x: ClassVar[Incomplete]`` in a dataclass-like class, where a bare annotation would make
  a field -- except where ``v`` says more, and stays as written:

  - a short literal or a tuple of literals and names (a checker infers its type, as for the
    source, also against a base class's declaration); a long string gives ``x: str``;
  - a type expression (``Alias = list[int]``, ``Alias = A | None``), a reference to a name
    (``Alias = OtherClass``, ``old_name = new_name``, ``sep = os.sep``), a ``TypeVar``,
    ``ParamSpec``, ``TypeVarTuple``, ``NewType``, ``NamedTuple``, ``namedtuple``,
    ``TypedDict``, ``TypeAliasType`` or functional ``Enum`` call;
  - a literal ``__all__``, ``__slots__`` or ``__match_args__``; ``__all__`` also keeps the
    ``+=``/``.extend``/``.append``/``.remove`` updates checkers understand;
  - enum members become ``NAME = ...`` (a member aliasing another keeps its value).

* **Conditions**: an ``if`` chain testing only ``sys.version_info`` and ``sys.platform``
  (with ``not``/``and``/``or``) is kept, each branch stubbed on its own. Other compound
  statements give their definitions to the enclosing block: those of the ``if`` branch, the
  ``try`` body (with ``else`` and ``finally``), loop and ``with`` bodies, and of an
  ``elif``/``else`` branch or ``except`` handler only names not yet defined (a fallback that
  redefines them); ``if __name__ == "__main__":`` gives nothing (a script's names are not
  the module's). Loop and ``with`` targets are variables. Where a block still binds a name
  twice, one definition stays: a declaration, else the last ``def``/``class``, else the
  first assignment.
* **Everything else** goes: docstrings, comments -- but ``# type: ignore`` comments stay
  where the error they silence is still there (imports, signatures, decorators, statements
  kept as written, class attributes overriding a base) -- and all other statements. The
  layout is fixed (four-space indents, blank lines around classes and between kinds of
  statements), so the result is deterministic, ends with a newline, and is empty for a
  module with no interface.
"""

from __future__ import annotations

import builtins
import enum
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from .parsing import parse_libcst

__all__ = ["StubError", "to_stub"]


class StubError(ValueError):
    """The source cannot be parsed, so no stub can be made from it."""


# -- data tables ----------------------------------------------------------------------------

#: Calls whose result checkers understand as a type-level definition: kept as written.
_TYPE_FACTORIES = frozenset({
    "TypeVar", "ParamSpec", "TypeVarTuple", "NewType", "NamedTuple", "namedtuple",
    "TypedDict", "TypeAliasType",
})
_TYPE_VARIABLE_FACTORIES = frozenset({"TypeVar", "ParamSpec", "TypeVarTuple"})
#: Enum classes: base names, and the functional API (``Color = Enum("Color", "RED BLUE")``).
_ENUM_BASES = frozenset({"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag", "ReprEnum"})
#: Decorators that turn annotated class variables into ``__init__`` fields (dataclasses,
#: attrs), as dotted names or their last component.
_FIELD_DECORATORS = frozenset({"dataclass", "define", "frozen", "mutable", "attr.s",
                               "attr.attrs", "attrs.attrs"})
#: Base classes whose subclasses' annotated class variables are fields (a metaclass or
#: ``__init_subclass__`` makes them so).
_FIELD_BASES = frozenset({"NamedTuple", "BaseModel", "BaseSettings", "Struct", "TypedDict"})
#: Field specifiers (dataclasses, attrs, pydantic, msgspec), by name or by module, and the
#: keywords that shape ``__init__``; other calls (``Colon.field()``) are plain defaults.
_FIELD_SPECIFIERS = frozenset({"field", "Field", "ib", "attrib"})
_FIELD_MODULES = frozenset({"dataclasses", "attr", "attrs", "pydantic", "msgspec"})
_INIT_KEYWORDS = frozenset({"init", "kw_only", "alias"})
_DEFAULT_KEYWORDS = frozenset({"default", "default_factory", "factory"})
#: Lower-case generic classes (``list[int]``); other type constructors are CapWords.
_LOWER_CASE_GENERICS = frozenset({"list", "dict", "set", "frozenset", "tuple", "type",
                                  "deque", "defaultdict", "IO"})
#: Values longer than this are not repeated in a stub (flake8-pyi's limit for strings).
_MAX_VALUE_LENGTH = 50
#: Dunder variables whose literal value checkers read.
_LITERAL_DUNDERS = frozenset({"__all__", "__slots__", "__match_args__"})
_ALL_METHODS = frozenset({"extend", "append", "remove"})
_ACCESSORS = frozenset({"setter", "getter", "deleter"})
#: Builtin names that are constants, not references worth keeping (``x = None`` says nothing).
_CONSTANTS = frozenset({"True", "False", "None", "NotImplemented", "Ellipsis", "__debug__"})
_BUILTINS = frozenset(dir(builtins))


# -- small helpers on CST nodes -------------------------------------------------------------

def _dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a chain of names, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        root = _dotted(node.value)
        return None if root is None else f"{root}.{node.attr.value}"
    return None


def _last_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Call):
        node = node.func
    dotted = _dotted(node)
    return None if dotted is None else dotted.rpartition(".")[2]


def _decorator_names(decorators: Sequence[cst.Decorator]) -> list[str]:
    """Dotted names of the decorators (``@a.b(...)`` gives ``a.b``)."""
    names = []
    for decorator in decorators:
        expression = decorator.decorator
        if isinstance(expression, cst.Call):
            expression = expression.func
        dotted = _dotted(expression)
        if dotted is not None:
            names.append(dotted)
    return names


def _target_names(target: cst.BaseExpression) -> list[str]:
    """The names an assignment target binds (``a, *b = ...`` gives a and b)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _target_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def _import_bindings(node: cst.Import | cst.ImportFrom) -> list[tuple[str, str, str]]:
    """(bound name, module, imported name) for each alias; a star import gives nothing."""
    if isinstance(node, cst.ImportFrom):
        if isinstance(node.names, cst.ImportStar):
            return []
        module = "." * len(node.relative) + _module_name(node)
        return [(alias.evaluated_alias or alias.evaluated_name, module, alias.evaluated_name)
                for alias in node.names]
    bindings = []
    for alias in node.names:
        name = alias.evaluated_name
        bound = alias.evaluated_alias or name.partition(".")[0]
        bindings.append((bound, name, ""))
    return bindings


def _module_name(node: cst.ImportFrom) -> str:
    """The module ``node`` imports from, without its leading dots."""
    return "" if node.module is None else _dotted(node.module) or ""


def _statements(suite: cst.BaseSuite) -> Sequence[cst.BaseStatement]:
    """The statements of a block, a one-line suite (``if x: a; b``) as one line."""
    if isinstance(suite, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=suite.body)]
    assert isinstance(suite, cst.IndentedBlock)
    return suite.body


def _is_string(node: cst.BaseExpression) -> bool:
    """A string literal, implicitly concatenated or not, without f-strings."""
    while isinstance(node, cst.ConcatenatedString):  # nested on the right, maybe deeply
        if not isinstance(node.left, cst.SimpleString):
            return False
        node = node.right
    return isinstance(node, cst.SimpleString)


def _is_string_sequence(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.List, cst.Tuple)) and all(
        isinstance(element, cst.Element) and _is_string(element.value)
        for element in node.elements)


def _is_simple_literal(node: cst.BaseExpression) -> bool:
    """A literal whose type a ``Final`` declaration takes: numbers, strings, bool, None."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
        return True
    if isinstance(node, cst.Name):
        return node.value in {"True", "False", "None"}
    return _is_string(node)


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _string_prefix(node: cst.BaseExpression) -> str:
    while isinstance(node, cst.ConcatenatedString):
        node = node.left
    return node.prefix.lower() if isinstance(node, (cst.SimpleString, cst.FormattedString)) else ""


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _is_sunder(name: str) -> bool:
    return len(name) > 2 and name[0] == name[-1] == "_" and name[1] != "_" and name[-2] != "_"


def _is_constant_name(name: str) -> bool:
    """``O_RDONLY``, ``S_IWUSR``: the spelling of a constant (capitals with an underscore),
    never of a class or type variable."""
    return "_" in name.strip("_") and name.isupper()


def _is_capwords(name: str) -> bool:
    return name[:1].isupper() and not name.isupper()


def _ellipsis_suite(comment: cst.Comment | None = None) -> cst.SimpleStatementSuite:
    return cst.SimpleStatementSuite(body=[cst.Expr(cst.Ellipsis())],
                                    trailing_whitespace=_trailing(comment))


# -- type: ignore comments ------------------------------------------------------------------

#: The comments a stub keeps: they silence errors that its statements still have.
_IGNORE_COMMENT = re.compile(r"#\s*(?:type|pyright)\s*:\s*ignore\b(?:\[(?P<codes>[^\]]*)\])?")
#: Error codes (mypy, pyright) about a class attribute overriding its base's declaration.
_OVERRIDE_CODES = frozenset({"assignment", "override", "misc", "reportIncompatibleVariableOverride",
                             "reportAssignmentType"})


def _ignore_comment(whitespace: cst.TrailingWhitespace) -> cst.Comment | None:
    comment = whitespace.comment
    return comment if comment is not None and _IGNORE_COMMENT.match(comment.value) else None


def _suite_comment(suite: cst.BaseSuite) -> cst.Comment | None:
    """The ignore comment on the line of a ``def``'s or ``class``'s colon."""
    if isinstance(suite, cst.IndentedBlock):
        return _ignore_comment(suite.header)
    assert isinstance(suite, cst.SimpleStatementSuite)
    return _ignore_comment(suite.trailing_whitespace)


def _trailing(comment: cst.Comment | None) -> cst.TrailingWhitespace:
    if comment is None:
        return cst.TrailingWhitespace()
    return cst.TrailingWhitespace(whitespace=cst.SimpleWhitespace("  "), comment=comment)


def _is_override_ignore(comment: cst.Comment) -> bool:
    match = _IGNORE_COMMENT.match(comment.value)
    if match is None:
        return False
    codes = match.group("codes")
    return codes is None or bool(
        _OVERRIDE_CODES.intersection(code.strip() for code in codes.split(",")))


def _line(statement: cst.BaseSmallStatement) -> cst.SimpleStatementLine:
    statement = statement.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return cst.SimpleStatementLine(body=[statement])


def _declaration(name: str, annotation: cst.BaseExpression,
                 value: cst.BaseExpression | None = None) -> cst.SimpleStatementLine:
    return _line(cst.AnnAssign(target=cst.Name(name), annotation=cst.Annotation(annotation),
                               value=value))


def _with_aliases(node: cst.ImportFrom | cst.Import,
                  aliases: Sequence[cst.ImportAlias]) -> cst.ImportFrom | cst.Import:
    """``node`` importing only ``aliases``, on one line."""
    kept = [alias.with_changes(comma=cst.MaybeSentinel.DEFAULT) for alias in aliases]
    if isinstance(node, cst.ImportFrom):
        return node.with_changes(names=kept, lpar=None, rpar=None)
    return node.with_changes(names=kept)


# -- what the module binds --------------------------------------------------------------------

@dataclass
class _Names:
    """The names a module or class body binds at its own level (also inside its ``if``,
    ``try``, loop and ``with`` blocks)."""

    bound: set[str] = field(default_factory=set)
    #: bound name -> (module, imported name); ``import a.b`` gives ("a.b", "").
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)
    class_names: set[str] = field(default_factory=set)
    #: ``T = TypeVar("T")`` and the like.
    type_variables: set[str] = field(default_factory=set)
    star_import: bool = False

    @classmethod
    def scan(cls, statements: Sequence[cst.BaseStatement]) -> _Names:
        names = cls()
        names._scan(statements)
        return names

    def _scan(self, statements: Sequence[cst.BaseStatement]) -> None:
        for statement in statements:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    self._scan_small(small)
            elif isinstance(statement, cst.FunctionDef):
                self.bound.add(statement.name.value)
            elif isinstance(statement, cst.ClassDef):
                self.bound.add(statement.name.value)
                self.class_names.add(statement.name.value)
            else:
                for target in _compound_targets(statement):
                    self.bound.update(_target_names(target))
                for block in _compound_blocks(statement):
                    self._scan(block)

    def _scan_small(self, small: cst.BaseSmallStatement) -> None:
        if isinstance(small, cst.Assign):
            for target in small.targets:
                self.bound.update(_target_names(target.target))
            if (isinstance(small.value, cst.Call)
                    and _last_name(small.value.func) in _TYPE_VARIABLE_FACTORIES):
                self.type_variables.update(
                    name for target in small.targets for name in _target_names(target.target))
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
            self.bound.update(_target_names(small.target))
        elif isinstance(small, cst.TypeAlias):
            self.bound.add(small.name.value)
        elif isinstance(small, (cst.Import, cst.ImportFrom)):
            if isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar):
                self.star_import = True
            for bound, module, name in _import_bindings(small):
                self.bound.add(bound)
                self.imported[bound] = (module, name)


def _has_literal_all(statements: Sequence[cst.BaseStatement]) -> bool:
    """Whether the module assigns ``__all__`` a literal list or tuple of strings."""
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                value = small.value if isinstance(small, (cst.Assign, cst.AnnAssign)) else None
                targets = ([target.target for target in small.targets]
                           if isinstance(small, cst.Assign) else
                           [small.target] if isinstance(small, cst.AnnAssign) else [])
                if (value is not None and _is_string_sequence(value)
                        and any(_dotted(target) == "__all__" for target in targets)):
                    return True
        elif not isinstance(statement, (cst.FunctionDef, cst.ClassDef)) and any(
                _has_literal_all(block) for block in _compound_blocks(statement)):
            return True
    return False


def _compound_blocks(statement: cst.BaseStatement) -> list[Sequence[cst.BaseStatement]]:
    """Every block of a compound statement other than a function or class."""
    blocks: list[Sequence[cst.BaseStatement]] = []
    if isinstance(statement, cst.If):
        blocks.append(_statements(statement.body))
        if statement.orelse is not None:
            blocks.extend(_compound_blocks(statement.orelse) if isinstance(statement.orelse, cst.If)
                          else [_statements(statement.orelse.body)])
    elif isinstance(statement, (cst.Try, cst.TryStar)):
        blocks.append(_statements(statement.body))
        blocks.extend(_statements(handler.body) for handler in statement.handlers)
        for extra in (statement.orelse, statement.finalbody):
            if extra is not None:
                blocks.append(_statements(extra.body))
    elif isinstance(statement, (cst.For, cst.While)):
        blocks.append(_statements(statement.body))
        if statement.orelse is not None:
            blocks.append(_statements(statement.orelse.body))
    elif isinstance(statement, cst.With):
        blocks.append(_statements(statement.body))
    elif isinstance(statement, cst.Match):
        blocks.extend(_statements(case.body) for case in statement.cases)
    return blocks


def _compound_targets(statement: cst.BaseStatement) -> list[cst.BaseExpression]:
    """The targets a compound statement binds itself (``for x in``, ``with ... as x``)."""
    if isinstance(statement, cst.For):
        return [statement.target]
    if isinstance(statement, cst.With):
        return [item.asname.name for item in statement.items if item.asname is not None]
    return []


# -- conditions a checker evaluates ----------------------------------------------------------

def _is_type_checking(test: cst.BaseExpression) -> bool:
    return _dotted(test) in {"TYPE_CHECKING", "typing.TYPE_CHECKING",
                             "typing_extensions.TYPE_CHECKING"}


def _is_main_check(test: cst.BaseExpression) -> bool:
    """``__name__ == "__main__"``: code for running the module as a script."""
    if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, cst.Equal)):
        return False
    sides = [test.left, test.comparisons[0].comparator]
    return any(_dotted(side) == "__name__" for side in sides) and any(
        isinstance(side, cst.SimpleString) and side.evaluated_value == "__main__"
        for side in sides)


def _is_checker_condition(test: cst.BaseExpression) -> bool:
    """Only ``sys.version_info``/``sys.platform`` tests and ``TYPE_CHECKING``, combined with
    ``not``/``and``/``or``: the conditions both mypy and pyright evaluate."""
    if _is_type_checking(test):
        return True
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _is_checker_condition(test.expression)
    if isinstance(test, cst.BooleanOperation):
        return _is_checker_condition(test.left) and _is_checker_condition(test.right)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        left = test.left.value if isinstance(test.left, cst.Subscript) else test.left
        return _dotted(left) in {"sys.version_info", "sys.platform"}
    if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute):
        return (_dotted(test.func) == "sys.platform.startswith" and len(test.args) == 1
                and _is_string(test.args[0].value))
    return False


def _if_chain(node: cst.If) -> Iterator[cst.If]:
    while True:
        yield node
        if not isinstance(node.orelse, cst.If):
            return
        node = node.orelse


# -- the stub builder -------------------------------------------------------------------------

class _Kind(enum.Enum):
    """What an entry of a block defines; decides which of two definitions of a name stays."""

    IMPORT = "import"
    FUNCTION = "function"
    #: An ``@overload`` variant: all stay, the implementation goes.
    OVERLOAD = "overload"
    #: ``@x.setter`` and the like: belong to the property ``x``.
    ACCESSOR = "accessor"
    CLASS = "class"
    #: ``x: T``: an explicit declaration wins over every other definition.
    DECLARATION = "declaration"
    #: ``x = ...`` in the source: the weakest definition.
    ASSIGNMENT = "assignment"
    #: Kept checks and ``__all__`` updates: never merged.
    OTHER = "other"


class _Ignores(enum.Enum):
    """Which ``# type: ignore`` comments of its source line a stub statement keeps."""

    #: None: the statement is new, the errors they silenced are gone.
    NONE = "none"
    #: All: the statement is the source's (an import, an alias, a declaration).
    ALL = "all"
    #: Those about overriding a base class's declaration, or without error codes: a class
    #: attribute whose value became ``...``.
    OVERRIDE = "override"


@dataclass
class _Entry:
    node: cst.BaseStatement
    kind: _Kind
    names: tuple[str, ...] = ()
    ignores: _Ignores = _Ignores.NONE
    #: The helper names (``Incomplete``...) the statement uses.
    helpers: frozenset[_Helper] = frozenset()


class _ClassKind(enum.Enum):
    PLAIN = "plain"
    ENUM = "enum"
    #: ``@dataclass``: annotated class variables are fields; others need ``field(init=False)``.
    DATACLASS = "dataclass"
    #: attrs, ``NamedTuple``, pydantic...: annotated class variables are fields.
    FIELDS = "fields"


@dataclass
class _Scope:
    """Where a block stands: the module, or a class of a given kind."""

    names: _Names
    class_kind: _ClassKind | None = None
    #: The type variables a class binds (``class Box(Generic[T])``, ``class Box[T]``).
    type_variables: frozenset[str] = frozenset()

    @property
    def in_class(self) -> bool:
        return self.class_kind is not None


@dataclass(eq=False)
class _Helper:
    """A name the stub may need from elsewhere (``Incomplete``), and how it is spelled."""

    module: str
    name: str
    spelling: str = ""
    import_needed: bool = False

    def reference(self) -> cst.Name:
        return cst.Name(self.spelling)

    def import_statement(self) -> cst.SimpleStatementLine | None:
        """The import the stub needs for this name, if any."""
        if not self.import_needed:
            return None
        alias = None if self.spelling == self.name else cst.AsName(cst.Name(self.spelling))
        return _line(cst.ImportFrom(module=cst.Name(self.module),
                                    names=[cst.ImportAlias(cst.Name(self.name), asname=alias)]))


def _helper(names: _Names, module: str, name: str, *also_from: str,
            private: bool = False) -> _Helper:
    """Reuse the module's own import of ``module.name`` (or of the name from one of
    ``also_from``), else import it under a name nothing else binds (a private one if asked)."""
    if not private and names.imported.get(name) in {(source, name)
                                                    for source in (module, *also_from)}:
        return _Helper(module, name, spelling=name)
    spelling = f"_{name}" if private else name
    while spelling in names.bound:
        spelling = f"_{spelling}"
    return _Helper(module, name, spelling=spelling, import_needed=True)


class _StubBuilder:
    """Builds the stub's statements block by block (see the module docstring)."""

    def __init__(self, module: cst.Module, module_name: str | None) -> None:
        self.names = _Names.scan(module.body)
        #: The top-level package of the module, whose imports are its own.
        self.package = None if module_name is None else module_name.partition(".")[0]
        #: Whether the stub has an ``__all__`` (only a literal one is kept), which then
        #: decides what the module re-exports.
        self.keeps_all = _has_literal_all(module.body)
        self.incomplete = _helper(self.names, "_typeshed", "Incomplete")
        self.class_var = _helper(self.names, "typing", "ClassVar", "typing_extensions")
        self.field = _helper(self.names, "dataclasses", "field")
        #: ``field`` where a dataclass has an attribute of that name.
        self.private_field = _helper(self.names, "dataclasses", "field", private=True)
        self._class_kinds: dict[str, _ClassKind] = {}
        self._declared: dict[str, set[str]] = {}

    # -- blocks ----------------------------------------------------------------------------
    def module(self, module: cst.Module) -> list[cst.BaseStatement]:
        entries = self._block(module.body, _Scope(self.names))
        used = _helpers_of(entries)
        helpers = (self.incomplete, self.class_var, self.field, self.private_field)
        imports = [statement for helper in helpers
                   if helper in used and (statement := helper.import_statement()) is not None]
        body = [entry.node for entry in entries]
        if "TYPE_CHECKING" in self.names.imported:
            body = _without_unused_type_checking(body)
        return _insert_imports(body, imports)

    def _block(self, statements: Sequence[cst.BaseStatement], scope: _Scope) -> list[_Entry]:
        entries = [entry for statement in statements
                   for entry in self._entries(statement, scope)]
        return _resolve_duplicates(entries)

    def _entries(self, statement: cst.BaseStatement, scope: _Scope) -> list[_Entry]:
        if isinstance(statement, cst.SimpleStatementLine):
            comment = _ignore_comment(statement.trailing_whitespace)
            return [_with_ignore(entry, comment)
                    for small in statement.body for entry in self._small(small, scope)]
        if isinstance(statement, cst.FunctionDef):
            return [self._function(statement)]
        if isinstance(statement, cst.ClassDef):
            return [self._class(statement, scope)]
        if isinstance(statement, cst.If):
            return self._if(statement, scope)
        if isinstance(statement, (cst.Try, cst.TryStar)):
            primary = [_statements(statement.body)] + [
                _statements(extra.body) for extra in (statement.orelse, statement.finalbody)
                if extra is not None]
            return self._flatten(primary, [_statements(handler.body)
                                           for handler in statement.handlers], scope)
        if isinstance(statement, (cst.For, cst.While, cst.With)):
            targets = [self._variable(name, scope) for target in _compound_targets(statement)
                       for name in _target_names(target)]
            return targets + self._flatten(_compound_blocks(statement), [], scope)
        if isinstance(statement, cst.Match):
            blocks = _compound_blocks(statement)
            return self._flatten(blocks[:1], blocks[1:], scope)
        return []

    def _flatten(self, primary: Sequence[Sequence[cst.BaseStatement]],
                 alternatives: Sequence[Sequence[cst.BaseStatement]],
                 scope: _Scope) -> list[_Entry]:
        """The definitions of blocks a checker cannot choose between: all of the primary
        blocks', then those of each alternative that define a name not yet defined."""
        entries = [entry for block in primary for statement in block
                   for entry in self._entries(statement, scope)]
        defined = {name for entry in entries for name in entry.names}
        for block in alternatives:
            for statement in block:
                for entry in self._entries(statement, scope):
                    kept = _without_names(entry, defined)
                    if kept is not None:
                        entries.append(kept)
                        defined.update(kept.names)
        return entries

    def _if(self, node: cst.If, scope: _Scope) -> list[_Entry]:
        if _is_type_checking(node.test):  # always true in a stub; the else is the runtime's
            return self._flatten([_statements(node.body)], [], scope)
        negated = node.test
        if _is_main_check(node.test) or (
                isinstance(negated, cst.UnaryOperation) and isinstance(negated.operator, cst.Not)
                and _is_type_checking(negated.expression)):
            # Runs only as a script, or never for a checker: the else branch is the module's.
            orelse = node.orelse
            if isinstance(orelse, cst.If):
                return self._entries(orelse, scope)
            return [] if orelse is None else self._flatten([_statements(orelse.body)], [], scope)
        if all(_is_checker_condition(branch.test) for branch in _if_chain(node)):
            kept = self._check(node, scope)
            return [] if kept is None else [_Entry(kept[0], _Kind.OTHER, helpers=kept[1])]
        blocks = _compound_blocks(node)
        return self._flatten(blocks[:1], blocks[1:], scope)

    def _check(self, node: cst.If, scope: _Scope
               ) -> tuple[cst.If, frozenset[_Helper]] | None:
        """A kept ``if sys.version_info ...`` chain, each branch a block, and the helpers
        it uses; None if it is left empty."""
        entries = self._block(_statements(node.body), scope)
        helpers = _helpers_of(entries)
        body = [entry.node for entry in entries]
        orelse: cst.If | cst.Else | None = None
        if isinstance(node.orelse, cst.If):
            kept = self._check(node.orelse, scope)
            if kept is not None:
                orelse, helpers = kept[0], helpers | kept[1]
        elif node.orelse is not None:
            else_entries = self._block(_statements(node.orelse.body), scope)
            if else_entries:
                orelse = cst.Else(body=cst.IndentedBlock(
                    body=[entry.node for entry in else_entries]))
                helpers |= _helpers_of(else_entries)
        if not body and orelse is None:
            return None
        if not body:
            body = [_line(cst.Expr(cst.Ellipsis()))]
        return node.with_changes(body=cst.IndentedBlock(body=body), orelse=orelse,
                                 leading_lines=[]), helpers

    # -- simple statements ----------------------------------------------------------------
    def _small(self, small: cst.BaseSmallStatement, scope: _Scope) -> list[_Entry]:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            return self._import(small, scope)
        if isinstance(small, cst.Assign):
            return self._assign(small, scope)
        if isinstance(small, cst.AnnAssign):
            return self._annotated(small, scope)
        if isinstance(small, cst.TypeAlias):
            return [_Entry(_line(small), _Kind.DECLARATION, (small.name.value,),
                           ignores=_Ignores.ALL)]
        if self._is_all_update(small, scope):
            return [_Entry(_line(small), _Kind.OTHER)]
        return []

    def _import(self, node: cst.Import | cst.ImportFrom, scope: _Scope) -> list[_Entry]:
        """An import as written (in a class too, where it binds a class attribute)."""
        if isinstance(node, cst.ImportFrom):
            if _module_name(node) == "__future__":
                return []
            if (self._is_own_import(node) and not self.keeps_all and not scope.in_class
                    and not isinstance(node.names, cst.ImportStar)):
                return self._reexport(node)
        names = tuple(bound for bound, _, _ in _import_bindings(node))
        return [_Entry(_line(node), _Kind.IMPORT, names, ignores=_Ignores.ALL)]

    def _is_own_import(self, node: cst.ImportFrom) -> bool:
        """Whether ``node`` imports from the module's own package (relative, or absolute
        when the package is known)."""
        module = _module_name(node)
        return bool(node.relative) or (self.package is not None and (
            module == self.package or module.startswith(f"{self.package}.")))

    def _reexport(self, node: cst.ImportFrom) -> list[_Entry]:
        """An import from the module's own package, spelled as a re-export for its public
        names: ``X`` as ``X as X``; a renamed ``X as Y`` (which no import re-exports) as a
        private import and ``Y = _Y``."""
        assert not isinstance(node.names, cst.ImportStar)
        aliases: list[cst.ImportAlias] = []
        renamed: list[_Entry] = []
        for alias in node.names:
            imported = alias.evaluated_name
            bound = alias.evaluated_alias or imported
            if bound.startswith("_") or not isinstance(alias.name, cst.Name):
                aliases.append(alias)
            elif bound == imported:
                aliases.append(alias.with_changes(asname=cst.AsName(cst.Name(bound))))
            else:
                private = f"_{bound}"
                while private in self.names.bound:
                    private = f"_{private}"
                aliases.append(alias.with_changes(asname=cst.AsName(cst.Name(private))))
                renamed.append(_Entry(_line(cst.Assign(targets=[cst.AssignTarget(
                    cst.Name(bound))], value=cst.Name(private))), _Kind.ASSIGNMENT, (bound,)))
        node = node.with_changes(names=aliases)
        names = tuple(bound for bound, _, _ in _import_bindings(node))
        return [_Entry(_line(node), _Kind.IMPORT, names, ignores=_Ignores.ALL), *renamed]

    def _is_all_update(self, small: cst.BaseSmallStatement, scope: _Scope) -> bool:
        """``__all__ += [...]``, ``__all__ += mod.__all__``, ``__all__.extend([...])``..."""
        if scope.in_class or not self.keeps_all:
            return False
        if isinstance(small, cst.AugAssign):
            return (_dotted(small.target) == "__all__" and isinstance(small.operator, cst.AddAssign)
                    and (_is_string_sequence(small.value)
                         or (_dotted(small.value) or "").endswith(".__all__")))
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            dotted = _dotted(call.func) or ""
            receiver, _, method = dotted.partition(".")
            if receiver != "__all__" or method not in _ALL_METHODS or len(call.args) != 1:
                return False
            argument = call.args[0].value
            return (_is_string(argument) or _is_string_sequence(argument)
                    or (_dotted(argument) or "").endswith(".__all__"))
        return False

    def _assign(self, node: cst.Assign, scope: _Scope) -> list[_Entry]:
        entries = []
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                entry = self._assignment(target.target.value, node.value, scope)
                entries.extend([] if entry is None else [entry])
            else:  # unpacking: the values are not worth taking apart
                entries.extend(_member(name) if _is_member_of(name, scope)
                               else self._variable(name, scope)
                               for name in _target_names(target.target))
        return entries

    def _assignment(self, name: str, value: cst.BaseExpression, scope: _Scope
                    ) -> _Entry | None:
        """``name = value``: kept as written where the value is a definition or a literal
        dunder, a member in an enum, else a declared variable; a computed ``__all__`` (or
        ``__slots__``) is left out, checkers do not evaluate it."""
        as_written = _Entry(_line(cst.Assign(targets=[cst.AssignTarget(cst.Name(name))],
                                             value=value)),
                            _Kind.ASSIGNMENT, (name,), ignores=_Ignores.ALL)
        if name in _LITERAL_DUNDERS:
            literal = _is_string_sequence(value) or (name == "__slots__" and _is_string(value))
            return as_written if literal else None
        if _is_member_of(name, scope):
            if isinstance(value, cst.Name) and value.value in scope.names.bound:
                return as_written  # an alias of another member
            return _member(name)
        if self._is_definition(value, scope) or self._is_static(value, scope):
            return as_written
        if _is_string(value) or isinstance(value, cst.FormattedString):
            # A string too long to repeat in a stub.
            kind = "bytes" if _string_prefix(value).count("b") else "str"
            return _Entry(_declaration(name, cst.Name(kind)), _Kind.ASSIGNMENT, (name,))
        return self._variable(name, scope)

    def _variable(self, name: str, scope: _Scope) -> _Entry:
        """``name: Incomplete``: a variable bound by code a stub does not keep."""
        annotation: cst.BaseExpression = self.incomplete.reference()
        helpers = {self.incomplete}
        if scope.class_kind in {_ClassKind.DATACLASS, _ClassKind.FIELDS}:
            # A bare annotation would make a field; the source has a class variable.
            annotation = cst.Subscript(value=self.class_var.reference(),
                                       slice=[cst.SubscriptElement(cst.Index(annotation))])
            helpers.add(self.class_var)
        return _Entry(_declaration(name, annotation), _Kind.ASSIGNMENT, (name,),
                      helpers=frozenset(helpers))

    def _annotated(self, node: cst.AnnAssign, scope: _Scope) -> list[_Entry]:
        if not isinstance(node.target, cst.Name):
            return []
        name = node.target.value
        annotation = node.annotation.annotation
        value = node.value
        last = _last_name(annotation)
        if value is None:
            return [_Entry(_declaration(name, annotation), _Kind.DECLARATION, (name,),
                           ignores=_Ignores.ALL)]
        if (last == "TypeAlias" or (name in _LITERAL_DUNDERS and _is_string_sequence(value))
                or (last == "Final" and _is_simple_literal(value))):
            return [_Entry(_declaration(name, annotation, value), _Kind.DECLARATION, (name,),
                           ignores=_Ignores.ALL)]
        helpers: frozenset[_Helper] = frozenset()
        if last == "Final" and not isinstance(annotation, cst.Subscript):
            # ``Final`` takes its type from the value, which is not repeated.
            annotation = cst.Subscript(value=annotation, slice=[
                cst.SubscriptElement(cst.Index(self.incomplete.reference()))])
            helpers = frozenset({self.incomplete})
        if not scope.in_class:
            return [_Entry(_declaration(name, annotation), _Kind.DECLARATION, (name,),
                           helpers=helpers)]
        if _is_member_of(name, scope):
            return self._assign(cst.Assign(targets=[cst.AssignTarget(node.target)],
                                           value=value), scope)
        # A class attribute with a value: an error about overriding the base class's
        # declaration is still there, so is the ``# type: ignore`` for it.
        return [_Entry(_declaration(name, annotation, _class_default(value)),
                       _Kind.DECLARATION, (name,), ignores=_Ignores.OVERRIDE, helpers=helpers)]

    def _is_definition(self, value: cst.BaseExpression, scope: _Scope) -> bool:
        """A value a stub keeps as written: a type-level call, a type expression or a
        reference to a name the stub has."""
        if isinstance(value, cst.Call):
            last = _last_name(value.func)
            if last in _TYPE_FACTORIES:
                return True
            return (last in _ENUM_BASES and bool(value.args)
                    and _is_string(value.args[0].value))
        return self._is_type_expression(value, scope)

    def _is_static(self, value: cst.BaseExpression, scope: _Scope) -> bool:
        """A short literal, or a tuple of literals and names: kept, a checker infers its
        type as it does in the source (also against a base class's declaration, which a
        bare ``x: Incomplete`` could contradict)."""
        if isinstance(value, cst.ConcatenatedString) or _dotted(value) == "None":
            return False
        return self._is_literal_tuple(value, scope) and len(_code(value)) <= _MAX_VALUE_LENGTH

    def _is_literal_tuple(self, value: cst.BaseExpression, scope: _Scope) -> bool:
        if _is_simple_literal(value):
            return True
        if isinstance(value, cst.Tuple):
            return bool(value.elements) and all(
                isinstance(element, cst.Element)
                and (self._is_literal_tuple(element.value, scope)
                     or self._is_type_expression(element.value, scope))
                for element in value.elements)
        return False

    def _is_type_expression(self, value: cst.BaseExpression, scope: _Scope,
                            in_union: bool = False) -> bool:
        if isinstance(value, (cst.Name, cst.Attribute)):
            dotted = _dotted(value)
            if dotted is None:
                return False
            if dotted in _CONSTANTS:
                return in_union and dotted == "None"
            if in_union and _is_constant_name(dotted.rpartition(".")[2]):
                return False  # ``os.O_RDONLY | os.O_CREAT`` combines flags: not a type
            return self._is_available(dotted.partition(".")[0], scope)
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.BitOr):
            return (self._is_type_expression(value.left, scope, in_union=True)
                    and self._is_type_expression(value.right, scope, in_union=True))
        if isinstance(value, cst.Subscript):
            base = _dotted(value.value)
            if base is None or not self._is_available(base.partition(".")[0], scope):
                return False
            if not all(isinstance(element.slice, cst.Index) for element in value.slice):
                return False
            last = base.rpartition(".")[2]
            return (last in _LOWER_CASE_GENERICS or _is_capwords(last)
                    or last in self.names.class_names)
        return False

    def _is_available(self, name: str, scope: _Scope) -> bool:
        """Whether ``name`` means something in the stub at this point."""
        return (name in _BUILTINS or name in self.names.bound or name in scope.names.bound
                or self.names.star_import)

    # -- functions ---------------------------------------------------------------------------
    def _function(self, node: cst.FunctionDef) -> _Entry:
        decorators = _decorator_names(node.decorators)
        name = node.name.value
        kind = _Kind.FUNCTION
        if any(d.rpartition(".")[2] == "overload" for d in decorators):
            kind = _Kind.OVERLOAD
        elif any(d.partition(".")[0] == name and d.partition(".")[2] in _ACCESSORS
                 for d in decorators):
            kind = _Kind.ACCESSOR
        stub = node.with_changes(params=_stub_parameters(node.params),
                                 body=_ellipsis_suite(_suite_comment(node.body)),
                                 leading_lines=[], lines_after_decorators=[])
        return _Entry(stub, kind, (name,))

    # -- classes -----------------------------------------------------------------------------
    def _class(self, node: cst.ClassDef, outer: _Scope) -> _Entry:
        name = node.name.value
        class_kind = self._class_kind(node, register=not outer.in_class)
        scope = _Scope(_Names.scan(_statements(node.body)), class_kind,
                       _class_type_variables(node))
        entries = self._block(_statements(node.body), scope)
        declared = {entry_name for entry in entries for entry_name in entry.names}
        declared.update(scope.names.bound)
        inherited = self._inherited_declarations(node)
        attributes = [entry for attribute, annotation in _assigned_attributes(node).items()
                      if attribute not in declared and attribute not in inherited
                      for entry in self._attribute(attribute, annotation, scope)]
        declared.update(entry.names[0] for entry in attributes)
        if not outer.in_class:
            self._declared[name] = declared | inherited
        entries = _insert_before_methods(entries, attributes)
        comment = _suite_comment(node.body)
        if comment is None and class_kind is _ClassKind.ENUM and not _has_members(entries):
            # mypy rejects an enum without members in a stub (it cannot tell one from an
            # enum whose members are written ``x: int``), but a base enum that only adds
            # methods is what the source has.
            comment = cst.Comment("# type: ignore[misc]")
        body: cst.BaseSuite = _ellipsis_suite(comment)
        if entries:
            body = cst.IndentedBlock(body=[entry.node for entry in entries],
                                     header=_trailing(comment))
        stub = node.with_changes(body=body, leading_lines=[], lines_after_decorators=[])
        return _Entry(stub, _Kind.CLASS, (name,), helpers=_helpers_of(entries))

    def _class_kind(self, node: cst.ClassDef, register: bool) -> _ClassKind:
        """Whether ``node`` is an enum or a dataclass-like class, from its decorators and
        its bases (following module-level bases defined earlier, which ``register`` adds
        to)."""
        kind = self._own_class_kind(node)
        if register:
            # A decorator does not make subclasses dataclass-like; a base class does.
            self._class_kinds[node.name.value] = (
                _ClassKind.PLAIN if kind is _ClassKind.DATACLASS else kind)
        return kind

    def _own_class_kind(self, node: cst.ClassDef) -> _ClassKind:
        decorators = _decorator_names(node.decorators)
        if any(d in _FIELD_DECORATORS or d.rpartition(".")[2] in _FIELD_DECORATORS
               for d in decorators):
            if any(d in {"dataclass", "dataclasses.dataclass"} for d in decorators):
                return _ClassKind.DATACLASS
            return _ClassKind.FIELDS
        kind = _ClassKind.PLAIN
        for base in node.bases:
            if base.keyword is not None:
                continue
            base_expression = base.value
            if isinstance(base_expression, cst.Subscript):
                base_expression = base_expression.value
            last = _last_name(base_expression) or ""
            if last in _ENUM_BASES or self._class_kinds.get(last) is _ClassKind.ENUM:
                kind = _ClassKind.ENUM
            elif last in _FIELD_BASES or self._class_kinds.get(last) is _ClassKind.FIELDS:
                kind = _ClassKind.FIELDS
        return kind

    def _inherited_declarations(self, node: cst.ClassDef) -> set[str]:
        """What the module's classes that ``node`` derives from declare (stubbed already)."""
        inherited: set[str] = set()
        for base in node.bases:
            expression = base.value
            if isinstance(expression, cst.Subscript):  # Base[int]
                expression = expression.value
            base_name = _dotted(expression) if base.keyword is None else None
            if base_name in self._declared and base_name != node.name.value:
                inherited.update(self._declared[base_name])
        return inherited

    def _attribute(self, name: str, annotation: cst.BaseExpression | None,
                   scope: _Scope) -> list[_Entry]:
        """The class-level declaration of an attribute that methods assign."""
        if scope.class_kind is _ClassKind.FIELDS:
            return []  # such classes reject undeclared attributes at run time
        helpers: set[_Helper] = set()
        if annotation is None or not self._names_available(annotation, scope):
            annotation = self.incomplete.reference()
            helpers.add(self.incomplete)
        value = None
        if scope.class_kind is _ClassKind.DATACLASS:
            field_name = self.field
            if field_name.spelling in scope.names.bound:
                field_name = self.private_field
            helpers.add(field_name)
            value = cst.Call(func=field_name.reference(), args=[
                cst.Arg(keyword=cst.Name("init"), value=cst.Name("False"),
                        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                              whitespace_after=cst.SimpleWhitespace("")))])
        return [_Entry(_declaration(name, annotation, value), _Kind.DECLARATION, (name,),
                       helpers=frozenset(helpers))]

    def _names_available(self, expression: cst.BaseExpression, scope: _Scope) -> bool:
        """Whether an annotation taken out of a method means the same in the class body:
        no name local to the method, no type variable the class does not bind."""
        collector = _RootNames()
        expression.visit(collector)
        return all((self._is_available(name, scope) and name not in self.names.type_variables)
                   or name in scope.type_variables for name in collector.names)


class _RootNames(cst.CSTVisitor):
    """The names an expression looks up (not attribute names or keywords)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


# -- functions -----------------------------------------------------------------------------

def _stub_parameter(param: cst.Param) -> cst.Param:
    """The parameter with its default as ``...``, ``=`` spaced the PEP 8 way."""
    if param.default is None:
        return param
    space = cst.SimpleWhitespace(" " if param.annotation is not None else "")
    return param.with_changes(default=cst.Ellipsis(), equal=cst.AssignEqual(
        whitespace_before=space, whitespace_after=space))


def _stub_parameters(params: cst.Parameters) -> cst.Parameters:
    star_arg = params.star_arg
    if isinstance(star_arg, cst.Param):
        star_arg = _stub_parameter(star_arg)
    star_kwarg = params.star_kwarg
    return params.with_changes(
        posonly_params=[_stub_parameter(p) for p in params.posonly_params],
        params=[_stub_parameter(p) for p in params.params],
        star_arg=star_arg,
        kwonly_params=[_stub_parameter(p) for p in params.kwonly_params],
        star_kwarg=None if star_kwarg is None else _stub_parameter(star_kwarg),
    )


# -- classes -------------------------------------------------------------------------------

def _class_type_variables(node: cst.ClassDef) -> frozenset[str]:
    """The names in a class's bases (where its type variables are bound) and its PEP 695
    type parameters."""
    collector = _RootNames()
    for base in node.bases:
        base.value.visit(collector)
    if node.type_parameters is not None:
        collector.names.update(parameter.param.name.value
                               for parameter in node.type_parameters.params)
    return frozenset(collector.names)


def _is_member_of(name: str, scope: _Scope) -> bool:
    """Whether assigning ``name`` in ``scope`` defines an enum member."""
    return scope.class_kind is _ClassKind.ENUM and _is_enum_member(name)


def _member(name: str) -> _Entry:
    return _Entry(_line(cst.Assign(targets=[cst.AssignTarget(cst.Name(name))],
                                   value=cst.Ellipsis())), _Kind.ASSIGNMENT, (name,))


def _has_members(entries: Sequence[_Entry]) -> bool:
    """Whether an enum's stubbed body defines a member (``NAME = ...``)."""
    for entry in entries:
        node = entry.node
        if isinstance(node, cst.SimpleStatementLine) and isinstance(node.body[0], cst.Assign):
            target = node.body[0].targets[0].target
            if isinstance(target, cst.Name) and _is_enum_member(target.value):
                return True
    return False


def _is_enum_member(name: str) -> bool:
    return not (_is_dunder(name) or _is_sunder(name))


def _is_field_specifier(function: cst.BaseExpression) -> bool:
    module, _, name = (_dotted(function) or "").rpartition(".")
    return name in _FIELD_SPECIFIERS and (not module or module.partition(".")[0] in _FIELD_MODULES)


def _class_default(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """What stands after ``x: T =`` in a class: ``...``, or a field specifier call reduced to
    what shapes ``__init__``, or nothing when the field has no default."""
    if not (isinstance(value, cst.Call) and _is_field_specifier(value.func)):
        return cst.Ellipsis()
    keywords = {arg.keyword.value: arg for arg in value.args if arg.keyword is not None}
    positional = [arg for arg in value.args if arg.keyword is None and not arg.star]
    if any(name in keywords for name in _INIT_KEYWORDS):
        first = positional[0] if positional else None  # pydantic's and attrs' default
        kept = [arg.with_changes(comma=cst.MaybeSentinel.DEFAULT) for arg in value.args
                if arg is first or (arg.keyword is not None
                    and arg.keyword.value in _INIT_KEYWORDS | _DEFAULT_KEYWORDS)]
        return value.with_changes(args=kept)
    has_default = any(name in keywords for name in _DEFAULT_KEYWORDS) or (
        bool(positional) and not isinstance(positional[0].value, cst.Ellipsis))
    return cst.Ellipsis() if has_default else None


def _receiver(method: cst.FunctionDef) -> str | None:
    """The name of ``self`` (or ``cls``) in a method; None for a static method."""
    if "staticmethod" in {d.rpartition(".")[2] for d in _decorator_names(method.decorators)}:
        return None
    params = [*method.params.posonly_params, *method.params.params]
    return params[0].name.value if params else None


def _methods(statements: Sequence[cst.BaseStatement]) -> Iterator[cst.FunctionDef]:
    for statement in statements:
        if isinstance(statement, cst.FunctionDef):
            yield statement
        elif not isinstance(statement, (cst.ClassDef, cst.SimpleStatementLine)):
            for block in _compound_blocks(statement):
                yield from _methods(block)


def _assigned_attributes(node: cst.ClassDef) -> dict[str, cst.BaseExpression | None]:
    """Attributes the methods of a class assign (``self.x = ...``), in order, each with the
    first annotation it is given -- or else the annotation of the first parameter assigned
    to it as it is (``self.x = x``), the type checkers give it in the source."""
    explicit: dict[str, cst.BaseExpression | None] = {}
    from_parameters: dict[str, cst.BaseExpression] = {}
    for method in _methods(_statements(node.body)):
        receiver = _receiver(method)
        if receiver is None:
            continue
        parameters = {param.name.value: param.annotation.annotation
                      for param in (*method.params.posonly_params, *method.params.params,
                                    *method.params.kwonly_params)
                      if param.annotation is not None}
        for attribute, annotation, value in _receiver_assignments(_statements(method.body),
                                                                  receiver):
            if explicit.get(attribute) is None:
                explicit[attribute] = annotation
            if isinstance(value, cst.Name) and value.value in parameters:
                from_parameters.setdefault(attribute, parameters[value.value])
    return {attribute: annotation if annotation is not None else from_parameters.get(attribute)
            for attribute, annotation in explicit.items()}


def _receiver_assignments(statements: Sequence[cst.BaseStatement], receiver: str,
                          ) -> Iterator[tuple[str, cst.BaseExpression | None,
                                              cst.BaseExpression | None]]:
    """(attribute, annotation, value) for each ``receiver.attribute`` a method body binds
    (the value only for a plain ``receiver.attribute = value``); nested functions and
    classes are not looked into."""
    def attributes(target: cst.BaseExpression) -> Iterator[str]:
        if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                and target.value.value == receiver):
            yield target.attr.value
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                yield from attributes(element.value)
        elif isinstance(target, cst.StarredElement):
            yield from attributes(target.value)

    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.AnnAssign):
                    for attribute in attributes(small.target):
                        yield attribute, small.annotation.annotation, small.value
                elif isinstance(small, cst.Assign):
                    for assign_target in small.targets:
                        plain = isinstance(assign_target.target, cst.Attribute)
                        for attribute in attributes(assign_target.target):
                            yield attribute, None, small.value if plain else None
        elif not isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            for target in _compound_targets(statement):
                for attribute in attributes(target):
                    yield attribute, None, None
            for block in _compound_blocks(statement):
                yield from _receiver_assignments(block, receiver)


def _insert_before_methods(entries: list[_Entry], attributes: list[_Entry]) -> list[_Entry]:
    """Attribute declarations go after the class's own variables, before its first method."""
    for index, entry in enumerate(entries):
        if isinstance(entry.node, cst.FunctionDef):
            return [*entries[:index], *attributes, *entries[index:]]
    return [*entries, *attributes]


# -- merging definitions ------------------------------------------------------------------------

def _with_ignore(entry: _Entry, comment: cst.Comment | None) -> _Entry:
    """``entry`` with the ignore comment of its source line, where it still applies."""
    if (comment is None or entry.ignores is _Ignores.NONE
            or not isinstance(entry.node, cst.SimpleStatementLine)):
        return entry
    if entry.ignores is _Ignores.OVERRIDE and not _is_override_ignore(comment):
        return entry
    entry.node = entry.node.with_changes(trailing_whitespace=_trailing(comment))
    return entry


def _without_names(entry: _Entry, names: set[str]) -> _Entry | None:
    """``entry`` without its definitions of ``names`` (None when nothing is left)."""
    if not names.intersection(entry.names):
        return entry
    statement = entry.node
    if entry.kind is _Kind.IMPORT and isinstance(statement, cst.SimpleStatementLine):
        node = statement.body[0]
        assert isinstance(node, (cst.Import, cst.ImportFrom))
        assert not isinstance(node.names, cst.ImportStar)
        aliases = [alias for alias, (bound, _, _) in zip(node.names, _import_bindings(node),
                                                                     strict=True)
                   if bound not in names]
        if not aliases:
            return None
        remaining = tuple(bound for bound in entry.names if bound not in names)
        statement = statement.with_changes(body=[_with_aliases(node, aliases)])
        return _Entry(statement, entry.kind, remaining, ignores=entry.ignores)
    return None


_PRIORITY = {_Kind.DECLARATION: 3, _Kind.FUNCTION: 2, _Kind.CLASS: 2, _Kind.ASSIGNMENT: 1}


def _resolve_duplicates(entries: list[_Entry]) -> list[_Entry]:
    """One definition per name in a block (overloads and property accessors excepted):
    a declaration wins, else the last function or class, else the first assignment; a
    variable assigned next to an import of the same name is left to the import."""
    imported = {name for entry in entries if entry.kind is _Kind.IMPORT for name in entry.names}
    by_name: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        if entry.kind in _PRIORITY or entry.kind is _Kind.OVERLOAD:
            for name in entry.names:
                by_name.setdefault(name, []).append(index)
    dropped: set[int] = set()
    for name, indices in by_name.items():
        kinds = [entries[i].kind for i in indices]
        if _Kind.OVERLOAD in kinds:
            dropped.update(i for i in indices if entries[i].kind is not _Kind.OVERLOAD)
            continue
        if name in imported:
            dropped.update(i for i in indices if entries[i].kind is _Kind.ASSIGNMENT)
            indices = [i for i in indices if i not in dropped]
        if len(indices) > 1:
            dropped.update(set(indices) - {_winner(entries, indices)})
    return [entry for index, entry in enumerate(entries) if index not in dropped]


def _winner(entries: list[_Entry], indices: list[int]) -> int:
    """The first declaration, else the last function or class (the one that stands at run
    time), else the first assignment."""
    best = max(_PRIORITY[entries[i].kind] for i in indices)
    candidates = [i for i in indices if _PRIORITY[entries[i].kind] == best]
    last_wins = entries[candidates[0]].kind in {_Kind.FUNCTION, _Kind.CLASS}
    return candidates[-1] if last_wins else candidates[0]


# -- the module around the definitions --------------------------------------------------------

def _uses_name(statements: Iterable[cst.BaseStatement], name: str) -> bool:
    class Finder(cst.CSTVisitor):
        found = False

        def visit_Import(self, node: cst.Import) -> bool:
            return False

        def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
            return False

        def visit_Name(self, node: cst.Name) -> None:
            if node.value == name:
                self.found = True

    finder = Finder()
    for statement in statements:
        statement.visit(finder)
    return finder.found


def _helpers_of(entries: Iterable[_Entry]) -> frozenset[_Helper]:
    return frozenset().union(*(entry.helpers for entry in entries))


def _without_unused_type_checking(statements: list[cst.BaseStatement]
                                  ) -> list[cst.BaseStatement]:
    """The statements, without the ``TYPE_CHECKING`` import once nothing tests it."""
    if _uses_name(statements, "TYPE_CHECKING"):
        return statements
    result: list[cst.BaseStatement] = []
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine) and isinstance(
                statement.body[0], cst.ImportFrom):
            node = statement.body[0]
            if (not isinstance(node.names, cst.ImportStar) and node.module is not None
                    and _dotted(node.module) in {"typing", "typing_extensions"}):
                aliases = [alias for alias in node.names
                           if not (alias.evaluated_name == "TYPE_CHECKING"
                                   and alias.asname is None)]
                if not aliases:
                    continue
                if len(aliases) != len(node.names):
                    statement = _line(_with_aliases(node, aliases))
        result.append(statement)
    return result


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and isinstance(
        statement.body[0], (cst.Import, cst.ImportFrom))


def _insert_imports(statements: list[cst.BaseStatement],
                    imports: list[cst.SimpleStatementLine]) -> list[cst.BaseStatement]:
    """``imports`` at the end of the imports that open the module."""
    position = 0
    while position < len(statements) and _is_import(statements[position]):
        position += 1
    return [*statements[:position], *imports, *statements[position:]]


class _Cleaner(cst.CSTTransformer):
    """Drops blank lines and comments other than ``# type: ignore`` ones (kept on the lines
    of signatures, decorators and the statements copied as written); every line ends with
    the module's newline."""

    def leave_EmptyLine(self, original_node: cst.EmptyLine, updated_node: cst.EmptyLine
                        ) -> cst.RemovalSentinel:
        return cst.RemoveFromParent()

    def leave_TrailingWhitespace(self, original_node: cst.TrailingWhitespace,
                                 updated_node: cst.TrailingWhitespace) -> cst.TrailingWhitespace:
        return _trailing(_ignore_comment(updated_node))

    def leave_Newline(self, original_node: cst.Newline, updated_node: cst.Newline
                      ) -> cst.Newline:
        return cst.Newline()


def _category(statement: cst.BaseStatement) -> str:
    if _is_import(statement):
        return "import"
    if isinstance(statement, cst.ClassDef):
        return "class" if isinstance(statement.body, cst.IndentedBlock) else "short class"
    if isinstance(statement, cst.FunctionDef):
        return "function"
    if isinstance(statement, cst.If):
        return "check"
    return "variable"


def _layout(statements: Sequence[cst.BaseStatement], in_class: bool) -> list[cst.BaseStatement]:
    """Blank lines: around classes with a body and checks; at module level also around
    short classes and between imports, variables and functions."""
    laid_out: list[cst.BaseStatement] = []
    previous: str | None = None
    for statement in statements:
        category = _category(statement)
        if isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
            statement = statement.with_changes(body=statement.body.with_changes(
                body=_layout(statement.body.body, in_class=True)))
        elif isinstance(statement, cst.If):
            statement = _layout_check(statement, in_class)
        blank = previous is not None and (
            "class" in (previous, category) or "check" in (previous, category)
            or (not in_class and (previous != category or category == "short class")))
        leading = [cst.EmptyLine(indent=False)] if blank else []
        laid_out.append(statement.with_changes(leading_lines=leading))
        previous = category
    return laid_out


def _layout_check(node: cst.If, in_class: bool) -> cst.If:
    assert isinstance(node.body, cst.IndentedBlock)
    orelse = node.orelse
    if isinstance(orelse, cst.If):
        orelse = _layout_check(orelse, in_class)
    elif isinstance(orelse, cst.Else):
        assert isinstance(orelse.body, cst.IndentedBlock)
        orelse = orelse.with_changes(body=orelse.body.with_changes(
            body=_layout(orelse.body.body, in_class)))
    return node.with_changes(body=node.body.with_changes(body=_layout(node.body.body, in_class)),
                             orelse=orelse)


# -- entry point ------------------------------------------------------------------------------

def _parse(source: str) -> cst.Module:
    try:
        return parse_libcst(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError) as error:
        message = str(error).splitlines()[0] if str(error) else error.__class__.__name__
        raise StubError(f"cannot parse: {message}") from None


def to_stub(source: str, *, module_name: str | None = None) -> str:
    """The ``.pyi`` stub of the module ``source`` (see the module docstring for the rules).

    ``module_name`` is the module's dotted name (``pkg.sub.mod``), when known: absolute
    imports from its top-level package (``from pkg.core import Engine``) are then re-exported
    like relative ones. Raises StubError when LibCST cannot parse the source or it is nested
    too deeply. The result is deterministic, ends with a newline, and is ``""`` when the
    module defines nothing a stub keeps.
    """
    module = _parse(source)
    try:
        statements = [statement for statement
                      in _StubBuilder(module, module_name).module(module)
                      if isinstance(statement, (cst.SimpleStatementLine,
                                                cst.BaseCompoundStatement))]
        if not statements:
            return ""
        stub = cst.Module(body=statements).visit(_Cleaner())
        stub = stub.with_changes(body=_layout(stub.body, in_class=False), header=[],
                                 footer=[], default_indent="    ", default_newline="\n")
        return stub.code
    except RecursionError:  # LibCST's visitors and code generation recurse in Python
        raise StubError("cannot stub: expressions nested too deeply") from None
