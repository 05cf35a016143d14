"""Sites: the places where an annotation can stand, with what later stages need to type them.

One pass over a module's ``ast`` builds its scope tree (module, classes, functions) with every
binding and every use of every name; sites (DESIGN.md contract: ``param``, ``return``,
``variable``, ``attribute``, keyed by ``(file, scope, kind, name)``) are read off that tree.
The scope tree is also what static inference evaluates, so both see the same code the same way.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, NamedTuple

__all__ = [
    "Binding",
    "BindingKind",
    "ImportRef",
    "ModuleSites",
    "Scope",
    "Site",
    "SiteKey",
    "SiteKind",
    "build_scopes",
    "decorator_names",
    "extract_sites",
    "last_name",
    "usage_slice",
]

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
ScopeNode = ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef


class SiteKind(str, Enum):
    """The four kinds of site of the DESIGN.md contract."""

    PARAM = "param"
    RETURN = "return"
    VARIABLE = "variable"
    ATTRIBUTE = "attribute"


class SiteKey(NamedTuple):
    """Identifies a site across runs, tools and stripped copies (DESIGN.md contract)."""

    file: str
    scope: str
    kind: str
    name: str


class BindingKind(str, Enum):
    """How a name gets a value; the static rules read the value accordingly."""

    ASSIGN = "assign"  #: ``x = value`` (``path`` indexes into tuple unpacking)
    ANNOTATED = "annotated"  #: ``x: T = value``
    DECLARATION = "declaration"  #: ``x: T`` without a value
    AUGMENTED = "augmented"  #: ``x += value``
    FOR = "for"  #: ``for x in value``
    WITH = "with"  #: ``with value as x``
    WALRUS = "walrus"  #: ``(x := value)``
    PARAM = "param"  #: a function parameter


@dataclass(frozen=True, slots=True)
class Binding:
    """One place where a name (or ``self.name``) is bound."""

    kind: BindingKind
    line: int
    col: int
    #: The expression the value comes from (the iterable for ``for``, the manager for ``with``).
    value: ast.expr | None = None
    #: Index path into the value for unpacking targets: ``a, (b, c) = v`` gives c the path (1, 1).
    path: tuple[int, ...] = ()
    #: The annotation expression, for annotated assignments and declarations.
    annotation: ast.expr | None = None
    #: True for a starred unpacking target (``a, *rest = v``).
    starred: bool = False


@dataclass(frozen=True, slots=True)
class ImportRef:
    """What an imported name refers to: ``module`` (absolute) and, for ``from`` imports,
    ``attr``."""

    module: str
    attr: str | None
    line: int


@dataclass(eq=False, slots=True)
class Scope:
    """A module, class or function scope with its bindings and uses."""

    kind: Literal["module", "class", "function"]
    qualname: str
    node: ScopeNode
    parent: Scope | None
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    uses: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: Functions and classes defined directly in this scope, by name.
    defs: dict[str, Scope] = field(default_factory=dict)
    imports: dict[str, ImportRef] = field(default_factory=dict)
    children: list[Scope] = field(default_factory=list)
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    #: Function scopes: ``return`` statements, and whether the body yields or awaits.
    returns: list[ast.Return] = field(default_factory=list)
    yields: list[ast.Yield | ast.YieldFrom] = field(default_factory=list)
    #: Calls made directly in this scope (the call sites that give parameters context).
    calls: list[ast.Call] = field(default_factory=list)
    #: Function scopes inside a class: name of the instance parameter (``self``), if any.
    self_name: str | None = None
    #: Class scopes: ``self.NAME`` bindings and uses gathered from all methods.
    attr_bindings: dict[str, list[Binding]] = field(default_factory=dict)
    attr_uses: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    #: Class scopes: the method each ``self.NAME`` binding is in, by the binding's position.
    attr_scopes: dict[tuple[int, int], Scope] = field(default_factory=dict)

    @property
    def function(self) -> FunctionNode:
        assert isinstance(self.node, (ast.FunctionDef, ast.AsyncFunctionDef))
        return self.node

    @property
    def enclosing_class(self) -> Scope | None:
        """The class whose method this function scope is."""
        parent = self.parent
        return parent if parent is not None and parent.kind == "class" else None

    @property
    def root(self) -> Scope:
        """The module scope this scope is in."""
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def walk(self) -> Iterator[Scope]:
        yield self
        for child in self.children:
            yield from child.walk()

    def release(self) -> None:
        """Break the links between this tree's scopes (children point to their parents), so
        that reference counting frees a tree dropped while the cyclic collector is paused:
        much faster than a collection, which traverses every live object as well."""
        for scope in list(self.walk()):
            scope.parent = None
            scope.children = []
            scope.defs = {}
            scope.attr_scopes = {}


@dataclass(slots=True)
class Site:
    """A place where an annotation can stand (DESIGN.md contract), with its context."""

    file: str
    scope: str
    kind: SiteKind
    name: str
    line: int
    col: int
    #: Source text of the existing annotation, if the code has one.
    annotation: str | None
    #: Parameters: source text of the default value.
    default: str | None = None
    #: Parameters and returns: decorators of the function, as source text.
    decorators: tuple[str, ...] = ()
    #: (line, col) of every use of the name in its scope (the usage slice's anchors).
    uses: tuple[tuple[int, int], ...] = ()
    #: The scope the site's name is bound in (the function itself for params and returns).
    owner: Scope | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> SiteKey:
        return SiteKey(self.file, self.scope, self.kind.value, self.name)


@dataclass(slots=True)
class ModuleSites:
    """Everything extracted from one module."""

    file: str
    lines: list[str]
    tree: ast.Module
    scope: Scope
    sites: list[Site]


def last_name(node: ast.expr) -> str:
    """``"join"`` for ``join`` and ``os.path.join``; ``""`` for any other expression."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> set[str]:
    """Last names of a definition's decorators (``@functools.cache`` and ``@cache(...)``
    both give ``cache``)."""
    return {last_name(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list}


def _resolve_relative(module: str | None, level: int, package: str) -> str:
    """Absolute module name of ``from {'.' * level}{module} import ...`` inside ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".") if package else []
    if level > 1:
        parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
    base = ".".join(parts)
    if module:
        return f"{base}.{module}" if base else module
    return base


#: Node classes with nothing to visit below them (contexts, operators, constants).
_LEAVES = frozenset({
    ast.Load, ast.Store, ast.Del, ast.Constant, ast.Pass, ast.Break, ast.Continue,
    ast.Add, ast.Sub, ast.Mult, ast.MatMult, ast.Div, ast.Mod, ast.Pow, ast.LShift, ast.RShift,
    ast.BitOr, ast.BitXor, ast.BitAnd, ast.FloorDiv, ast.And, ast.Or, ast.Invert, ast.Not,
    ast.UAdd, ast.USub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot,
    ast.In, ast.NotIn,
})
_UNSET = object()


class _EndOfLambda(ast.AST):
    """Marks, on the visitor's stack, where a lambda's body ends (its parameters go out of
    scope)."""


_END_OF_LAMBDA = _EndOfLambda()


class _ScopeBuilder:
    """Single pass over a module building its scope tree."""

    def __init__(self, module_name: str, is_package: bool) -> None:
        self.package = module_name if is_package else module_name.rpartition(".")[0]
        self.scope: Scope = Scope("module", "<module>", ast.Module(body=[], type_ignores=[]), None)
        self.comprehension_names: list[set[str]] = []
        self._handlers: dict[type, object] = {}

    # -- bindings ---------------------------------------------------------------------------
    def bind(self, name: str, binding: Binding) -> None:
        scope = self.scope
        if name in scope.declared_nonlocal:
            return  # bound in an enclosing function, whose site it is
        if name in scope.declared_global:
            scope = scope.root
        scope.bindings.setdefault(name, []).append(binding)

    def bind_target(self, target: ast.expr, kind: BindingKind, value: ast.expr | None,
                    path: tuple[int, ...] = (), starred: bool = False) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, Binding(kind, target.lineno, target.col_offset, value, path,
                                         starred=starred))
        elif isinstance(target, (ast.Tuple, ast.List)):
            for index, element in enumerate(target.elts):
                self.bind_target(element, kind, value, (*path, index), starred)
        elif isinstance(target, ast.Starred):
            self.bind_target(target.value, kind, value, path, starred=True)
        elif isinstance(target, ast.Attribute):
            self.bind_attribute(target, Binding(kind, target.lineno, target.col_offset, value,
                                                path, starred=starred))
            self.visit(target.value)
        else:  # subscripts: uses only
            self.visit(target)

    def bind_attribute(self, target: ast.Attribute, binding: Binding) -> None:
        scope = self.scope
        cls = scope.enclosing_class if scope.kind == "function" else None
        if (cls is not None and isinstance(target.value, ast.Name)
                and target.value.id == scope.self_name):
            cls.attr_bindings.setdefault(target.attr, []).append(binding)
            cls.attr_scopes[(binding.line, binding.col)] = scope

    # -- traversal --------------------------------------------------------------------------
    def build(self, tree: ast.Module) -> Scope:
        self.scope.node = tree
        try:
            for statement in tree.body:
                self.visit(statement)
        finally:
            # The handlers are bound methods (a cycle through ``self``): dropped here, so that
            # reference counting frees the builder while the cyclic collector is paused.
            self._handlers.clear()
        return self.scope

    def visit(self, node: ast.AST) -> None:
        # Nodes without a handler (and attribute chains) are walked with an explicit stack, not
        # by recursion: ``ast.parse`` accepts expressions nested some thousands deep (long
        # ``a + b + ...`` or ``x.f().g()...`` chains), deeper than Python's recursion limit.
        # This loop visits every node of every file: it avoids ``ast.iter_child_nodes`` (a
        # generator) and looks handlers up once per node class.
        handlers = self._handlers
        stack = [node]
        pop, push = stack.pop, stack.append
        while stack:
            current = pop()
            cls = current.__class__
            if cls is ast.Name:
                self.visit_Name(current)  # type: ignore[arg-type]
                continue
            if cls is ast.Attribute:
                self.note_attribute_use(current)  # type: ignore[arg-type]
                push(current.value)  # type: ignore[attr-defined]
                continue
            if cls in _LEAVES:
                continue
            if cls is ast.Lambda:
                # Here, not in a handler: ``lambda: 1 if a else lambda: ...`` nests without
                # brackets, so without the parser's limit on nesting.
                lambda_node: ast.Lambda = current  # type: ignore[assignment]
                self.comprehension_names.append(self._lambda_names(lambda_node))
                push(_END_OF_LAMBDA)
                push(lambda_node.body)
                continue
            if cls is _EndOfLambda:
                self.comprehension_names.pop()
                continue
            method = handlers.get(cls, _UNSET)
            if method is _UNSET:
                method = getattr(self, "visit_" + cls.__name__, None)
                handlers[cls] = method
            if method is not None:
                method(current)  # type: ignore[operator]
                continue
            if cls is ast.Call:
                self.scope.calls.append(current)  # type: ignore[arg-type]
            children: list[ast.AST] = []
            for field_name in cls._fields:
                value = getattr(current, field_name, None)
                if value.__class__ is list:
                    children.extend(v for v in value if isinstance(v, ast.AST))
                elif isinstance(value, ast.AST) and value.__class__ not in _LEAVES:
                    children.append(value)
            children.reverse()
            stack.extend(children)

    def visit_many(self, nodes: list[ast.stmt] | list[ast.expr]) -> None:
        for node in nodes:
            self.visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and not any(
            node.id in names for names in self.comprehension_names
        ):
            self.scope.uses.setdefault(node.id, []).append((node.lineno, node.col_offset))

    def note_attribute_use(self, node: ast.Attribute) -> None:
        scope = self.scope
        if (isinstance(node.value, ast.Name) and scope.kind == "function"
                and node.value.id == scope.self_name and scope.parent is not None):
            scope.parent.attr_uses.setdefault(node.attr, []).append(
                (node.lineno, node.col_offset))

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.bind_target(target, BindingKind.ASSIGN, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        kind = BindingKind.ANNOTATED if node.value is not None else BindingKind.DECLARATION
        target = node.target
        binding = Binding(kind, target.lineno, target.col_offset, node.value,
                          annotation=node.annotation)
        if isinstance(target, ast.Name):
            self.bind(target.id, binding)
        elif isinstance(target, ast.Attribute):
            self.bind_attribute(target, binding)
            self.visit(target.value)
        else:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        target = node.target
        if isinstance(target, ast.Name):
            self.scope.uses.setdefault(target.id, []).append((target.lineno, target.col_offset))
            self.bind(target.id, Binding(BindingKind.AUGMENTED, target.lineno, target.col_offset,
                                         node.value))
        else:
            self.visit(target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.bind_target(node.target, BindingKind.FOR, node.iter)
        self.visit_many(node.body)
        self.visit_many(node.orelse)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind_target(item.optional_vars, BindingKind.WITH, item.context_expr)
        self.visit_many(node.body)

    visit_AsyncWith = visit_With

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        target = node.target
        self.bind(target.id, Binding(BindingKind.WALRUS, target.lineno, target.col_offset,
                                     node.value))

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.declared_global.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.declared_nonlocal.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.scope.imports[alias.asname] = ImportRef(alias.name, None, node.lineno)
            else:
                top = alias.name.split(".")[0]
                self.scope.imports[top] = ImportRef(top, None, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = _resolve_relative(node.module, node.level, self.package)
        for alias in node.names:
            if alias.name != "*":
                self.scope.imports[alias.asname or alias.name] = ImportRef(
                    module, alias.name, node.lineno)

    def visit_Return(self, node: ast.Return) -> None:
        if self.scope.kind == "function":
            self.scope.returns.append(node)
        if node.value is not None:
            self.visit(node.value)

    def visit_Yield(self, node: ast.Yield | ast.YieldFrom) -> None:
        if self.scope.kind == "function" and not self.comprehension_names:
            self.scope.yields.append(node)
        if node.value is not None:
            self.visit(node.value)

    visit_YieldFrom = visit_Yield

    def _lambda_names(self, node: ast.Lambda) -> set[str]:
        """A lambda's parameters (visiting its defaults, which are evaluated outside it)."""
        names = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
        for extra in (node.args.vararg, node.args.kwarg):
            if extra is not None:
                names.add(extra.arg)
        self.visit_many([d for d in node.args.defaults])
        self.visit_many([d for d in node.args.kw_defaults if d is not None])
        return names

    def _visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp
                             | ast.DictComp) -> None:
        # Only the first iterable is evaluated outside the comprehension; later iterables and
        # every condition see the targets bound before them (``for row in rows for x in row``).
        names: set[str] = set()
        self.visit(node.generators[0].iter)
        self.comprehension_names.append(names)
        for index, generator in enumerate(node.generators):
            if index:
                self.visit(generator.iter)
            for target in ast.walk(generator.target):
                if isinstance(target, ast.Name):
                    names.add(target.id)
            self.visit_many(generator.ifs)
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self.comprehension_names.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension

    def _child_qualname(self, name: str) -> str:
        scope = self.scope
        if scope.kind == "module":
            return name
        if scope.kind == "class":
            return f"{scope.qualname}.{name}"
        return f"{scope.qualname}.<locals>.{name}"

    def visit_FunctionDef(self, node: FunctionNode) -> None:
        self.visit_many(node.decorator_list)
        args = node.args
        self.visit_many(args.defaults)
        self.visit_many([d for d in args.kw_defaults if d is not None])
        parent = self.scope
        child = Scope("function", self._child_qualname(node.name), node, parent)
        parent.defs[node.name] = child
        parent.children.append(child)
        positional = [*args.posonlyargs, *args.args]
        if (parent.kind == "class" and positional
                and "staticmethod" not in decorator_names(node)
                and "classmethod" not in decorator_names(node)):
            child.self_name = positional[0].arg
        for arg in (*positional, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                child.bindings[arg.arg] = [Binding(BindingKind.PARAM, arg.lineno, arg.col_offset,
                                                   annotation=arg.annotation)]
        self.scope = child
        self.visit_many(node.body)
        self.scope = parent

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.visit_many(node.decorator_list)
        self.visit_many(node.bases)
        for keyword in node.keywords:
            self.visit(keyword.value)
        parent = self.scope
        child = Scope("class", self._child_qualname(node.name), node, parent)
        parent.defs[node.name] = child
        parent.children.append(child)
        self.scope = child
        self.visit_many(node.body)
        self.scope = parent


def build_scopes(tree: ast.Module, module_name: str = "", is_package: bool = False) -> Scope:
    """The scope tree of a parsed module."""
    return _ScopeBuilder(module_name, is_package).build(tree)


# -- sites ----------------------------------------------------------------------------------

def _unparse(node: ast.expr | None) -> str | None:
    if node is None:
        return None
    try:
        return ast.unparse(node)
    except RecursionError:  # ast.unparse recurses some frames per level: ~300 deep is enough
        return "..."


def _nested_uses(scope: Scope, name: str) -> list[tuple[int, int]]:
    """Uses of ``name`` in ``scope`` and in the nested scopes where it means ``scope``'s name.

    Python's rules: a class body's names are not visible in its methods or nested classes; a
    nested function or class body that binds the name has its own; methods skip their class.
    """
    found = list(scope.uses.get(name, ()))
    if scope.kind != "class":
        for child in scope.children:
            found.extend(_free_uses(child, name))
    return found


def _free_uses(scope: Scope, name: str) -> list[tuple[int, int]]:
    """Uses in ``scope`` and below of ``name`` as bound by an enclosing scope."""
    if name in scope.bindings:
        if scope.kind != "class":
            return []
        # The class has its own ``name``, but its methods see the enclosing one.
        return [use for child in scope.children for use in _free_uses(child, name)]
    found = list(scope.uses.get(name, ()))
    for child in scope.children:
        found.extend(_free_uses(child, name))
    return found


def _function_sites(file: str, scope: Scope) -> Iterator[Site]:
    node = scope.function
    decorators = tuple(_unparse(d) or "" for d in node.decorator_list)
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults: dict[str, ast.expr] = {
        a.arg: d for a, d in zip(positional[len(positional) - len(args.defaults):], args.defaults,
                             strict=True)
    }
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                     if d is not None})
    skip_first = scope.parent is not None and scope.parent.kind == "class" and positional and (
        "staticmethod" not in decorator_names(node))
    params = [*positional, args.vararg, *args.kwonlyargs, args.kwarg]
    for index, arg in enumerate(params):
        if arg is None or (index == 0 and skip_first):
            continue
        yield Site(file, scope.qualname, SiteKind.PARAM, arg.arg, arg.lineno, arg.col_offset,
                   _unparse(arg.annotation), _unparse(defaults.get(arg.arg)), decorators,
                   tuple(_nested_uses(scope, arg.arg)), scope)
    yield Site(file, scope.qualname, SiteKind.RETURN, "", node.lineno, node.col_offset,
               _unparse(node.returns), None, decorators, (), scope)


