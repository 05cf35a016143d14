"""`typeseer explain`: the evidence behind one site's type, on a small fixture project."""

from __future__ import annotations

import argparse
import io
import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from typeseer.api import infer
from typeseer.apply.options import ExistingPolicy
from typeseer.config import Config
from typeseer.explain import (
    SIGNAL_GROUPS,
    ExplainError,
    SignalContribution,
    SiteExplanation,
    add_explain_parser,
    explain,
    parse_target,
    project_root,
    render_text,
    run_explain,
    signal_group,
    to_json,
)
from typeseer.model.features import hash_features, site_features
from typeseer.model.runtime import Model, load_model
from typeseer.parsing import parse_source
from typeseer.sites import extract_sites
from typeseer.static.rules import RULES

ROOT = Path(__file__).parent / "fixtures" / "explain"
PRICING = ROOT / "shop" / "pricing.py"
CHECKOUT = ROOT / "shop" / "checkout.py"

Explain = Callable[..., list[SiteExplanation]]


@pytest.fixture(scope="module")
def model() -> Model:
    loaded = load_model()
    assert loaded is not None, "the shipped model is missing"
    return loaded


@pytest.fixture(scope="module")
def explained(model: Model) -> Explain:
    """``explain`` with the model loaded once, and each target explained once."""
    cache: dict[tuple[object, ...], list[SiteExplanation]] = {}

    def run(file: Path, line: int, name: str | None = None,
            config: Config | None = None) -> list[SiteExplanation]:
        key = (file, line, name, config)
        if key not in cache:
            cache[key] = explain(file, line, name, config)
        return cache[key]

    return run


def _signal(explanation: SiteExplanation, group: str) -> SignalContribution:
    assert explanation.model is not None
    return next(s for s in explanation.model.signals if s.group == group)


def _only(explanations: list[SiteExplanation]) -> SiteExplanation:
    assert len(explanations) == 1, [(e.kind, e.name) for e in explanations]
    return explanations[0]


# -- targets and sites ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("pkg/mod.py:12", (Path("pkg/mod.py"), 12, None)),
    ("pkg/mod.py:12:user_id", (Path("pkg/mod.py"), 12, "user_id")),
    ("pkg/mod.py:3:return", (Path("pkg/mod.py"), 3, "return")),
    ("pkg/mod.py:3:self.owner", (Path("pkg/mod.py"), 3, "owner")),
])
def test_targets_are_parsed(text: str, expected: tuple[Path, int, str | None]) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["pkg/mod.py", "pkg/mod.py:", "pkg/mod.py:x", ":12",
                                  "pkg/mod.py:0", "pkg/mod.py:12:", "pkg/mod.py:12:a-b"])
def test_bad_targets_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(ExplainError, match=r"FILE:LINE|line numbers start at 1"):
        parse_target(text)


def test_the_root_is_above_the_top_package(tmp_path: Path) -> None:
    assert project_root(PRICING.absolute()) == ROOT.absolute()
    assert project_root(tmp_path / "script.py") == tmp_path


def test_every_site_at_the_line_is_explained_and_name_selects_one(explained: Explain) -> None:
    everything = explained(PRICING, 6)
    assert [(e.kind, e.name) for e in everything] == [
        ("return", ""), ("param", "amount"), ("param", "ratio")]
    assert _only(explained(PRICING, 6, "ratio")).name == "ratio"
    assert _only(explained(PRICING, 6, "return")).kind == "return"
    assert _only(explained(PRICING, 29, "owner")).kind == "attribute"


def test_a_multi_line_signature_selects_by_line(explained: Explain) -> None:
    assert [(e.kind, e.name) for e in explained(PRICING, 20)] == [("return", "")]
    assert [(e.kind, e.name) for e in explained(PRICING, 21)] == [("param", "parcel")]
    # the closing ``):`` belongs to the signature: it stands for the return
    assert [(e.kind, e.name) for e in explained(PRICING, 23)] == [("return", "")]


def test_a_line_without_a_site_is_an_error_naming_nearby_sites(model: Model) -> None:
    with pytest.raises(ExplainError, match=r"pricing.py:2: no site at this line "
                                           r"\(sites at lines 3, 6"):
        explain(PRICING, 2)


def test_an_unknown_name_lists_the_sites_at_the_line(model: Model) -> None:
    with pytest.raises(ExplainError, match=r"no site named 'price'.*return, amount, ratio"):
        explain(PRICING, 6, "price")


def test_missing_files_and_lines_past_the_end_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ExplainError, match="no such file"):
        explain(tmp_path / "absent.py", 1)
    with pytest.raises(ExplainError, match="the file has only 30 lines"):
        explain(PRICING, 99)


def test_a_file_that_does_not_parse_is_an_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    with pytest.raises(ExplainError, match=r"broken.py: .*"):
        explain(broken, 1, config=Config(use_model=False))


# -- evidence ---------------------------------------------------------------------------------

