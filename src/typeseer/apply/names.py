"""Where each name of a written type comes from, and the import it needs, if any.

Every name typeseer writes must resolve to the class it means, at the place it is written:
a builtin, a name the module already binds, a module the file imports (``np.ndarray``), or a
new import — ``typing``/``collections.abc`` and the standard library at run time, project and
third-party classes under ``if TYPE_CHECKING:`` (no import cycle, no import cost), which then
makes the annotation *deferred*. A name that is shadowed, ambiguous or unknown is not written.
"""

from __future__ import annotations

import ast
import builtins
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from ..sites import ModuleSites, Scope
from .options import DEFAULT_PYTHON, PythonVersion

__all__ = [
    "ABC_NAMES",
    "Import",
    "ModuleNames",
    "ProjectClasses",
    "Resolution",
    "Unresolved",
    "stdlib_class_modules",
]

#: Special forms and protocols imported from ``typing``.
TYPING_NAMES = frozenset({
    "Any", "Literal", "Optional", "Union", "ClassVar", "Final", "NoReturn", "TypeAlias",
    "Annotated", "Protocol", "NamedTuple", "TypedDict", "IO", "TextIO", "BinaryIO", "AnyStr",
    "SupportsInt", "SupportsFloat", "SupportsComplex", "SupportsBytes", "SupportsIndex",
    "SupportsAbs", "SupportsRound", "TypeGuard", "Concatenate", "ParamSpec", "TypeVar",
    "List", "Dict", "Set", "FrozenSet", "Tuple", "Type", "DefaultDict", "Deque",
})
#: ``typing`` names newer than Python 3.7, with the first version that has them: a name is
#: only imported from ``typing`` when the target Python has it.
TYPING_SINCE = {"Literal": (3, 8), "Final": (3, 8), "Protocol": (3, 8), "TypedDict": (3, 8),
                "SupportsIndex": (3, 8), "Annotated": (3, 9), "TypeGuard": (3, 10),
                "Concatenate": (3, 10), "ParamSpec": (3, 10), "TypeAlias": (3, 10),
                "Self": (3, 11), "Never": (3, 11), "LiteralString": (3, 11),
                "TypeVarTuple": (3, 11), "Unpack": (3, 11), "Required": (3, 11),
                "NotRequired": (3, 11), "TypeAliasType": (3, 12), "TypeIs": (3, 13),
                "ReadOnly": (3, 13)}
#: Abstract base classes imported from ``collections.abc`` (subscriptable since 3.9).
ABC_NAMES = frozenset({
    "Callable", "Iterable", "Iterator", "Generator", "AsyncIterable", "AsyncIterator",
    "AsyncGenerator", "Awaitable", "Coroutine", "Mapping", "MutableMapping", "Sequence",
    "MutableSequence", "MutableSet", "Collection", "Container", "Hashable", "Sized",
    "Reversible", "KeysView", "ItemsView", "ValuesView", "MappingView",
})
#: ``collections`` classes, subscriptable at run time since 3.9.
COLLECTIONS_NAMES = frozenset({"defaultdict", "deque", "OrderedDict", "Counter", "ChainMap"})
#: Third-party classes the model knows by their short name: written only when the file
#: already imports the package.
THIRD_PARTY_HOMES = {"ndarray": "numpy", "DataFrame": "pandas", "Series": "pandas",
                     "Tensor": "torch", "Module": "torch.nn"}
#: Standard-library names defined in several modules: the one meant almost always.
STDLIB_PREFERRED = {"Namespace": "argparse", "Match": "re", "Event": "threading",
                    "Queue": "queue", "Element": "xml.etree.ElementTree",
                    "Process": "multiprocessing", "Path": "pathlib"}
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True, slots=True, order=True)
class Import:
    """An import a written annotation needs."""

    #: Absolute module name.
    module: str
    #: ``from module import name``; None for ``import module``.
    name: str | None
    #: Only for type checkers: goes under ``if TYPE_CHECKING:``.
    type_checking: bool = False


@dataclass(frozen=True, slots=True)
class Resolution:
    """How one name is spelled at the site, and what it needs."""

    spelling: str
    imports: tuple[Import, ...] = ()
    #: The name does not exist when the annotation would be evaluated at run time (a
    #: TYPE_CHECKING import, a class defined later): the annotation must not be evaluated.
    deferred: bool = False


class Unresolved(Exception):
    """The name cannot be written here; the message says why."""


