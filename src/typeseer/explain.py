"""Why a type was chosen: the evidence behind the decision for the sites at one line.

``typeseer explain FILE:LINE[:NAME]`` shows, for each site at that line, the decision exactly as
``infer`` makes it, the static fact with the registered rules that derived it, the model's top
alternatives, and how much each model signal weighed. A signal's weight is measured by
occlusion: its feature group is taken out of the site's feature bag, the model runs again, and
the change of the chosen type's probability is the group's contribution (positive: the signal
speaks for the type). Where the model has a marker for missing evidence (``cs.none``: no call
sites, ``s=<none>``: no static fact), the occluded bag carries that marker instead, so that it
is a bag of the kind the model was trained on.

Cross-file evidence (call sites, imported classes) needs the whole project, so the project
that contains the file is analysed, but only the file's own sites are explained.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from .annotations import existing_type
from .api import Prediction, _Worker
from .combine import CERTAIN
from .config import Config, ConfigError, coerce, load_config
from .model.features import candidate_classes, hash_features, site_features
from .project import import_root
from .sites import ModuleSites, Site, SiteKind
from .sources import SourceFile, discover
from .static.calibration import calibration_kind
from .static.engine import Fact
from .static.rules import RULES

__all__ = [
    "SIGNAL_GROUPS",
    "ExplainError",
    "FinalDecision",
    "ModelAlternative",
    "ModelEvidence",
    "RuleEvidence",
    "SignalContribution",
    "SignalGroup",
    "SiteExplanation",
    "StaticEvidence",
    "add_explain_parser",
    "explain",
    "parse_target",
    "project_root",
    "render_text",
    "run_explain",
    "signal_group",
    "to_json",
]

EXIT_OK = 0
EXIT_USAGE = 2
#: Model alternatives shown per site.
SHOWN_ALTERNATIVES = 5


class ExplainError(ValueError):
    """The target cannot be explained (bad syntax, missing file, no site there): the message
    says why, in one line."""


# -- signal groups ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SignalGroup:
    """A family of model features (model/features.py namespaces) occluded together."""

    #: Stable identifier (JSON output).
    name: str
    #: What the signal is, for people.
    label: str
    #: Namespaces of the group's feature strings.
    prefixes: tuple[str, ...]
    #: The feature the model sees when this evidence is missing, if it has one.
    absent: str | None = None


#: The model's signals, in the order they are listed. Features outside every group (the site
#: kind ``k=``, the ``n=<return>`` placeholder) say what the site is, not why: never occluded.
SIGNAL_GROUPS: tuple[SignalGroup, ...] = (
    SignalGroup("name", "identifier name", ("n=", "n$=", "n#=")),
    SignalGroup("usage", "usage context", ("u.", "u>", "u<")),
    SignalGroup("value", "bound or returned expression", ("v.", "vfor.", "vwith.", "r.")),
    SignalGroup("function", "function context",
                ("f=", "f$=", "f#=", "f.", "d=", "sib=", "p.", "c=", "c$=", "c#=")),
    SignalGroup("docstring", "docstring type", ("doc=", "docw=")),
    SignalGroup("default", "default value", ("dv=",)),
    SignalGroup("call_sites", "call-site arguments", ("cs.", "cst="), absent="cs.none"),
    SignalGroup("static", "static fact", ("s=", "s.outer=", "sr=", "sc="), absent="s=<none>"),
)
_FIXED_FEATURES = frozenset({"n=<return>"})


def signal_group(feature: str) -> SignalGroup | None:
    """The group a feature string belongs to (None for the site's fixed description)."""
    if feature in _FIXED_FEATURES:
        return None
    for group in SIGNAL_GROUPS:
        if feature.startswith(group.prefixes):
            return group
    return None


# -- readable features ------------------------------------------------------------------------

_OPERATORS = {"Add": "+", "Sub": "-", "Mult": "*", "Div": "/", "FloorDiv": "//", "Mod": "%",
              "Pow": "**", "MatMult": "@", "BitOr": "|", "BitAnd": "&", "BitXor": "^",
              "LShift": "<<", "RShift": ">>"}
_NODE_WORDS = {"JoinedStr": "f-string", "Compare": "comparison", "BoolOp": "and/or",
               "UnaryOp": "unary operation", "Lambda": "lambda", "IfExp": "conditional",
               "ListComp": "list comprehension", "SetComp": "set comprehension",
               "DictComp": "dict comprehension", "GeneratorExp": "generator expression",
               "List": "list display", "Tuple": "tuple display", "Set": "set display",
               "Dict": "dict display", "Starred": "starred", "Yield": "yield",
               "YieldFrom": "yield from", "NamedExpr": "walrus"}
#: Node kinds said better by the feature that follows them (``call#=``, ``const=``...).
_SILENT_NODES = frozenset({"Constant", "Name", "Attribute", "Call", "BinOp", "Await",
                           "Subscript"})
_NESTED = (("el.", "element "), ("key.", "key "), ("val.", "value "), ("aw.", "await "),
           ("sub.", "item of "))


def _expression_phrase(shape: str) -> str | None:
    """One expression-shape feature (``expression_features`` without its prefix) in words;
    None for the parts that repeat another feature (subtokens, bare node kinds)."""
    context = ""
    nested = True
    while nested:
        nested = False
        for prefix, words in _NESTED:
            if shape.startswith(prefix):
                shape, context, nested = shape[len(prefix):], context + words, True
    key, _, value = shape.partition("=")
    if not value:
        if key in _SILENT_NODES:
            return None
        return context + _NODE_WORDS.get(key, key)
    phrases = {"const": f"{value} literal", "nm#": value, "at#": f".{value}",
               "call#": f"{value}(...)", "callon": f"called on {value}",
               "op": f"{_OPERATORS.get(value, value)} operation", "len": f"{value}+ items"
               if value == "3" else f"{value} items"}
    phrase = phrases.get(key)
    return None if phrase is None else context + phrase


def _name_words(features: Sequence[str], prefix: str) -> list[str]:
    return [f[len(prefix):] for f in features if f.startswith(prefix)]


def _name_text(features: Sequence[str]) -> str:
    return "name: " + ", ".join(_name_words(features, "n="))


def _token(text: str) -> str:
    """A source token as shown: punctuation quoted, so that ``,`` reads as a token."""
    return text if text[:1].isalnum() or text[:1] == "_" else f"'{text}'"


def _usage_text(features: Sequence[str]) -> str:
    phrases: list[str] = []
    for feature in features:
        if feature == "u.call":
            if phrases and phrases[-1].startswith(".") and not phrases[-1].endswith("()"):
                phrases[-1] += "()"
            continue
        if feature.startswith("u.="):
            phrase = "." + feature[3:]
        elif feature.startswith("u.arg="):
            phrase = f"passed to {feature[6:]}()"
        elif feature.startswith("u.kw="):
            phrase = f"{feature[5:]}="
        elif feature.startswith("u>w="):
            phrase = f"followed by {feature[4:]}"
        elif feature.startswith("u>"):
            phrase = f"followed by {_token(feature[2:])}"
        else:  # u<
            phrase = f"after {_token(feature[2:])}"
        phrases.append(phrase)
    return "used: " + ", ".join(dict.fromkeys(phrases))


_VALUE_PREFIXES = (("vfor.", "iterates over"), ("vwith.", "with"), ("v.", "bound to"),
                   ("r.", "returns"))
_VALUE_FLAGS = {"v.aug": ("bound to", "augmented assignment"),
                "v.unpacked": ("bound to", "unpacked"), "r.yields": ("returns", "yields"),
                "r.noreturn": ("returns", "no return statement"),
                "r.none": ("returns", "bare return")}


def _value_text(features: Sequence[str]) -> str:
    parts: dict[str, list[str]] = {}
    for feature in features:
        if feature in _VALUE_FLAGS:
            heading, phrase = _VALUE_FLAGS[feature]
        else:
            heading, rest = next((h, feature[len(p):]) for p, h in _VALUE_PREFIXES
                                 if feature.startswith(p))
            phrase = _expression_phrase(rest) or ""
        if phrase:
            parts.setdefault(heading, []).append(phrase)
    return "; ".join(f"{heading}: {', '.join(dict.fromkeys(phrases))}"
                     for heading, phrases in parts.items())


def _function_text(features: Sequence[str]) -> str:
    phrases: list[str] = []
    for feature in features:
        if feature.startswith("f#="):
            phrases.append(f"function {feature[3:]}")
        elif feature == "f.async":
            phrases.append("async")
        elif feature.startswith("d="):
            phrases.append(f"@{feature[2:]}")
        elif feature.startswith("sib="):
            phrases.append(f"next to {feature[4:]}")
        elif feature == "p.varargs":
            phrases.append("*args")
        elif feature == "p.kwargs":
            phrases.append("**kwargs")
        elif feature.startswith("c#="):
            phrases.append(f"in class {feature[3:]}")
    return ", ".join(phrases)


def _docstring_text(features: Sequence[str]) -> str:
    return "docstring says: " + ", ".join(_name_words(features, "doc="))


def _default_text(features: Sequence[str]) -> str:
    shapes = _name_words(features, "dv=")
    words = [f"{s[5:]}(...)" if s.startswith("expr:") else
             "a container display" if s == "container" else
             f"{s} literal" if s in ("int", "float", "str", "bytes") else s for s in shapes]
    return "default: " + ", ".join(words)


def _call_sites_text(features: Sequence[str]) -> str:
    if list(features) == ["cs.none"]:
        return "no call sites found"
    types = list(dict.fromkeys(_name_words(features, "cst=")))
    shapes = [p for f in features if f.startswith("cs.") and (p := _expression_phrase(f[3:]))]
    text = "call sites pass: " + (", ".join(types) if types else "values of unknown type")
    if shapes:
        text += f" (arguments: {', '.join(dict.fromkeys(shapes))})"
    return text


def _static_text(features: Sequence[str]) -> str:
    if list(features) == ["s=<none>"]:
        return "no static fact"
    fact = ", ".join(_name_words(features, "s="))
    rules = ", ".join(_name_words(features, "sr="))
    band = ", ".join(f"{int(b) / 10:.1f}+" for b in _name_words(features, "sc="))
    return f"static fact: {fact} (rule {rules}, confidence {band})"


_READABLE: dict[str, Callable[[Sequence[str]], str]] = {
    "name": _name_text, "usage": _usage_text, "value": _value_text,
    "function": _function_text, "docstring": _docstring_text, "default": _default_text,
    "call_sites": _call_sites_text, "static": _static_text,
}


def _readable_features(group: SignalGroup, features: Sequence[str]) -> str:
    """A group's feature strings as a person would say them (``name: user, id``)."""
    return _READABLE[group.name](features) if features else ""


# -- the explanation --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RuleEvidence:
    """A registered static rule that took part in deriving the fact."""

    #: The rule's registered name (``typeseer rules``).
    name: str
    #: What the rule derives, from the rule registry.
    description: str
    #: The rule's prior probability of being exact (the registry's figure).
    confidence: float


@dataclass(frozen=True, slots=True)
class StaticEvidence:
    """The static fact for the site."""

    #: The type the code determines.
    type: str
    #: Calibrated probability that this type is exact (static/calibration.py).
    confidence: float
    #: The rules that derived it, first applied first.
    rules: tuple[RuleEvidence, ...]
    #: At least ``combine.CERTAIN``: the model cannot overrule it.
    certain: bool


@dataclass(frozen=True, slots=True)
class ModelAlternative:
    """One type the model ranks for the site."""

    type: str
    #: The model's own probability.
    probability: float
    #: After the decision calibration (what ``confidence`` would be if it were chosen).
    calibrated: float


@dataclass(frozen=True, slots=True)
class SignalContribution:
    """One model signal of the site and how much it moved the chosen type's probability."""

    #: ``SignalGroup.name``.
    group: str
    #: ``SignalGroup.label``.
    label: str
    #: The group's feature strings in the site's bag (empty when the site has none).
    features: tuple[str, ...]
    #: The same, in words.
    readable: str
    #: The chosen type's model probability with this group occluded; None when the group
    #: carries no evidence for this site (nothing to occlude).
    probability_without: float | None
    #: Probability with every signal minus ``probability_without``: positive when the
    #: signal speaks for the chosen type.
    contribution: float | None

    @property
    def present(self) -> bool:
        return self.contribution is not None


@dataclass(frozen=True, slots=True)
class ModelEvidence:
    """What the learned model says about the site, and why."""

    #: Whether the decision used the model (not when the static fact is certain).
    consulted: bool
    #: Its top types, best first.
    alternatives: tuple[ModelAlternative, ...]
    #: The type whose probability the contributions follow (the decision's, or the model's
    #: own best when the decision has no type).
    target: str | None
    #: The model's probability of ``target`` with every signal.
    probability: float
    #: One entry per signal group, in ``SIGNAL_GROUPS`` order.
    signals: tuple[SignalContribution, ...]


@dataclass(frozen=True, slots=True)
class FinalDecision:
    """The prediction as ``typeseer infer`` reports it."""

    #: The chosen type, whatever its confidence (None when nothing supports any type).
    type: str | None
    confidence: float
    #: ``static``, ``model``, ``combined`` or ``existing``.
    source: str
    #: The threshold that a reported type must reach.
    threshold: float
    #: Whether ``infer`` reports the type at that threshold (otherwise it reports ``null``).
    passes: bool
    #: Candidate types with their confidence, best first.
    alternatives: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class SiteExplanation:
    """Everything behind one site's prediction."""

    #: Site key: ``file`` is relative to the project root.
    file: str
    line: int
    col: int
    scope: str
    kind: str
    name: str
    decision: FinalDecision
    #: The site's annotation in the code, normalised, if it has one.
    existing: str | None
    #: None when the code determines no type, or when inference is not asked.
    static: StaticEvidence | None
    #: None without the model (``--no-model``), or when inference is not asked.
    model: ModelEvidence | None
    #: Why inference was not asked (annotated site, enum member), if it was not.
    note: str | None = None


def parse_target(text: str) -> tuple[Path, int, str | None]:
    """``"pkg/mod.py:12"`` -> ``(Path("pkg/mod.py"), 12, None)``; ``"pkg/mod.py:12:key"``
    selects the site named ``key`` (``return`` for the return, ``self.x`` for attribute x)."""
    match = re.fullmatch(r"(?P<file>.+?):(?P<line>-?\d+)(?::(?P<name>[^:]*))?", text.strip())
    if match is None or not match["file"]:
        raise ExplainError(f"expected FILE:LINE or FILE:LINE:NAME, got {text!r}")
    line = int(match["line"])
    if line < 1:
        raise ExplainError(f"line numbers start at 1, got {line} in {text!r}")
    name = match["name"]
    if name is not None:
        name = name.removeprefix("self.")
        if not name.isidentifier():
            raise ExplainError(f"expected FILE:LINE:NAME with NAME a site's name (or return), "
                               f"got {text!r}")
    return Path(match["file"]), line, name


def project_root(path: Path) -> Path:
    """The directory above the file's top package (``__init__.py`` directories), or the
    file's own directory for a lone script."""
    return import_root(path.parent)


def explain(file: Path, line: int, name: str | None = None,
            config: Config | None = None) -> list[SiteExplanation]:
    """The explanations of the sites at ``line`` of ``file`` (only the one named ``name``)."""
    config = config or Config()
    path = Path(os.path.abspath(file))
    if not path.is_file():
        raise ExplainError(f"{file}: no such file" if not path.exists() else
                           f"{file}: not a file")
    worker = _project_worker(path, config)
    worker.prepare()
    source = next(s for s in worker.files if s.path == path)
    loaded = worker.project.load(source)
    if loaded.sites is None:
        raise ExplainError(f"{file}: {loaded.error or 'cannot be analysed'}")
    module = loaded.sites
    sites = _select_sites(module, line, name, str(file))
    predictions = {(p.file, p.scope, p.kind, p.name): p
                   for p in worker.predict_module(module)}
    return [_explain_site(worker, module, site, predictions[site.key], config)
            for site in sites]


def _project_worker(path: Path, config: Config) -> _Worker:
    """An inference worker over the project containing ``path``, set to predict every site of
    every kind (explaining one is an explicit request) with its best type."""
    root = project_root(path)
    files, _ = discover([root], config.exclude)
    if not any(s.path == path for s in files):  # excluded by configuration, or not ``.py``
        files.append(SourceFile(path, path.relative_to(root).as_posix(), root))
    worker_config = replace(config, kinds=frozenset(SiteKind), include_existing=True,
                            report_all=True, jobs=1)
    return _Worker(files, worker_config)


# -- choosing the sites -----------------------------------------------------------------------

def _select_sites(module: ModuleSites, line: int, name: str | None,
                 display: str) -> list[Site]:
    """The sites at ``line`` (see ``_at_line``), only those named ``name`` when given."""
    if line > len(module.lines):
        raise ExplainError(f"{display}:{line}: the file has only {len(module.lines)} lines")
    found = [site for site in module.sites if _at_line(site, line)]
    if not found:
        raise ExplainError(f"{display}:{line}: no site at this line{_nearby(module, line)}")
    if name is None:
        return found
    named = [site for site in found if _site_name(site) == name]
    if not named:
        known = ", ".join(dict.fromkeys(_site_name(s) for s in found))
        raise ExplainError(f"{display}:{line}: no site named {name!r} at this line "
                           f"(sites here: {known})")
    return named


def _site_name(site: Site) -> str:
    return "return" if site.kind is SiteKind.RETURN else site.name


def _at_line(site: Site, line: int) -> bool:
    """Whether the site is at ``line``: where it starts, and for a return also every line of
    a multi-line signature that holds no parameter (``) -> T:``)."""
    if site.line == line:
        return True
    if site.kind is not SiteKind.RETURN or site.owner is None:
        return False
    node = site.owner.function
    if not node.lineno < line < node.body[0].lineno:
        return False
    args = node.args
    parts = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg,
             *args.defaults, *args.kw_defaults]
    return not any(p is not None and p.lineno <= line <= (p.end_lineno or p.lineno)
                   for p in parts)


