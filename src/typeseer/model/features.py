"""What the model sees of a site: hashed string features, the same at training and inference.

Each site becomes a bag of short strings, namespaced by their source (``n=`` name subtoken,
``u.`` usage context, ``doc=`` docstring type, ``s=`` static fact...). The signals follow the
research systems the model learns from: identifier subtokens (VarCLR, Type4Py), the tokens
around each use of the name (PYInfer), the expressions bound to it or returned (usage slices as
in CodeTIDAL5), the function's name, signature, decorators and docstring, the default value, and
the static fact with its rule. Strings are hashed with CRC32 (stable across processes, unlike
``hash``) into a fixed number of buckets.

Candidate classes for open-vocabulary prediction are the classes the site's module defines
and the CamelCase names it imports; each is described by its own name features (``n=``).
"""

from __future__ import annotations

import ast
import collections.abc
import re
import typing
import zlib
from collections.abc import Iterable
from functools import lru_cache

from ..sites import BindingKind, ModuleSites, Scope, Site, SiteKind, last_name
from ..static.engine import Fact

__all__ = [
    "BUCKETS",
    "MAX_CANDIDATES",
    "candidate_classes",
    "class_features",
    "hash_features",
    "is_candidate_name",
    "site_features",
    "subtokens",
]

#: Number of hash buckets of the feature embedding table.
BUCKETS = 1 << 17
#: Candidate classes kept per module (defined first, then imported).
MAX_CANDIDATES = 64

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d[\w.]*|\"|'|==|!=|<=|>=|\*\*|//|->|\S")


@lru_cache(maxsize=65536)
def subtokens(name: str) -> tuple[str, ...]:
    """``maxRetryCount`` / ``max_retry_count`` -> ``("max", "retry", "count")``."""
    parts: list[str] = []
    for chunk in name.split("_"):
        if chunk:
            parts.extend(p.lower() for p in _CAMEL.findall(chunk))
    return tuple(parts)


@lru_cache(maxsize=262144)
def _bucket(feature: str) -> int:
    return zlib.crc32(feature.encode("utf-8")) % BUCKETS


def hash_features(features: Iterable[str]) -> list[int]:
    return [_bucket(f) for f in features]


def _name_features(prefix: str, name: str) -> list[str]:
    subs = subtokens(name)
    found = [f"{prefix}={s}" for s in subs]
    if subs:
        found.append(f"{prefix}$={subs[-1]}")  # the head word: user_id -> id
    found.append(f"{prefix}#={name.lower()}")
    return found


def expression_features(node: ast.expr | None, prefix: str) -> list[str]:
    """The shape of an expression bound to or returned as the site's value."""
    if node is None:
        return [f"{prefix}none"]
    kind = node.__class__.__name__
    found = [f"{prefix}{kind}"]
    if isinstance(node, ast.Constant):
        found.append(f"{prefix}const={type(node.value).__name__}")
    elif isinstance(node, ast.Name):
        found.extend(_name_features(f"{prefix}nm", node.id))
    elif isinstance(node, ast.Attribute):
        found.extend(_name_features(f"{prefix}at", node.attr))
    elif isinstance(node, ast.Call):
        callee = last_name(node.func)
        if callee:
            found.extend(_name_features(f"{prefix}call", callee))
        if isinstance(node.func, ast.Attribute):
            base = last_name(node.func.value)
            if base:
                found.append(f"{prefix}callon={base.lower()}")
    elif isinstance(node, ast.Await):
        found.extend(expression_features(node.value, prefix + "aw."))
    elif isinstance(node, ast.Subscript):
        found.extend(expression_features(node.value, prefix + "sub."))
    elif isinstance(node, ast.BinOp):
        found.append(f"{prefix}op={node.op.__class__.__name__}")
    elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        found.append(f"{prefix}len={min(len(node.elts), 3)}")
        if node.elts:
            found.extend(expression_features(node.elts[0], prefix + "el."))
    elif isinstance(node, ast.Dict):
        found.append(f"{prefix}len={min(len(node.keys), 3)}")
        if node.keys and node.keys[0] is not None:
            found.extend(expression_features(node.keys[0], prefix + "key."))
            found.extend(expression_features(node.values[0], prefix + "val."))
    return found


# -- docstrings ------------------------------------------------------------------------------

def _docstring(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].value.value
    return ""


#: Docstring fields that give a parameter's type, highest priority first: Sphinx ``:type x:``
#: and ``:param int x:``, Google ``x (int):``, NumPy ``x : int``. Groups: (name, type).
_PARAM_FIELDS = (
    (re.compile(r":type\s+(\w+)\s*:\s*([^\n]+)"), 1, 2),
    (re.compile(r":param\s+([A-Za-z_][\w\[\], .|]*?)\s+(\w+)\s*:"), 2, 1),
    (re.compile(r"^\s*\*{0,2}(\w+)\s*\(([^)\n]+)\)\s*:", re.M), 1, 2),
    (re.compile(r"^\s*(\w+)\s*:\s*([A-Za-z_][\w\[\], .|]*)\s*$", re.M), 1, 2),
)
_RETURN_FIELDS = (
    re.compile(r":rtype:\s*([^\n]+)"),
    re.compile(r"Returns?:?\s*\n\s*-*\s*\n?\s*([A-Za-z_][\w\[\], .|]*?)\s*(?::|\n)"),
)


