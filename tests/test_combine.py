"""Combining static facts and the model: the policy and the calibration fit."""

from __future__ import annotations

from typeseer.combine import CERTAIN, IsotonicMap, decide, fit_calibration, fit_decisions

IDENTITY = IsotonicMap()


def test_a_certain_static_fact_is_never_contradicted() -> None:
    decision = decide([("str", 0.99)], "int", CERTAIN, IDENTITY)
    assert (decision.type, decision.source) == ("int", "static")


def test_the_model_wins_over_a_less_likely_static_fact() -> None:
    decision = decide([("str", 0.8), ("int", 0.1)], "int", 0.5, IDENTITY)
    assert (decision.type, decision.source, decision.confidence) == ("str", "model", 0.8)
    agreed = decide([("int", 0.8)], "int", 0.5, IDENTITY)
    assert agreed.source == "combined"


def test_isotonic_fit_is_monotone_and_matches_the_data() -> None:
    confidences = [0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9]
    correct = [False, False, True, False, True, True, True, True]
    mapping = fit_calibration(confidences, correct)
    values = [mapping(x / 10) for x in range(11)]
    assert values == sorted(values)
    assert mapping(0.9) == 1.0 and mapping(0.1) == 0.0


def test_threshold_is_the_lowest_reaching_the_target_precision() -> None:
    confidences = [0.55, 0.6, 0.7, 0.8, 0.9, 0.95]
    correct = [False, True, False, True, True, True]
    _, threshold, figures = fit_decisions(confidences, correct, [False] * 6, 0.95)
    assert threshold == 0.71  # from 0.71 on, only right answers are given
    assert figures["coverage_at_threshold"] == 0.5
    assert figures["precision_at_threshold"] == 1.0