def _nearby(module: ModuleSites, line: int) -> str:
    lines = sorted({site.line for site in module.sites})
    if not lines:
        return " (the file has no sites)"
    closest = sorted(sorted(lines, key=lambda n: abs(n - line))[:4])
    return f" (sites at lines {', '.join(map(str, closest))})"


# -- evidence ---------------------------------------------------------------------------------

def _decision(prediction: Prediction, config: Config) -> FinalDecision:
    return FinalDecision(prediction.type, prediction.confidence, prediction.source,
                         config.threshold,
                         prediction.type is not None and prediction.confidence >= config.threshold,
                         prediction.alternatives)


def _existing(site: Site) -> str | None:
    if site.annotation is None:
        return None
    parsed = existing_type(site)
    return str(parsed) if parsed is not None else site.annotation


def _explain_site(worker: _Worker, module: ModuleSites, site: Site, prediction: Prediction,
                  config: Config) -> SiteExplanation:
    base = (site.file, site.line, site.col, site.scope, site.kind.value, site.name)
    decision = _decision(prediction, config)
    existing = _existing(site)
    if site.annotation is not None and not worker.replacing:
        return SiteExplanation(*base, decision, existing, None, None,
                               "annotated in the code: the annotation is kept, nothing is "
                               "inferred (unless existing annotations are replaced)")
    if worker._enum_member(site):
        return SiteExplanation(*base, decision, None, None, None,
                               "enum member: members are never annotated")
    fact = worker.engine.site_fact(site)
    fact_confidence = worker.calibration.confidence(calibration_kind(site), fact) \
        if fact is not None else 0.0
    static = _static_evidence(fact, fact_confidence) if fact is not None else None
    model = _model_evidence(worker, module, site, fact, fact_confidence, decision.type) \
        if worker.model is not None else None
    return SiteExplanation(*base, decision, existing, static, model)