def _clean_doc_type(text: str) -> str | None:
    text = re.sub(r",?\s*optional$", "", text.strip().rstrip(".,"))
    return text[:60] or None


@lru_cache(maxsize=4096)
def _doc_table(doc: str) -> tuple[dict[str, str | None], str | None]:
    """Every parameter type and the return type a docstring gives, read once per docstring
    (one pattern per field style, not one per parameter name)."""
    params: dict[str, str | None] = {}
    for pattern, name_group, type_group in _PARAM_FIELDS:
        found: dict[str, str | None] = {}
        for match in pattern.finditer(doc):
            found.setdefault(match.group(name_group), _clean_doc_type(match.group(type_group)))
        for name, text in found.items():
            params.setdefault(name, text)
    returned = None
    for pattern in _RETURN_FIELDS:
        found_return = pattern.search(doc)
        if found_return is not None:
            returned = _clean_doc_type(found_return.group(1))
            break
    return params, returned


def doc_type(doc: str, name: str | None) -> str | None:
    """The type a docstring gives a parameter (``name``) or the return value (None)."""
    if not doc:
        return None
    params, returned = _doc_table(doc)
    return returned if name is None else params.get(name)


def _doc_features(prefix: str, text: str | None) -> list[str]:
    if text is None:
        return []
    found = [f"{prefix}={text.replace(' ', '').lower()}"]
    found.extend(f"{prefix}w={w.lower()}" for w in re.findall(r"[A-Za-z_]\w*", text)[:6])
    return found


# -- usage windows ---------------------------------------------------------------------------

def _use_features(lines: list[str], site: Site, limit: int = 12) -> list[str]:
    """Tokens right around each use of the name (PYInfer's context windows, reduced to the
    positions that say most: what follows the name, and what precedes it)."""
    found: list[str] = []
    target = site.name
    for line_no, col in site.uses[:limit]:
        if not 0 < line_no <= len(lines):
            continue
        text = lines[line_no - 1]
        if not text.isascii():
            col = len(text.encode("utf-8")[:col].decode("utf-8", "replace"))
        after = _TOKEN.findall(text[col:col + 80])
        if site.kind is SiteKind.ATTRIBUTE:  # the use is `self.name`: skip to the name
            after = after[3:] if len(after) >= 3 and after[2] == target else after[1:]
        else:
            after = after[1:]
        before = _TOKEN.findall(text[max(0, col - 60):col])
        if after:
            first = after[0]
            if first == "." and len(after) > 1:
                found.append(f"u.={after[1]}")
                if len(after) > 2 and after[2] == "(":
                    found.append("u.call")
            elif first in ("(", "[", "+", "-", "*", "/", "%", "==", "!=", "<", ">", "<=", ">=",
                           "**", "//", ":", ",", ")", "]", "}", "=", "|", "&"):
                found.append(f"u>{first}")
            else:
                found.append(f"u>w={first.lower()}")
        if before:
            last = before[-1]
            found.append(f"u<{last.lower() if last[0].isalpha() else last}")
            if last == "(" and len(before) > 1 and before[-2][0].isalpha():
                found.append(f"u.arg={before[-2]}")  # passed to a call: len(x), open(x)
            if last == "=" and len(before) > 1 and before[-2][0].isalpha():
                found.append(f"u.kw={before[-2]}")  # keyword argument or assignment target
    return found


# -- the site ---------------------------------------------------------------------------------

def _function_of(site: Site) -> Scope | None:
    owner = site.owner
    if owner is None:
        return None
    if site.kind in (SiteKind.PARAM, SiteKind.RETURN):
        return owner
    if owner.kind == "function":
        return owner
    return None


def _class_of(site: Site) -> Scope | None:
    scope = site.owner
    while scope is not None and scope.kind != "class":
        scope = scope.parent
    return scope


