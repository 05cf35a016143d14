"""Static inference: facts the code determines, each derived by a named rule."""

from __future__ import annotations

from .engine import Fact, StaticEngine
from .rules import RULES, Rule, RuleSet

__all__ = ["RULES", "Fact", "Rule", "RuleSet", "StaticEngine"]