def _static_evidence(fact: Fact, confidence: float) -> StaticEvidence:
    rules = tuple(RuleEvidence(name, RULES[name].description, RULES[name].confidence)
                  if name in RULES else RuleEvidence(name, "", fact.confidence)
                  for name in fact.rules)
    return StaticEvidence(str(fact.type), confidence, rules, confidence >= CERTAIN)


def _model_evidence(worker: _Worker, module: ModuleSites, site: Site, fact: Fact | None,
                    fact_confidence: float, chosen: str | None) -> ModelEvidence:
    assert worker.model is not None
    model = worker.model
    bag = site_features(site, module, fact, fact_confidence,
                        worker._call_sites().features(site, worker.project))
    candidates = candidate_classes(module)
    [ranked] = model.predict([hash_features(bag)], [candidates])
    alternatives = tuple(ModelAlternative(t, p, worker.decision_map(p))
                         for t, p in ranked[:SHOWN_ALTERNATIVES])
    target = chosen if chosen is not None else (ranked[0][0] if ranked else None)
    consulted = fact is None or fact_confidence < CERTAIN
    probability, signals = _occlude(model.type_probabilities, bag, candidates, target)
    return ModelEvidence(consulted, alternatives, target, probability, signals)


_Probabilities = Callable[[Sequence[Sequence[int]], Sequence[Sequence[str]], Sequence[str]],
                          list[list[float]]]