def site_features(site: Site, module: ModuleSites, fact: Fact | None,
                  fact_confidence: float, context: Iterable[str] = ()) -> list[str]:
    """The feature strings of one site; ``context`` adds interprocedural features
    (model/callsites.py)."""
    kind = site.kind.value
    found = [f"k={kind}"]
    found.extend(_name_features("n", site.name) if site.name else ["n=<return>"])
    function = _function_of(site)
    if function is not None and function.kind == "function":
        node = function.function
        found.extend(_name_features("f", node.name))
        if isinstance(node, ast.AsyncFunctionDef):
            found.append("f.async")
        for decorator in site.decorators[:4]:
            found.append(f"d={decorator.split('(')[0].rsplit('.', 1)[-1]}")
        doc = _docstring(node)
        if site.kind is SiteKind.PARAM:
            found.extend(_doc_features("doc", doc_type(doc, site.name)))
            args = node.args
            if args.vararg is not None and args.vararg.arg == site.name:
                found.append("p.varargs")
            elif args.kwarg is not None and args.kwarg.arg == site.name:
                found.append("p.kwargs")
            found.extend(f"sib={s}" for s in _sibling_names(node, site.name))
        elif site.kind is SiteKind.RETURN:
            found.extend(_doc_features("doc", doc_type(doc, None)))
            found.extend(_return_features(function))
    cls = _class_of(site)
    if cls is not None and isinstance(cls.node, ast.ClassDef):
        found.extend(_name_features("c", cls.node.name))
    if site.default is not None:
        found.append(f"dv={_default_shape(site.default)}")
    found.extend(_value_features(site))
    found.extend(_use_features(module.lines, site))
    if fact is not None:
        found.append(f"s={fact.type}")
        found.append(f"s.outer={fact.type.name}")
        found.append(f"sr={fact.rules[-1] if fact.rules else ''}")
        found.append(f"sc={min(int(fact_confidence * 10), 9)}")
    else:
        found.append("s=<none>")
    found.extend(context)
    return found


def _sibling_names(node: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> list[str]:
    names = [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
             if a.arg not in ("self", "cls")]
    if name in names:
        index = names.index(name)
        return [n.lower() for n in names[max(0, index - 1):index] + names[index + 1:index + 2]]
    return []


def _default_shape(text: str) -> str:
    if text in ("None", "True", "False", "()", "[]", "{}", '""', "''", "0", "1", "-1"):
        return text
    if text[:1].isdigit() or text[:1] == "-":
        return "float" if "." in text else "int"
    if text[:1] in ("'", '"') or text[:2] in ('f"', "f'", 'b"', "b'"):
        return "bytes" if text[:1] == "b" else "str"
    if text[:1] in ("(", "[", "{"):
        return "container"
    return "expr:" + re.split(r"[(.\[]", text, maxsplit=1)[0][:20]


def _value_features(site: Site) -> list[str]:
    owner = site.owner
    if owner is None:
        return []
    if site.kind is SiteKind.ATTRIBUTE:
        bindings = owner.attr_bindings.get(site.name, [])
    elif site.kind is SiteKind.VARIABLE:
        bindings = owner.bindings.get(site.name, [])
    elif site.kind is SiteKind.PARAM:
        bindings = owner.bindings.get(site.name, [])[1:]  # rebindings in the body
    else:
        return []
    found: list[str] = []
    for binding in bindings[:4]:
        prefix = "v." if binding.kind is not BindingKind.FOR else "vfor."
        if binding.kind is BindingKind.WITH:
            prefix = "vwith."
        if binding.kind is BindingKind.AUGMENTED:
            found.append("v.aug")
            continue
        found.extend(expression_features(binding.value, prefix))
        if binding.path:
            found.append("v.unpacked")
    return found


def _return_features(function: Scope) -> list[str]:
    found: list[str] = []
    if function.yields:
        found.append("r.yields")
    if not function.returns:
        found.append("r.noreturn")
    for statement in function.returns[:4]:
        found.extend(expression_features(statement.value, "r."))
    return found


# -- candidate classes ------------------------------------------------------------------------

#: Typing constructs are spelled by the vocabulary itself, never filled into a template
#: (``from typing import Any`` would otherwise make ``dict[str, Any]`` a template).
TYPING_NAMES = frozenset(
    {n for n in dir(typing) if not n.startswith("_")}
    | {n for n in dir(collections.abc) if not n.startswith("_")}
    | {"Self", "Never", "TypeGuard", "TypeIs", "Unpack", "Required", "NotRequired", "ReadOnly",
       "TypeAlias", "ParamSpec", "Concatenate", "LiteralString", "override", "Buffer"})


def is_candidate_name(name: str) -> bool:
    """Whether a name may be a candidate class: CamelCase, not a typing construct."""
    return (name[:1].isupper() and any(c.islower() for c in name) and not name.isupper()
            and name not in TYPING_NAMES)


def candidate_classes(module: ModuleSites) -> list[str]:
    """Classes the module defines, then CamelCase names it imports: the open vocabulary."""
    scope = module.scope
    found: list[str] = []
    seen: set[str] = set()
    for child in scope.walk():
        if child.kind == "class" and isinstance(child.node, ast.ClassDef):
            name = child.node.name
            if name not in seen and name not in TYPING_NAMES:
                seen.add(name)
                found.append(name)
    for name, ref in scope.imports.items():
        if is_candidate_name(name) and name not in seen and ref.attr is not None:
            seen.add(name)
            found.append(name)
    return found[:MAX_CANDIDATES]


def class_features(name: str) -> list[str]:
    """How a candidate class is described to the similarity scorer: in the same namespace as
    a site's own name (``n=``), so that ``user`` and ``User`` start out alike and the model
    can match a class it never saw (VarCLR-style name semantics)."""
    return _name_features("n", name)