@lru_cache(maxsize=1)
def stdlib_class_modules() -> Mapping[str, tuple[str, ...]]:
    """Public classes of the standard library by name, with the modules defining them
    (read from typeshed's stubs: classes and explicit re-exports)."""
    from ..static.stubs import default_search_context

    root = default_search_context().typeshed
    found: dict[str, list[str]] = {}
    for directory, _, files in os.walk(root):
        for file in files:
            if not file.endswith(".pyi"):
                continue
            relative = os.path.relpath(os.path.join(directory, file), root)[:-4]
            module = relative.replace(os.sep, ".").removesuffix(".__init__")
            if any(part.startswith("_") for part in module.split(".")):
                continue
            if module.split(".")[0] not in sys.stdlib_module_names:
                continue
            try:
                with open(os.path.join(directory, file), encoding="utf-8") as handle:
                    tree = ast.parse(handle.read())
            except (OSError, SyntaxError, UnicodeDecodeError):
                continue
            for name in _public_classes(tree):
                found.setdefault(name, []).append(module)
    return {name: tuple(sorted(modules)) for name, modules in found.items()}


def _public_classes(tree: ast.Module) -> Iterable[str]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield node.name
        elif isinstance(node, ast.ImportFrom):  # ``from _io import TextIOWrapper as ...``
            for alias in node.names:
                if alias.asname == alias.name and alias.name[:1].isupper():
                    yield alias.name


def _stdlib_module(name: str) -> str | None:
    """The standard-library module a class name means, when that is clear."""
    if name in STDLIB_PREFERRED:
        return STDLIB_PREFERRED[name]
    modules = stdlib_class_modules().get(name, ())
    top_level = [m for m in modules if "." not in m]
    if len(modules) == 1:
        return modules[0]
    if len(top_level) == 1:
        return top_level[0]
    return None


class ProjectClasses:
    """Module-level classes of the project's modules, by name (for imports of project types)."""

    def __init__(self, modules: Iterable[tuple[str, ModuleSites]]) -> None:
        self._homes: dict[str, list[str]] = {}
        self.modules: set[str] = set()
        for module_name, sites in modules:
            self.modules.add(module_name)
            for name, scope in sites.scope.defs.items():
                if scope.kind == "class":
                    self._homes.setdefault(name, []).append(module_name)

    def home(self, name: str) -> str | None:
        """The one project module defining class ``name`` at module level (None: none or
        several)."""
        homes = self._homes.get(name, [])
        return homes[0] if len(homes) == 1 else None

    def is_project_module(self, module: str) -> bool:
        return any(module == m or module.startswith(m + ".") or m.startswith(module + ".")
                   for m in self.modules if m)