def _occlude(probabilities: _Probabilities, bag: list[str], candidates: list[str],
             target: str | None) -> tuple[float, tuple[SignalContribution, ...]]:
    """The target's probability with the whole bag, and each group's contribution: one
    model run over the whole bag and every occluded bag."""
    grouped = {group.name: [f for f in bag if signal_group(f) is group]
               for group in SIGNAL_GROUPS}
    occluded: dict[str, list[str]] = {}
    for group in SIGNAL_GROUPS:
        features = grouped[group.name]
        if features and features != [group.absent]:
            kept = [f for f in bag if signal_group(f) is not group]
            occluded[group.name] = kept + ([group.absent] if group.absent else [])
    values: list[float] = []
    if target is not None:
        bags = [bag, *occluded.values()]
        rows = probabilities([hash_features(b) for b in bags], [candidates] * len(bags),
                             [target])
        values = [row[0] for row in rows]
    full = values[0] if values else 0.0
    without = dict(zip(occluded, values[1:], strict=False))
    signals = tuple(
        SignalContribution(group.name, group.label, tuple(grouped[group.name]),
                           _readable_features(group, grouped[group.name]),
                           without.get(group.name),
                           full - without[group.name] if group.name in without else None)
        for group in SIGNAL_GROUPS)
    return full, signals