def test_a_literal_is_explained_by_its_static_rule(explained: Explain) -> None:
    retries = _only(explained(PRICING, 3))
    assert (retries.kind, retries.name) == ("variable", "RETRIES")
    assert retries.static is not None
    assert retries.static.type == "int"
    first = retries.static.rules[0]
    assert (first.name, first.description, first.confidence) == (
        "literal", RULES["literal"].description, RULES["literal"].confidence)
    assert retries.decision.type == "int"
    assert retries.decision.source == "static"
    assert retries.decision.confidence == retries.static.confidence
    static_signal = _signal(retries, "static")
    assert static_signal.features[0] == "s=int"
    assert static_signal.readable.startswith("static fact: int")
    assert "rule literal" in render_text([retries])


def test_call_sites_speak_for_a_parameter_typed_by_its_callers(explained: Explain) -> None:
    amount = _only(explained(PRICING, 6, "amount"))
    assert amount.static is None  # nothing in the function itself says float
    assert amount.decision.type == "float"
    calls = _signal(amount, "call_sites")
    assert calls.readable.startswith("call sites pass: float")
    assert "cst=float" in calls.features
    assert calls.contribution is not None and calls.contribution > 0.05
    assert calls.probability_without is not None
    assert amount.model is not None
    assert calls.probability_without == pytest.approx(amount.model.probability
                                                      - calls.contribution)


def test_a_docstring_type_is_shown_as_a_signal(explained: Explain) -> None:
    number = _only(explained(PRICING, 10, "order_number"))
    doc = _signal(number, "docstring")
    assert doc.readable == "docstring says: int"
    assert doc.contribution is not None and doc.contribution > 0.05
    assert _signal(number, "name").readable == "name: order, number"
    assert "next to note" in _signal(number, "function").readable


def test_missing_evidence_is_listed_without_a_contribution(explained: Explain) -> None:
    note = _only(explained(PRICING, 10, "note"))
    calls = _signal(note, "call_sites")
    assert calls.features == ("cs.none",)
    assert calls.readable == "no call sites found"
    assert calls.contribution is None and not calls.present
    default = _signal(note, "default")
    assert default.features == () and default.contribution is None
    assert "none for this site:" in render_text([note])


def test_a_certain_static_fact_still_shows_the_model(explained: Explain) -> None:
    ship_return = _only(explained(PRICING, 20))
    assert ship_return.static is not None and ship_return.static.certain
    assert ship_return.model is not None and not ship_return.model.consulted
    assert ship_return.decision.source == "static"
    assert "not consulted" in render_text([ship_return])


def test_an_annotated_site_shows_its_annotation(explained: Explain) -> None:
    owner = _only(explained(PRICING, 28, "owner"))
    assert owner.existing == "str"
    assert (owner.decision.type, owner.decision.source) == ("str", "existing")
    assert owner.note is not None and owner.static is None and owner.model is None


def test_replacing_annotations_explains_the_inference_instead(explained: Explain) -> None:
    config = Config(existing=ExistingPolicy.REPLACE)
    owner = _only(explained(PRICING, 28, "owner", config))
    assert owner.existing == "str"
    assert owner.note is None and owner.model is not None
    assert owner.decision.source != "existing"
    [inferred] = [p for p in infer([ROOT], Config(existing=ExistingPolicy.REPLACE,
                                                  report_all=True)).predictions
                  if (p.file, p.scope, p.name) == ("shop/pricing.py", "Basket.__init__",
                                                   "owner")]
    assert (owner.decision.type, owner.decision.confidence) == (inferred.type,
                                                               inferred.confidence)


def test_without_the_model_only_static_evidence_is_given(explained: Explain) -> None:
    amount = _only(explained(PRICING, 6, "amount", Config(use_model=False)))
    assert amount.model is None
    assert amount.decision.type is None
    assert "not used (--no-model)" in render_text([amount])


@pytest.mark.parametrize(("file", "line"), [(PRICING, 3), (PRICING, 6), (PRICING, 10),
                                            (PRICING, 22), (PRICING, 28), (CHECKOUT, 6),
                                            (CHECKOUT, 13)])
def test_the_decision_is_what_infer_reports(explained: Explain, file: Path, line: int,
                                            inferred: dict[tuple[str, str, str, str], object],
                                            ) -> None:
    for explanation in explained(file, line):
        key = (explanation.file, explanation.scope, explanation.kind, explanation.name)
        prediction = inferred[key]
        decision = explanation.decision
        assert prediction == (decision.type if decision.passes else None,
                              decision.confidence, decision.source)


@pytest.fixture(scope="module")
def inferred(model: Model) -> dict[tuple[str, str, str, str], object]:
    """What ``typeseer infer`` reports for the fixture project at the default threshold."""
    return {(p.file, p.scope, p.kind, p.name): (p.type, p.confidence, p.source)
            for p in infer([ROOT], Config()).predictions}


def test_the_threshold_decides_whether_the_type_passes(explained: Explain) -> None:
    note = _only(explained(PRICING, 10, "note"))
    assert not note.decision.passes and note.decision.threshold == 0.9
    lowered = _only(explained(PRICING, 10, "note", Config(min_confidence=0.3)))
    assert lowered.decision.passes and lowered.decision.type == note.decision.type


