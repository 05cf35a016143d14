"""Generated programs keep every property through infer, apply --write and stub.

A bounded, reproducible number of programs (derandomized) runs here; ``bench/properties.py``
runs thousands. Each bug the long run found is pinned with ``@example``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from generated_programs import (
    FAST,
    OLD_SPELLING,
    WITH_MODEL,
    annotatable_programs,
    check_program,
    programs,
    token_difference,
)
from hypothesis import HealthCheck, example, given, settings

from typeseer.apply.run import apply
from typeseer.config import Config

_SETTINGS = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                            HealthCheck.data_too_large])


def _assert_holds(source: str, config: Config) -> None:
    outcome = check_program(source, config)
    assert not outcome.failures, "\n\n".join(str(f) for f in outcome.failures)


@settings(_SETTINGS, max_examples=40)
@given(programs())
# A declaration for a binding in a one-line body went before the ``def``: module scope.
@example("def g(): x = x = 1\n")
@example("def f(): [y] = [1, 2]\n")
def test_static_inference_keeps_every_property(source: str) -> None:
    _assert_holds(source, FAST)


@settings(_SETTINGS, max_examples=12)
@given(annotatable_programs())
def test_old_spelling_keeps_every_property(source: str) -> None:
    _assert_holds(source, OLD_SPELLING)


@settings(_SETTINGS, max_examples=6)
@given(programs())
def test_model_keeps_every_property(source: str) -> None:
    _assert_holds(source, WITH_MODEL)


def test_apply_does_not_pass_on_the_compilers_warnings(tmp_path: Path) -> None:
    """Generated programs showed ``SyntaxWarning``s of the user's code leaking out of apply's
    compile check."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    return 1.5[0]\n\n\ndef g(n=1):\n    return n\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = apply([tmp_path], FAST, write=True)
    assert result.written and "def g(n: int = 1) -> int:" in module.read_text()
    assert [w for w in caught if issubclass(w.category, SyntaxWarning)] == []


# -- the token comparison itself: it must see every change that is not an annotation --------

ORIGINAL = "import os\n\ndef f(a, b=1):\n    x = [a]  # note\n    for i, j in x:\n        pass\n"


@pytest.mark.parametrize("output", [
    "import os\n\ndef f(a, b: int = 1) -> None:\n    x: list = [a]  # note\n"
    "    i: int\n    for i, j in x:\n        pass\n",
    "from typing import TYPE_CHECKING\nimport os\nif TYPE_CHECKING:\n    from m import A\n\n"
    "def f(a: 'A', b=1):\n    x = [a]  # note\n    for i, j in x:\n        pass\n",
])
def test_annotations_and_imports_are_all_an_output_may_add(output: str) -> None:
    assert token_difference(ORIGINAL, output) is None


@pytest.mark.parametrize("output", [
    ORIGINAL.replace("[a]", "[b]"),  # a changed token
    ORIGINAL.replace("  # note", ""),  # a lost comment
    ORIGINAL.replace("b=1", "b: int"),  # a lost default
    ORIGINAL.replace("    x = [a]", "    x = [a]; y = 1"),  # an added statement
    ORIGINAL.replace("import os", "import sys"),  # a lost import
    ORIGINAL.replace("(a, b=1)", "(a, b=1) -> int") + "    z: int\n    del z\n",  # added code
])
def test_anything_else_is_a_difference(output: str) -> None:
    assert token_difference(ORIGINAL, output) is not None


def test_existing_annotations_must_stay() -> None:
    annotated = "def f(a: int) -> str:\n    return ''\n"
    assert token_difference(annotated, annotated.replace("a: int", "a: float")) is not None
    assert token_difference(annotated, annotated.replace("a: int", "a")) is not None