# -- output -----------------------------------------------------------------------------------

_SOURCES = {"static": "the static fact", "model": "the model",
            "combined": "the model, agreeing with the static fact",
            "existing": "the annotation in the code"}


def _percent(value: float) -> str:
    return f"{value:.2f}"


def _signed(value: float) -> str:
    return f"{value:+.3f}" if abs(value) >= 0.0005 else " 0.000"


def _site_title(explanation: SiteExplanation) -> str:
    what = "return" if explanation.kind == SiteKind.RETURN.value else \
        f"{explanation.kind} {explanation.name}"
    return f"{explanation.file}:{explanation.line}  {what}  (scope {explanation.scope})"


def _decision_lines(decision: FinalDecision) -> list[str]:
    if decision.type is None:
        return ["  decision: no type (no fact and no model ranking supports one)"]
    verdict = (f"reported (threshold {_percent(decision.threshold)})" if decision.passes else
               f"not reported: below the threshold {_percent(decision.threshold)}")
    lines = [f"  decision: {decision.type}  confidence {_percent(decision.confidence)}  "
             f"from {_SOURCES.get(decision.source, decision.source)}; {verdict}"]
    if len(decision.alternatives) > 1:
        shown = ", ".join(f"{t} {_percent(c)}" for t, c in decision.alternatives)
        lines.append(f"  candidates: {shown}")
    return lines