def test_a_lone_script_is_its_own_project(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""\
        def greet(name, times=2):
            return name * times
        """))
    [times] = explain(script, 1, "times", Config(use_model=False))
    assert times.file == "script.py"
    assert times.static is not None and times.static.type == "int"
    assert times.static.rules[-1].name == "param_default"


# -- signal groups ----------------------------------------------------------------------------

EVERY_SIGNAL = textwrap.dedent('''\
    import functools

    class Store:
        @functools.cache
        async def fetch(self, key, retries=3, *args, **options):
            """Fetch.

            :type key: str
            """
            for item in self.items:
                item.refresh(key)
            with open(key) as handle:
                data = handle.read()
            return data
    ''')


def test_every_model_feature_belongs_to_one_signal_group() -> None:
    module = extract_sites("m.py", EVERY_SIGNAL, parse_source(EVERY_SIGNAL), "m")
    features = {f for site in module.sites
                for f in site_features(site, module, None, 0.0, ["cs.none", "cst=int"])}
    fixed = {f for f in features if signal_group(f) is None}
    assert fixed == {"n=<return>"} | {f"k={kind}" for kind in ("param", "return", "variable")}
    covered = {group.name for f in features if (group := signal_group(f)) is not None}
    assert covered == {group.name for group in SIGNAL_GROUPS}


def test_full_probabilities_agree_with_the_ranking(model: Model) -> None:
    bag = hash_features(["k=param", "n=ratio", "n$=ratio", "n#=ratio", "cst=float"])
    [ranked] = model.predict([bag], [["Basket"]])
    types = [t for t, _ in ranked]
    [probabilities] = model.type_probabilities([bag], [["Basket"]], [*types, "not a type"])
    for (_, ranked_p), full_p in zip(ranked, probabilities, strict=False):
        assert full_p >= ranked_p - 1e-6  # the ranking cuts templates to the top classes
    assert probabilities[0] == pytest.approx(ranked[0][1], rel=1e-4)
    assert probabilities[-1] == 0.0


# -- output and command line ------------------------------------------------------------------

def test_json_is_plain_data(explained: Explain) -> None:
    [record] = to_json(explained(PRICING, 6, "amount"))
    assert json.loads(json.dumps(record)) == record
    decision = record["decision"]
    assert isinstance(decision, dict)
    assert (decision["type"], decision["source"], decision["passes_threshold"]) == (
        "float", "model", True)
    model_record = record["model"]
    assert isinstance(model_record, dict)
    signals = {s["group"]: s for s in model_record["signals"]}
    assert signals["call_sites"]["contribution"] > 0
    assert signals["docstring"] == {
        "group": "docstring", "label": "docstring type", "features": [], "readable": "",
        "present": False, "probability_without": None, "contribution": None}


def test_a_type_the_model_cannot_name_has_no_signals(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("class Zyxwvut:\n    pass\n")
    script = tmp_path / "script.py"
    script.write_text("import helpers\n\nthing = helpers.Zyxwvut()\n")
    [thing] = explain(script, 3)  # not a candidate class: the module does not name it
    assert thing.decision.type == "Zyxwvut" and thing.model is not None
    assert thing.model.probability == 0.0
    assert "the model cannot name Zyxwvut" in render_text([thing])


def _run(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="typeseer")
    add_explain_parser(parser.add_subparsers(dest="command"))
    out, err = io.StringIO(), io.StringIO()
    code = run_explain(parser.parse_args(["explain", *argv]), out, err)
    return code, out.getvalue(), err.getvalue()


def test_the_command_prints_json(model: Model) -> None:
    code, out, err = _run(f"{PRICING}:10:order_number", "--format", "json")
    assert (code, err) == (0, "")
    [record] = json.loads(out)
    assert (record["kind"], record["name"], record["decision"]["type"]) == (
        "param", "order_number", "int")


def test_the_command_prints_text_with_options(model: Model) -> None:
    code, out, err = _run(f"{PRICING}:10:note", "--min-confidence", "0.3")
    assert (code, err) == (0, "")
    assert out.startswith("shop/pricing.py:10  param note  (scope describe)")
    assert "reported (threshold 0.30)" in out
    code, out, _ = _run(f"{PRICING}:6:amount", "--no-model")
    assert code == 0 and "not used (--no-model)" in out


@pytest.mark.parametrize(("target", "message"), [
    ("nowhere.py:3", "nowhere.py: no such file"),
    (f"{PRICING}:2", "no site at this line"),
    (f"{PRICING}", "expected FILE:LINE"),
])
def test_the_command_reports_bad_targets_on_stderr(model: Model, target: str,
                                                   message: str) -> None:
    code, out, err = _run(target)
    assert code == 2 and out == ""
    assert err.startswith("typeseer explain: ") and message in err
    assert "Traceback" not in err


def test_a_bad_threshold_is_a_usage_error(model: Model) -> None:
    code, _, err = _run(f"{PRICING}:3", "--min-confidence", "2")
    assert code == 2 and "min-confidence" in err
