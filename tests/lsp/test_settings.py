"""Client settings: both spellings, nested or flat, bad values reported and ignored."""

from __future__ import annotations

from typeseer.apply.options import Level
from typeseer.lsp.settings import read_settings
from typeseer.sites import SiteKind


def test_settings_under_the_typeseer_section() -> None:
    overrides, problems = read_settings(
        {"typeseer": {"minConfidence": 0.8, "kinds": ["param", "return"], "level": "safe",
                      "useModel": False}, "python": {"other": 1}})
    assert overrides == {"min_confidence": 0.8, "level": Level.SAFE, "use_model": False,
                         "kinds": frozenset({SiteKind.PARAM, SiteKind.RETURN})}
    assert problems == []


def test_flat_settings_and_pyproject_spellings() -> None:
    overrides, _ = read_settings({"min-confidence": "0.5", "use_model": True, "kinds": "param"})
    assert overrides == {"min_confidence": 0.5, "use_model": True,
                         "kinds": frozenset({SiteKind.PARAM})}


def test_bad_values_are_reported_and_the_rest_kept() -> None:
    overrides, problems = read_settings({"minConfidence": 2, "useModel": "yes", "level": "max",
                                         "kinds": [1], "other": object()})
    assert overrides == {}
    assert len(problems) == 4
    assert all(p.startswith("typeseer: ignoring the setting") for p in problems)


def test_null_and_non_objects_mean_no_settings() -> None:
    assert read_settings(None) == ({}, [])
    assert read_settings([1, 2]) == ({}, [])
    assert read_settings({"minConfidence": None}) == ({}, [])
    assert read_settings({"minConfidence": True})[0] == {}