def _static_lines(static: StaticEvidence | None) -> list[str]:
    if static is None:
        return ["  static fact: none (the code does not determine the type)"]
    certain = "; certain, the model cannot overrule it" if static.certain else ""
    lines = [f"  static fact: {static.type}  confidence {_percent(static.confidence)} "
             f"(calibrated){certain}"]
    lines.extend(f"    rule {rule.name} ({_percent(rule.confidence)}): {rule.description}"
                 for rule in static.rules)
    return lines


def _model_lines(model: ModelEvidence) -> list[str]:
    consulted = "" if model.consulted else " (not consulted: the static fact is certain)"
    ranking = ", ".join(f"{a.type} {_percent(a.probability)} (calibrated "
                        f"{_percent(a.calibrated)})" for a in model.alternatives) or "nothing"
    lines = [f"  model{consulted}: {ranking}"]
    if model.target is None:
        return lines
    if model.probability == 0.0:
        lines.append(f"  signals: the model cannot name {model.target}, so no signal moves it")
        return lines
    lines.append(f"  signals: change of P({model.target}) when each is left out "
                 f"(P = {model.probability:.3f} with all of them)")
    present = sorted((s for s in model.signals if s.contribution is not None),
                     key=lambda s: -(s.contribution or 0.0))
    width = max((len(s.label) for s in present), default=0)
    for signal in present:
        assert signal.contribution is not None
        lines.append(f"    {_signed(signal.contribution)}  {signal.label.ljust(width)}  "
                     f"{signal.readable}")
    absent = [s.label for s in model.signals if s.contribution is None]
    if absent:
        lines.append(f"    none for this site: {', '.join(absent)}")
    return lines


