"""The static evaluator: the types of expressions, variables, attributes, parameters and returns.

Evaluation is demand-driven and memoised across the whole project: asking for a function's
return type evaluates its return statements, which may ask for another module's function,
which is loaded then. This computes the same result as iterating all functions to a fixpoint,
without visiting functions nobody needs. A recursive cycle is evaluated optimistically: a
function met again while its own type is being computed contributes nothing (bottom) to the
join, as in the first round of a fixpoint iteration; the cycle's other returns decide.

Every derivation is tagged with the rule (static/rules.py) that made it, and a switched-off
rule derives nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Union

from ..project import Project
from ..sites import (
    Binding,
    BindingKind,
    ImportRef,
    Scope,
    Site,
    SiteKind,
    decorator_names,
    last_name,
)
from ..typeexpr import ANY, NONE, TypeExpr, TypeParseError, from_ast, make_union
from .rules import RuleSet
from .stubs import StubClass, StubFunction, Stubs, qualified

__all__ = ["Fact", "StaticEngine"]


@dataclass(frozen=True, slots=True)
class Fact:
    """A derived type with the probability that it is exactly right, and the rules behind it."""

    type: TypeExpr
    confidence: float
    rules: tuple[str, ...]

    def via(self, rule: str, confidence: float = 1.0) -> Fact:
        rules = self.rules if rule in self.rules else (*self.rules, rule)
        return Fact(self.type, min(self.confidence, confidence), rules)


def _combine(facts: list[Fact], t: TypeExpr, rule: str, confidence: float) -> Fact:
    rules: list[str] = []
    for fact in facts:
        rules.extend(r for r in fact.rules if r not in rules)
    if rule not in rules:
        rules.append(rule)
    lowest = min((f.confidence for f in facts), default=1.0)
    return Fact(t, min(lowest, confidence), tuple(rules))


# -- values: what an expression evaluates to ------------------------------------------------

@dataclass(frozen=True, slots=True)
class Instance:
    fact: Fact


@dataclass(frozen=True, slots=True)
class ModuleValue:
    name: str
    in_project: bool


@dataclass(frozen=True, slots=True)
class ProjectClass:
    scope: Scope
    module: str


@dataclass(frozen=True, slots=True)
class ProjectFunction:
    scope: Scope
    module: str
    receiver: TypeExpr | None = None


@dataclass(frozen=True, slots=True)
class StubCallable:
    qualname: str
    overloads: tuple[StubFunction, ...]
    #: The instance as the defining class sees it (``PurePath`` for a ``Path`` method
    #: inherited from PurePath), which binds the class's type parameters.
    receiver: TypeExpr | None = None
    #: The actual instance (``Path``): what ``Self`` means.
    self_type: TypeExpr | None = None


@dataclass(frozen=True, slots=True)
class StubClassValue:
    info: StubClass


Value = Union[Instance, ModuleValue, ProjectClass, ProjectFunction, StubCallable,  # noqa: UP007
              StubClassValue]

_IN_PROGRESS = object()
_MISSING = object()
_NUMERIC_RANK = {"bool": 0, "int": 1, "float": 2, "complex": 3}
_CONSTANT_TYPES = {bool: "bool", int: "int", float: "float", complex: "complex", str: "str",
                   bytes: "bytes"}
#: Beyond this many members a union is unreadable; a developer would write something else.
MAX_UNION = 3


def _t(name: str, *args: TypeExpr, module: str = "") -> TypeExpr:
    return TypeExpr(name, tuple(args), module)


def _reportable(t: TypeExpr) -> bool:
    """Whether a type is fit to show: no private stub classes, no unbound type variables."""
    for part in t.walk():
        if part.name.startswith("_") or part.module.startswith("_") or part.name == "Self":
            return False
        if part.name in ("Never", "NoReturn") or part.module.startswith("<"):
            return False
    return True


def join_types(types: list[TypeExpr]) -> TypeExpr | None:
    """The declared type a developer would write for a name bound to each of ``types``."""
    union = make_union(types)
    members = list(union.members)
    numeric = [m for m in members if m.name in _NUMERIC_RANK and not m.args]
    if len(numeric) > 1:  # the numeric tower: int | float is written float
        widest = max(numeric, key=lambda m: _NUMERIC_RANK[m.name])
        members = [m for m in members if m not in numeric] + [widest]
    union = make_union(members)
    if len([m for m in union.members if m != NONE]) > MAX_UNION:
        return None
    return union


class StaticEngine:
    """Static inference over one project, with typeshed for everything outside it."""

    def __init__(self, project: Project, stubs: Stubs | None = None,
                 rules: RuleSet | None = None, use_annotations: bool = True) -> None:
        self.project = project
        self.stubs = stubs or Stubs()
        self.rules = rules or RuleSet()
        #: False reads annotated code as if it were stripped (training data for the model).
        self.use_annotations = use_annotations
        self._returns: dict[Any, object] = {}
        self._variables: dict[Any, object] = {}
        self._attributes: dict[Any, object] = {}
        self._params: dict[Any, object] = {}
        #: (cache, key) pairs met while their own fact was being computed (see _memoised).
        self._cycle_hits: list[tuple[int, object]] = []
        #: With a DependencyLog on the project: the modules each memoised fact read.
        self._memo_dependencies: dict[tuple[int, object], set[str]] = {}

    # -- entry point ------------------------------------------------------------------------
    def site_fact(self, site: Site) -> Fact | None:
        """The static fact for one site, or None when the code does not determine it."""
        owner = site.owner
        if owner is None:
            return None
        try:
            if site.kind is SiteKind.RETURN:
                fact = self.return_fact(owner)
            elif site.kind is SiteKind.PARAM:
                fact = self.param_fact(owner, site.name)
            elif site.kind is SiteKind.ATTRIBUTE:
                fact = self.attribute_fact(owner, site.name)
            elif owner.kind == "class" and self.is_enum(owner):
                return None  # enum members are not annotated
            else:
                fact = self.variable_fact(owner, site.name)
        except RecursionError:
            return None
        if fact is None or not _reportable(fact.type) or fact.type == ANY:
            return None
        return fact

    # -- scopes and names -------------------------------------------------------------------
    def module_of(self, scope: Scope) -> str:
        return self.project.module_of_root(scope.root)

    def _module_scope(self, module: str) -> Scope | None:
        loaded = self.project.module(module)
        if loaded is None:
            return None
        return loaded.scope

    def lookup(self, name: str, scope: Scope, depth: int = 0) -> Value | None:
        """What ``name`` refers to when read in ``scope`` (LEGB, class scopes skipped inward)."""
        current: Scope | None = scope
        first = True
        while current is not None:
            if first or current.kind != "class":
                value = self._lookup_in(name, current, depth)
                if value is not None:
                    return value
                if name in current.bindings or name in current.defs or name in current.imports:
                    return None  # bound here but of unknown type: do not look further out
            first = False
            current = current.parent
        return self._stub_symbol(f"builtins.{name}")

    def _lookup_in(self, name: str, scope: Scope, depth: int) -> Value | None:
        if name in scope.bindings:
            fact = (self.param_fact(scope, name) if scope.bindings[name][0].kind
                    is BindingKind.PARAM else self.variable_fact(scope, name))
            return Instance(fact) if fact is not None else None
        if name in scope.defs:
            child = scope.defs[name]
            module = self.module_of(scope)
            if child.kind == "class":
                return ProjectClass(child, module)
            return ProjectFunction(child, module)
        if name in scope.imports:
            return self._import(scope.imports[name], depth)
        return None

    def _import(self, ref: ImportRef, depth: int) -> Value | None:
        if depth > 8:  # re-export chains deeper than this are cycles
            return None
        if ref.attr is None:
            return self._module_value(ref.module)
        submodule = f"{ref.module}.{ref.attr}"
        if self.project.has_module(submodule):
            return ModuleValue(submodule, True)
        if self.project.has_module(ref.module):
            return self.module_attribute(ref.module, ref.attr, depth + 1)
        return self._stub_symbol(submodule)

    def _module_value(self, module: str) -> Value | None:
        if self.project.has_module(module):
            return ModuleValue(module, True)
        if self.stubs.has_module(module):
            return ModuleValue(module, False)
        return None

    def module_attribute(self, module: str, name: str, depth: int = 0) -> Value | None:
        if self.project.has_module(module):
            scope = self._module_scope(module)
            if scope is None:
                return None
            value = self._lookup_in(name, scope, depth)
            if value is None and self.project.has_module(f"{module}.{name}"):
                return ModuleValue(f"{module}.{name}", True)
            return value
        return self._stub_symbol(f"{module}.{name}")

    def _stub_symbol(self, qualname: str) -> Value | None:
        found = self.stubs.lookup(qualname)
        if found is None:
            return None
        module, info = found
        if module == "<module>":
            return ModuleValue(info, False)
        node = info.ast
        if isinstance(node, ast.ClassDef):
            stub_class = self.stubs.class_info(f"{module}.{node.name}")
            return StubClassValue(stub_class) if stub_class is not None else None
        overloads = self.stubs.functions(module, info, is_method=False)
        if overloads:
            return StubCallable(qualname, tuple(overloads))
        t = self.stubs.variable_type(module, info)
        if t is not None and self.rules.enabled("typeshed_attribute"):
            return Instance(Fact(t, self.rules.confidence("typeshed_attribute"),
                                 ("typeshed_attribute",)))
        return None

    # -- annotations in project code ---------------------------------------------------------
    def annotation_fact(self, node: ast.expr | None, scope: Scope) -> Fact | None:
        if node is None or not self.use_annotations or not self.rules.enabled(
                "existing_annotation"):
            return None
        try:
            t = from_ast(node)
        except (TypeParseError, RecursionError):
            return None
        return Fact(self._qualify(t, scope), 1.0, ("existing_annotation",))

    def _qualify(self, t: TypeExpr, scope: Scope) -> TypeExpr:
        """Attach the defining module to the names of an annotation written in ``scope``."""
        args = tuple(self._qualify(a, scope) for a in t.args)
        if t.name == "|":
            return make_union(args)
        if t.module or t.name in ("None", "[]", "...", "()") or t.name.startswith(("'", '"')):
            return TypeExpr(t.name, args, t.module)
        value = self.lookup(t.name, scope)
        if isinstance(value, ProjectClass):
            return TypeExpr(t.name, args, value.module)
        if isinstance(value, StubClassValue):
            return TypeExpr(t.name, args, _instance_of(value.info).module)
        return TypeExpr(t.name, args, t.module)

    # -- sites --------------------------------------------------------------------------------
    def _memoised(self, cache: dict[Any, object], key: object,
                  compute: Callable[[], Fact | None]) -> Fact | None:
        """``compute()`` once per key. A key met again while it is being computed (a cycle)
        gives bottom (None), as the first round of a fixpoint iteration does; its hit is
        recorded for variable_fact's second pass."""
        cached = cache.get(key, _MISSING)
        if cached is _IN_PROGRESS:
            self._cycle_hits.append((id(cache), key))
            return None
        log = self.project.dependencies
        if cached is not _MISSING:
            if log is not None:
                log.add(self._memo_dependencies.get((id(cache), key), ()))
            return cached  # type: ignore[return-value]
        cache[key] = _IN_PROGRESS
        if log is not None:
            log.push()
        try:
            fact = compute()
        finally:
            cache.pop(key, None)
            if log is not None:
                # A fact reused later carries what it was computed from to its new user.
                read = log.pop()
                if read:
                    self._memo_dependencies[(id(cache), key)] = read
        cache[key] = fact
        return fact

    def param_fact(self, function: Scope, name: str) -> Fact | None:
        return self._memoised(self._params, (id(function), name),
                              lambda: self._param_fact(function, name))

    def _param_fact(self, function: Scope, name: str) -> Fact | None:
        node = function.function
        args = node.args
        binding = function.bindings[name][0]
        existing = self.annotation_fact(binding.annotation, function)
        variadic = (args.vararg is not None and args.vararg.arg == name,
                    args.kwarg is not None and args.kwarg.arg == name)
        if existing is not None:
            if variadic[0]:
                return Fact(_t("tuple", existing.type, _t("...")), 1.0, existing.rules)
            if variadic[1]:
                return Fact(_t("dict", _t("str"), existing.type), 1.0, existing.rules)
            return existing
        cls = function.enclosing_class
        if cls is not None and name == function.self_name:
            return Fact(TypeExpr(cls.node.name, module=self.module_of(cls)),  # type: ignore[union-attr]
                        1.0, ("existing_annotation",))
        default = _default_of(node, name)
        if default is None:
            return None
        return self._default_fact(function, name, default)

    def _default_fact(self, function: Scope, name: str, default: ast.expr) -> Fact | None:
        if isinstance(default, ast.Constant) and default.value is None:
            if not self.rules.enabled("param_default_none"):
                return None
            rebound = [b for b in function.bindings[name][1:]
                       if b.kind in (BindingKind.ASSIGN, BindingKind.ANNOTATED, BindingKind.WALRUS)]
            facts = [self.binding_fact(b, function) for b in rebound]
            known = [f for f in facts if f is not None]
            if not rebound or len(known) != len(facts):
                return None
            t = join_types([f.type for f in known] + [NONE])
            if t is None:
                return None
            return _combine(known, t, "param_default_none",
                            self.rules.confidence("param_default_none"))
        if not self.rules.enabled("param_default"):
            return None
        if not _is_literal(default):
            return None  # a named default is often a sentinel of another type (measured: 9%)
        fact = self.fact(default, function.parent or function)
        if fact is None or fact.type == NONE:
            return None
        return fact.via("param_default", self.rules.confidence("param_default"))

    def return_fact(self, function: Scope) -> Fact | None:
        return self._memoised(self._returns, id(function), lambda: self._return_fact(function))

    def _return_fact(self, function: Scope) -> Fact | None:
        node = function.function
        existing = self.annotation_fact(node.returns, function)
        if existing is not None:
            return existing
        if function.yields:
            return self._generator_fact(function)
        values = [r.value for r in function.returns if r.value is not None]
        falls_through = not _always_exits(node.body)
        if not values:
            if not self.rules.enabled("return_none") or _is_abstract(node):
                return None
            if node.name == "__init__" or falls_through or function.returns:
                return Fact(NONE, self.rules.confidence("return_none"), ("return_none",))
            return None  # only raises: abstract or unfinished
        if not self.rules.enabled("return_join"):
            return None
        facts: list[Fact] = []
        for value in values:
            if _is_not_implemented(value):
                continue  # `return NotImplemented` is allowed whatever the declared type
            fact = self.fact(value, function)
            if fact is None:
                return None
            if isinstance(value, ast.Name) and NONE in fact.type.members and fact.type != NONE \
                    and _narrowed_not_none(node, value.id):
                fact = Fact(make_union(m for m in fact.type.members if m != NONE),
                            fact.confidence, fact.rules)
            facts.append(fact)
        if not facts:
            return None
        types = [f.type for f in facts]
        if falls_through or any(r.value is None for r in function.returns):
            types.append(NONE)
        t = self.join(types)
        if t is None:
            return None
        return _combine(facts, t, "return_join", self.rules.confidence("return_join"))

    def join(self, types: list[TypeExpr]) -> TypeExpr | None:
        """join_types, where project classes that derive from another member collapse into it
        (``Auth | BasicAuth`` is written ``Auth``)."""
        union = make_union(types)
        members = list(union.members)
        if len(members) > 1:
            classes = {m: self._project_class(m) for m in members if not m.args}
            kept = [m for m in members if not any(
                other != m and classes.get(m) is not None and classes.get(other) is not None
                and self._derives_from(classes[m], classes[other]) for other in classes)]
            members = kept
        return join_types(members)

    def _derives_from(self, cls: Scope | None, base: Scope | None, depth: int = 0) -> bool:
        if cls is None or base is None or depth > 10:
            return False
        for expr in _class_bases(cls):
            value = self.value(expr, cls.parent or cls)
            if isinstance(value, ProjectClass) and (
                    value.scope is base or self._derives_from(value.scope, base, depth + 1)):
                return True
        return False

    def _generator_fact(self, function: Scope) -> Fact | None:
        if not self.rules.enabled("generator"):
            return None
        facts: list[Fact] = []
        for node in function.yields:
            if isinstance(node, ast.YieldFrom):
                source = self.fact(node.value, function)
                element = self._element(source) if source is not None else None
                if element is None:
                    return None
                facts.append(element)
            elif node.value is None:
                facts.append(Fact(NONE, 1.0, ("literal",)))
            else:
                fact = self.fact(node.value, function)
                if fact is None:
                    return None
                facts.append(fact)
        yielded = join_types([f.type for f in facts])
        if yielded is None:
            return None
        is_async = isinstance(function.node, ast.AsyncFunctionDef)
        returns_value = any(r.value is not None for r in function.returns)
        receives = _receives_sent_values(function.function)
        if is_async:
            t = _t("AsyncIterator", yielded, module="collections.abc")
        elif returns_value or receives:
            return None  # Generator[Y, S, R]: S and R are rarely inferable exactly
        else:
            t = _t("Iterator", yielded, module="collections.abc")
        return _combine(facts, t, "generator", self.rules.confidence("generator"))

    def variable_fact(self, scope: Scope, name: str) -> Fact | None:
        key = (id(scope), name)
        return self._memoised(self._variables, key, lambda: self._variable_fact(scope, key))

    def _variable_fact(self, scope: Scope, key: tuple[int, str]) -> Fact | None:
        bindings = scope.bindings.get(key[1], [])
        fact, deferred = self._join_bindings(bindings, lambda b: scope, "variable_join",
                                             defer=key)
        if fact is not None and deferred:
            # Rebindings that read the variable itself (x = x.strip()) are evaluated again
            # with the type of the others, and must agree with it.
            self._variables[key] = fact
            fact, _ = self._join_bindings(bindings, lambda b: scope, "variable_join")
        return fact

    def attribute_fact(self, cls: Scope, name: str) -> Fact | None:
        return self._memoised(self._attributes, (id(cls), name),
                              lambda: self._attribute_fact(cls, name))

    def _attribute_fact(self, cls: Scope, name: str) -> Fact | None:
        declared = [b for b in cls.bindings.get(name, []) if b.annotation is not None]
        if declared and self.use_annotations:
            return self.annotation_fact(declared[0].annotation, cls)
        bindings = cls.attr_bindings.get(name, [])
        if not bindings:
            if name in cls.bindings:  # a class variable read through self
                return self.variable_fact(cls, name)
            return None
        if not self.rules.enabled("self_attribute"):
            return None
        fact, _ = self._join_bindings(
            bindings, lambda b: cls.attr_scopes.get((b.line, b.col), cls), "self_attribute")
        return fact

    def _join_bindings(self, bindings: list[Binding], scope_of: Callable[[Binding], Scope],
                       rule: str, defer: tuple[int, str] | None = None
                       ) -> tuple[Fact | None, bool]:
        """The join of the bindings' types; with ``defer``, bindings that read the variable
        being computed are left out (bottom) and reported as deferred."""
        if not bindings:
            return None, False
        for binding in bindings:
            if binding.annotation is not None and self.use_annotations:
                return self.annotation_fact(binding.annotation, scope_of(binding)), False
        facts: list[Fact] = []
        deferred = False
        for binding in bindings:
            if binding.kind is BindingKind.AUGMENTED:
                continue
            mark = len(self._cycle_hits)
            fact = self.binding_fact(binding, scope_of(binding))
            if fact is None:
                if defer is not None and (id(self._variables), defer) in self._cycle_hits[mark:]:
                    deferred = True
                    continue
                return None, False
            facts.append(fact)
        if not facts:
            return None, False
        t = self.join([f.type for f in facts])
        if t is None or t == NONE:  # only ever None: the real type is bound elsewhere
            return None, False
        if NONE in t.members:
            if not self.rules.enabled("optional_join"):
                return None, False
            rule = "optional_join"
        elif not self.rules.enabled(rule):
            return None, False
        return _combine(facts, t, rule, self.rules.confidence(rule)), deferred

    def binding_fact(self, binding: Binding, scope: Scope) -> Fact | None:
        if binding.value is None:
            return None
        if binding.kind is BindingKind.FOR:
            if not self.rules.enabled("iteration"):
                return None
            source = self.fact(binding.value, scope)
            fact = self._element(source) if source is not None else None
            if fact is not None:
                fact = fact.via("iteration", self.rules.confidence("iteration"))
        elif binding.kind is BindingKind.WITH:
            fact = self._entered(binding.value, scope)
        else:
            fact = self.fact(binding.value, scope) if not binding.path else None
            if binding.path:
                return self._unpack_from(binding.value, binding.path, binding.starred, scope)
        if fact is None:
            return None
        if binding.path:
            return self._unpack(fact, binding.path, binding.starred)
        return fact

    def _unpack_from(self, value: ast.expr, path: tuple[int, ...], starred: bool,
                     scope: Scope) -> Fact | None:
        # A literal tuple on the right: a, b = 1, "x" types each side separately.
        node = value
        for depth, index in enumerate(path):
            if (isinstance(node, (ast.Tuple, ast.List)) and index < len(node.elts)
                    and not any(isinstance(e, ast.Starred) for e in node.elts) and not starred):
                node = node.elts[index]
            else:
                fact = self.fact(node, scope)
                return self._unpack(fact, path[depth:], starred) if fact is not None else None
        return self.fact(node, scope)

    def _unpack(self, fact: Fact, path: tuple[int, ...], starred: bool) -> Fact | None:
        if not self.rules.enabled("iteration"):
            return None
        current: Fact | None = fact
        for index in path:
            if current is None:
                return None
            t = current.type
            if t.name == "tuple" and t.args and t.args[-1].name != "..." and not starred:
                if index >= len(t.args):
                    return None
                current = Fact(t.args[index], current.confidence, current.rules)
            else:
                current = self._element(current)
        if current is None:
            return None
        if starred:
            return Fact(_t("list", current.type), current.confidence,
                        (*current.rules, "iteration"))
        return current.via("iteration", self.rules.confidence("iteration"))

    # -- expressions --------------------------------------------------------------------------
    def fact(self, node: ast.expr, scope: Scope) -> Fact | None:
        value = self.value(node, scope)
        return value.fact if isinstance(value, Instance) else None

    def value(self, node: ast.expr, scope: Scope) -> Value | None:
        method = getattr(self, "_eval_" + node.__class__.__name__, None)
        if method is None:
            return None
        result: Value | None = method(node, scope)
        return result

    def _instance(self, rule: str, t: TypeExpr, parts: list[Fact] | None = None) -> Value | None:
        if not self.rules.enabled(rule):
            return None
        return Instance(_combine(parts or [], t, rule, self.rules.confidence(rule)))

    def _eval_Constant(self, node: ast.Constant, scope: Scope) -> Value | None:
        if node.value is None:
            return self._instance("literal", NONE)
        name = _CONSTANT_TYPES.get(type(node.value))
        if name is None:
            return None
        return self._instance("literal", _t(name))

    def _eval_JoinedStr(self, node: ast.JoinedStr, scope: Scope) -> Value | None:
        return self._instance("fstring", _t("str"))

    def _elements(self, nodes: list[ast.expr], scope: Scope) -> list[Fact] | None:
        facts = []
        for element in nodes:
            if isinstance(element, ast.Starred):
                source = self.fact(element.value, scope)
                fact = self._element(source) if source is not None else None
            else:
                fact = self.fact(element, scope)
            if fact is None:
                return None
            facts.append(fact)
        return facts

    def _uniform(self, facts: list[Fact]) -> TypeExpr | None:
        return join_types([f.type for f in facts]) if facts else None

    def _eval_List(self, node: ast.List | ast.Set, scope: Scope) -> Value | None:
        facts = self._elements(node.elts, scope)
        element = self._uniform(facts) if facts else None
        if facts is None or element is None:
            return None
        name = "list" if isinstance(node, ast.List) else "set"
        return self._instance("container_literal", _t(name, element), facts)

    _eval_Set = _eval_List

    def _eval_Tuple(self, node: ast.Tuple, scope: Scope) -> Value | None:
        if not node.elts or len(node.elts) > 8:
            return None
        if any(isinstance(e, ast.Starred) for e in node.elts):
            return None
        facts = self._elements(node.elts, scope)
        if facts is None:
            return None
        return self._instance("container_literal", _t("tuple", *(f.type for f in facts)), facts)

    def _eval_Dict(self, node: ast.Dict, scope: Scope) -> Value | None:
        if not node.keys or any(k is None for k in node.keys):
            return None
        keys = self._elements([k for k in node.keys if k is not None], scope)
        values = self._elements(node.values, scope)
        if keys is None or values is None:
            return None
        key_t, value_t = self._uniform(keys), self._uniform(values)
        if key_t is None or value_t is None:
            return None
        return self._instance("container_literal", _t("dict", key_t, value_t), keys + values)

    def _comprehension_scope(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp
                             | ast.DictComp, scope: Scope) -> Scope | None:
        """A throw-away scope binding the comprehension's targets, nested in ``scope``."""
        inner = Scope("function", scope.qualname, scope.node, scope)
        inner.bindings = {}
        for generator in node.generators:
            _bind_comprehension_target(inner, generator.target, generator.iter)
        return inner

    def _eval_ListComp(self, node: ast.ListComp | ast.SetComp, scope: Scope) -> Value | None:
        inner = self._comprehension_scope(node, scope)
        if inner is None:
            return None
        fact = self._comprehension_fact(node.elt, inner, scope)
        if fact is None:
            return None
        name = "list" if isinstance(node, ast.ListComp) else "set"
        return self._instance("comprehension", _t(name, fact.type), [fact])

    _eval_SetComp = _eval_ListComp

    def _comprehension_fact(self, node: ast.expr, inner: Scope, outer: Scope) -> Fact | None:
        # Comprehension variables resolve in ``inner``; it is not cached across calls.
        try:
            return self.fact(node, inner)
        finally:
            for name in inner.bindings:
                self._variables.pop((id(inner), name), None)

    def _eval_DictComp(self, node: ast.DictComp, scope: Scope) -> Value | None:
        inner = self._comprehension_scope(node, scope)
        if inner is None:
            return None
        key = self._comprehension_fact(node.key, inner, scope)
        value = self._comprehension_fact(node.value, inner, scope)
        if key is None or value is None:
            return None
        return self._instance("comprehension", _t("dict", key.type, value.type), [key, value])

    def _eval_GeneratorExp(self, node: ast.GeneratorExp, scope: Scope) -> Value | None:
        inner = self._comprehension_scope(node, scope)
        if inner is None:
            return None
        fact = self._comprehension_fact(node.elt, inner, scope)
        if fact is None:
            return None
        t = _t("Generator", fact.type, NONE, NONE, module="collections.abc")
        return self._instance("comprehension", t, [fact])

    def _eval_Compare(self, node: ast.Compare, scope: Scope) -> Value | None:
        operands = [node.left, *node.comparators]
        for operand in operands:  # numpy-style operands overload comparison
            fact = self.fact(operand, scope)
            if fact is not None and fact.type.module not in ("", "typing", "collections.abc") \
                    and not self.project.has_module(fact.type.module):
                return None
        return self._instance("comparison", _t("bool"))

    def _eval_BoolOp(self, node: ast.BoolOp, scope: Scope) -> Value | None:
        facts = []
        for index, operand in enumerate(node.values):
            fact = self.fact(operand, scope)
            if fact is None:
                return None
            if isinstance(node.op, ast.Or) and index < len(node.values) - 1 and fact.type.is_union:
                members = [m for m in fact.type.members if m != NONE]
                fact = Fact(make_union(members), fact.confidence, fact.rules)
            facts.append(fact)
        t = join_types([f.type for f in facts])
        if t is None:
            return None
        return self._instance("boolean_op", t, facts)

    def _eval_UnaryOp(self, node: ast.UnaryOp, scope: Scope) -> Value | None:
        if isinstance(node.op, ast.Not):
            return self._instance("boolean_op", _t("bool"))
        operand = self.fact(node.operand, scope)
        if operand is None:
            return None
        dunder = {ast.USub: "__neg__", ast.UAdd: "__pos__", ast.Invert: "__invert__"}[
            type(node.op)]
        result = self._call_method(operand.type, dunder, [], {})
        if result is None:
            return None
        return self._instance("arithmetic", result.type, [operand, result])

    _BINARY: ClassVar[dict[type[ast.operator], str]] = {
               ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
               ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.LShift: "lshift",
               ast.RShift: "rshift", ast.BitOr: "or", ast.BitXor: "xor", ast.BitAnd: "and",
               ast.MatMult: "matmul"}

    def _eval_BinOp(self, node: ast.BinOp, scope: Scope) -> Value | None:
        left = self.fact(node.left, scope)
        right = self.fact(node.right, scope)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Pow):
            return None  # int ** int is int or float depending on the sign: not decidable
        op = self._BINARY[type(node.op)]
        result = self._call_method(left.type, f"__{op}__", [right.type], {})
        if result is None:
            result = self._call_method(right.type, f"__r{op}__", [left.type], {})
        if result is None:
            return None
        return self._instance("arithmetic", result.type, [left, right, result])

    def _eval_IfExp(self, node: ast.IfExp, scope: Scope) -> Value | None:
        body = self.fact(node.body, scope)
        orelse = self.fact(node.orelse, scope)
        if body is None or orelse is None:
            return None
        t = join_types([body.type, orelse.type])
        return None if t is None else self._instance("boolean_op", t, [body, orelse])

    def _eval_NamedExpr(self, node: ast.NamedExpr, scope: Scope) -> Value | None:
        return self.value(node.value, scope)

    def _eval_Await(self, node: ast.Await, scope: Scope) -> Value | None:
        awaited = self.fact(node.value, scope)
        if awaited is None:
            return None
        t = awaited.type
        if t.name in ("Coroutine", "Awaitable", "Task", "Future") and t.args:
            return self._instance("await", t.args[-1], [awaited])
        return None

    def _eval_Name(self, node: ast.Name, scope: Scope) -> Value | None:
        return self.lookup(node.id, scope)

    def _eval_Attribute(self, node: ast.Attribute, scope: Scope) -> Value | None:
        base = self.value(node.value, scope)
        if base is None:
            return None
        if isinstance(base, ModuleValue):
            return self.module_attribute(base.name, node.attr)
        if isinstance(base, ProjectClass):
            return self._class_attribute(base, node.attr)
        if isinstance(base, StubClassValue):
            receiver = None if base.info.type_params else _instance_of(base.info)
            return self._stub_member(base.info, node.attr, receiver)
        if isinstance(base, Instance):
            return self._instance_attribute(base.fact, node.attr)
        return None

    def _class_attribute(self, cls: ProjectClass, name: str) -> Value | None:
        scope = cls.scope
        if name in scope.bindings and self.is_enum(scope):
            member_type = TypeExpr(scope.node.name, module=cls.module)  # type: ignore[union-attr]
            return self._instance("project_constructor", member_type)
        if name in scope.defs:
            child = scope.defs[name]
            if child.kind == "class":
                return ProjectClass(child, cls.module)
            return ProjectFunction(child, cls.module)
        if name in scope.bindings:
            fact = self.variable_fact(scope, name)
            return Instance(fact) if fact is not None else None
        return None

    def _instance_attribute(self, receiver: Fact, name: str) -> Value | None:
        t = receiver.type
        if t.is_union:
            return None
        project_class = self._project_class(t)
        if project_class is not None:
            return self._project_member(project_class, name, t, receiver)
        info = self.stubs.class_info(qualified(t))
        if info is None:
            return None
        return self._stub_member(info, name, t)

    def is_enum(self, cls: Scope, depth: int = 0) -> bool:
        """Whether a project class derives from an Enum (its members are not variables)."""
        if depth > 8:
            return False
        for base in _class_bases(cls):
            value = self.value(base, cls.parent or cls)
            if isinstance(value, StubClassValue) and value.info.qualname.startswith("enum."):
                return True
            if isinstance(value, ProjectClass) and self.is_enum(value.scope, depth + 1):
                return True
        return False

    def _project_class(self, t: TypeExpr) -> Scope | None:
        if not t.module or not self.project.has_module(t.module):
            return None
        scope = self._module_scope(t.module)
        if scope is None:
            return None
        found = scope.defs.get(t.name)
        return found if found is not None and found.kind == "class" else None

    def _project_member(self, cls: Scope, name: str, receiver: TypeExpr,
                        fact: Fact, depth: int = 0) -> Value | None:
        if depth > 10:
            return None
        module = self.module_of(cls)
        if name in cls.defs:
            child = cls.defs[name]
            if child.kind == "function":
                if _is_property(child):
                    result = self.return_fact(child)
                    return Instance(result.via("project_call")) if result is not None else None
                return ProjectFunction(child, module, receiver)
            return ProjectClass(child, module)
        if name in cls.attr_bindings or name in cls.bindings:
            result = self.attribute_fact(cls, name)
            return Instance(result) if result is not None else None
        for base in _class_bases(cls):  # inherited members, depth-first
            value = self.value(base, cls.parent or cls)
            if isinstance(value, ProjectClass):
                found = self._project_member(value.scope, name, receiver, fact, depth + 1)
                if found is not None:
                    return found
            elif isinstance(value, StubClassValue):
                found = self._stub_member(value.info, name, receiver)
                if found is not None:
                    return found
        return None

    def _stub_member(self, info: StubClass, name: str, receiver: TypeExpr | None,
                     depth: int = 0, self_type: TypeExpr | None = None) -> Value | None:
        if depth > 12:
            return None
        self_type = self_type or receiver
        if name in info.members:
            member = info.members[name]
            overloads = self.stubs.functions(info.module, member, is_method=True)
            if overloads:
                if _is_stub_property(overloads[0]):
                    result = self._apply_overloads(overloads, receiver, [], {}, info,
                                                   self_type=self_type)
                    if result is None or not self.rules.enabled("typeshed_attribute"):
                        return None
                    return Instance(result.via("typeshed_attribute",
                                               self.rules.confidence("typeshed_attribute")))
                return StubCallable(f"{info.qualname}.{name}", tuple(overloads), receiver,
                                    self_type)
            t = self.stubs.variable_type(info.module, member)
            if t is None or not self.rules.enabled("typeshed_attribute"):
                return None
            bound = self._bind_class_params(info, receiver)
            t = _substitute(t, bound, self.stubs, receiver) if bound is not None else None
            if t is None:
                return None
            return Instance(Fact(t, self.rules.confidence("typeshed_attribute"),
                                 ("typeshed_attribute",)))
        for base in info.bases:
            base_info = self.stubs.class_info(qualified(base))
            if base_info is None:
                continue
            bound = self._bind_class_params(info, receiver)
            instantiated = (_substitute(base, bound, self.stubs, receiver)
                            if bound is not None else None)
            found = self._stub_member(base_info, name,
                                      instantiated if receiver is not None else None, depth + 1,
                                      self_type)
            if found is not None:
                return found
        return None

    def _eval_Subscript(self, node: ast.Subscript, scope: Scope) -> Value | None:
        base = self.fact(node.value, scope)
        if base is None or not self.rules.enabled("subscript"):
            return None
        t = base.type
        if isinstance(node.slice, ast.Slice):
            index_types: list[TypeExpr | None] = [_t("slice", ANY, ANY, ANY)]
        else:
            index = self.fact(node.slice, scope)
            if t.name == "tuple" and t.args and t.args[-1].name != "...":
                if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
                    position = node.slice.value
                    if -len(t.args) <= position < len(t.args):
                        return self._instance("subscript", t.args[position], [base])
                return None
            if index is None:
                return None
            index_types = [index.type]
        result = self._call_method(t, "__getitem__", index_types, {})
        if result is None:
            return None
        return self._instance("subscript", result.type, [base, result])

    # -- calls --------------------------------------------------------------------------------
    def _eval_Call(self, node: ast.Call, scope: Scope) -> Value | None:
        callee = self.value(node.func, scope)
        if callee is None:
            return self._camelcase_call(node, scope)
        if isinstance(callee, ProjectClass):
            if _is_generic_class(callee.scope) or not self.rules.enabled("project_constructor"):
                return None
            t = TypeExpr(callee.scope.node.name, module=callee.module)  # type: ignore[union-attr]
            return self._instance("project_constructor", t)
        if isinstance(callee, ProjectFunction):
            if not self.rules.enabled("project_call"):
                return None
            result = self.return_fact(callee.scope)
            if result is None or _mentions_typevar(result.type, callee.scope, self):
                return None
            t = result.type
            if isinstance(callee.scope.node, ast.AsyncFunctionDef) and not callee.scope.yields:
                t = _t("Coroutine", ANY, ANY, t, module="collections.abc")
            return self._instance("project_call", t, [result])
        if isinstance(callee, (StubCallable, StubClassValue)):
            args, keywords = self._call_arguments(node, scope)
            if isinstance(callee, StubClassValue):
                return self._construct(callee.info, args, keywords)
            if not self.rules.enabled("typeshed_call"):
                return None
            result = self._apply_overloads(list(callee.overloads), callee.receiver, args,
                                           keywords, self._owner_class(callee),
                                           self_type=callee.self_type)
            if result is None:
                return None
            return self._instance("typeshed_call", result.type, [result])
        return None

    def _owner_class(self, callee: StubCallable) -> StubClass | None:
        owner = callee.qualname.rpartition(".")[0]
        return self.stubs.class_info(owner) if callee.receiver is not None else None

    def _call_arguments(self, node: ast.Call, scope: Scope
                        ) -> tuple[list[TypeExpr | None], dict[str, TypeExpr | None]]:
        args: list[TypeExpr | None] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.append(_STAR)
                continue
            fact = self.fact(arg, scope)
            args.append(fact.type if fact is not None else None)
        keywords: dict[str, TypeExpr | None] = {}
        for keyword in node.keywords:
            fact = self.fact(keyword.value, scope)
            keywords[keyword.arg if keyword.arg is not None else "**"] = (
                fact.type if fact is not None else None)
        return args, keywords

    def _camelcase_call(self, node: ast.Call, scope: Scope) -> Value | None:
        if not self.rules.enabled("camelcase_call") or not isinstance(node.func, ast.Name):
            return None
        name = node.func.id
        if not (name[:1].isupper() and any(c.islower() for c in name)):
            return None
        found = self._import_of(name, scope)
        if found is None or self.project.has_module(found.module) or self.stubs.has_module(
                found.module):
            return None  # only for libraries we have no signatures for
        return self._instance("camelcase_call", TypeExpr(name, module=found.module))

    def _import_of(self, name: str, scope: Scope) -> ImportRef | None:
        current: Scope | None = scope
        while current is not None:
            if name in current.imports:
                return current.imports[name]
            if name in current.bindings or name in current.defs:
                return None
            current = current.parent
        return None

    def _construct(self, info: StubClass, args: list[TypeExpr | None],
                   keywords: dict[str, TypeExpr | None]) -> Value | None:
        if not self.rules.enabled("typeshed_constructor"):
            return None
        instance = _instance_of(info)
        module, name = instance.module, instance.name
        if name in ("type", "object", "super", "property", "staticmethod", "classmethod"):
            return None
        if not info.type_params:
            return self._instance("typeshed_constructor", TypeExpr(name, module=module))
        for dunder in ("__new__", "__init__"):
            overloads = self._find_stub_method(info, dunder)
            if overloads is None:
                continue
            variables = [TypeExpr(v.rpartition(".")[2], module=v.rpartition(".")[0])
                         for v in info.type_params]
            placeholder = TypeExpr(name, tuple(variables), module)
            result = self._apply_overloads(overloads[0], placeholder, args, keywords,
                                           overloads[1], constructing=True)
            if result is not None and result.type.name == name:
                return self._instance("typeshed_constructor", result.type, [result])
            return None
        return None

    def _find_stub_method(self, info: StubClass, name: str, depth: int = 0
                          ) -> tuple[list[StubFunction], StubClass] | None:
        if name in info.members:
            overloads = self.stubs.functions(info.module, info.members[name], is_method=True)
            return (overloads, info) if overloads else None
        if depth > 10:
            return None
        for base in info.bases:
            base_info = self.stubs.class_info(qualified(base))
            if base_info is not None and base_info.qualname != "builtins.object":
                found = self._find_stub_method(base_info, name, depth + 1)
                if found is not None:
                    return found
        return None

    def _call_method(self, receiver: TypeExpr, name: str, args: list[TypeExpr | None],
                     keywords: dict[str, TypeExpr | None]) -> Fact | None:
        """The result of ``receiver.name(*args)`` for project or library classes."""
        if receiver.is_union or receiver.name in ("Any", "None"):
            return None
        member = self._instance_attribute(Fact(receiver, 1.0, ()), name)
        if isinstance(member, StubCallable):
            return self._apply_overloads(list(member.overloads), member.receiver, args, keywords,
                                         self._owner_class(member), self_type=member.self_type)
        if isinstance(member, ProjectFunction):
            return self.return_fact(member.scope)
        return None

    def _bind_class_params(self, info: StubClass | None, receiver: TypeExpr | None
                           ) -> dict[str, TypeExpr] | None:
        if info is None or receiver is None or not info.type_params:
            return {}
        args = receiver.args
        if info.qualname == "builtins.tuple":
            if not args:
                return None
            element = args[0] if len(args) == 2 and args[1].name == "..." else join_types(
                list(args))
            return {info.type_params[0]: element} if element is not None else None
        if len(args) != len(info.type_params):
            return None
        return dict(zip(info.type_params, args, strict=True))

    def _apply_overloads(self, overloads: list[StubFunction], receiver: TypeExpr | None,
                         args: list[TypeExpr | None], keywords: dict[str, TypeExpr | None],
                         owner: StubClass | None, constructing: bool = False,
                         self_type: TypeExpr | None = None) -> Fact | None:
        """Overload resolution: the first overload that accepts the known argument types.

        An argument of unknown type fits any parameter; when that leaves several overloads
        with different results, the call is ambiguous and gives nothing.
        """
        class_binding = self._bind_class_params(owner, receiver)
        if class_binding is None:
            return None
        results: list[TypeExpr | None] = []
        exact = not any(a is None or a is _STAR for a in args) and None not in keywords.values()
        for overload in overloads:
            binding = dict(class_binding)
            if constructing:  # the class's own parameters are what we solve for
                binding = {}
            if not self._accepts(overload, receiver, args, keywords, binding):
                continue
            returns = overload.node.returns
            if constructing:
                result: TypeExpr | None = receiver
                if overload.node.name == "__new__" and returns is not None:
                    result = self.stubs.annotation(returns, overload.module)
                result = _substitute(result, binding, self.stubs, self_type or receiver) \
                    if result else None
            else:
                declared = self.stubs.annotation(returns, overload.module)
                result = (_substitute(declared, binding, self.stubs, self_type or receiver)
                          if declared is not None else None)
                if result is not None and isinstance(overload.node, ast.AsyncFunctionDef):
                    result = _t("Coroutine", ANY, ANY, result, module="collections.abc")
            results.append(result)
            if exact:
                break
        if not results or any(r is None for r in results):
            return None
        distinct = {r for r in results if r is not None}
        if len(distinct) != 1:
            return None
        return Fact(distinct.pop(), 1.0, ())

    def _accepts(self, overload: StubFunction, receiver: TypeExpr | None,
                 args: list[TypeExpr | None], keywords: dict[str, TypeExpr | None],
                 binding: dict[str, TypeExpr]) -> bool:
        node_args = overload.node.args
        positional = [*node_args.posonlyargs, *node_args.args]
        if overload.is_method and positional and not _is_stub_static(overload):
            first = positional[0]
            if (first.annotation is not None and receiver is not None
                    and not _is_stub_classmethod(overload)):
                declared = self.stubs.annotation(first.annotation, overload.module)
                if declared is not None and not self._assignable(receiver, declared, binding):
                    return False
            positional = positional[1:]
        if _STAR in args or "**" in keywords:
            return True  # *args/**kwargs at the call: arity unknown
        if len(args) > len(positional) and node_args.vararg is None:
            return False
        required = len(positional) - len(node_args.defaults)
        by_name = {a.arg: a for a in (*positional, *node_args.kwonlyargs)}
        for index, param in enumerate(positional):
            if index >= len(args) and index < required and param.arg not in keywords:
                return False
        for index, arg in enumerate(args):
            if index < len(positional):
                param_annotation = positional[index].annotation
            elif node_args.vararg is not None:
                param_annotation = node_args.vararg.annotation
            else:
                return False
            if arg is not None and not self._fits(arg, param_annotation, overload, binding):
                return False
        for name, arg in keywords.items():
            keyword_param = by_name.get(name)
            if keyword_param is None:
                if node_args.kwarg is None:
                    return False
                param_annotation = node_args.kwarg.annotation
            else:
                param_annotation = keyword_param.annotation
            if arg is not None and not self._fits(arg, param_annotation, overload, binding):
                return False
        kwonly_required = [a.arg for a, d in zip(node_args.kwonlyargs, node_args.kw_defaults,
                                                 strict=True) if d is None]
        return all(name in keywords for name in kwonly_required)

    def _fits(self, arg: TypeExpr, annotation: ast.expr | None, overload: StubFunction,
              binding: dict[str, TypeExpr]) -> bool:
        if annotation is None:
            return True
        declared = self.stubs.annotation(annotation, overload.module)
        return declared is None or self._assignable(arg, declared, binding)

    def _assignable(self, arg: TypeExpr, param: TypeExpr, binding: dict[str, TypeExpr],
                    depth: int = 0) -> bool:
        """Whether a value of type ``arg`` fits ``param``, binding type variables on the way."""
        if depth > 12:
            return False
        if param.name in ("Any", "object") or arg.name == "Any":
            return True
        if param.is_union:
            return any(self._assignable(arg, m, binding, depth + 1) for m in param.members)
        if arg.is_union:
            return all(self._assignable(m, param, binding, depth + 1) for m in arg.members)
        variable = self.stubs.typevar(param)
        if variable is not None:
            return self._bind_variable(arg, variable.qualname, variable.constraints,
                                       variable.bound, binding, depth)
        expanded = self.stubs.alias(param)
        if expanded is not None:
            return self._assignable(arg, expanded, binding, depth + 1)
        if param.name == "None" or arg.name == "None":
            return param.name == arg.name
        if param.name == "Literal":
            return any(self._literal_type(v) == arg.name for v in param.args)
        if param.name in ("Callable", "type", "Type"):
            return arg.name in ("type", "Callable") or (param.name == "Callable" and (
                arg.module not in ("",)))
        if arg.name == param.name and arg.module == param.module:
            return self._arguments_fit(arg, param, binding, depth)
        if _NUMERIC_RANK.get(arg.name, 9) < _NUMERIC_RANK.get(param.name, -1) and not arg.module:
            return True  # int fits float fits complex
        base = self._as_base(arg, param, depth)
        if base is not None:
            return self._arguments_fit(base, param, binding, depth)
        protocol = self.stubs.class_info(qualified(param))
        if protocol is not None and protocol.is_protocol:
            return self._satisfies(arg, protocol)
        return False

    def _bind_variable(self, arg: TypeExpr, name: str, constraints: tuple[TypeExpr, ...],
                       bound: TypeExpr | None, binding: dict[str, TypeExpr], depth: int) -> bool:
        if name in binding:
            current = binding[name]
            if current == arg:
                return True
            if self._assignable(arg, current, {}, depth + 1):
                return True
            joined = join_types([current, arg])
            if joined is None:
                return False
            binding[name] = joined
            return True
        if constraints:
            for constraint in constraints:
                if self._assignable(arg, constraint, {}, depth + 1):
                    binding[name] = constraint
                    return True
            return False
        if bound is not None and not self._assignable(arg, bound, {}, depth + 1):
            return False
        binding[name] = arg
        return True

    @staticmethod
    def _literal_type(value: TypeExpr) -> str:
        text = value.name
        if text.startswith(("'", '"')):
            return "str"
        if text.startswith(("b'", 'b"')):
            return "bytes"
        if text in ("True", "False"):
            return "bool"
        return "int" if text.lstrip("-").isdigit() else "?"

    def _arguments_fit(self, arg: TypeExpr, param: TypeExpr, binding: dict[str, TypeExpr],
                       depth: int) -> bool:
        if not param.args or not arg.args:
            return True
        if len(param.args) != len(arg.args):
            return param.name == "tuple"
        return all(self._assignable(a, p, binding, depth + 1)
                   for a, p in zip(arg.args, param.args, strict=True))

    def _as_base(self, arg: TypeExpr, param: TypeExpr, depth: int) -> TypeExpr | None:
        """``arg`` seen as its base class ``param`` (``list[int]`` as ``Iterable[int]``)."""
        if depth > 12:
            return None
        if self._project_class(arg) is not None:
            return None
        info = self.stubs.class_info(qualified(arg))
        if info is None:
            return None
        bound = self._bind_class_params(info, arg)
        if bound is None:
            bound = {}
        for base in info.bases:
            instantiated = _substitute(base, bound, self.stubs, arg) if bound else base
            if instantiated is None:
                instantiated = TypeExpr(base.name, module=base.module)
            if instantiated.name == param.name and instantiated.module == param.module:
                return instantiated
            found = self._as_base(instantiated, param, depth + 1)
            if found is not None:
                return found
        return None

    def _satisfies(self, arg: TypeExpr, protocol: StubClass) -> bool:
        info = self.stubs.class_info(qualified(arg))
        if info is None:
            return False
        required = [m for m in protocol.members if m.startswith("__") and m not in (
            "__slots__", "__init__", "__class_getitem__", "__hash__", "__eq__")]
        return bool(required) and all(self._find_stub_method(info, m) is not None
                                      for m in required)

    # -- elements of iterables and context managers ------------------------------------------
    def _element(self, fact: Fact) -> Fact | None:
        t = fact.type
        if t.name == "tuple" and t.args:
            element = t.args[0] if t.args[-1].name == "..." else join_types(list(t.args))
            return Fact(element, fact.confidence, fact.rules) if element is not None else None
        iterator = self._call_method(t, "__iter__", [], {})
        if iterator is None:
            return None
        item = self._call_method(iterator.type, "__next__", [], {})
        if item is None:
            return None
        return Fact(item.type, fact.confidence, fact.rules)

    def _entered(self, manager: ast.expr, scope: Scope) -> Fact | None:
        if not self.rules.enabled("context_manager"):
            return None
        source = self.fact(manager, scope)
        if source is None:
            return None
        entered = self._call_method(source.type, "__enter__", [], {})
        if entered is None:
            return None
        return _combine([source], entered.type, "context_manager",
                        self.rules.confidence("context_manager"))