def _type_checking_block(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class ModuleNames:
    """What the names of one module are bound to, for resolving the names of written types."""

    def __init__(self, module: ModuleSites, module_name: str, project: ProjectClasses,
                 version: PythonVersion = DEFAULT_PYTHON) -> None:
        self.module = module
        #: The oldest Python the annotated code must run on.
        self.version = version
        self.module_name = module_name
        self.project = project
        tree = module.tree
        self.future_annotations = any(
            isinstance(node, ast.ImportFrom) and node.module == "__future__"
            and any(alias.name == "annotations" for alias in node.names)
            for node in tree.body)
        #: Names imported only for type checkers (module-level ``if TYPE_CHECKING:``).
        self.checking_only: set[str] = set()
        #: ``import a.b as x`` -> {"a.b": "x"}; ``import a.b`` -> {"a": "a", "a.b": "a.b"}.
        self.module_aliases: dict[str, str] = {}
        #: First line where each module-level name is bound (by anything).
        self.bound_at: dict[str, int] = {}
        self.imported_packages: set[str] = set()
        for node in tree.body:
            self._note_statement(node, checking=False)
        scope = module.scope
        for name, bindings in scope.bindings.items():
            line = min(b.line for b in bindings)
            self.bound_at[name] = min(line, self.bound_at.get(name, line))
        for name, child in scope.defs.items():
            if not isinstance(child.node, ast.Module):
                line = child.node.lineno
                self.bound_at[name] = min(line, self.bound_at.get(name, line))

    def _note_statement(self, node: ast.stmt, checking: bool) -> None:
        if _type_checking_block(node):
            assert isinstance(node, ast.If)
            for inner in node.body:
                self._note_statement(inner, checking=True)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.imported_packages.add(alias.name.split(".")[0])
                if alias.asname:
                    self.module_aliases.setdefault(alias.name, alias.asname)
                    bound = alias.asname
                else:
                    parts = alias.name.split(".")
                    for index in range(1, len(parts) + 1):
                        dotted = ".".join(parts[:index])
                        self.module_aliases.setdefault(dotted, dotted)
                    bound = parts[0]
                self._note_binding(bound, node.lineno, checking)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                self.imported_packages.add(node.module.split(".")[0])
            base = self._absolute(node.module, node.level)
            for alias in node.names:
                bound = alias.asname or alias.name
                self._note_binding(bound, node.lineno, checking)
                submodule = f"{base}.{alias.name}" if base else alias.name
                if submodule in self.project.modules:  # ``from . import models``
                    self.module_aliases.setdefault(submodule, bound)
        elif isinstance(node, (ast.Try, ast.If)) and not checking:
            for inner in node.body:  # ``try: import x`` fallbacks: the first branch
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    self._note_statement(inner, checking)

    @property
    def package(self) -> str:
        """The package this module is in (itself for an ``__init__.py``)."""
        if self.module.file.endswith("__init__.py"):
            return self.module_name
        return self.module_name.rpartition(".")[0]

    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = self.package.split(".") if self.package else []
        parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        return ".".join([*parts, *([module] if module else [])])

    def import_from(self, module: str) -> str:
        """How this module names ``module`` in a ``from ... import``: relative inside the
        same top-level package (robust to how the project is put on the path)."""
        package = self.package
        if not package or module.split(".")[0] != package.split(".")[0]:
            return module
        ours, theirs = package.split("."), module.split(".")
        common = 0
        while common < min(len(ours), len(theirs)) and ours[common] == theirs[common]:
            common += 1
        return "." * (len(ours) - common + 1) + ".".join(theirs[common:])

    def _note_binding(self, name: str, line: int, checking: bool) -> None:
        if checking:
            self.checking_only.add(name)
        self.bound_at[name] = min(line, self.bound_at.get(name, line))

    # -- resolution --------------------------------------------------------------------------
    def resolve(self, name: str, origin: str, scopes: list[Scope], line: int,
                allow_checking_imports: bool) -> Resolution:
        """How to write ``name`` (known to come from module ``origin``, or ``""``) in an
        annotation evaluated at ``line`` inside ``scopes`` (innermost first, module excluded)."""
        for scope in scopes:
            if name in scope.bindings or name in scope.defs or name in scope.imports:
                raise Unresolved(f"{name!r} is shadowed by a local name in {scope.qualname}")
        if name in self.bound_at:
            return self._bound(name, origin, line)
        if name in _BUILTINS and origin in ("", "builtins"):
            return Resolution(name)
        module = self._home(name, origin)
        if not module:
            raise Unresolved(f"cannot tell which module {name!r} comes from")
        alias = self.module_aliases.get(module)
        if alias is not None and alias.split(".")[0] not in self.checking_only:
            return Resolution(f"{alias}.{name}")  # ``np.ndarray`` after ``import numpy as np``
        return self._new_import(name, module, allow_checking_imports)

    def _bound(self, name: str, origin: str, line: int) -> Resolution:
        """A name the module binds: usable if it is a class or an import of that name."""
        scope = self.module.scope
        defined = scope.defs.get(name)
        if defined is not None and defined.kind != "class":
            raise Unresolved(f"{name!r} is a function in this module, not a class")
        if defined is None and name not in scope.imports and name not in self.checking_only:
            if origin and origin == self.module_name:
                return Resolution(name, deferred=self.bound_at[name] >= line)
            raise Unresolved(f"{name!r} is bound to a value in this module")
        deferred = name in self.checking_only or self.bound_at[name] >= line
        if defined is not None and not isinstance(defined.node, ast.Module):
            # Inside the class's own body its name is not bound yet.
            end = defined.node.end_lineno or defined.node.lineno
            deferred = deferred or defined.node.lineno <= line <= end
        return Resolution(name, deferred=deferred)

    def _home(self, name: str, origin: str) -> str:
        """The module ``name`` comes from: the known origin, else by its name."""
        if name in TYPING_NAMES or name in TYPING_SINCE:
            return "typing"
        if name in ABC_NAMES:
            return "collections.abc"
        if name in COLLECTIONS_NAMES:
            return "collections"
        return origin or self._project_or_stdlib_home(name) or ""

    def _new_import(self, name: str, module: str, allow_checking_imports: bool) -> Resolution:
        if module == "typing":
            since = TYPING_SINCE.get(name)
            if name not in TYPING_NAMES and since is None:
                raise Unresolved(f"typing.{name} is not known to exist in every Python "
                                 f"{self.version}+")
            if since is not None and self.version < PythonVersion(*since):
                raise Unresolved(f"typing.{name} needs Python {since[0]}.{since[1]} "
                                 f"(target {self.version})")
        if module in ("typing", "collections.abc", "collections"):
            return Resolution(name, (Import(module, name),))
        if module.split(".")[0] in sys.stdlib_module_names and not \
                self.project.is_project_module(module):
            return Resolution(name, (Import(module, name),))
        if not allow_checking_imports:
            raise Unresolved(f"{name!r} needs an import of {module} (not at this level)")
        if not self.project.is_project_module(module) and \
                module.split(".")[0] not in self.imported_packages:
            raise Unresolved(f"{name!r} comes from {module}, which this file does not import")
        if module == self.module_name:
            raise Unresolved(f"{name!r} is not defined at module level here")
        return Resolution(name, (Import(self.import_from(module), name, type_checking=True),),
                          deferred=True)

    def _project_or_stdlib_home(self, name: str) -> str | None:
        home = self.project.home(name)
        if home is not None:
            return home
        if name in THIRD_PARTY_HOMES:
            return THIRD_PARTY_HOMES[name]
        return _stdlib_module(name)