def render_text(explanations: Sequence[SiteExplanation]) -> str:
    """The explanations for a terminal, one block per site."""
    blocks: list[str] = []
    for explanation in explanations:
        lines = [_site_title(explanation)]
        if explanation.existing is not None:
            lines.append(f"  annotation in the code: {explanation.existing}")
        lines.extend(_decision_lines(explanation.decision))
        if explanation.note is not None:
            lines.append(f"  {explanation.note}")
        else:
            lines.extend(_static_lines(explanation.static))
            if explanation.model is not None:
                lines.extend(_model_lines(explanation.model))
            else:
                lines.append("  model: not used (--no-model)")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _static_json(static: StaticEvidence | None) -> dict[str, object] | None:
    if static is None:
        return None
    return {"type": static.type, "confidence": _rounded(static.confidence),
            "certain": static.certain,
            "rules": [{"name": r.name, "description": r.description,
                       "confidence": _rounded(r.confidence)} for r in static.rules]}


def _model_json(model: ModelEvidence | None) -> dict[str, object] | None:
    if model is None:
        return None
    return {
        "consulted": model.consulted,
        "alternatives": [[a.type, _rounded(a.probability), _rounded(a.calibrated)]
                         for a in model.alternatives],
        "target": model.target, "probability": _rounded(model.probability),
        "signals": [{"group": s.group, "label": s.label, "features": list(s.features),
                     "readable": s.readable, "present": s.present,
                     "probability_without": _rounded(s.probability_without),
                     "contribution": _rounded(s.contribution)} for s in model.signals],
    }


def to_json(explanations: Sequence[SiteExplanation]) -> list[dict[str, object]]:
    """The explanations as JSON-ready objects (site key fields as in ``infer``'s output)."""
    return [{
        "file": e.file, "line": e.line, "col": e.col, "scope": e.scope, "kind": e.kind,
        "name": e.name, "existing": e.existing,
        "decision": {"type": e.decision.type, "confidence": _rounded(e.decision.confidence),
                     "source": e.decision.source,
                     "threshold": _rounded(e.decision.threshold),
                     "passes_threshold": e.decision.passes,
                     "alternatives": [[t, _rounded(c)] for t, c in e.decision.alternatives]},
        "static": _static_json(e.static), "model": _model_json(e.model), "note": e.note,
    } for e in explanations]


# -- command line -----------------------------------------------------------------------------

def add_explain_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """``typeseer explain TARGET [--format text|json] [--no-model] [--min-confidence X]``."""
    command = commands.add_parser(
        "explain", help="show why a type was chosen for the sites at FILE:LINE",
        description="For each site at LINE of FILE (or only the site NAME; `return` for the "
                    "return): the decision, the static fact and its rules, the model's "
                    "alternatives, and how much each model signal contributed (measured by "
                    "leaving it out). The project containing FILE is analysed for cross-file "
                    "evidence.")
    command.add_argument("target", metavar="TARGET", help="FILE:LINE or FILE:LINE:NAME")
    command.add_argument("--format", "-f", choices=["text", "json"], default="text",
                         help="output format (default: text)")
    command.add_argument("--no-model", action="store_false", dest="use_model", default=None,
                         help="static inference only, without the learned model")
    command.add_argument("--min-confidence", type=float, metavar="X",
                         help="the threshold the decision is judged against "
                              "(default: the configured one)")


def run_explain(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Handle ``typeseer explain``; 0 on success, 2 (with a message) when there is nothing
    to explain at the target or the input is bad."""
    from .model.runtime import ModelFileError  # NumPy loads only when explain runs

    try:
        file, line, name = parse_target(args.target)
        if not file.is_file():
            raise ExplainError(f"{file}: no such file" if not file.exists() else
                               f"{file}: not a file")
        overrides: dict[str, object] = {}
        if args.min_confidence is not None:
            overrides["min_confidence"] = coerce("min_confidence", args.min_confidence)
        if args.use_model is not None:
            overrides["use_model"] = args.use_model
        config = load_config(file, overrides)
        explanations = explain(file, line, name, config)
    except (ExplainError, ConfigError, ModelFileError) as error:
        stderr.write(f"typeseer explain: {error}\n")
        return EXIT_USAGE
    if args.format == "json":
        stdout.write(json.dumps(to_json(explanations), indent=1) + "\n")
    else:
        stdout.write(render_text(explanations))
    return EXIT_OK