_STAR = TypeExpr("<star>")


def _instance_of(info: StubClass) -> TypeExpr:
    module, _, name = info.qualname.rpartition(".")
    return TypeExpr(name, module="" if module == "builtins" else module)


def _substitute(t: TypeExpr | None, binding: dict[str, TypeExpr], stubs: Stubs,
                receiver: TypeExpr | None) -> TypeExpr | None:
    """Replace type variables by their binding; None when one stays unbound."""
    if t is None:
        return None
    if t.name == "Self" and t.module == "typing":
        return receiver
    if t.name == "|":
        members = [_substitute(m, binding, stubs, receiver) for m in t.args]
        if any(m is None for m in members):
            return None
        return make_union([m for m in members if m is not None])
    variable = stubs.typevar(t) if not t.args else None
    if variable is not None:
        return binding.get(variable.qualname)
    args = [_substitute(a, binding, stubs, receiver) for a in t.args]
    if any(a is None for a in args):
        return None
    return TypeExpr(t.name, tuple(a for a in args if a is not None), t.module)


def _is_literal(node: ast.expr) -> bool:
    """Constants and displays of constants: ``0``, ``-1``, ``"a"``, ``(1, 2)``."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_literal(k) for k in node.keys) and all(
            _is_literal(v) for v in node.values)
    return False


def _is_not_implemented(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "NotImplemented"


def _narrowed_not_none(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """Whether the body asserts ``name`` is not None, or leaves early when it is
    (``assert x is not None``, ``if x is None: raise ...``)."""
    for statement in ast.walk(function):
        if isinstance(statement, ast.Assert) and _tests_not_none(statement.test, name):
            return True
        if isinstance(statement, ast.If) and _tests_none(statement.test, name) \
                and _always_exits(statement.body):
            return True
    return False


def _tests_not_none(test: ast.expr, name: str) -> bool:
    if isinstance(test, ast.Name):
        return test.id == name
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == name and len(test.ops) == 1
            and isinstance(test.ops[0], ast.IsNot)
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None)


def _tests_none(test: ast.expr, name: str) -> bool:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return isinstance(test.operand, ast.Name) and test.operand.id == name
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == name and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is)
            and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None)


def _default_of(node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> ast.expr | None:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    for arg, default in zip(positional[len(positional) - len(args.defaults):], args.defaults,
                                 strict=True):
        if arg.arg == name:
            return default
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if arg.arg == name:
            return kw_default
    return None


def _is_property(scope: Scope) -> bool:
    node = scope.node
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and bool(
        decorator_names(node) & {"property", "cached_property"})


def _is_stub_property(function: StubFunction) -> bool:
    return bool(decorator_names(function.node) & {"property", "cached_property"})


def _is_stub_static(function: StubFunction) -> bool:
    return "staticmethod" in decorator_names(function.node)


def _is_stub_classmethod(function: StubFunction) -> bool:
    return "classmethod" in decorator_names(function.node)


def _is_abstract(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Abstract, overload or stub-like bodies: their return type is not what they do."""
    if decorator_names(node) & {"abstractmethod", "overload", "abstractproperty"}:
        return True
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    if all(isinstance(s, ast.Pass)
           or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)) for s in body):
        return True  # `pass` / `...` only: an interface or placeholder
    for statement in body:  # `raise NotImplementedError` stands in the body itself
        if isinstance(statement, ast.If):
            continue
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def _always_exits(body: list[ast.stmt]) -> bool:
    """Whether control can never fall off the end of ``body`` (mypy's reachability rules)."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    if isinstance(last, ast.Assert) and isinstance(last.test, ast.Constant) and not last.test.value:
        return True
    if isinstance(last, ast.If):
        return _always_exits(last.body) and _always_exits(last.orelse)
    if isinstance(last, ast.While):
        infinite = isinstance(last.test, ast.Constant) and bool(last.test.value)
        return infinite and not any(isinstance(n, ast.Break) for n in _loop_body_nodes(last))
    if isinstance(last, (ast.With, ast.AsyncWith)):
        return _always_exits(last.body)
    if isinstance(last, ast.Try):
        if _always_exits(last.finalbody):
            return True
        main = _always_exits(last.orelse) if last.orelse else _always_exits(last.body)
        return main and all(_always_exits(h.body) for h in last.handlers)
    if isinstance(last, ast.Match):
        irrefutable = any(isinstance(c.pattern, ast.MatchAs) and c.pattern.pattern is None
                          and c.guard is None for c in last.cases)
        return irrefutable and all(_always_exits(c.body) for c in last.cases)
    if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call):
        return last_name(last.value.func) in ("exit", "_exit", "abort", "fail", "assert_never")
    return False


def _loop_body_nodes(loop: ast.While) -> list[ast.AST]:
    """Nodes of a loop body, not descending into nested loops or functions."""
    found: list[ast.AST] = []
    stack: list[ast.AST] = list(loop.body)
    while stack:
        node = stack.pop()
        found.append(node)
        if isinstance(node, (ast.For, ast.While, ast.AsyncFor, ast.FunctionDef,
                             ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


def _receives_sent_values(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a generator uses the value of a ``yield`` expression (``x = yield ...``)."""
    for statement in ast.walk(node):
        if isinstance(statement, ast.Expr) and isinstance(statement.value, (ast.Yield,
                                                                             ast.YieldFrom)):
            continue
        for child in ast.iter_child_nodes(statement):
            if isinstance(child, ast.Yield) and not isinstance(statement, ast.Expr):
                return True
    return False


