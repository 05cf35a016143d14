"""`apply --verify`: annotations that add checker errors are dropped, the rest written."""

from __future__ import annotations

from pathlib import Path

import pytest

from typeseer.apply.run import apply
from typeseer.config import Config
from typeseer.verify import Checker, VerifyError, checker_command

# ``factor=2`` makes static inference say int, but a caller passes a float: mypy rejects the
# parameter annotation at the call site, outside the function (found by bisection).
SOURCE = """\
def scale(value, factor=2):
    return value * factor


def area():
    return 1


RESULT = scale(3, 1.5)
"""


@pytest.mark.parametrize("checker", ["mypy", "pyrefly"])
def test_annotations_adding_errors_are_dropped(tmp_path: Path, checker: str) -> None:
    try:
        checker_command(Checker(checker))
    except VerifyError:
        pytest.skip(f"{checker} is not installed")
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    config = Config(use_model=False, min_confidence=0.3, verify=checker)
    result = apply([tmp_path], config, write=True)
    assert [(e.key.name, e.prediction.type) for e, _ in result.dropped] == [("factor", "int")]
    assert "float" in result.dropped[0][1]
    assert [e.key.kind for e in result.edits] == ["return"]
    assert "def area() -> int:" in path.read_text()
    assert "def scale(value, factor=2):" in path.read_text()
    assert result.verify is not None and result.verify["baseline_errors"] == 0
    # The same command again changes nothing.
    again = apply([tmp_path], config, write=True)
    assert again.changes == []


def test_baseline_errors_do_not_cause_drops(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text('def area():\n    return 1\n\n\nBROKEN: int = "x"\n')
    result = apply([tmp_path], Config(use_model=False, min_confidence=0.3, verify="mypy"))
    assert result.dropped == []
    assert result.verify is not None and result.verify["baseline_errors"] == 1
    assert [e.key.kind for e in result.edits] == ["return"]


def test_a_package_directory_given_as_the_root(tmp_path: Path) -> None:
    # `typeseer apply pkg --verify mypy`: the checker runs from the directory above the
    # package. Run inside it, mypy finds pkg/_warnings.py both as `pkg._warnings` and as the
    # top-level `_warnings` that the stub of `warnings` imports, and stops.
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from ._warnings import area\n")
    (package / "_warnings.py").write_text(
        "import warnings\n\n\ndef area():\n    warnings.warn('x')\n    return 1\n")
    result = apply([package], Config(use_model=False, min_confidence=0.3, verify="mypy"),
                   write=True)
    assert "def area() -> int:" in (package / "_warnings.py").read_text()
    assert result.verify is not None and result.dropped == []
