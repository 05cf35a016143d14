"""The named static inference rules: one registry that the evaluator, the CLI, the config,
the evidence labels and the docs all derive from.

Each rule's ``confidence`` is the probability that a fact it derives is *exactly* the type a
developer would write. 1.0 is kept for facts that cannot be wrong (a literal is an ``int``);
rules whose facts a developer often widens (``x = 0`` annotated ``float``) carry less.
The figures were measured on stripped real packages (see docs/benchmarks.md) and are
refined by calibration once the model combines with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["RULES", "Rule", "RuleSet", "rule_names"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A static inference rule that can be tested and switched off alone."""

    #: Stable identifier: CLI ``--disable-rule``, ``[tool.typeseer] disable-rules``, evidence.
    name: str
    #: What the rule derives, and from which evidence.
    description: str
    #: Probability that a fact from this rule is the developer's exact annotation.
    confidence: float


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("literal", "constants: 1 -> int, 'a' -> str, b'' -> bytes, 1.0 -> float, True -> bool,"
             " None -> None", 1.0),
        Rule("container_literal", "list/set/dict/tuple displays whose element types are known and"
             " uniform: [1, 2] -> list[int]; empty displays give nothing", 0.97),
        Rule("comprehension", "list/set/dict comprehensions and generator expressions from the"
             " element expression's type", 0.95),
        Rule("fstring", "f-strings are str", 1.0),
        Rule("comparison", "comparisons (==, <, in, is, ...) of builtin values are bool", 0.99),
        Rule("boolean_op", "not x -> bool; a or b / a and b -> the join of the operand types",
             0.95),
        Rule("arithmetic", "binary and unary operators through the operand class's dunder"
             " methods in typeshed (int / int -> float, str * int -> str)", 0.98),
        Rule("typeshed_call", "calls of stdlib and third-party functions and methods, through"
             " typeshed signatures with overload selection: os.path.join(...) -> str", 0.97),
        Rule("typeshed_constructor", "instantiation of library classes: Path(...) -> Path,"
             " generic classes only when their type arguments are bound", 0.97),
        Rule("typeshed_attribute", "attributes of library modules and instances: sys.argv ->"
             " list[str]", 0.97),
        Rule("project_constructor", "instantiation of classes defined or imported in the"
             " project: User(...) -> User", 0.97),
        Rule("project_call", "calls of the project's own functions and methods whose return type"
             " is known (annotated or inferred, to a fixpoint across the project)", 0.95),
        Rule("camelcase_call", "a call of an unresolved CamelCase name imported from a library"
             " without stubs is taken as that class's constructor", 0.75),
        Rule("subscript", "indexing through __getitem__ (tuple items by constant index)", 0.95),
        Rule("iteration", "for-loop and unpacking targets from the iterable's element type", 0.95),
        Rule("context_manager", "with ... as x from __enter__ / __aenter__", 0.95),
        Rule("await", "await of a coroutine gives its result type", 0.97),
        Rule("existing_annotation", "annotations already in the code are facts for the"
             " expressions that use them", 1.0),
        Rule("return_none", "a function that never returns a value returns None (not for"
             " abstract or stub-like bodies)", 0.97),
        Rule("return_join", "the join of the types of all return statements (plus None when the"
             " end of the body is reachable)", 0.95),
        Rule("generator", "a function that yields returns Iterator[Y] (Generator[Y, S, R] when"
             " it receives sent values or returns a value; AsyncIterator for async); developers"
             " write Iterator, Iterable and Generator alike, so the exact spelling is a guess",
             0.6),
        Rule("self_attribute", "self.x = ... in methods: the join of the assigned types", 0.93),
        Rule("optional_join", "a name first bound to None and later to X is X | None", 0.93),
        Rule("variable_join", "a variable's type is the join of all its bindings", 0.95),
        Rule("param_default", "a parameter's type from its default value: x=0 -> int,"
             " flag=False -> bool", 0.85),
        Rule("param_default_none", "x=None -> X | None where X is known from the rest of the"
             " function (the parameter rebound to an X)", 0.85),
    )
}


def rule_names() -> list[str]:
    return sorted(RULES)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Which rules are switched on (all by default)."""

    disabled: frozenset[str] = frozenset()

    @classmethod
    def without(cls, names: Iterable[str]) -> RuleSet:
        unknown = sorted(set(names) - RULES.keys())
        if unknown:
            raise ValueError(f"unknown rule(s): {', '.join(unknown)}; known: "
                             f"{', '.join(rule_names())}")
        return cls(frozenset(names))

    def enabled(self, name: str) -> bool:
        return name not in self.disabled

    @staticmethod
    def confidence(name: str) -> float:
        return RULES[name].confidence