def _class_bases(cls: Scope) -> list[ast.expr]:
    node = cls.node
    return list(node.bases) if isinstance(node, ast.ClassDef) else []


def _is_generic_class(cls: Scope) -> bool:
    node = cls.node
    if not isinstance(node, ast.ClassDef):
        return False
    for base in node.bases:
        if isinstance(base, ast.Subscript) and last_name(base.value) in ("Generic", "Protocol"):
            return True
    return False


def _mentions_typevar(t: TypeExpr, function: Scope, engine: StaticEngine) -> bool:
    """Whether a project function's declared result depends on its type variables."""
    module = engine.module_of(function)
    root = engine._module_scope(module) if module else None
    if root is None:
        return False
    for part in t.walk():
        if part.module or part.args:
            continue
        bindings = root.bindings.get(part.name)
        if bindings and isinstance(bindings[0].value, ast.Call) and last_name(
                bindings[0].value.func) in ("TypeVar", "ParamSpec", "TypeVarTuple"):
            return True
    return False


def _bind_comprehension_target(scope: Scope, target: ast.expr, iterable: ast.expr,
                               path: tuple[int, ...] = ()) -> None:
    if isinstance(target, ast.Name):
        scope.bindings.setdefault(target.id, []).append(
            Binding(BindingKind.FOR, target.lineno, target.col_offset, iterable, path))
    elif isinstance(target, (ast.Tuple, ast.List)):
        for index, element in enumerate(target.elts):
            _bind_comprehension_target(scope, element, iterable, (*path, index))