def _variable_sites(file: str, scope: Scope) -> Iterator[Site]:
    for name, bindings in scope.bindings.items():
        if bindings[0].kind is BindingKind.PARAM:  # parameters are bound before the body
            continue
        annotation = next((b.annotation for b in bindings if b.annotation is not None), None)
        first = min(bindings, key=lambda b: (b.line, b.col))
        yield Site(file, scope.qualname, SiteKind.VARIABLE, name, first.line, first.col,
                   _unparse(annotation), None, (), tuple(_nested_uses(scope, name)), scope)


def _attribute_sites(file: str, scope: Scope) -> Iterator[Site]:
    for name, bindings in scope.attr_bindings.items():
        annotation = next((b.annotation for b in bindings if b.annotation is not None), None)
        if annotation is None:  # a class-level declaration ``name: T`` types the attribute
            annotation = next((b.annotation for b in scope.bindings.get(name, ())
                               if b.annotation is not None), None)
        first = min(bindings, key=lambda b: (b.line, b.col))
        yield Site(file, scope.qualname, SiteKind.ATTRIBUTE, name, first.line, first.col,
                   _unparse(annotation), None, (), tuple(scope.attr_uses.get(name, ())), scope)


def extract_sites(file: str, source: str, tree: ast.Module, module_name: str = "",
                  is_package: bool = False) -> ModuleSites:
    """All sites of one parsed module, in source order."""
    root = build_scopes(tree, module_name, is_package)
    sites: list[Site] = []
    for scope in root.walk():
        if scope.kind == "function":
            if "overload" in decorator_names(scope.function):
                continue  # signatures for the checker; the implementation carries the sites
            sites.extend(_function_sites(file, scope))
        elif scope.kind == "class":
            sites.extend(_attribute_sites(file, scope))
        sites.extend(_variable_sites(file, scope))
    sites.sort(key=lambda s: (s.line, s.col, s.kind.value))
    # A key identifies one site (DESIGN.md): where a qualname is defined twice (a property's
    # getter and setter, conditional definitions), the first definition keeps it.
    seen: set[SiteKey] = set()
    unique: list[Site] = []
    for site in sites:
        if site.key not in seen:
            seen.add(site.key)
            unique.append(site)
    return ModuleSites(file, _source_lines(source), tree, root, unique)


def _source_lines(source: str) -> list[str]:
    """The lines of ``source`` as ``ast`` numbers them (``str.splitlines`` also splits on form
    feeds, ``\\x1c``-``\\x1e`` and ``\\u2028``, shifting every later line)."""
    lines = _LINE_BREAK.split(source)
    if lines[-1] == "":
        lines.pop()
    return lines


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d[\w.]*|\"[^\"]*\"|'[^']*'|\S")


def usage_slice(lines: list[str], site: Site, width: int = 6,
                limit: int = 16) -> list[list[str]]:
    """PYInfer-style context windows: ``width`` tokens either side of each use of the site's
    name (the name itself included), for at most ``limit`` uses."""
    windows: list[list[str]] = []
    for line_no, col in site.uses[:limit]:
        if not 0 < line_no <= len(lines):
            continue
        text = lines[line_no - 1]
        col = len(text.encode("utf-8")[:col].decode("utf-8", "replace"))  # ast: byte offsets
        before = _TOKEN.findall(text[:col])[-width:]
        after = _TOKEN.findall(text[col:])[: width + 1]
        windows.append(before + after)
    return windows
